use actix_web::{web, HttpResponse};
use berth_domain::{Page, UserId};
use berth_store::AuditFilter;

use crate::auth::Caller;
use crate::dto::{AuditQuery, AuditView, PageOf};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit-log", web::get().to(list_audit));
}

/// The audit log, newest first (admins), filtered by user, resource type and resource id.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = PageOf<AuditView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_audit(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let page = Page::parse(q.limit, q.offset)?;
    let filter = AuditFilter {
        user_id: q.user_id.map(UserId::from_uuid),
        resource_type: q.resource_type.clone(),
        resource_id: q.resource_id.clone(),
    };
    let s = caller.scope(&state).await?;
    Ok(HttpResponse::Ok().json(PageOf::from(
        s.list_audit(filter, page).await?,
        AuditView::from,
    )))
}
