use berth_domain::*;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{now, parse_json};
use crate::entity::audit_log;
use crate::{Scope, StoreError};

/// An audit entry to write. `details` must not hold secret values.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub user_id: Option<UserId>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub details: serde_json::Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Filters of the audit log; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<UserId>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

fn entry_from(m: audit_log::Model) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: m.id,
        user_id: m.user_id.map(UserId::from_uuid),
        action: m.action,
        resource_type: m.resource_type,
        resource_id: m.resource_id,
        details: parse_json(m.details)?,
        ip_address: m.ip_address,
        user_agent: m.user_agent,
        created_at: m.created_at,
    })
}

impl Scope {
    pub async fn append_audit(&self, e: NewAuditEntry) -> Result<(), StoreError> {
        let am = audit_log::ActiveModel {
            id: NotSet,
            user_id: sea_orm::ActiveValue::Set(e.user_id.map(|u| u.as_uuid())),
            action: sea_orm::ActiveValue::Set(e.action),
            resource_type: sea_orm::ActiveValue::Set(e.resource_type),
            resource_id: sea_orm::ActiveValue::Set(e.resource_id),
            details: sea_orm::ActiveValue::Set(e.details),
            ip_address: sea_orm::ActiveValue::Set(e.ip_address),
            user_agent: sea_orm::ActiveValue::Set(e.user_agent),
            created_at: sea_orm::ActiveValue::Set(now()),
        };
        audit_log::Entity::insert(am)
            .exec_without_returning(self.connection())
            .await?;
        Ok(())
    }

    /// Deletes the audit entries written before `before`; returns how many went.
    pub async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        Ok(audit_log::Entity::delete_many()
            .filter(audit_log::Column::CreatedAt.lt(before))
            .exec(self.connection())
            .await?
            .rows_affected)
    }

    /// The audit log newest first: `limit` entries older than `after` (from the newest when
    /// `None`), and the cursor of the next page when there are more. Any page costs one index
    /// seek, however far into the log it is. Only berth itself and platform admins read all
    /// of it; anyone else sees their own entries.
    pub async fn list_audit(
        &self,
        filter: AuditFilter,
        limit: u64,
        after: Option<Cursor>,
    ) -> Result<CursorPage<AuditEntry>, StoreError> {
        let mut select = audit_log::Entity::find();
        if !self.is_unrestricted() {
            let me = match self.actor() {
                crate::Actor::User { id, .. } => Some(id.as_uuid()),
                _ => None,
            };
            select = select.filter(audit_log::Column::UserId.eq(me));
        }
        if let Some(u) = filter.user_id {
            select = select.filter(audit_log::Column::UserId.eq(u.as_uuid()));
        }
        if let Some(t) = filter.resource_type {
            select = select.filter(audit_log::Column::ResourceType.eq(t));
        }
        if let Some(r) = filter.resource_id {
            select = select.filter(audit_log::Column::ResourceId.eq(r));
        }
        if let Some(c) = after {
            select = select.filter(
                Expr::tuple([
                    Expr::col(audit_log::Column::CreatedAt).into(),
                    Expr::col(audit_log::Column::Id).into(),
                ])
                .lt(Expr::tuple([Expr::value(c.at), Expr::value(c.id)])),
            );
        }
        let mut rows = select
            .order_by_desc(audit_log::Column::CreatedAt)
            .order_by_desc(audit_log::Column::Id)
            .limit(limit + 1)
            .all(self.connection())
            .await?;
        let next = match rows.len() as u64 > limit {
            true => {
                rows.truncate(limit as usize);
                rows.last().map(|m| Cursor {
                    at: m.created_at,
                    id: m.id,
                })
            }
            false => None,
        };
        Ok(CursorPage {
            items: rows.into_iter().map(entry_from).collect::<Result<_, _>>()?,
            next,
        })
    }
}
