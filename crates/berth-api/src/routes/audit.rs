use actix_web::{web, HttpResponse};
use berth_domain::{Cursor, Page, UserId};
use berth_store::AuditFilter;

use crate::auth::Caller;
use crate::dto::{AuditPageView, AuditQuery, AuditView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit-log", web::get().to(list_audit));
}

/// The audit log, newest first (admins), filtered by user, resource type and resource id, a
/// page at a time: each page's `next_cursor` leads to the next.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPageView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_audit(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let limit = Page::parse(q.limit, None)?.limit();
    let after = q
        .cursor
        .as_deref()
        .map(|c| Cursor::parse("cursor", c))
        .transpose()?;
    let filter = AuditFilter {
        user_id: q.user_id.map(UserId::from_uuid),
        resource_type: q.resource_type.clone(),
        resource_id: q.resource_id.clone(),
    };
    let s = caller.scope(&state).await?;
    let page = s.list_audit(filter, limit, after).await?;
    Ok(HttpResponse::Ok().json(AuditPageView {
        items: page.items.into_iter().map(AuditView::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}
