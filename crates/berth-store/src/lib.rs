//! berth's storage: sea-orm over SQLite (the embedded default) or Postgres (production, with
//! row-level security), one set of migrations for both, and secrets encrypted at rest.
//!
//! Every read and write happens in a [`Scope`]: a transaction opened for an [`Actor`]. On
//! Postgres the scope tells the database who is acting, so row-level security filters every
//! query a second time, after the application's own filter.
//!
//! Architecture invariant: this is the only crate that speaks SQL. It knows nothing of HTTP,
//! Docker or git.

mod auth_cache;
pub mod crypto;
mod entity;
mod error;
mod partitions;
mod repo;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use berth_domain::{PlatformRole, TeamId, TeamRole, UserId};
use berth_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    Statement, TransactionTrait,
};

pub use crypto::{Cipher, CryptoError, MasterKey};
pub use error::StoreError;
pub use partitions::PartitionReport;
pub use repo::*;
use repo::{memberships_of, now, parse_col};

/// Which database berth is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn sea(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
        }
    }
}

/// Who a scope acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, with their platform role.
    User { id: UserId, role: PlatformRole },
    /// berth's own background work (workers, recovery, retention): sees everything.
    System,
    /// Nobody yet (before authentication): sees no tenant data.
    Anonymous,
}

/// The handle to the database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite only: read-only connections for transactions that only read, so reads go on in
    /// parallel beside the one connection that writes (WAL lets them).
    reader: Option<DatabaseConnection>,
    backend: Backend,
    cipher: Arc<Cipher>,
    /// berth's own host names (the API's `api_hosts`): no domain may claim them.
    reserved_hosts: Arc<Vec<String>>,
    /// Bearer tokens that checked out, for a few seconds (see `auth_cache`).
    auth: Arc<auth_cache::AuthCache>,
}

