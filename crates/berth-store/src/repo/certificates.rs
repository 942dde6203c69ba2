//! Certificates: domains' and the installation's, ACME accounts and the orders made.

use std::collections::HashMap;

use berth_domain::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::now;
use crate::entity::{
    acme_accounts, certificate_orders, certificates, domains, installation_certificates,
};
use crate::{Scope, StoreError};

pub(super) fn certificate_from(m: certificates::Model) -> Certificate {
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

impl Scope {
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
        // Every change to a domain's certificate comes through here.
        self.edge_changed().await
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

    pub(super) async fn put_host_certificate(
        &self,
        m: installation_certificates::Model,
    ) -> Result<(), StoreError> {
        installation_certificates::Entity::delete_by_id(m.host.clone())
            .exec(self.connection())
            .await?;
        installation_certificates::Entity::insert(installation_certificates::ActiveModel::from(m))
            .exec_without_returning(self.connection())
            .await?;
        self.edge_changed().await
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
}
