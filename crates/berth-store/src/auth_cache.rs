//! Bearer tokens that checked out, remembered for a few seconds, so that an authenticated
//! request does not look its token and its owner up again each time.
//!
//! What may be remembered and for how long:
//! - only tokens that were valid (a wrong token is looked up every time, and never fills the
//!   cache), keyed by the token's hash, never the token;
//! - for [`TTL`] at most, and never past the token's own expiry;
//! - with the user's team memberships as they were read (SQLite's scope takes them from here;
//!   Postgres reads them again in every transaction, for row-level security);
//! - until anything that could change who a token stands for, or in which teams, commits: a
//!   session or token revoked, sign-ins ended, a user's role or password changed, a user
//!   deleted, an application (the owner of service tokens) deleted, a team membership added,
//!   changed or removed, a team deleted. Each of those writes bumps the
//!   database's *auth epoch* in its own transaction (`Scope::auth_changed`). The process that
//!   committed forgets every entry at once; every other process (another `berth serve` on the
//!   same Postgres) reads the epoch at most [`EPOCH_EVERY`] apart, when a request uses the
//!   cache, and forgets everything when it moved.
//!
//! An entry from a lookup that began before such a change is refused (the generation it was
//! read under is gone), so a lookup racing a revocation cannot put the revoked token back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_domain::{TeamId, TeamRole, Timestamp};

use crate::TokenOwner;

/// How long a token that checked out is believed without asking the database, unless the
/// store is told otherwise.
pub(crate) const TTL: Duration = Duration::from_secs(5);
/// How often, at most, a process reads the database's auth epoch.
pub(crate) const EPOCH_EVERY: Duration = Duration::from_secs(1);
/// Beyond this many live tokens, the oldest half is forgotten.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub(crate) struct AuthCache {
    ttl: Duration,
    state: Mutex<State>,
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new(TTL)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Moves each time the entries are forgotten; a lookup's answer is kept only when it has
    /// not moved since the lookup began.
    generation: u64,
    /// The database's auth epoch as last read, and when.
    epoch: Option<i64>,
    epoch_read: Option<Instant>,
    entries: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    owner: TokenOwner,
    teams: Vec<(TeamId, TeamRole)>,
    expires_at: Option<Timestamp>,
    stored: Instant,
}

/// What the cache knows of one token hash.
#[derive(Debug)]
pub(crate) struct Lookup {
    /// The owner and their team memberships, when the token checked out recently and nothing
    /// changed since.
    pub owner: Option<(TokenOwner, Vec<(TeamId, TeamRole)>)>,
    /// Pass to [`AuthCache::remember`] after asking the database.
    pub generation: u64,
    /// The database's auth epoch is due to be read first.
    pub epoch_due: bool,
}

impl AuthCache {
    /// A cache that believes a token for `ttl` (zero: never, every request asks).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            state: Mutex::default(),
        }
    }

    pub(crate) fn lookup(&self, hash: &str, now: Timestamp) -> Lookup {
        let Ok(mut s) = self.state.lock() else {
            return Lookup {
                owner: None,
                generation: u64::MAX,
                epoch_due: false,
            };
        };
        let epoch_due = s.epoch_read.is_none_or(|at| at.elapsed() >= EPOCH_EVERY);
        if epoch_due {
            // One request reads it; the others go on with what is known meanwhile.
            s.epoch_read = Some(Instant::now());
        }
        let owner = match s.entries.get(hash) {
            Some(e) if e.stored.elapsed() < self.ttl && e.expires_at.is_none_or(|x| now < x) => {
                Some((e.owner.clone(), e.teams.clone()))
            }
            Some(_) => {
                s.entries.remove(hash);
                None
            }
            None => None,
        };
        Lookup {
            owner,
            generation: s.generation,
            epoch_due,
        }
    }

    /// Keeps a token that checked out, unless something was forgotten since `generation`.
    pub(crate) fn remember(
        &self,
        hash: String,
        owner: TokenOwner,
        teams: Vec<(TeamId, TeamRole)>,
        expires_at: Option<Timestamp>,
        generation: u64,
    ) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if s.generation != generation || self.ttl.is_zero() {
            return;
        }
        if s.entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            s.entries.retain(|_, e| e.stored.elapsed() < ttl / 2);
        }
        s.entries.insert(
            hash,
            Entry {
                owner,
                teams,
                expires_at,
                stored: Instant::now(),
            },
        );
    }

    /// The database's auth epoch was read: when it moved, every entry goes.
    pub(crate) fn epoch_is(&self, epoch: i64) {
        if let Ok(mut s) = self.state.lock() {
            if s.epoch != Some(epoch) {
                if s.epoch.is_some() {
                    s.forget();
                }
                s.epoch = Some(epoch);
            }
        }
    }

    /// This process committed a change to who tokens stand for: every entry goes now.
    pub(crate) fn forget(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.forget();
        }
    }
}

impl State {
    fn forget(&mut self) {
        self.entries.clear();
        self.generation = self.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use berth_domain::{ApplicationId, Label, ServiceToken, ServiceTokenId};

    fn owner() -> TokenOwner {
        TokenOwner::Service(ServiceToken {
            id: ServiceTokenId::new(),
            application_id: ApplicationId::new(),
            name: "ci".parse::<Label>().unwrap(),
            origin: "api".parse().unwrap(),
            created_by: None,
            created_at: chrono::Utc::now(),
            last_used_at: None,
            revoked_at: None,
        })
    }

    #[test]
    fn remembers_until_forgotten_or_expired() {
        let c = AuthCache::default();
        let now = chrono::Utc::now();
        let first = c.lookup("h", now);
        assert!(first.owner.is_none() && first.epoch_due);
        c.remember("h".into(), owner(), Vec::new(), None, first.generation);
        let hit = c.lookup("h", now);
        assert!(hit.owner.is_some());
        assert!(!hit.epoch_due, "the epoch was just read");
        c.forget();
        assert!(c.lookup("h", now).owner.is_none());
        // An expired token is not believed even within the TTL.
        let g = c.lookup("x", now).generation;
        c.remember("x".into(), owner(), Vec::new(), Some(now), g);
        assert!(c.lookup("x", now).owner.is_none());
    }

    #[test]
    fn a_lookup_that_began_before_a_change_is_not_kept() {
        let c = AuthCache::default();
        let now = chrono::Utc::now();
        let before = c.lookup("h", now).generation;
        c.forget();
        c.remember("h".into(), owner(), Vec::new(), None, before);
        assert!(c.lookup("h", now).owner.is_none());
    }

    #[test]
    fn a_moved_epoch_forgets_everything() {
        let c = AuthCache::default();
        let now = chrono::Utc::now();
        c.epoch_is(3);
        let g = c.lookup("h", now).generation;
        c.remember("h".into(), owner(), Vec::new(), None, g);
        c.epoch_is(3);
        assert!(c.lookup("h", now).owner.is_some());
        c.epoch_is(4);
        assert!(c.lookup("h", now).owner.is_none());
    }
}
