use berth_domain::*;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::{found, now, parse_col};
use crate::entity::{api_tokens, service_tokens, sessions};
use crate::tokens::{generate, hash, TokenKind};
use crate::{Actor, Scope, StoreError};

fn service_token_from(m: service_tokens::Model) -> Result<ServiceToken, StoreError> {
    Ok(ServiceToken {
        id: ServiceTokenId::from_uuid(m.id),
        application_id: ApplicationId::from_uuid(m.application_id),
        name: parse_col(&m.name)?,
        origin: parse_col(&m.origin)?,
        created_by: m.created_by.map(UserId::from_uuid),
        created_at: m.created_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    })
}

fn api_token_from(m: api_tokens::Model) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: ApiTokenId::from_uuid(m.id),
        user_id: UserId::from_uuid(m.user_id),
        name: parse_col(&m.name)?,
        created_at: m.created_at,
        expires_at: m.expires_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    })
}

/// A token whose last use is due to be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenUse {
    Api(ApiTokenId),
    Service(ServiceTokenId),
}

/// Whom a presented bearer token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    User {
        user: User,
        session: Option<SessionId>,
        api_token: Option<ApiTokenId>,
    },
    Service(ServiceToken),
}

impl TokenOwner {
    /// Whom the request's scope acts for: the user, or nobody for a service token (it sees
    /// no tenant data by itself).
    pub(crate) fn actor(&self) -> Actor {
        match self {
            Self::User { user, .. } => Actor::User {
                id: user.id,
                role: user.role,
            },
            Self::Service(_) => Actor::Anonymous,
        }
    }
}

/// A token that checked out: whom it stands for, whether its use is due to be recorded, and
/// when it stops being valid by itself.
#[derive(Debug)]
pub(crate) struct FoundToken {
    pub owner: TokenOwner,
    pub touch: Option<TokenUse>,
    pub expires_at: Option<Timestamp>,
}

