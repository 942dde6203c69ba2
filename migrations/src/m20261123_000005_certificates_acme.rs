//! What certificates by ACME need: where each certificate came from and when to renew it, the
//! state of each domain's last attempt (failures in a row, the error, when to try again), the
//! installation's ACME accounts (credentials encrypted, one per CA directory), and the
//! certificates of berth's own hosts (`api_hosts`), and installation settings kept encrypted
//! (the DNS-01 configuration). Only berth's own work reads the accounts and its own
//! certificates; the settings, admins too.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Certificates {
    Table,
    Source,
    RenewAt,
}

#[derive(DeriveIden)]
enum Domains {
    Table,
    CertFailures,
    CertError,
    CertRetryAt,
}

#[derive(DeriveIden)]
enum InstallationCertificates {
    Table,
    Host,
    CertificatePem,
    PrivateKeyEncrypted,
    ExpiresAt,
    RenewAt,
    Failures,
    LastError,
    RetryAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InstallationSettings {
    Table,
    Name,
    ValueEncrypted,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AcmeAccounts {
    Table,
    DirectoryUrl,
    CredentialsEncrypted,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            ColumnDef::new(Certificates::Source)
                .string_len(16)
                .not_null()
                .default("acme")
                .check(Expr::col(Certificates::Source).is_in(["acme", "custom"]))
                .take(),
            ColumnDef::new(Certificates::RenewAt)
                .timestamp_with_time_zone()
                .null()
                .take(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Certificates::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            ColumnDef::new(Domains::CertFailures)
                .integer()
                .not_null()
                .default(0)
                .take(),
            ColumnDef::new(Domains::CertError).text().null().take(),
            ColumnDef::new(Domains::CertRetryAt)
                .timestamp_with_time_zone()
                .null()
                .take(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Domains::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AcmeAccounts::Table)
                    .col(
                        ColumnDef::new(AcmeAccounts::DirectoryUrl)
                            .string_len(500)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AcmeAccounts::CredentialsEncrypted)
                            .blob()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AcmeAccounts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let ts_null = |c: InstallationCertificates| {
            ColumnDef::new(c).timestamp_with_time_zone().null().take()
        };
        manager
            .create_table(
                Table::create()
                    .table(InstallationCertificates::Table)
                    .col(
                        ColumnDef::new(InstallationCertificates::Host)
                            .string_len(253)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(InstallationCertificates::CertificatePem)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InstallationCertificates::PrivateKeyEncrypted)
                            .blob()
                            .null(),
                    )
                    .col(ts_null(InstallationCertificates::ExpiresAt))
                    .col(ts_null(InstallationCertificates::RenewAt))
                    .col(
                        ColumnDef::new(InstallationCertificates::Failures)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(InstallationCertificates::LastError)
                            .text()
                            .null(),
                    )
                    .col(ts_null(InstallationCertificates::RetryAt))
                    .col(
                        ColumnDef::new(InstallationCertificates::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InstallationSettings::Table)
                    .col(
                        ColumnDef::new(InstallationSettings::Name)
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(InstallationSettings::ValueEncrypted)
                            .blob()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InstallationSettings::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE installation_settings ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE installation_settings FORCE ROW LEVEL SECURITY;
                     CREATE POLICY installation_settings_admin ON installation_settings
                       USING (berth_unrestricted()) WITH CHECK (berth_unrestricted());
                     ALTER TABLE acme_accounts ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE acme_accounts FORCE ROW LEVEL SECURITY;
                     CREATE POLICY acme_accounts_system ON acme_accounts
                       USING (berth_is_system()) WITH CHECK (berth_is_system());
                     ALTER TABLE installation_certificates ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE installation_certificates FORCE ROW LEVEL SECURITY;
                     CREATE POLICY installation_certificates_system ON installation_certificates
                       USING (berth_is_system()) WITH CHECK (berth_is_system());",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AcmeAccounts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(InstallationSettings::Table).to_owned())
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(InstallationCertificates::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Domains::CertFailures,
            Domains::CertError,
            Domains::CertRetryAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Domains::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Certificates::Source, Certificates::RenewAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Certificates::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
