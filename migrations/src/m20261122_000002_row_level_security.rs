//! Row-level security on Postgres: the second wall between tenants.
//!
//! Every request runs in a transaction that first sets, with `set_config(..., true)` (local to
//! that transaction), who is acting:
//! - `berth.user_id`: the acting user's id;
//! - `berth.teams_viewer`, `berth.teams_member`, `berth.teams_admin`, `berth.teams_owner`:
//!   comma-separated ids of the teams in which that user has at least that role (computed by the
//!   store from `team_members` at the start of the transaction);
//! - `berth.is_admin`: `on` when that user is a platform admin (read from `users` by
//!   `berth_act_as`, once per transaction rather than once per row);
//! - `berth.system`: `on` for berth's own background work (the deployment worker, recovery,
//!   retention), which acts for no user.
//!
//! With none of these set, a tenant table shows nothing. The server's database role owns the
//! tables, so every table is also `FORCE`d: the owner is held to the policies like anyone else.
//! `users` is the platform's directory (names and roles, needed to resolve members) and is left
//! out; its access is decided by the application alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const FUNCTIONS: &str = r#"
CREATE FUNCTION berth_user_id() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT NULLIF(current_setting('berth.user_id', true), '')::uuid
$$;
CREATE FUNCTION berth_is_system() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('berth.system', true), '') = 'on'
$$;
CREATE FUNCTION berth_is_admin() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('berth.is_admin', true), '') = 'on'
$$;
CREATE FUNCTION berth_teams(min_role text) RETURNS uuid[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_to_array(NULLIF(current_setting('berth.teams_' || min_role, true), ''), ',')::uuid[], '{}'::uuid[])
$$;
-- Enters the acting user for the rest of the transaction (leaving berth.system if it was on):
-- sets berth.user_id, then (now allowed
-- to read that user's own memberships) the team lists by minimum role, and returns the
-- memberships so the application can use them too. One round trip per request.
CREATE FUNCTION berth_act_as(acting uuid) RETURNS TABLE (team_id uuid, role text)
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM set_config('berth.system', '', true);
  PERFORM set_config('berth.user_id', acting::text, true);
  PERFORM set_config('berth.is_admin',
    CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = acting AND u.role IN ('super_admin', 'admin'))
         THEN 'on' ELSE '' END, true);
  PERFORM set_config('berth.teams_viewer', coalesce(string_agg(m.team_id::text, ','), ''), true),
          set_config('berth.teams_member', coalesce(string_agg(m.team_id::text, ',') FILTER (WHERE m.role IN ('owner', 'admin', 'member')), ''), true),
          set_config('berth.teams_admin', coalesce(string_agg(m.team_id::text, ',') FILTER (WHERE m.role IN ('owner', 'admin')), ''), true),
          set_config('berth.teams_owner', coalesce(string_agg(m.team_id::text, ',') FILTER (WHERE m.role = 'owner'), ''), true)
    FROM team_members m WHERE m.user_id = acting;
  RETURN QUERY SELECT m.team_id, m.role::text FROM team_members m WHERE m.user_id = acting;
