//! A volume's name is unique within its application (or database), not across the installation:
//! one tenant's `data` no longer stops another tenant naming theirs `data`, nor tells them that
//! someone has one. The engine's name, berth's `berth-vol-<id>`, stays unique everywhere.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Unique names per owner; partial indexes, since a volume has exactly one of the two owners.
const PER_OWNER: &str = r#"
CREATE UNIQUE INDEX "volumes_application_name" ON "volumes" ("application_id", "name")
  WHERE "application_id" IS NOT NULL;
CREATE UNIQUE INDEX "volumes_database_name" ON "volumes" ("database_id", "name")
  WHERE "database_id" IS NOT NULL;
"#;

/// SQLite cannot drop a column's UNIQUE constraint: the table is made again without it, the
/// same in every other respect, and its rows and indexes carried over (no table refers to it).
const SQLITE_REBUILD: &str = r#"
CREATE TABLE "volumes_new" ( "id" uuid_text NOT NULL PRIMARY KEY, "name" varchar(128) NOT NULL, "kind" varchar(32) NOT NULL CHECK ("kind" IN ('docker_volume', 'bind')), "mount_path" varchar(1024) NOT NULL, "size_gb" integer NOT NULL CHECK ("size_gb" > 0), "application_id" uuid_text NULL, "database_id" uuid_text NULL, "created_at" timestamp_with_timezone_text NOT NULL, "engine_name" varchar(128) NULL, FOREIGN KEY ("application_id") REFERENCES "applications" ("id") ON DELETE RESTRICT ON UPDATE CASCADE, FOREIGN KEY ("database_id") REFERENCES "databases" ("id") ON DELETE RESTRICT ON UPDATE CASCADE, CHECK (("application_id" IS NOT NULL AND "database_id" IS NULL) OR ("application_id" IS NULL AND "database_id" IS NOT NULL)) );
INSERT INTO "volumes_new" ("id", "name", "kind", "mount_path", "size_gb", "application_id", "database_id", "created_at", "engine_name")
  SELECT "id", "name", "kind", "mount_path", "size_gb", "application_id", "database_id", "created_at", "engine_name" FROM "volumes";
DROP TABLE "volumes";
ALTER TABLE "volumes_new" RENAME TO "volumes";
CREATE INDEX "idx_volumes_application" ON "volumes" ("application_id");
CREATE INDEX "idx_volumes_database" ON "volumes" ("database_id");
CREATE UNIQUE INDEX "volumes_engine_name" ON "volumes" ("engine_name");
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    r#"ALTER TABLE "volumes" DROP CONSTRAINT "volumes_name_key";"#,
                )
                .await?;
            }
            _ => {
                db.execute_unprepared(SQLITE_REBUILD).await?;
            }
        }
        db.execute_unprepared(PER_OWNER).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            r#"DROP INDEX "volumes_application_name"; DROP INDEX "volumes_database_name";"#,
        )
        .await?;
        Ok(())
    }
}