/// Replaces the password of a database URL, so the URL can be shown in messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTEDPASSWORD"));
            u.to_string().replacen("REDACTEDPASSWORD", "[redacted]", 1)
        }
        Ok(u) => u.to_string(),
        Err(_) => "[unparseable database URL]".to_owned(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). On Postgres the role must be neither
    /// a superuser nor allowed to bypass row-level security.
    pub async fn connect(url: &str, key: &MasterKey) -> Result<Self, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Connect {
                url: redact_url(url),
                message: "the database URL must start with sqlite: or postgres://".into(),
            });
        };
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        match backend {
            Backend::Sqlite => {
                // One connection: every transaction runs after the one before it has ended.
                // With several, a transaction that began by reading and then writes can fail
                // at once with "database is locked" (SQLite cannot wait for the lock without
                // risking a deadlock), and a dropped transaction's rollback may still be in
                // flight when the next one starts. SQLite serialises writers anyway; Postgres is
                // the backend for concurrency.
                options.max_connections(1).min_connections(1);
                options.map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(10))
                        .foreign_keys(true)
                });
            }
            Backend::Postgres => {
                options.max_connections(16).min_connections(1);
            }
        }
        if backend == Backend::Postgres {
            // One direct connection first: a pool only reports that it timed out, while this
            // says why (refused, authentication failed, no such database).
            use sea_orm::sqlx::Connection;
            let probe = tokio::time::timeout(
                Duration::from_secs(5),
                sea_orm::sqlx::PgConnection::connect(url),
            )
            .await;
            match probe {
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                }
                Ok(Err(e)) => {
                    return Err(StoreError::Connect {
                        url: redact_url(url),
                        message: error::redact_password(&e.to_string(), url),
                    })
                }
                Err(_) => {
                    return Err(StoreError::Connect {
                        url: redact_url(url),
                        message: "no answer within 5 seconds".into(),
                    })
                }
            }
        }
        let db = Database::connect(options)
            .await
            .map_err(|e| StoreError::Connect {
                url: redact_url(url),
                message: error::describe_connect_error(&e, url),
            })?;
        let reader = match backend {
            Backend::Sqlite => {
                let mut options = ConnectOptions::new(url.to_owned());
                options
                    .max_connections(4)
                    .min_connections(1)
                    .connect_timeout(Duration::from_secs(5))
                    .acquire_timeout(Duration::from_secs(30))
                    .sqlx_logging(false);
                options.map_sqlx_sqlite_opts(|o| {
                    o.read_only(true)
                        .busy_timeout(Duration::from_secs(10))
                        .foreign_keys(true)
                });
                Some(
                    Database::connect(options)
                        .await
                        .map_err(|e| StoreError::Connect {
                            url: redact_url(url),
                            message: error::describe_connect_error(&e, url),
                        })?,
                )
            }
            Backend::Postgres => None,
        };
        let store = Self {
            db,
            reader,
            backend,
            cipher: Arc::new(Cipher::new(key)),
            reserved_hosts: Arc::default(),
            auth: Arc::default(),
        };
        if backend == Backend::Postgres {
            store.check_role().await?;
        }
        Ok(store)
    }

    /// Reserves berth's own host names: no domain may claim them, their `www` forms, names
    /// under them or a wildcard covering them (see `berth_domain::hosts`).
    pub fn with_reserved_hosts(mut self, hosts: impl IntoIterator<Item = String>) -> Self {
        self.reserved_hosts = Arc::new(
            hosts
                .into_iter()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// Believes a bearer token that checked out for `ttl` without asking the database again
    /// (5 s unless told; zero: every request asks). A change to who a token stands for made
    /// through any store on the same database still applies within about a second.
    pub fn with_token_cache_ttl(mut self, ttl: Duration) -> Self {
        self.auth = Arc::new(auth_cache::AuthCache::new(ttl));
        self
    }

    /// Fails when the Postgres role would be exempt from row-level security.
    async fn check_role(&self) -> Result<(), StoreError> {
        let row = self
            .db
            .query_one(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_user::text AS name, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
            ))
            .await?
            .ok_or_else(|| StoreError::UnsafeRole("the current role is not in pg_roles".into()))?;
        let name: String = row.try_get("", "name")?;
        let superuser: bool = row.try_get("", "rolsuper")?;
        let bypass: bool = row.try_get("", "rolbypassrls")?;
        if superuser || bypass {
            return Err(StoreError::UnsafeRole(format!(
                "role \"{name}\" is a superuser or has BYPASSRLS, so row-level security would not \
                 apply to it; connect as a role created with NOSUPERUSER NOBYPASSRLS"
            )));
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every migration not applied yet, then makes the partitions the audit log needs
    /// on Postgres ([`Self::maintain_partitions`]).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        self.maintain_partitions(now(), None).await?;
        Ok(())
    }

    /// Whether the database answers (for readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// Closes every connection of the pool.
    pub async fn close(self) -> Result<(), StoreError> {
        if let Some(r) = self.reader {
            r.close().await?;
        }
        self.db.close().await?;
        Ok(())
    }

    /// Opens a transaction acting for `actor`. Nothing it writes is kept unless
    /// [`Scope::commit`] is called; dropping a scope rolls it back.
    pub async fn scope(&self, actor: Actor) -> Result<Scope, StoreError> {
        self.open_scope(actor, false).await
    }

    /// Like [`Self::scope`], for work that only reads: the database refuses any write in it
    /// (Postgres `READ ONLY` transaction, SQLite read-only connection), and on SQLite it runs
    /// beside other readers instead of waiting for the writer.
    pub async fn read_scope(&self, actor: Actor) -> Result<Scope, StoreError> {
        self.open_scope(actor, true).await
    }

    async fn open_scope(&self, actor: Actor, read_only: bool) -> Result<Scope, StoreError> {
        self.open_scope_knowing(actor, read_only, None).await
    }

    /// Like `open_scope`; `teams` are the user's memberships when they are known already
    /// (remembered with their token), which SQLite then does not read again.
    async fn open_scope_knowing(
        &self,
        actor: Actor,
        read_only: bool,
        teams: Option<Vec<(TeamId, TeamRole)>>,
    ) -> Result<Scope, StoreError> {
        let tx = match (&self.reader, read_only) {
            (Some(reader), true) => reader.begin().await?,
            _ => self.db.begin().await?,
        };
        if read_only && self.backend == Backend::Postgres {
            tx.execute_unprepared("SET TRANSACTION READ ONLY").await?;
        }
        if !read_only && self.backend == Backend::Sqlite {
            // Take the write lock now, waiting for it as long as `busy_timeout` says: when
            // another process writes the same file (the edge router in a process of its own),
            // a transaction that began by reading could not become a writer later (SQLite
            // answers "database is locked" at once then). A write that matches no row takes
            // the lock and changes nothing.
            tx.execute_unprepared("UPDATE installation_settings SET name = name WHERE name = ''")
                .await?;
        }
        let mut scope = Scope {
            tx,
            actor: Actor::Anonymous,
            teams: std::sync::Mutex::new(Vec::new()),
            backend: self.backend,
            cipher: self.cipher.clone(),
            reserved_hosts: self.reserved_hosts.clone(),
            auth: self.auth.clone(),
            auth_changed: std::sync::atomic::AtomicBool::new(false),
        };
        match actor {
            Actor::User { id, role } => scope.become_user(id, role, teams).await?,
            Actor::System => {
                if self.backend == Backend::Postgres {
                    scope
                        .tx
                        .execute_unprepared("SELECT set_config('berth.system', 'on', true)")
                        .await?;
                }
                scope.actor = Actor::System;
            }
            Actor::Anonymous => {}
        }
        Ok(scope)
    }

    /// Authenticates a bearer token and, when it is valid, opens the request's scope acting
    /// for its owner: one transaction serves both, so a request costs one `BEGIN`/`COMMIT`.
    /// A token that checked out within the last seconds is believed without asking again (see
    /// `auth_cache`): the scope then opens for its owner at once. A service token's scope acts
    /// for nobody (it sees no tenant data by itself).
    pub async fn scope_for_token(
        &self,
        token: &str,
        read_only: bool,
    ) -> Result<Option<(TokenOwner, Scope)>, StoreError> {
        let hash = tokens::hash(token);
        let mut cached = self.auth.lookup(&hash, now());
        if cached.epoch_due {
            let epoch = self.auth_epoch().await?;
            self.auth.epoch_is(epoch);
            cached = self.auth.lookup(&hash, now());
        }
        if let Some((owner, teams)) = cached.owner {
            let scope = self
                .open_scope_knowing(owner.actor(), read_only, Some(teams))
                .await?;
            return Ok(Some((owner, scope)));
        }
        let scope = self.open_scope(Actor::System, read_only).await?;
        let Some(found) = scope.lookup_token(token).await? else {
            return Ok(None);
        };
        let mut scope = match found.touch {
            // At most once a minute per token: record the use and commit it, so a request that
            // only reads still keeps it, then carry on in a fresh transaction. (Never two
            // connections at once for one request: a small pool cannot deadlock on it.)
            Some(used) => {
                let writer = if read_only {
                    drop(scope);
                    self.scope(Actor::System).await?
                } else {
                    scope
                };
                writer.touch_token(used).await?;
                writer.commit().await?;
                self.open_scope(Actor::System, read_only).await?
            }
            None => scope,
        };
        match &found.owner {
            TokenOwner::User { user, .. } => scope.become_user(user.id, user.role, None).await?,
            TokenOwner::Service(_) => scope.become_anonymous().await?,
        }
        self.auth.remember(
            hash,
            found.owner.clone(),
            scope.memberships(),
            found.expires_at,
            cached.generation,
        );
        Ok(Some((found.owner, scope)))
    }

    /// The database's auth epoch (one statement, in no transaction).
    async fn auth_epoch(&self) -> Result<i64, StoreError> {
        self.epoch(Epoch::Auth).await
    }

    /// The database's edge epoch: it moves with every commit that changes what the edge
    /// router serves from the store (domains; applications' status, ports and existence;
    /// certificates and their attempts). One statement, in no transaction; a router reads the
    /// domains and certificates again only when it moved.
    pub async fn edge_epoch(&self) -> Result<i64, StoreError> {
        self.epoch(Epoch::Edge).await
    }

    async fn epoch(&self, which: Epoch) -> Result<i64, StoreError> {
        let conn = self.reader.as_ref().unwrap_or(&self.db);
        let row = conn
            .query_one(Statement::from_string(
                self.backend.sea(),
                format!("SELECT epoch FROM {} WHERE id = 1", which.table()),
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("the {} row is missing", which.table())))?;
        Ok(row.try_get("", "epoch")?)
    }

    /// The raw connection, for tests of the database itself.
    #[doc(hidden)]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// A one-row counter that commits changing something other processes keep a view of move
/// (table per counter, so moving one never waits for a writer of the other).
#[derive(Debug, Clone, Copy)]
enum Epoch {
    Auth,
    Edge,
}

impl Epoch {
    fn table(self) -> &'static str {
        match self {
            Epoch::Auth => "auth_epoch",
            Epoch::Edge => "edge_epoch",
        }
    }
}

/// A transaction acting for one [`Actor`]; every repository method lives on it.
#[derive(Debug)]
pub struct Scope {
    tx: DatabaseTransaction,
    actor: Actor,
    /// The acting user's teams and roles in them, read when the scope opened (and extended
    /// when the scope founds a team).
    teams: std::sync::Mutex<Vec<(TeamId, TeamRole)>>,
    backend: Backend,
    cipher: Arc<Cipher>,
    reserved_hosts: Arc<Vec<String>>,
    auth: Arc<auth_cache::AuthCache>,
    /// This transaction changed who a token stands for (see [`Scope::auth_changed`]).
    auth_changed: std::sync::atomic::AtomicBool,
}

impl Scope {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        if self.auth_changed.load(std::sync::atomic::Ordering::Relaxed) {
            self.auth.forget();
        }
        Ok(())
    }

    /// Records that this transaction changes who a bearer token stands for: the auth epoch
    /// moves with it, so every process forgets the tokens it remembered once it commits.
    pub(crate) async fn auth_changed(&self) -> Result<(), StoreError> {
        self.move_epoch(Epoch::Auth).await?;
        self.auth_changed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Records that this transaction changes what the edge router serves (see
    /// [`Store::edge_epoch`]).
    pub(crate) async fn edge_changed(&self) -> Result<(), StoreError> {
        self.move_epoch(Epoch::Edge).await
    }

    async fn move_epoch(&self, which: Epoch) -> Result<(), StoreError> {
        self.tx
            .execute_unprepared(&format!(
                "UPDATE {} SET epoch = epoch + 1 WHERE id = 1",
                which.table()
            ))
            .await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// From here on the transaction acts for this user (and no longer as berth itself).
    /// `known`: their memberships, when known already (SQLite then does not read them).
    async fn become_user(
        &mut self,
        id: UserId,
        role: PlatformRole,
        known: Option<Vec<(TeamId, TeamRole)>>,
    ) -> Result<(), StoreError> {
        let teams = match self.backend {
            Backend::Postgres => {
                let rows = self
                    .tx
                    .query_all(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT team_id, role FROM berth_act_as($1)",
                        [id.as_uuid().into()],
                    ))
                    .await?;
                let mut teams = Vec::with_capacity(rows.len());
                for row in rows {
                    let team: uuid::Uuid = row.try_get("", "team_id")?;
                    let role: String = row.try_get("", "role")?;
                    teams.push((TeamId::from_uuid(team), parse_col::<TeamRole>(&role)?));
                }
                teams
            }
            Backend::Sqlite => match known {
                Some(teams) => teams,
                None => memberships_of(&self.tx, id).await?,
            },
        };
        self.teams = std::sync::Mutex::new(teams);
        self.actor = Actor::User { id, role };
        Ok(())
    }

    /// From here on the transaction acts for nobody.
    async fn become_anonymous(&mut self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            self.tx
                .execute_unprepared("SELECT set_config('berth.system', '', true)")
                .await?;
        }
        self.actor = Actor::Anonymous;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The acting user's role in `team`, if they belong to it.
    pub fn team_role(&self, team: TeamId) -> Option<TeamRole> {
        self.memberships()
            .iter()
            .find(|(t, _)| *t == team)
            .map(|(_, r)| *r)
    }

    pub(crate) fn memberships(&self) -> Vec<(TeamId, TeamRole)> {
        self.teams.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Records, for the rest of this transaction, that the acting user now holds `role` in
    /// `team` (used when they found it). On Postgres the row-level security settings follow.
    pub(crate) async fn enter_team(&self, team: TeamId, role: TeamRole) -> Result<(), StoreError> {
        if let Ok(mut t) = self.teams.lock() {
            t.push((team, role));
        }
        if self.backend == Backend::Postgres {
            let rank = |r: TeamRole| match r {
                TeamRole::Viewer => 0,
                TeamRole::Member => 1,
                TeamRole::Admin => 2,
                TeamRole::Owner => 3,
            };
            for (level, min) in [("viewer", 0), ("member", 1), ("admin", 2), ("owner", 3)] {
                if rank(role) >= min {
                    self.tx
                        .execute(Statement::from_sql_and_values(
                            DbBackend::Postgres,
                            format!(
                                "SELECT set_config('berth.teams_{level}', concat_ws(',', NULLIF(current_setting('berth.teams_{level}', true), ''), $1::text), true)"
                            ),
                            [team.as_uuid().to_string().into()],
                        ))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Whether the actor sees every tenant's data (berth itself, or a platform admin).
    pub fn is_unrestricted(&self) -> bool {
        match self.actor {
            Actor::System => true,
            Actor::User { role, .. } => role.is_admin(),
            Actor::Anonymous => false,
        }
    }

    /// The transaction, for queries that no repository method covers (and for tests that
    /// check what the database itself lets through).
    pub fn connection(&self) -> &DatabaseTransaction {
        &self.tx
    }
}