impl Scope {
    fn acting_user_id(&self) -> Option<UserId> {
        match self.actor() {
            Actor::User { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Creates a service token for an application; the secret is returned this once.
    pub async fn create_service_token(
        &self,
        application: ApplicationId,
        name: Label,
        origin: Label,
    ) -> Result<(ServiceToken, SecretString), StoreError> {
        self.application(application).await?;
        let secret = generate(TokenKind::Service);
        let m = service_tokens::Model {
            id: ServiceTokenId::new().as_uuid(),
            application_id: application.as_uuid(),
            name: name.into_inner(),
            origin: origin.into_inner(),
            token_hash: hash(secret.expose()),
            created_by: self.acting_user_id().map(|u| u.as_uuid()),
            created_at: now(),
            last_used_at: None,
            revoked_at: None,
        };
        service_tokens::Entity::insert(service_tokens::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        Ok((service_token_from(m)?, secret))
    }

    pub async fn list_service_tokens(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<ServiceToken>, StoreError> {
        self.application(application).await?;
        service_tokens::Entity::find()
            .filter(service_tokens::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_desc(service_tokens::Column::CreatedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(service_token_from)
            .collect()
    }

    /// A service token of an application the actor can see.
    pub async fn service_token(&self, id: ServiceTokenId) -> Result<ServiceToken, StoreError> {
        let m = found(
            service_tokens::Entity::find_by_id(id.as_uuid())
                .one(self.connection())
                .await?,
            "service token",
        )?;
        self.application(ApplicationId::from_uuid(m.application_id))
            .await
            .map_err(|_| StoreError::NotFound("service token"))?;
        service_token_from(m)
    }

    pub async fn revoke_service_token(&self, id: ServiceTokenId) -> Result<(), StoreError> {
        let m = found(
            service_tokens::Entity::find_by_id(id.as_uuid())
                .one(self.connection())
                .await?,
            "service token",
        )?;
        self.application(ApplicationId::from_uuid(m.application_id))
            .await
            .map_err(|_| StoreError::NotFound("service token"))?;
        service_tokens::Entity::update_many()
            .col_expr(service_tokens::Column::RevokedAt, now().into())
            .filter(service_tokens::Column::Id.eq(id.as_uuid()))
            .filter(service_tokens::Column::RevokedAt.is_null())
            .exec(self.connection())
            .await?;
        self.auth_changed().await
    }

    /// Creates a personal API token for the acting user; the secret is returned this once.
    pub async fn create_api_token(
        &self,
        name: Label,
        expires_at: Option<Timestamp>,
    ) -> Result<(ApiToken, SecretString), StoreError> {
        let user = self.acting_user_id().ok_or(StoreError::NotFound("user"))?;
        let secret = generate(TokenKind::Api);
        let m = api_tokens::Model {
            id: ApiTokenId::new().as_uuid(),
            user_id: user.as_uuid(),
            name: name.into_inner(),
            token_hash: hash(secret.expose()),
            created_at: now(),
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        api_tokens::Entity::insert(api_tokens::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        Ok((api_token_from(m)?, secret))
    }

    pub async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let user = self.acting_user_id().ok_or(StoreError::NotFound("user"))?;
        api_tokens::Entity::find()
            .filter(api_tokens::Column::UserId.eq(user.as_uuid()))
            .order_by_desc(api_tokens::Column::CreatedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(api_token_from)
            .collect()
    }

    pub async fn revoke_api_token(&self, id: ApiTokenId) -> Result<(), StoreError> {
        let user = self
            .acting_user_id()
            .ok_or(StoreError::NotFound("api token"))?;
        let r = api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, now().into())
            .filter(api_tokens::Column::Id.eq(id.as_uuid()))
            .filter(api_tokens::Column::UserId.eq(user.as_uuid()))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(self.connection())
            .await?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound("api token"));
        }
        self.auth_changed().await
    }

    /// Opens a session for a user (after the caller checked their password); the token is
    /// returned this once.
    pub async fn create_session(
        &self,
        user: UserId,
        ttl: chrono::Duration,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<(Session, SecretString), StoreError> {
        let secret = generate(TokenKind::Session);
        let t = now();
        let m = sessions::Model {
            id: SessionId::new().as_uuid(),
            user_id: user.as_uuid(),
            token_hash: hash(secret.expose()),
            created_at: t,
            expires_at: t + ttl,
            revoked_at: None,
            ip_address: ip.map(str::to_owned),
            user_agent: user_agent.map(str::to_owned),
        };
        sessions::Entity::insert(sessions::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        let session = Session {
            id: SessionId::from_uuid(m.id),
            user_id: user,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: None,
        };
        Ok((session, secret))
    }

    /// Ends every live session of `user` but `except` (the caller's own, when they changed
    /// their own password); with `api_tokens`, revokes every API token of theirs too.
    /// Returns how many sessions and tokens ended.
    pub async fn end_sign_ins(
        &self,
        user: UserId,
        except: Option<SessionId>,
        api_tokens: bool,
    ) -> Result<(u64, u64), StoreError> {
        let mut sessions = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, now().into())
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null());
        if let Some(keep) = except {
            sessions = sessions.filter(sessions::Column::Id.ne(keep.as_uuid()));
        }
        let ended = sessions.exec(self.connection()).await?.rows_affected;
        let revoked = if api_tokens {
            api_tokens::Entity::update_many()
                .col_expr(api_tokens::Column::RevokedAt, now().into())
                .filter(api_tokens::Column::UserId.eq(user.as_uuid()))
                .filter(api_tokens::Column::RevokedAt.is_null())
                .exec(self.connection())
                .await?
                .rows_affected
        } else {
            0
        };
        self.auth_changed().await?;
        Ok((ended, revoked))
    }

    pub async fn revoke_session(&self, id: SessionId) -> Result<(), StoreError> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, now().into())
            .filter(sessions::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        self.auth_changed().await
    }

    /// Finds who a bearer token belongs to: a live session, an unexpired and unrevoked API
    /// token, or an unrevoked service token, and records its use. Runs as berth itself
    /// (before anyone is known).
    pub async fn authenticate(&self, token: &str) -> Result<Option<TokenOwner>, StoreError> {
        let found = self.lookup_token(token).await?;
        if let Some(touch) = found.as_ref().and_then(|f| f.touch) {
            self.touch_token(touch).await?;
        }
        Ok(found.map(|f| f.owner))
    }

    /// Who a token belongs to, without writing anything, and whether its `last_used_at` is
    /// due for an update (it is refreshed at most once a minute).
    pub(crate) async fn lookup_token(&self, token: &str) -> Result<Option<FoundToken>, StoreError> {
        let h = hash(token);
        let t = now();
        let stale =
            |last: Option<Timestamp>| last.is_none_or(|l| t - l > chrono::Duration::seconds(60));
        if token.starts_with(TokenKind::Session.prefix()) {
            let s = sessions::Entity::find()
                .filter(sessions::Column::TokenHash.eq(&h))
                .filter(sessions::Column::RevokedAt.is_null())
                .filter(sessions::Column::ExpiresAt.gt(t))
                .one(self.connection())
                .await?;
            if let Some(s) = s {
                let user = self.user(UserId::from_uuid(s.user_id)).await?;
                let owner = TokenOwner::User {
                    user,
                    session: Some(SessionId::from_uuid(s.id)),
                    api_token: None,
                };
                return Ok(Some(FoundToken {
                    owner,
                    touch: None,
                    expires_at: Some(s.expires_at),
                }));
            }
        } else if token.starts_with(TokenKind::Api.prefix()) {
            let a = api_tokens::Entity::find()
                .filter(api_tokens::Column::TokenHash.eq(&h))
                .filter(api_tokens::Column::RevokedAt.is_null())
                .filter(
                    Condition::any()
                        .add(api_tokens::Column::ExpiresAt.is_null())
                        .add(api_tokens::Column::ExpiresAt.gt(t)),
                )
                .one(self.connection())
                .await?;
            if let Some(a) = a {
                let user = self.user(UserId::from_uuid(a.user_id)).await?;
                let touch =
                    stale(a.last_used_at).then_some(TokenUse::Api(ApiTokenId::from_uuid(a.id)));
                let owner = TokenOwner::User {
                    user,
                    session: None,
                    api_token: Some(ApiTokenId::from_uuid(a.id)),
                };
                return Ok(Some(FoundToken {
                    owner,
                    touch,
                    expires_at: a.expires_at,
                }));
            }
        } else if token.starts_with(TokenKind::Service.prefix()) {
            let s = service_tokens::Entity::find()
                .filter(service_tokens::Column::TokenHash.eq(&h))
                .filter(service_tokens::Column::RevokedAt.is_null())
                .one(self.connection())
                .await?;
            if let Some(s) = s {
                let touch = stale(s.last_used_at)
                    .then_some(TokenUse::Service(ServiceTokenId::from_uuid(s.id)));
                return Ok(Some(FoundToken {
                    owner: TokenOwner::Service(service_token_from(s)?),
                    touch,
                    expires_at: None,
                }));
            }
        }
        Ok(None)
    }

    /// Records that a token was used now.
    pub(crate) async fn touch_token(&self, used: TokenUse) -> Result<(), StoreError> {
        let t = now();
        match used {
            TokenUse::Api(id) => {
                api_tokens::Entity::update_many()
                    .col_expr(api_tokens::Column::LastUsedAt, t.into())
                    .filter(api_tokens::Column::Id.eq(id.as_uuid()))
                    .exec(self.connection())
                    .await?;
            }
            TokenUse::Service(id) => {
                service_tokens::Entity::update_many()
                    .col_expr(service_tokens::Column::LastUsedAt, t.into())
                    .filter(service_tokens::Column::Id.eq(id.as_uuid()))
                    .exec(self.connection())
                    .await?;
            }
        }
        Ok(())
    }
}
