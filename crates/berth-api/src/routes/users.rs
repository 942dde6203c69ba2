use actix_web::{web, HttpResponse};
use berth_domain::ErrorCode;
use berth_domain::{ApiTokenId, Label, Password, PlatformRole, UserId};
use berth_store::NewUser;

use crate::auth::{hash_password, verify_password, Caller};
use crate::dto::{
    parse_account, CreatedToken, PageOf, PageQuery, TokenCreate, TokenView, UserCreate, UserUpdate,
    UserView,
};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users/me", web::get().to(super::auth::me))
        .route("/users", web::get().to(list_users))
        .route("/users", web::post().to(create_user))
        .route("/users/{id}", web::get().to(get_user))
        .route("/users/{id}", web::patch().to(update_user))
        .route("/users/{id}", web::delete().to(delete_user))
        .route("/tokens", web::get().to(list_tokens))
        .route("/tokens", web::post().to(create_token))
        .route("/tokens/{id}", web::delete().to(delete_token));
}

/// Only a super admin hands out or takes away the super admin role, or changes a super admin.
fn check_role_power(
    caller_role: PlatformRole,
    target_role: PlatformRole,
    new_role: Option<PlatformRole>,
) -> Result<(), ApiError> {
    let touches_super =
        target_role == PlatformRole::SuperAdmin || new_role == Some(PlatformRole::SuperAdmin);
    if touches_super && caller_role != PlatformRole::SuperAdmin {
        return Err(ApiError::forbidden(
            ErrorCode::AdminRequired,
            "only a super admin may manage super admins",
        ));
    }
    Ok(())
}

/// Every user (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<UserView>), (status = 403, body = Problem)))]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let s = caller.scope(&state).await?;
    let page = s.list_users(q.page()?).await?;
    Ok(HttpResponse::Ok().json(PageOf::from(page, UserView::from)))
}

