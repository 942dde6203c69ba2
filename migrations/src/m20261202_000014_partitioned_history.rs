//! On Postgres, the two tables that grow without bound are partitioned (SQLite keeps plain
//! tables behind the same API):
//!
//! - `audit_log` by month of `created_at`. Retention (a year by default) then drops a month's
//!   partition whole instead of deleting its rows one by one, and a page of the log reads one
//!   or two partitions. This migration makes the partitioned table with only its default
//!   partition, which takes every existing entry; the store (`Store::maintain_partitions`,
//!   run after every migration and with every retention round) gives each month its own
//!   partition, a few months ahead, moving out of the default partition whatever landed there.
//! - `deployment_logs` by hash of `deployment_id`, four ways. Every read and write of a log
//!   names its deployment, so it touches one partition, and the numbering of a deployment's
//!   lines stays enforced by a unique key (a key on a partitioned table must hold the
//!   partition key: one by time could not). Lines go by retention a deployment's worth at a
//!   time, with the deployment or after 30 days; docs/benchmarks.md has the figures that chose
//!   this over partitions by time.
//!
//! Keys hold the partition key, as Postgres requires: (created_at, id) for the audit log, which
//! is the order its pages are read in, and (deployment_id, id) for log lines. The sequences of
//! `id` carry over. Row-level security stays on the parent tables, where every query of berth
//! goes; every partition forces it too, with no policy, so a partition named directly shows and
//! takes nothing; only the audit log's default partition lets berth itself in, which looks in
//! it for entries to move. The audit log gains a policy that lets berth itself (retention)
//! delete.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;
CREATE TABLE audit_log (LIKE audit_log_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (created_at);
ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;
INSERT INTO audit_log SELECT * FROM audit_log_unpartitioned;
DROP TABLE audit_log_unpartitioned;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_pkey PRIMARY KEY (created_at, id);
ALTER TABLE audit_log ADD CONSTRAINT fk_audit_log_user
  FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX idx_audit_log_user_created ON audit_log (user_id, created_at DESC);
CREATE INDEX idx_audit_log_resource ON audit_log (resource_type, resource_id);
CREATE INDEX idx_audit_log_action ON audit_log (action);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select ON audit_log FOR SELECT USING (
  berth_unrestricted() OR user_id = berth_user_id());
CREATE POLICY audit_log_insert ON audit_log FOR INSERT WITH CHECK (true);
CREATE POLICY audit_log_delete ON audit_log FOR DELETE USING (berth_is_system());
ALTER TABLE audit_log_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log_default FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_default_system ON audit_log_default USING (berth_is_system());

ALTER TABLE deployment_logs RENAME TO deployment_logs_unpartitioned;
CREATE TABLE deployment_logs (LIKE deployment_logs_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY HASH (deployment_id);
ALTER SEQUENCE deployment_logs_id_seq OWNED BY deployment_logs.id;
CREATE TABLE deployment_logs_p0 PARTITION OF deployment_logs FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE deployment_logs_p1 PARTITION OF deployment_logs FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE deployment_logs_p2 PARTITION OF deployment_logs FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE deployment_logs_p3 PARTITION OF deployment_logs FOR VALUES WITH (MODULUS 4, REMAINDER 3);
INSERT INTO deployment_logs SELECT * FROM deployment_logs_unpartitioned;
DROP TABLE deployment_logs_unpartitioned;
ALTER TABLE deployment_logs ADD CONSTRAINT deployment_logs_pkey PRIMARY KEY (deployment_id, id);
ALTER TABLE deployment_logs ADD CONSTRAINT fk_deployment_logs_deployment
  FOREIGN KEY (deployment_id) REFERENCES deployments (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX uq_deployment_logs_seq ON deployment_logs (deployment_id, seq);
CREATE INDEX idx_deployment_logs_created ON deployment_logs (created_at);
ALTER TABLE deployment_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY deployment_logs_select ON deployment_logs FOR SELECT USING (
  deployment_id IN (SELECT id FROM deployments));
CREATE POLICY deployment_logs_insert ON deployment_logs FOR INSERT WITH CHECK (berth_unrestricted());
CREATE POLICY deployment_logs_update ON deployment_logs FOR UPDATE
  USING (berth_unrestricted()) WITH CHECK (berth_unrestricted());
CREATE POLICY deployment_logs_delete ON deployment_logs FOR DELETE USING (berth_unrestricted());
ALTER TABLE deployment_logs_p0 ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs_p0 FORCE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs_p1 ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs_p1 FORCE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs_p2 ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs_p2 FORCE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs_p3 ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs_p3 FORCE ROW LEVEL SECURITY;
"#;

/// Plain tables again, with the keys, indexes and policies they had before.
const DOWN: &str = r#"
ALTER TABLE audit_log RENAME TO audit_log_partitioned;
ALTER TABLE audit_log_partitioned RENAME CONSTRAINT audit_log_pkey TO audit_log_partitioned_pkey;
CREATE TABLE audit_log (LIKE audit_log_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
INSERT INTO audit_log SELECT * FROM audit_log_partitioned;
DROP TABLE audit_log_partitioned CASCADE;
ALTER TABLE audit_log ADD PRIMARY KEY (id);
ALTER TABLE audit_log ADD CONSTRAINT fk_audit_log_user
  FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX idx_audit_log_user_created ON audit_log (user_id, created_at DESC);
CREATE INDEX idx_audit_log_resource ON audit_log (resource_type, resource_id);
CREATE INDEX idx_audit_log_action ON audit_log (action);
CREATE INDEX audit_log_created_id ON audit_log (created_at, id);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select ON audit_log FOR SELECT USING (
  berth_unrestricted() OR user_id = berth_user_id());
CREATE POLICY audit_log_insert ON audit_log FOR INSERT WITH CHECK (true);

ALTER TABLE deployment_logs RENAME TO deployment_logs_partitioned;
ALTER TABLE deployment_logs_partitioned
  RENAME CONSTRAINT deployment_logs_pkey TO deployment_logs_partitioned_pkey;
ALTER INDEX uq_deployment_logs_seq RENAME TO uq_deployment_logs_seq_partitioned;
ALTER INDEX idx_deployment_logs_created RENAME TO idx_deployment_logs_created_partitioned;
CREATE TABLE deployment_logs (LIKE deployment_logs_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER SEQUENCE deployment_logs_id_seq OWNED BY deployment_logs.id;
INSERT INTO deployment_logs SELECT * FROM deployment_logs_partitioned;
DROP TABLE deployment_logs_partitioned CASCADE;
ALTER TABLE deployment_logs ADD PRIMARY KEY (id);
ALTER TABLE deployment_logs ADD CONSTRAINT fk_deployment_logs_deployment
  FOREIGN KEY (deployment_id) REFERENCES deployments (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX uq_deployment_logs_seq ON deployment_logs (deployment_id, seq);
CREATE INDEX idx_deployment_logs_created ON deployment_logs (created_at);
ALTER TABLE deployment_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY deployment_logs_select ON deployment_logs FOR SELECT USING (
  deployment_id IN (SELECT id FROM deployments));
CREATE POLICY deployment_logs_insert ON deployment_logs FOR INSERT WITH CHECK (berth_unrestricted());
CREATE POLICY deployment_logs_update ON deployment_logs FOR UPDATE
  USING (berth_unrestricted()) WITH CHECK (berth_unrestricted());
CREATE POLICY deployment_logs_delete ON deployment_logs FOR DELETE USING (berth_unrestricted());
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        m.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        m.get_connection().execute_unprepared(DOWN).await?;
        Ok(())
    }
}
