/* tslint:disable */
/* eslint-disable */
export * from './ApplicationsApi';
export * from './AuditApi';
export * from './AuthApi';
export * from './BuildsApi';
export * from './DeploymentsApi';
export * from './DomainsApi';
export * from './EventsApi';
export * from './ProjectsApi';
export * from './RegistriesApi';
export * from './SchedulesApi';
export * from './SettingsApi';
export * from './TeamsApi';
export * from './TokensApi';
export * from './UsersApi';
export * from './WebhooksApi';
