use std::collections::HashMap;

use berth_domain::*;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
};

use super::{conflict, fetch_page, found, now, parse_col, parse_json, to_json};
use crate::entity::{
    acme_accounts, applications, backups, certificate_orders, certificates, databases, domains,
    installation_certificates, installation_settings, projects, volumes,
};
use crate::{Scope, StoreError};

fn volume_from(m: volumes::Model) -> Result<Volume, StoreError> {
    let owner = match (m.application_id, m.database_id) {
        (Some(a), None) => VolumeOwner::Application(ApplicationId::from_uuid(a)),
        (None, Some(d)) => VolumeOwner::Database(DatabaseId::from_uuid(d)),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "volume {} has no single owner",
                m.id
            )))
        }
    };
    Ok(Volume {
        id: VolumeId::from_uuid(m.id),
        name: parse_col(&m.name)?,
        // Volumes made before engine names were berth's kept their own name as the engine's.
        engine_name: parse_col(m.engine_name.as_deref().unwrap_or(&m.name))?,
        kind: parse_col(&m.kind)?,
        mount_path: parse_col(&m.mount_path)?,
        size_gb: SizeGb::parse(i64::from(m.size_gb))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        owner,
        created_at: m.created_at,
    })
}

fn domain_from(m: domains::Model) -> Result<Domain, StoreError> {
    let target = match (m.application_id, m.database_id) {
        (Some(a), None) => DomainTarget::Application(ApplicationId::from_uuid(a)),
        (None, Some(d)) => DomainTarget::Database(DatabaseId::from_uuid(d)),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "domain {} has no single target",
                m.id
            )))
        }
    };
    Ok(Domain {
        id: DomainId::from_uuid(m.id),
        project_id: ProjectId::from_uuid(m.project_id),
        host: parse_col(&m.host)?,
        target,
        tls: m.tls,
        routing: match m.routing {
            Some(v) if !v.is_null() => parse_json(v)?,
            _ => DomainRouting::default(),
        },
        certificate: CertificateAttempts {
            failures: m.cert_failures.max(0) as u32,
            last_error: m.cert_error,
            retry_at: m.cert_retry_at,
        },
        created_at: m.created_at,
    })
}

fn database_from(m: databases::Model) -> Result<Database, StoreError> {
    Ok(Database {
        id: DatabaseId::from_uuid(m.id),
        project_id: ProjectId::from_uuid(m.project_id),
        name: parse_col(&m.name)?,
        kind: parse_col(&m.kind)?,
        status: parse_col(&m.status)?,
        version: m.version,
        config: m.config,
        created_at: m.created_at,
    })
}

fn backup_from(m: backups::Model) -> Result<Backup, StoreError> {
    Ok(Backup {
        id: BackupId::from_uuid(m.id),
        database_id: DatabaseId::from_uuid(m.database_id),
        kind: parse_col(&m.kind)?,
        status: parse_col(&m.status)?,
        storage_path: m.storage_path,
        size_bytes: m.size_bytes,
        created_at: m.created_at,
        completed_at: m.completed_at,
    })
}

fn certificate_from(m: certificates::Model) -> Certificate {
    Certificate {
        id: CertificateId::from_uuid(m.id),
        domain_id: DomainId::from_uuid(m.domain_id),
        issuer: m.issuer,
        certificate_pem: m.certificate_pem,
        expires_at: m.expires_at,
        source: CertificateSource::parse(&m.source).unwrap_or(CertificateSource::Acme),
        renew_at: m.renew_at,
        created_at: m.created_at,
    }
}

/// The certificate of one of berth's own hosts (`api_hosts`), and how ordering it went.
#[derive(Debug, Clone)]
pub struct HostCertificate {
    pub host: String,
    pub certificate_pem: Option<String>,
    pub private_key_pem: Option<SecretString>,
    pub expires_at: Option<Timestamp>,
    pub renew_at: Option<Timestamp>,
    pub attempts: CertificateAttempts,
}

