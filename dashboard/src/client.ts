// The one way the dashboard reaches berth: the generated client, configured with the
// session's token. Errors come back as the API's problem+json, turned into `Problem`s here.
import {
  ApplicationsApi,
  AuditApi,
  AuthApi,
  Configuration,
  DeploymentsApi,
  DomainsApi,
  ProjectsApi,
  RegistriesApi,
  ResponseError,
  SchedulesApi,
  SettingsApi,
  TeamsApi,
  TokensApi,
  UsersApi,
} from "@api";

const TOKEN_KEY = "berth.session";

/** The session token of this tab (gone when the tab closes). */
export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string | null): void {
  if (token === null) {
    sessionStorage.removeItem(TOKEN_KEY);
  } else {
    sessionStorage.setItem(TOKEN_KEY, token);
  }
}

export interface Apis {
  applications: ApplicationsApi;
  audit: AuditApi;
  auth: AuthApi;
  deployments: DeploymentsApi;
  domains: DomainsApi;
  projects: ProjectsApi;
  registries: RegistriesApi;
  schedules: SchedulesApi;
  settings: SettingsApi;
  teams: TeamsApi;
  tokens: TokensApi;
  users: UsersApi;
}

export function apis(token: string | null): Apis {
  const config = new Configuration({
    basePath: "",
    accessToken: token === null ? undefined : () => token,
  });
  return {
    applications: new ApplicationsApi(config),
    audit: new AuditApi(config),
    auth: new AuthApi(config),
    deployments: new DeploymentsApi(config),
    domains: new DomainsApi(config),
    projects: new ProjectsApi(config),
    registries: new RegistriesApi(config),
    schedules: new SchedulesApi(config),
    settings: new SettingsApi(config),
    teams: new TeamsApi(config),
    tokens: new TokensApi(config),
    users: new UsersApi(config),
  };
}

/** What berth said went wrong: its stable code, a sentence, and what is wrong with each field. */
export interface Problem {
  status: number;
  code: string;
  detail: string;
  fields: Record<string, string>;
}

/** Turns whatever a call threw into a `Problem` a page can show. */
export async function problemOf(e: unknown): Promise<Problem> {
  if (e instanceof ResponseError) {
    const status = e.response.status;
    try {
      const body = (await e.response.json()) as {
        code?: string;
        detail?: string;
        title?: string;
        errors?: { field: string; message: string }[];
      };
      const fields: Record<string, string> = {};
      for (const f of body.errors ?? []) {
        fields[f.field] = f.message;
      }
      return {
        status,
        code: body.code ?? "unknown",
        detail: body.detail ?? body.title ?? `berth answered ${status}`,
        fields,
      };
    } catch {
      return { status, code: "unknown", detail: `berth answered ${status}`, fields: {} };
    }
  }
  return {
    status: 0,
    code: "unreachable",
    detail: "berth cannot be reached: is it running?",
    fields: {},
  };
}
