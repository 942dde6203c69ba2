//! Who is calling: bearer tokens (sessions, personal API tokens, service tokens), passwords
//! (bcrypt, run off the async threads), and throttling of failed logins.

use berth_domain::ErrorCode;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, FromRequest, HttpRequest};
use berth_domain::{ApiTokenId, PlatformRole, ServiceToken, SessionId, User};
use berth_store::{Actor, Scope, TokenOwner};

use crate::{ApiError, AppState};

/// The caller of a request, once its bearer token checked out.
#[derive(Debug, Clone)]
pub enum Principal {
    User {
        user: User,
        session: Option<SessionId>,
        api_token: Option<ApiTokenId>,
    },
    Service(ServiceToken),
}

/// Everything a handler needs to know about the request's origin: who, from where, which
/// request. Extracting it fails with 401 when there is no valid token. It carries the
/// request's transaction, opened while the token was checked and already acting for the
/// caller, so a request costs one transaction.
#[derive(Debug)]
pub struct Caller {
    pub principal: Principal,
    pub client: ClientInfo,
    scope: Mutex<Option<Scope>>,
}

/// Where a request came from, for the audit log and the login throttle.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub addr: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// The client's address: the connection's peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` (read from the right) that is not a trusted proxy.
fn client_addr(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted: &[IpAddr] = req
        .app_data::<web::Data<AppState>>()
        .map_or(&[], |s| s.auth.trusted_proxies.as_slice());
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut addr = peer;
    for hop in forwarded.iter().rev() {
        let Ok(hop) = hop.parse::<IpAddr>() else {
            break;
        };
        addr = hop;
        if !trusted.contains(&hop) {
            break;
        }
    }
    Some(addr)
}

impl ClientInfo {
    pub fn of(req: &HttpRequest) -> Self {
        let addr = client_addr(req);
        Self {
            ip: addr.map(|a| a.to_string()),
            addr,
            user_agent: req
                .headers()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(512).collect()),
        }
    }
}

impl Caller {
    /// The signed-in user; service tokens are refused (they only start deployments).
    pub fn user(&self) -> Result<&User, ApiError> {
        match &self.principal {
            Principal::User { user, .. } => Ok(user),
            Principal::Service(_) => Err(ApiError::forbidden(
                ErrorCode::ServiceTokenScope,
                "a service token can only start deployments of its application",
            )),
        }
    }

    pub fn actor(&self) -> Result<Actor, ApiError> {
        let u = self.user()?;
        Ok(Actor::User {
            id: u.id,
            role: u.role,
        })
    }

    /// The transaction acting for this caller: the request's own the first time, a new one
    /// after that.
    pub async fn scope(&self, state: &AppState) -> Result<Scope, ApiError> {
        let actor = self.actor()?;
        let opened = self.scope.lock().ok().and_then(|mut s| s.take());
        match opened {
            Some(s) => Ok(s),
            None => Ok(state.store.scope(actor).await?),
        }
    }

    pub fn require_admin(&self) -> Result<&User, ApiError> {
        let u = self.user()?;
        if u.role.is_admin() {
            Ok(u)
        } else {
            Err(ApiError::forbidden(
                ErrorCode::AdminRequired,
                "this needs a platform admin",
            ))
        }
    }

    /// Refuses platform viewers, who read but never change anything.
    pub fn require_writer(&self) -> Result<&User, ApiError> {
        let u = self.user()?;
        if u.role == PlatformRole::Viewer {
            Err(ApiError::forbidden(
                ErrorCode::ReadOnlyRole,
                "viewers cannot change anything",
            ))
        } else {
            Ok(u)
        }
    }
}

pub(crate) fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req.headers().get("authorization").ok_or_else(|| {
        ApiError::Unauthorized(
            ErrorCode::Unauthenticated,
            "send Authorization: Bearer <token>".into(),
        )
    })?;
    let value = header.to_str().map_err(|_| {
        ApiError::Unauthorized(
            ErrorCode::Unauthenticated,
            "malformed Authorization header".into(),
        )
    })?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized(
                ErrorCode::Unauthenticated,
                "the Authorization header must be Bearer <token>".into(),
            )
        })?;
    let token = token.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(ApiError::Unauthorized(
            ErrorCode::Unauthenticated,
            "invalid token".into(),
        ));
    }
    Ok(token.to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let token = bearer(&req)?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no application state")))?
                .clone();
            // A GET or HEAD only reads: its transaction is read-only (and on SQLite runs
            // beside other readers).
            let read_only = matches!(
                *req.method(),
                actix_web::http::Method::GET | actix_web::http::Method::HEAD
            );
            let Some((owner, scope)) = state.store.scope_for_token(&token, read_only).await? else {
                return Err(ApiError::Unauthorized(
                    ErrorCode::Unauthenticated,
                    "the token is invalid, expired or revoked".into(),
                ));
            };
            let principal = match owner {
                TokenOwner::User {
                    user,
                    session,
                    api_token,
                } => Principal::User {
                    user,
                    session,
                    api_token,
                },
                TokenOwner::Service(t) => Principal::Service(t),
            };
            Ok(Caller {
                principal,
                client: ClientInfo::of(&req),
                scope: Mutex::new(Some(scope)),
            })
        })
    }
}