/// Creates a user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = UserCreate,
    responses((status = 201, body = UserView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: crate::json::Body<UserCreate>,
) -> Result<HttpResponse, ApiError> {
    let me = caller.require_admin()?;
    let a = parse_account(
        &body.username,
        &body.email,
        &body.password,
        body.role.as_deref(),
    )?;
    check_role_power(me.role, a.role, Some(a.role))?;
    let password_hash =
        hash_password(a.password.expose().to_owned(), state.auth.bcrypt_cost).await?;
    let s = caller.scope(&state).await?;
    let user = s
        .create_user(NewUser {
            username: a.username,
            email: a.email,
            password_hash,
            role: a.role,
        })
        .await?;
    super::audit(
        &s,
        &caller,
        "user.create",
        "user",
        user.id,
        serde_json::json!({ "username": user.username, "role": user.role }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// One user (admins, or the user themselves).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::from_uuid(*id);
    if caller.user()?.id != id {
        caller.require_admin()?;
    }
    let s = caller.scope(&state).await?;
    Ok(HttpResponse::Ok().json(UserView::from(s.user(id).await?)))
}

/// Changes a user's role (admins) or password (admins, or the user with their current
/// password). A new password ends every other session of the user (all of them when an admin
/// set it) and, with `revoke_tokens`, revokes their API tokens; a new role applies from the
/// user's next request.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = UserUpdate,
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<UserUpdate>,
) -> Result<HttpResponse, ApiError> {
    let me = caller.user()?.clone();
    let id = UserId::from_uuid(*id);
    let mut v = berth_domain::error::Validator::new();
    let role = body
        .role
        .as_deref()
        .and_then(|r| v.check("role", PlatformRole::parse(r)));
    let password = body
        .password
        .as_deref()
        .and_then(|p| v.check("password", Password::parse(p)));
    v.finish()?;
    let own = me.id == id;
    if !own || role.is_some() {
        caller.require_admin()?;
    }
    if own && role.is_some() {
        return Err(ApiError::forbidden(
            ErrorCode::OwnAccount,
            "you cannot change your own role",
        ));
    }
    // bcrypt before the transaction, so the database is not held while it works.
    let new_hash = match &password {
        Some(p) => Some(hash_password(p.expose().to_owned(), state.auth.bcrypt_cost).await?),
        None => None,
    };
    let s = caller.scope(&state).await?;
    let target = s.user(id).await?;
    check_role_power(me.role, target.role, role)?;
    if password.is_some() && own {
        let current = body.current_password.clone().ok_or_else(|| {
            ApiError::forbidden(
                ErrorCode::CurrentPasswordRequired,
                "changing your own password needs your current password",
            )
        })?;
        let (_, hash) = s
            .user_by_login(target.username.as_str())
            .await?
            .ok_or(ApiError::NotFound("user"))?;
        if !verify_password(current, Some(hash), state.auth.bcrypt_cost).await? {
            return Err(ApiError::forbidden(
                ErrorCode::CurrentPasswordRequired,
                "current_password is not your current password",
            ));
        }
    }
    let mut user = target;
    if let Some(hash) = new_hash {
        user = s.set_password_hash(id, hash).await?;
    }
    if let Some(role) = role {
        user = s.set_user_role(id, role).await?;
    }
    let changed: Vec<&str> = [role.map(|_| "role"), password.as_ref().map(|_| "password")]
        .into_iter()
        .flatten()
        .collect();
    super::audit(
        &s,
        &caller,
        "user.update",
        "user",
        id,
        serde_json::json!({ "changed": changed, "role": user.role }),
    )
    .await?;
    s.commit().await?;
    if password.is_some() {
        // Another user's sessions are not the caller's to see: berth ends them itself.
        let keep = match &caller.principal {
            crate::auth::Principal::User { session, .. } if own => *session,
            _ => None,
        };
        let system = state.store.scope(berth_store::Actor::System).await?;
        system
            .end_sign_ins(id, keep, body.revoke_tokens == Some(true))
            .await?;
        system.commit().await?;
    }
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Deletes a user (admins). Their projects go with them; deployments and audit entries they
/// made stay.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let me = caller.require_admin()?.clone();
    let id = UserId::from_uuid(*id);
    if me.id == id {
        return Err(ApiError::conflict(
            ErrorCode::OwnAccount,
            "you cannot delete yourself",
        ));
    }
    let s = caller.scope(&state).await?;
    let target = s.user(id).await?;
    check_role_power(me.role, target.role, None)?;
    s.delete_user(id).await?;
    super::audit(
        &s,
        &caller,
        "user.delete",
        "user",
        id,
        serde_json::json!({ "username": target.username }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's personal API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = Problem)))]
pub async fn list_tokens(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let tokens: Vec<TokenView> = s
        .list_api_tokens()
        .await?
        .into_iter()
        .map(TokenView::from)
        .collect();
    Ok(HttpResponse::Ok().json(tokens))
}

/// Creates a personal API token; its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])), request_body = TokenCreate,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem)))]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: crate::json::Body<TokenCreate>,
) -> Result<HttpResponse, ApiError> {
    let name = Label::parse(&body.name).map_err(|e| e.nested("name"))?;
    if body
        .expires_in_days
        .is_some_and(|d| !(1..=3650).contains(&d))
    {
        return Err(ApiError::invalid(
            "expires_in_days",
            "must be from 1 to 3650",
        ));
    }
    let expires_at = body
        .expires_in_days
        .map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
    let s = caller.scope(&state).await?;
    let (token, secret) = s.create_api_token(name, expires_at).await?;
    super::audit(
        &s,
        &caller,
        "token.create",
        "token",
        token.id,
        serde_json::json!({ "name": token.name }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: secret.expose().to_owned(),
        info: token.into(),
    }))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    s.revoke_api_token(ApiTokenId::from_uuid(*id)).await?;
    super::audit(
        &s,
        &caller,
        "token.revoke",
        "token",
        *id,
        serde_json::json!({}),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