END
$fn$;
CREATE FUNCTION berth_unrestricted() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT berth_is_system() OR berth_is_admin()
$$;
-- A project the acting user may change: owner, or member (or more) of its team.
CREATE FUNCTION berth_project_writable(p uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT berth_unrestricted() OR EXISTS (
    SELECT 1 FROM projects
    WHERE id = p AND (owner_id = berth_user_id() OR team_id = ANY (berth_teams('member'))))
$$;
CREATE FUNCTION berth_application_writable(a uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT berth_unrestricted() OR EXISTS (
    SELECT 1 FROM applications WHERE id = a AND berth_project_writable(project_id))
$$;
CREATE FUNCTION berth_database_writable(d uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT berth_unrestricted() OR EXISTS (
    SELECT 1 FROM databases WHERE id = d AND berth_project_writable(project_id))
$$;
"#;

/// `(table, select rule, write rule)`. A child row is visible when its parent is (the subquery
/// on the parent is itself filtered by the parent's policy) and writable when its project is.
const POLICIES: &[(&str, &str, &str)] = &[
    (
        "teams",
        "berth_unrestricted() OR id = ANY (berth_teams('viewer'))",
        "berth_unrestricted() OR id = ANY (berth_teams('admin'))",
    ),
    (
        "team_members",
        "berth_unrestricted() OR user_id = berth_user_id() OR team_id = ANY (berth_teams('viewer'))",
        "berth_unrestricted() OR team_id = ANY (berth_teams('admin'))",
    ),
    (
        "applications",
        "project_id IN (SELECT id FROM projects)",
        "berth_project_writable(project_id)",
    ),
    (
        "databases",
        "project_id IN (SELECT id FROM projects)",
        "berth_project_writable(project_id)",
    ),
    (
        "domains",
        "project_id IN (SELECT id FROM projects)",
        "berth_project_writable(project_id)",
    ),
    (
        "git_sources",
        "application_id IN (SELECT id FROM applications)",
        "berth_application_writable(application_id)",
    ),
    (
        "env_vars",
        "application_id IN (SELECT id FROM applications)",
        "berth_application_writable(application_id)",
    ),
    (
        "service_tokens",
        "application_id IN (SELECT id FROM applications)",
        "berth_application_writable(application_id)",
    ),
    (
        "builds",
        "application_id IN (SELECT id FROM applications)",
        "berth_application_writable(application_id)",
    ),
    (
        "deployments",
        "application_id IN (SELECT id FROM applications)",
        "berth_application_writable(application_id)",
    ),
    (
        "deployment_steps",
        "deployment_id IN (SELECT id FROM deployments)",
        "berth_unrestricted()",
    ),
    (
        "deployment_logs",
        "deployment_id IN (SELECT id FROM deployments)",
        "berth_unrestricted()",
    ),
    (
        "volumes",
        "application_id IN (SELECT id FROM applications) OR database_id IN (SELECT id FROM databases)",
        "(application_id IS NOT NULL AND berth_application_writable(application_id)) OR (database_id IS NOT NULL AND berth_database_writable(database_id))",
    ),
    (
        "certificates",
        "domain_id IN (SELECT id FROM domains)",
        "berth_unrestricted() OR EXISTS (SELECT 1 FROM domains d WHERE d.id = domain_id AND berth_project_writable(d.project_id))",
    ),
    (
        "backups",
        "database_id IN (SELECT id FROM databases)",
        "berth_database_writable(database_id)",
    ),
    (
        "api_tokens",
        "berth_is_system() OR user_id = berth_user_id()",
        "berth_is_system() OR user_id = berth_user_id()",
    ),
    (
        "sessions",
        "berth_is_system() OR user_id = berth_user_id()",
        "berth_is_system() OR user_id = berth_user_id()",
    ),
];

const PROJECTS: &str = r#"
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
CREATE POLICY projects_select ON projects FOR SELECT USING (
  berth_unrestricted() OR owner_id = berth_user_id() OR team_id = ANY (berth_teams('viewer')));
CREATE POLICY projects_insert ON projects FOR INSERT WITH CHECK (
  berth_unrestricted() OR (owner_id = berth_user_id()
    AND (team_id IS NULL OR team_id = ANY (berth_teams('member')))));
CREATE POLICY projects_update ON projects FOR UPDATE
  USING (berth_unrestricted() OR owner_id = berth_user_id() OR team_id = ANY (berth_teams('member')))
  WITH CHECK (berth_unrestricted() OR owner_id = berth_user_id() OR team_id = ANY (berth_teams('member')));
CREATE POLICY projects_delete ON projects FOR DELETE USING (
  berth_unrestricted() OR owner_id = berth_user_id() OR team_id = ANY (berth_teams('owner')));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_select ON audit_log FOR SELECT USING (
  berth_unrestricted() OR user_id = berth_user_id());
CREATE POLICY audit_log_insert ON audit_log FOR INSERT WITH CHECK (true);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared(FUNCTIONS).await?;
        db.execute_unprepared(PROJECTS).await?;
        for (table, read, write) in POLICIES {
            // Any signed-in user may found a team (and then becomes its first owner).
            let insert = if *table == "teams" {
                "berth_unrestricted() OR berth_user_id() IS NOT NULL"
            } else {
                write
            };
            let sql = format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                 CREATE POLICY {table}_select ON {table} FOR SELECT USING ({read});
                 CREATE POLICY {table}_insert ON {table} FOR INSERT WITH CHECK ({insert});
                 CREATE POLICY {table}_update ON {table} FOR UPDATE USING ({write}) WITH CHECK ({write});
                 CREATE POLICY {table}_delete ON {table} FOR DELETE USING ({write});"
            );
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        for table in POLICIES
            .iter()
            .map(|p| p.0)
            .chain(["projects", "audit_log"])
        {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
            ))
            .await?;
            for op in ["select", "insert", "update", "delete"] {
                db.execute_unprepared(&format!("DROP POLICY IF EXISTS {table}_{op} ON {table};"))
                    .await?;
            }
        }
        db.execute_unprepared(
            "DROP FUNCTION berth_database_writable(uuid); DROP FUNCTION berth_application_writable(uuid);
             DROP FUNCTION berth_project_writable(uuid); DROP FUNCTION berth_unrestricted(); DROP FUNCTION berth_act_as(uuid);
             DROP FUNCTION berth_teams(text); DROP FUNCTION berth_is_admin();
             DROP FUNCTION berth_is_system(); DROP FUNCTION berth_user_id();",
        )
        .await?;
        Ok(())
    }
}
