//! An application's volumes: named storage that only it mounts.

use actix_web::{web, HttpResponse};
use berth_domain::ErrorCode;
use berth_domain::{
    ApplicationId, MountPath, SizeGb, VolumeId, VolumeKind, VolumeName, VolumeOwner,
};
use berth_store::NewVolume;

use crate::auth::Caller;
use crate::authz::Access;
use crate::dto::{VolumeCreate, VolumeView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

use super::applications::application_with;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications/{id}/volumes", web::get().to(list_volumes))
        .route("/applications/{id}/volumes", web::post().to(create_volume))
        .route("/volumes/{id}", web::delete().to(delete_volume));
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/volumes", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<VolumeView>), (status = 404, body = Problem)))]
pub async fn list_volumes(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let vols: Vec<VolumeView> = s
        .list_volumes(ApplicationId::from_uuid(*id))
        .await?
        .into_iter()
        .map(VolumeView::from)
        .collect();
    Ok(HttpResponse::Ok().json(vols))
}

/// Adds a named volume to an application (write access). Volume names are unique on the host.
#[utoipa::path(post, path = "/api/v1/applications/{id}/volumes", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = VolumeCreate,
    responses((status = 201, body = VolumeView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_volume(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<VolumeCreate>,
) -> Result<HttpResponse, ApiError> {
    let mut v = berth_domain::error::Validator::new();
    let name = v.check("name", VolumeName::parse(&body.name));
    let mount_path = v.check("mount_path", MountPath::parse(&body.mount_path));
    let size_gb = v.check("size_gb", SizeGb::parse(body.size_gb));
    let kind = v.check(
        "kind",
        body.kind
            .as_deref()
            .map_or(Ok(VolumeKind::DockerVolume), VolumeKind::parse),
    );
    v.finish()?;
    let (Some(name), Some(mount_path), Some(size_gb), Some(kind)) =
        (name, mount_path, size_gb, kind)
    else {
        return Err(ApiError::invalid("body", "is invalid"));
    };
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let vol = s
        .create_volume(NewVolume {
            name,
            kind,
            mount_path,
            size_gb,
            owner: VolumeOwner::Application(app.id),
        })
        .await?;
    super::audit(
        &s,
        &caller,
        "volume.create",
        "volume",
        vol.id,
        serde_json::json!({ "name": vol.name, "application_id": app.id }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(VolumeView::from(vol)))
}

/// Deletes a volume (admin access) and the Docker volume with its data; 409 while a container
/// of its application still mounts it.
#[utoipa::path(delete, path = "/api/v1/volumes/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn delete_volume(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let vol = s.volume(VolumeId::from_uuid(*id)).await?;
    let VolumeOwner::Application(app) = vol.owner else {
        return Err(ApiError::NotFound("volume"));
    };
    application_with(&s, &caller, app, Access::Admin).await?;
    // Its data goes first, once no container mounts it (until then nothing is deleted); no
    // transaction is held while the engine removes it.
    drop(s);
    state
        .pipeline
        .remove_volume_data(&vol)
        .await
        .map_err(|e| match e {
            berth_deploy::runtime::VolumeRemoval::InUse(_) => {
                ApiError::conflict(ErrorCode::VolumeInUse, e.to_string())
            }
            berth_deploy::runtime::VolumeRemoval::Failed(e) => e.into(),
        })?;
    let s = state.store.scope(caller.actor()?).await?;
    s.delete_volume(vol.id).await?;
    super::audit(
        &s,
        &caller,
        "volume.delete",
        "volume",
        vol.id,
        serde_json::json!({ "name": vol.name }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
