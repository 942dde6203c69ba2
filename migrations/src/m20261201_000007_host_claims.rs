//! Every host name a domain claims (its host and its `www` alias), once on the whole
//! installation: the primary key makes a second claim of a name fail whoever holds the first,
//! whatever row-level security lets the claimant see, and `parent` finds the claims a wildcard
//! covers. Names are readable by everyone (the router serves them to the world anyway);
//! a claim is made or dropped only by those who may change its project.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HostClaims {
    Table,
    Name,
    Parent,
    DomainId,
    ProjectId,
}

#[derive(DeriveIden)]
enum Domains {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HostClaims::Table)
                    .col(
                        ColumnDef::new(HostClaims::Name)
                            .string_len(255)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(HostClaims::Parent).string_len(255).null())
                    .col(ColumnDef::new(HostClaims::DomainId).uuid().not_null())
                    .col(ColumnDef::new(HostClaims::ProjectId).uuid().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(HostClaims::Table, HostClaims::DomainId)
                            .to(Domains::Table, Domains::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("host_claims_parent", HostClaims::Parent),
            ("host_claims_domain", HostClaims::DomainId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(HostClaims::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        // The domains made before: each claims its host, and its alias when it redirects www.
        // (A name two domains claimed before this rule keeps its first claim.)
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "SELECT set_config('berth.system', 'on', false);
                 INSERT INTO host_claims (name, parent, domain_id, project_id)
                   SELECT name, substring(name from position('.' in name) + 1), id, project_id FROM (
                     SELECT host AS name, id, project_id, created_at FROM domains
                     UNION ALL
                     SELECT CASE routing->>'www_redirect'
                              WHEN 'to_apex' THEN 'www.' || host
                              ELSE substring(host from 5) END, id, project_id, created_at
                     FROM domains
                     WHERE routing->>'www_redirect' = 'to_apex'
                        OR (routing->>'www_redirect' = 'to_www' AND host LIKE 'www.%')
                   ) names ORDER BY created_at
                 ON CONFLICT (name) DO NOTHING;
                 SELECT set_config('berth.system', 'off', false);"
            }
            _ => {
                "INSERT OR IGNORE INTO host_claims (name, parent, domain_id, project_id)
                   SELECT name, substr(name, instr(name, '.') + 1), id, project_id FROM (
                     SELECT host AS name, id, project_id, created_at FROM domains
                     UNION ALL
                     SELECT CASE json_extract(routing, '$.www_redirect')
                              WHEN 'to_apex' THEN 'www.' || host
                              ELSE substr(host, 5) END, id, project_id, created_at
                     FROM domains
                     WHERE json_extract(routing, '$.www_redirect') = 'to_apex'
                        OR (json_extract(routing, '$.www_redirect') = 'to_www' AND host LIKE 'www.%')
                   ) ORDER BY created_at"
            }
        };
        db.execute_unprepared(backfill).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE host_claims ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE host_claims FORCE ROW LEVEL SECURITY;
                 CREATE POLICY host_claims_select ON host_claims FOR SELECT USING (true);
                 CREATE POLICY host_claims_insert ON host_claims FOR INSERT
                   WITH CHECK (berth_project_writable(project_id));
                 CREATE POLICY host_claims_delete ON host_claims FOR DELETE
                   USING (berth_project_writable(project_id));",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HostClaims::Table).to_owned())
            .await
    }
}