/// A certificate to store.
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub issuer: &'a str,
    pub certificate_pem: &'a str,
    pub private_key_pem: &'a SecretString,
    pub expires_at: Timestamp,
    pub source: CertificateSource,
    pub renew_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewVolume {
    pub name: VolumeName,
    pub kind: VolumeKind,
    pub mount_path: MountPath,
    pub size_gb: SizeGb,
    pub owner: VolumeOwner,
}

#[derive(Debug, Clone)]
pub struct NewDatabase {
    pub name: ResourceName,
    pub kind: DatabaseKind,
    pub version: String,
    pub config: serde_json::Value,
    /// Encrypted at rest, never shown again.
    pub connection_string: Option<SecretString>,
}

impl Scope {
    fn visible_databases(&self) -> Select<databases::Entity> {
        let projects = self
            .visible_projects()
            .select_only()
            .column(projects::Column::Id)
            .into_query();
        databases::Entity::find().filter(databases::Column::ProjectId.in_subquery(projects))
    }

    fn visible_domains(&self) -> Select<domains::Entity> {
        let projects = self
            .visible_projects()
            .select_only()
            .column(projects::Column::Id)
            .into_query();
        domains::Entity::find().filter(domains::Column::ProjectId.in_subquery(projects))
    }

    pub async fn create_volume(&self, new: NewVolume) -> Result<Volume, StoreError> {
        let (app, db) = match new.owner {
            VolumeOwner::Application(a) => (Some(self.application(a).await?.id.as_uuid()), None),
            VolumeOwner::Database(d) => (None, Some(self.database(d).await?.id.as_uuid())),
        };
        let id = VolumeId::new().as_uuid();
        let m = volumes::Model {
            id,
            name: new.name.into_inner(),
            engine_name: Some(format!("berth-vol-{}", id.simple())),
            kind: new.kind.as_str().to_owned(),
            mount_path: new.mount_path.into_inner(),
            size_gb: new.size_gb.get() as i32,
            application_id: app,
            database_id: db,
            created_at: now(),
        };
        volumes::Entity::insert(volumes::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "a volume with this name already exists",
            ))?;
        volume_from(m)
    }

    pub async fn list_volumes(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Volume>, StoreError> {
        self.application(application).await?;
        volumes::Entity::find()
            .filter(volumes::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_desc(volumes::Column::CreatedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(volume_from)
            .collect()
    }

    pub async fn volume(&self, id: VolumeId) -> Result<Volume, StoreError> {
        let apps = self
            .visible_applications()
            .select_only()
            .column(applications::Column::Id)
            .into_query();
        let dbs = self
            .visible_databases()
            .select_only()
            .column(databases::Column::Id)
            .into_query();
        let m = volumes::Entity::find_by_id(id.as_uuid())
            .filter(
                Condition::any()
                    .add(volumes::Column::ApplicationId.in_subquery(apps))
                    .add(volumes::Column::DatabaseId.in_subquery(dbs)),
            )
            .one(self.connection())
            .await?;
        volume_from(found(m, "volume")?)
    }

    pub async fn delete_volume(&self, id: VolumeId) -> Result<(), StoreError> {
        self.volume(id).await?;
        volumes::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Adds a domain to a project, routed to one of that project's applications or databases.
    /// Its host and alias are claimed in the installation's one namespace of names
    /// (`claim_hosts`); a conflict names the holder only to whoever may see it.
    pub async fn create_domain(
        &self,
        project: ProjectId,
        host: DomainName,
        target: DomainTarget,
        tls: bool,
        routing: DomainRouting,
    ) -> Result<Domain, StoreError> {
        routing.validate(&host)?;
        self.project(project).await?;
        let (app, db) = match target {
            DomainTarget::Application(a) => {
                let app = self.application(a).await?;
                if app.project_id != project {
                    return Err(StoreError::NotFound("application"));
                }
                (Some(a.as_uuid()), None)
            }
            DomainTarget::Database(d) => {
                let db = self.database(d).await?;
                if db.project_id != project {
                    return Err(StoreError::NotFound("database"));
                }
                (None, Some(d.as_uuid()))
            }
        };
        let t = now();
        let names = hosts::claimed_names(&host, &routing);
        let m = domains::Model {
            id: DomainId::new().as_uuid(),
            project_id: project.as_uuid(),
            host: host.into_inner(),
            application_id: app,
            database_id: db,
            tls,
            routing: Some(to_json(&routing)),
            cert_failures: 0,
            cert_error: None,
            cert_retry_at: None,
            created_at: t,
            updated_at: t,
        };
        domains::Entity::insert(domains::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::HostTaken,
                "this domain is already in use",
            ))?;
        self.claim_hosts(DomainId::from_uuid(m.id), project, &names)
            .await?;
        domain_from(m)
    }

    pub async fn domain(&self, id: DomainId) -> Result<Domain, StoreError> {
        let m = self
            .visible_domains()
            .filter(domains::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        domain_from(found(m, "domain")?)
    }

    pub async fn list_domains(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Domain>, StoreError> {
        self.application(application).await?;
        self.visible_domains()
            .filter(domains::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_asc(domains::Column::Host)
            .all(self.connection())
            .await?
            .into_iter()
            .map(domain_from)
            .collect()
    }

    /// Changes where a domain points (within its project) and whether it serves TLS.
    pub async fn update_domain(
        &self,
        id: DomainId,
        target: Option<DomainTarget>,
        tls: Option<bool>,
        routing: Option<DomainRouting>,
    ) -> Result<Domain, StoreError> {
        let current = self.domain(id).await?;
        let mut q = domains::Entity::update_many()
            .col_expr(domains::Column::UpdatedAt, now().into())
            .filter(domains::Column::Id.eq(id.as_uuid()));
        if let Some(r) = routing {
            r.validate(&current.host)?;
            let names = hosts::claimed_names(&current.host, &r);
            self.claim_hosts(id, current.project_id, &names).await?;
            q = q.col_expr(domains::Column::Routing, Some(to_json(&r)).into());
        }
        if let Some(t) = tls {
            q = q.col_expr(domains::Column::Tls, t.into());
        }
        if let Some(target) = target {
            let (app, db): (Option<uuid::Uuid>, Option<uuid::Uuid>) = match target {
                DomainTarget::Application(a) => {
                    if self.application(a).await?.project_id != current.project_id {
                        return Err(StoreError::NotFound("application"));
                    }
                    (Some(a.as_uuid()), None)
                }
                DomainTarget::Database(d) => {
                    if self.database(d).await?.project_id != current.project_id {
                        return Err(StoreError::NotFound("database"));
                    }
                    (None, Some(d.as_uuid()))
                }
            };
            q = q
                .col_expr(domains::Column::ApplicationId, app.into())
                .col_expr(domains::Column::DatabaseId, db.into());
        }
        q.exec(self.connection()).await?;
        self.domain(id).await
    }

    /// Every domain this scope sees (for the system: all of them), by host.
    pub async fn all_domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.visible_domains()
            .order_by_asc(domains::Column::Host)
            .all(self.connection())
            .await?
            .into_iter()
            .map(domain_from)
            .collect()
    }

    pub async fn delete_domain(&self, id: DomainId) -> Result<(), StoreError> {
        self.domain(id).await?;
        domains::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Stores a certificate for a domain, replacing the ones it had; the private key is
    /// encrypted. Expired ones are refused. An ACME certificate clears the domain's record of
    /// failed attempts.
    pub async fn add_certificate(
        &self,
        domain: DomainId,
        new: NewCertificate<'_>,
    ) -> Result<Certificate, StoreError> {
        self.domain(domain).await?;
        Certificate::check_not_expired(new.expires_at, now())?;
        let m = certificates::Model {
            id: CertificateId::new().as_uuid(),
            domain_id: domain.as_uuid(),
            issuer: new.issuer.to_owned(),
            certificate_pem: new.certificate_pem.to_owned(),
            private_key_encrypted: self.cipher.encrypt_str(new.private_key_pem.expose()),
            expires_at: new.expires_at,
            created_at: now(),
            source: new.source.as_str().to_owned(),
            renew_at: new.renew_at,
        };
        certificates::Entity::delete_many()
            .filter(certificates::Column::DomainId.eq(domain.as_uuid()))
            .exec(self.connection())
            .await?;
        certificates::Entity::insert(certificates::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        self.set_certificate_attempts(domain, &CertificateAttempts::default())
            .await?;
        Ok(certificate_from(m))
    }

    /// Removes the domain's certificates (an ACME one is then ordered again).
    pub async fn delete_certificates(&self, domain: DomainId) -> Result<(), StoreError> {
        self.domain(domain).await?;
        certificates::Entity::delete_many()
            .filter(certificates::Column::DomainId.eq(domain.as_uuid()))
            .exec(self.connection())
            .await?;
        self.set_certificate_attempts(domain, &CertificateAttempts::default())
            .await
    }

    /// Records how the domain's last certificate order went.
    pub async fn set_certificate_attempts(
        &self,
        domain: DomainId,
        attempts: &CertificateAttempts,
    ) -> Result<(), StoreError> {
        domains::Entity::update_many()
            .col_expr(
                domains::Column::CertFailures,
                (attempts.failures.min(i32::MAX as u32) as i32).into(),
            )
            .col_expr(
                domains::Column::CertError,
                attempts.last_error.clone().into(),
            )
            .col_expr(domains::Column::CertRetryAt, attempts.retry_at.into())
            .filter(domains::Column::Id.eq(domain.as_uuid()))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Asks for the domain's ACME certificate to be renewed now (and forgets the backoff).
    pub async fn request_certificate_renewal(&self, domain: DomainId) -> Result<(), StoreError> {
        self.domain(domain).await?;
        let t = now();
        certificates::Entity::update_many()
            .col_expr(certificates::Column::RenewAt, Some(t).into())
            .filter(certificates::Column::DomainId.eq(domain.as_uuid()))
            .exec(self.connection())
            .await?;
        self.set_certificate_attempts(domain, &CertificateAttempts::default())
            .await
    }

    /// Every domain's current certificate with its key, for the router (the system's view).
    pub async fn all_current_certificates(
        &self,
    ) -> Result<Vec<(Certificate, SecretString)>, StoreError> {
        let rows = certificates::Entity::find()
            .order_by_asc(certificates::Column::DomainId)
            .order_by_desc(certificates::Column::CreatedAt)
            .all(self.connection())
            .await?;
        let mut out: Vec<(Certificate, SecretString)> = Vec::with_capacity(rows.len());
        for m in rows {
            if out
                .last()
                .is_some_and(|(c, _)| c.domain_id.as_uuid() == m.domain_id)
            {
                continue;
            }
            let key = SecretString::new(self.cipher.decrypt_str(&m.private_key_encrypted)?);
            out.push((certificate_from(m), key));
        }
        Ok(out)
    }

    /// The certificates of berth's own hosts, with their keys and order attempts.
    pub async fn host_certificates(&self) -> Result<Vec<HostCertificate>, StoreError> {
        let rows = installation_certificates::Entity::find()
            .order_by_asc(installation_certificates::Column::Host)
            .all(self.connection())
            .await?;
        rows.into_iter()
            .map(|m| {
                let key = match &m.private_key_encrypted {
                    Some(k) => Some(SecretString::new(self.cipher.decrypt_str(k)?)),
                    None => None,
                };
                Ok(HostCertificate {
                    host: m.host,
                    certificate_pem: m.certificate_pem,
                    private_key_pem: key,
                    expires_at: m.expires_at,
                    renew_at: m.renew_at,
                    attempts: CertificateAttempts {
                        failures: m.failures.max(0) as u32,
                        last_error: m.last_error,
                        retry_at: m.retry_at,
                    },
                })
            })
            .collect()
    }

    /// Stores the certificate of one of berth's own hosts (clearing its failed attempts).
    pub async fn save_host_certificate(
        &self,
        host: &str,
        certificate_pem: &str,
        private_key_pem: &SecretString,
        expires_at: Timestamp,
        renew_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.put_host_certificate(installation_certificates::Model {
            host: host.to_owned(),
            certificate_pem: Some(certificate_pem.to_owned()),
            private_key_encrypted: Some(self.cipher.encrypt_str(private_key_pem.expose())),
            expires_at: Some(expires_at),
            renew_at,
            failures: 0,
            last_error: None,
            retry_at: None,
            updated_at: now(),
        })
        .await
    }

    /// Records how the last order for one of berth's own hosts went; its certificate stays.
    pub async fn set_host_certificate_attempts(
        &self,
        host: &str,
        attempts: &CertificateAttempts,
    ) -> Result<(), StoreError> {
        let current = installation_certificates::Entity::find_by_id(host.to_owned())
            .one(self.connection())
            .await?;
        let mut m = current.unwrap_or(installation_certificates::Model {
            host: host.to_owned(),
            certificate_pem: None,
            private_key_encrypted: None,
            expires_at: None,
            renew_at: None,
            failures: 0,
            last_error: None,
            retry_at: None,
            updated_at: now(),
        });
        m.failures = attempts.failures.min(i32::MAX as u32) as i32;
        m.last_error = attempts.last_error.clone();
        m.retry_at = attempts.retry_at;
        m.updated_at = now();
        self.put_host_certificate(m).await
    }

    async fn put_host_certificate(
        &self,
        m: installation_certificates::Model,
    ) -> Result<(), StoreError> {
        installation_certificates::Entity::delete_by_id(m.host.clone())
            .exec(self.connection())
            .await?;
        installation_certificates::Entity::insert(installation_certificates::ActiveModel::from(m))
            .exec_without_returning(self.connection())
            .await?;
        Ok(())
    }

    /// An installation setting kept encrypted (the system's view), decrypted.
    pub async fn installation_setting(
        &self,
        name: &str,
    ) -> Result<Option<SecretString>, StoreError> {
        let m = installation_settings::Entity::find_by_id(name.to_owned())
            .one(self.connection())
            .await?;
        m.map(|m| {
            Ok(SecretString::new(
                self.cipher.decrypt_str(&m.value_encrypted)?,
            ))
        })
        .transpose()
    }

    /// Sets (or, with `None`, removes) an installation setting, encrypted.
    pub async fn set_installation_setting(
        &self,
        name: &str,
        value: Option<&SecretString>,
    ) -> Result<(), StoreError> {
        installation_settings::Entity::delete_by_id(name.to_owned())
            .exec(self.connection())
            .await?;
        if let Some(v) = value {
            let m = installation_settings::Model {
                name: name.to_owned(),
                value_encrypted: self.cipher.encrypt_str(v.expose()),
                updated_at: now(),
            };
            installation_settings::Entity::insert(installation_settings::ActiveModel::from(m))
                .exec_without_returning(self.connection())
                .await?;
        }
        Ok(())
    }

    /// The installation's ACME account at `directory_url` (its credentials, decrypted).
    pub async fn acme_account(
        &self,
        directory_url: &str,
    ) -> Result<Option<SecretString>, StoreError> {
        let m = acme_accounts::Entity::find_by_id(directory_url.to_owned())
            .one(self.connection())
            .await?;
        m.map(|m| {
            Ok(SecretString::new(
                self.cipher.decrypt_str(&m.credentials_encrypted)?,
            ))
        })
        .transpose()
    }

    pub async fn save_acme_account(
        &self,
        directory_url: &str,
        credentials: &SecretString,
    ) -> Result<(), StoreError> {
        acme_accounts::Entity::delete_by_id(directory_url.to_owned())
            .exec(self.connection())
            .await?;
        let m = acme_accounts::Model {
            directory_url: directory_url.to_owned(),
            credentials_encrypted: self.cipher.encrypt_str(credentials.expose()),
            created_at: now(),
        };
        acme_accounts::Entity::insert(acme_accounts::ActiveModel::from(m))
            .exec_without_returning(self.connection())
            .await?;
        Ok(())
    }

    /// Records a certificate order of `subject` (a domain's id, or `host:<name>`) made `at`,
    /// and forgets orders older than a day.
    pub async fn record_certificate_order(
        &self,
        subject: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        certificate_orders::Entity::delete_many()
            .filter(certificate_orders::Column::OrderedAt.lt(at - chrono::Duration::days(1)))
            .exec(self.connection())
            .await?;
        let m = certificate_orders::Model {
            subject: subject.to_owned(),
            ordered_at: at,
        };
        certificate_orders::Entity::insert(certificate_orders::ActiveModel::from(m))
            .exec_without_returning(self.connection())
            .await?;
        Ok(())
    }

    /// How many certificate orders each subject made since `since`.
    pub async fn certificate_orders_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<HashMap<String, usize>, StoreError> {
        let rows = certificate_orders::Entity::find()
            .filter(certificate_orders::Column::OrderedAt.gte(since))
            .all(self.connection())
            .await?;
        let mut counts = HashMap::new();
        for r in rows {
            *counts.entry(r.subject).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// The newest certificate of a domain (its key stays encrypted: only the router's view,
    /// [`Scope::all_current_certificates`], decrypts keys).
    pub async fn current_certificate(
        &self,
        domain: DomainId,
    ) -> Result<Option<Certificate>, StoreError> {
        self.domain(domain).await?;
        let m = certificates::Entity::find()
            .filter(certificates::Column::DomainId.eq(domain.as_uuid()))
            .order_by_desc(certificates::Column::CreatedAt)
            .one(self.connection())
            .await?;
        Ok(m.map(certificate_from))
    }

    pub async fn create_database(
        &self,
        project: ProjectId,
        new: NewDatabase,
    ) -> Result<Database, StoreError> {
        self.project(project).await?;
        let t = now();
        let m = databases::Model {
            id: DatabaseId::new().as_uuid(),
            project_id: project.as_uuid(),
            name: new.name.into_inner(),
            kind: new.kind.as_str().to_owned(),
            status: DatabaseStatus::Initializing.as_str().to_owned(),
            version: new.version,
            config: new.config,
            connection_string_encrypted: new
                .connection_string
                .map(|c| self.cipher.encrypt_str(c.expose())),
            created_at: t,
            updated_at: t,
        };
        databases::Entity::insert(databases::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "the project already has a database with this name",
            ))?;
        database_from(m)
    }

    pub async fn database(&self, id: DatabaseId) -> Result<Database, StoreError> {
        let m = self
            .visible_databases()
            .filter(databases::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        database_from(found(m, "database")?)
    }

    /// The decrypted connection string of a database.
    pub async fn database_connection_string(
        &self,
        id: DatabaseId,
    ) -> Result<Option<SecretString>, StoreError> {
        self.database(id).await?;
        let m = found(
            databases::Entity::find_by_id(id.as_uuid())
                .one(self.connection())
                .await?,
            "database",
        )?;
        m.connection_string_encrypted
            .map(|b| Ok(SecretString::new(self.cipher.decrypt_str(&b)?)))
            .transpose()
    }

    pub async fn create_backup(
        &self,
        database: DatabaseId,
        kind: BackupKind,
    ) -> Result<Backup, StoreError> {
        self.database(database).await?;
        let m = backups::Model {
            id: BackupId::new().as_uuid(),
            database_id: database.as_uuid(),
            kind: kind.as_str().to_owned(),
            status: BackupStatus::Pending.as_str().to_owned(),
            storage_path: None,
            size_bytes: None,
            created_at: now(),
            completed_at: None,
        };
        backups::Entity::insert(backups::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        backup_from(m)
    }

    pub async fn list_backups(
        &self,
        database: DatabaseId,
        page: Page,
    ) -> Result<Paginated<Backup>, StoreError> {
        self.database(database).await?;
        let select = backups::Entity::find()
            .filter(backups::Column::DatabaseId.eq(database.as_uuid()))
            .order_by_desc(backups::Column::CreatedAt)
            .order_by_desc(backups::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter()
                .map(backup_from)
                .collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }
}
