use actix_web::{web, HttpRequest, HttpResponse};
use berth_domain::ErrorCode;
use berth_domain::{PlatformRole, User};
use berth_store::{Actor, NewUser};

use crate::auth::{hash_password, verify_password, Caller, ClientInfo, Principal};
use crate::dto::{parse_account, LoginRequest, SessionView, SetupRequest, UserView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/setup", web::post().to(setup))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout));
}

async fn open_session(
    state: &AppState,
    user: User,
    client: &ClientInfo,
) -> Result<SessionView, ApiError> {
    let s = state.store.scope(Actor::System).await?;
    let (session, token) = s
        .create_session(
            user.id,
            state.auth.session_ttl,
            client.ip.as_deref(),
            client.user_agent.as_deref(),
        )
        .await?;
    super::audit_as(
        &s,
        Some(user.id),
        client,
        "auth.login",
        "user",
        Some(user.id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    s.commit().await?;
    Ok(SessionView {
        token: token.expose().to_owned(),
        expires_at: session.expires_at,
        user: user.into(),
    })
}

/// Creates the first user, who becomes `super_admin`, and signs them in. Refused once any
/// user exists.
#[utoipa::path(post, path = "/api/v1/auth/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 201, body = SessionView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn setup(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::json::Body<SetupRequest>,
) -> Result<HttpResponse, ApiError> {
    let a = parse_account(&body.username, &body.email, &body.password, None)?;
    let s = state.store.scope(Actor::System).await?;
    if s.count_users().await? > 0 {
        return Err(ApiError::conflict(
            ErrorCode::AlreadySetUp,
            "berth is already set up",
        ));
    }
    drop(s);
    let password_hash =
        hash_password(a.password.expose().to_owned(), state.auth.bcrypt_cost).await?;
    let s = state.store.scope(Actor::System).await?;
    let user = s
        .create_first_user(NewUser {
            username: a.username,
            email: a.email,
            password_hash,
            role: PlatformRole::SuperAdmin,
        })
        .await?;
    let client = ClientInfo::of(&req);
    super::audit_as(
        &s,
        Some(user.id),
        &client,
        "auth.setup",
        "user",
        Some(user.id.to_string()),
        serde_json::json!({ "username": user.username }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(open_session(&state, user, &client).await?))
}

/// Signs in with a username or email and a password; returns a session token. Attempts are
/// counted per account and per client address before the password is checked, and throttled.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionView), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::json::Body<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = ClientInfo::of(&req);
    let ip = client.addr;
    state.throttle.attempt(&body.login, ip, &state.auth)?;
    let s = state.store.scope(Actor::System).await?;
    let found = if body.login.len() <= 254 {
        s.user_by_login(&body.login).await?
    } else {
        None
    };
    drop(s);
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    let ok = verify_password(body.password.clone(), hash, state.auth.bcrypt_cost).await?;
    match user {
        Some(user) if ok => {
            state.throttle.succeeded(&body.login, ip);
            Ok(HttpResponse::Ok().json(open_session(&state, user, &client).await?))
        }
        user => {
            let s = state.store.scope(Actor::System).await?;
            super::audit_as(
                &s,
                user.as_ref().map(|u| u.id),
                &client,
                "auth.login_failed",
                "user",
                user.as_ref().map(|u| u.id.to_string()),
                serde_json::json!({ "login": body.login.chars().take(254).collect::<String>() }),
            )
            .await?;
            s.commit().await?;
            Err(ApiError::Unauthorized(
                ErrorCode::Unauthenticated,
                "wrong login or password".into(),
            ))
        }
    }
}

/// Revokes the session whose token made this request.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let Principal::User { user, session, .. } = &caller.principal else {
        return Err(ApiError::forbidden(
            ErrorCode::ServiceTokenScope,
            "a service token has no session",
        ));
    };
    let s = caller.scope(&state).await?;
    if let Some(id) = session {
        s.revoke_session(*id).await?;
    }
    super::audit(
        &s,
        &caller,
        "auth.logout",
        "user",
        user.id,
        serde_json::json!({}),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
pub async fn me(caller: Caller) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(UserView::from(caller.user()?.clone())))
}
