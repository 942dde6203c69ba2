//! Every schema change of berth, in order, portable across SQLite and Postgres. Parts that only
//! Postgres has (row-level security) are applied only there.
//!
//! Architecture invariant: a migration, once released, is never edited; a change is a new one.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_row_level_security;
mod m20261122_000003_webhook_deliveries;
mod m20261123_000004_domain_routing;
mod m20261123_000005_certificates_acme;
mod m20261123_000006_certificate_orders;
mod m20261201_000007_host_claims;
mod m20261201_000008_volume_engine_names;
mod m20261201_000009_volume_names_per_owner;
mod m20261201_000010_operations;
mod m20261201_000011_auth_epoch;
mod m20261202_000012_audit_keyset;
mod m20261202_000013_edge_epoch;
mod m20261202_000014_partitioned_history;
mod m20261207_000015_registries;
mod m20261207_000016_schedules;

#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_row_level_security::Migration),
            Box::new(m20261122_000003_webhook_deliveries::Migration),
            Box::new(m20261123_000004_domain_routing::Migration),
            Box::new(m20261123_000005_certificates_acme::Migration),
            Box::new(m20261123_000006_certificate_orders::Migration),
            Box::new(m20261201_000007_host_claims::Migration),
            Box::new(m20261201_000008_volume_engine_names::Migration),
            Box::new(m20261201_000009_volume_names_per_owner::Migration),
            Box::new(m20261201_000010_operations::Migration),
            Box::new(m20261201_000011_auth_epoch::Migration),
            Box::new(m20261202_000012_audit_keyset::Migration),
            Box::new(m20261202_000013_edge_epoch::Migration),
            Box::new(m20261202_000014_partitioned_history::Migration),
            Box::new(m20261207_000015_registries::Migration),
            Box::new(m20261207_000016_schedules::Migration),
        ]
    }
}