/// Settings of authentication.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// bcrypt cost for new password hashes (12 by default; tests use the minimum, 4).
    pub bcrypt_cost: u32,
    /// How long a login session lasts.
    pub session_ttl: chrono::Duration,
    /// Failed logins allowed per account and per client address within `throttle_window`.
    pub max_failures: u32,
    pub throttle_window: Duration,
    /// Proxies whose `X-Forwarded-For` names the client (berth's own router when it serves
    /// the API, and any the admin lists); a client's own header is never believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            bcrypt_cost: 12,
            session_ttl: chrono::Duration::days(7),
            max_failures: 5,
            throttle_window: Duration::from_secs(15 * 60),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Hashes a password with bcrypt on a blocking thread (a long one through
/// [`berth_domain::Password::bcrypt_input`], as every check reads it).
pub async fn hash_password(password: String, cost: u32) -> Result<String, ApiError> {
    web::block(move || {
        bcrypt::hash(
            berth_domain::Password::bcrypt_input(&password).as_bytes(),
            cost,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing was cancelled: {e}")))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// A hash of a random password at the configured cost, made once and verified against when
/// the account does not exist, so that the answer takes as long either way.
static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Checks a password against a stored hash (or the decoy) on a blocking thread.
pub async fn verify_password(
    password: String,
    hash: Option<String>,
    cost: u32,
) -> Result<bool, ApiError> {
    let exists = hash.is_some();
    let ok = web::block(move || {
        let hash = hash.unwrap_or_else(|| {
            DECOY
                .get_or_init(|| {
                    bcrypt::hash(uuid::Uuid::new_v4().to_string(), cost).unwrap_or_default()
                })
                .clone()
        });
        bcrypt::verify(
            berth_domain::Password::bcrypt_input(&password).as_bytes(),
            &hash,
        )
        .unwrap_or(false)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("password check was cancelled: {e}")))?;
    Ok(ok && exists)
}

/// Counts failed logins per account and per client address in a fixed window. In memory:
/// each berth process keeps its own counts.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl LoginThrottle {
    fn keys(login: &str, ip: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("login:{}", login.trim().to_ascii_lowercase())];
        if let Some(ip) = ip {
            keys.push(format!("ip:{ip}"));
        }
        keys
    }

    /// Counts one attempt before its password is checked: `Err(retry_after)` when the account
    /// or the address has used up its attempts in the window, so guesses sent together cannot
    /// pass the limit together.
    pub fn attempt(
        &self,
        login: &str,
        ip: Option<IpAddr>,
        s: &AuthSettings,
    ) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut map = self
            .failures
            .lock()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("throttle lock poisoned")))?;
        map.retain(|_, (since, _)| now.duration_since(*since) < s.throttle_window);
        let keys = Self::keys(login, ip);
        for key in &keys {
            if let Some((since, n)) = map.get(key) {
                if *n >= s.max_failures {
                    let left = s.throttle_window.saturating_sub(now.duration_since(*since));
                    return Err(ApiError::TooManyRequests {
                        retry_after_s: left.as_secs().max(1),
                    });
                }
            }
        }
        for key in keys {
            map.entry(key).or_insert((now, 0)).1 += 1;
        }
        Ok(())
    }

    /// The attempt was right: the account starts afresh, and the address gets this attempt
    /// back (only this one, so signing in to an account of one's own refunds no guess).
    pub fn succeeded(&self, login: &str, ip: Option<IpAddr>) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("login:{}", login.trim().to_ascii_lowercase()));
            if let Some(ip) = ip {
                if let Some((_, n)) = map.get_mut(&format!("ip:{ip}")) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn passwords_verify_and_unknown_accounts_never_match() {
        let h = hash_password("correct horse".into(), 4).await.unwrap();
        assert!(verify_password("correct horse".into(), Some(h.clone()), 4)
            .await
            .unwrap());
        assert!(!verify_password("wrong".into(), Some(h), 4).await.unwrap());
        assert!(!verify_password("correct horse".into(), None, 4)
            .await
            .unwrap());
    }

    #[test]
    fn throttle_counts_attempts_before_checking_and_success_clears_the_account() {
        let t = LoginThrottle::default();
        let s = AuthSettings {
            max_failures: 2,
            ..Default::default()
        };
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        t.attempt("Alice", Some(ip), &s).unwrap();
        t.attempt("alice", None, &s).unwrap();
        match t.attempt("ALICE", None, &s) {
            Err(ApiError::TooManyRequests { retry_after_s }) => assert!(retry_after_s > 0),
            other => panic!("{other:?}"),
        }
        t.succeeded("alice", None);
        t.attempt("alice", None, &s).unwrap();
        t.attempt("bob", Some(ip), &s).unwrap();
        assert!(
            t.attempt("carol", Some(ip), &s).is_err(),
            "the address is blocked for every account"
        );
        // A success gives the address back its own attempt only.
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        t.attempt("dave", Some(other), &s).unwrap();
        t.succeeded("dave", Some(other));
        t.attempt("erin", Some(other), &s).unwrap();
        t.attempt("frank", Some(other), &s).unwrap();
        assert!(t.attempt("gina", Some(other), &s).is_err());
    }
}
