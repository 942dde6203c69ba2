use actix_web::{web, HttpResponse};
use berth_domain::ErrorCode;
use berth_domain::{
    ApplicationId, BasicAuthEntry, DomainId, DomainName, DomainRouting, DomainTarget, EnvKey,
    Label, MountPath, PortNumber, ProjectId, SecretString, ServiceTokenId, SizeGb, VolumeId,
    VolumeKind, VolumeName, VolumeOwner, WwwRedirect,
};
use berth_store::{NewApplication, NewVolume, Scope};

use crate::auth::Caller;
use crate::authz::{require_project, Access};
use crate::dto::{
    ApplicationInput, ApplicationView, CreatedServiceToken, DeleteApplicationQuery, DomainCreate,
    DomainRoutingInput, DomainUpdate, DomainView, EnvSet, EnvView, OperationView, PageOf,
    PageQuery, ServiceTokenCreate, ServiceTokenView, VolumeCreate, VolumeView,
};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/projects/{id}/applications",
        web::get().to(list_applications),
    )
    .route(
        "/projects/{id}/applications",
        web::post().to(create_application),
    )
    .route("/applications/{id}", web::get().to(get_application))
    .route("/applications/{id}", web::patch().to(update_application))
    .route("/applications/{id}", web::delete().to(delete_application))
    .route("/applications/{id}/env", web::get().to(list_env))
    .route("/applications/{id}/env/{key}", web::put().to(set_env))
    .route("/applications/{id}/env/{key}", web::delete().to(delete_env))
    .route("/applications/{id}/volumes", web::get().to(list_volumes))
    .route("/applications/{id}/volumes", web::post().to(create_volume))
    .route("/volumes/{id}", web::delete().to(delete_volume))
    .route("/applications/{id}/domains", web::get().to(list_domains))
    .route("/applications/{id}/domains", web::post().to(create_domain))
    .route("/domains/{id}", web::get().to(get_domain))
    .route("/domains/{id}", web::patch().to(update_domain))
    .route("/domains/{id}", web::delete().to(delete_domain))
    .route(
        "/applications/{id}/service-tokens",
        web::get().to(list_service_tokens),
    )
    .route(
        "/applications/{id}/service-tokens",
        web::post().to(create_service_token),
    )
    .route(
        "/service-tokens/{id}",
        web::delete().to(delete_service_token),
    );
}

/// Loads an application the caller can see and checks their access to its project.
pub(crate) async fn application_with(
    s: &Scope,
    caller: &Caller,
    id: ApplicationId,
    needed: Access,
) -> Result<berth_domain::Application, ApiError> {
    let app = s.application(id).await?;
    let project = s.project(app.project_id).await?;
    require_project(caller.user()?, s, &project, needed)?;
    Ok(app)
}

async fn view(s: &Scope, app: berth_domain::Application) -> Result<ApplicationView, ApiError> {
    let has_credentials = match app.kind {
        berth_domain::ApplicationKind::Git => s.git_source(app.id).await?.has_credentials,
        _ => false,
    };
    Ok(ApplicationView::new(app, has_credentials))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/applications", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<ApplicationView>), (status = 404, body = Problem)))]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page()?;
    let s = caller.scope(&state).await?;
    let apps = s.list_applications(ProjectId::from_uuid(*id), page).await?;
    let mut items = Vec::with_capacity(apps.items.len());
    for a in apps.items {
        items.push(view(&s, a).await?);
    }
    Ok(HttpResponse::Ok().json(PageOf {
        items,
        total: apps.total,
        limit: apps.limit,
        offset: apps.offset,
    }))
}

/// A git source must be a repository berth may fetch: over the network, or under a local
/// root the admin allowed.
fn check_fetchable(
    state: &AppState,
    source: &berth_domain::ApplicationSource,
) -> Result<(), ApiError> {
    if let berth_domain::ApplicationSource::Git(g) = source {
        g.repository
            .check_fetchable(&state.git_local_roots)
            .map_err(|e| e.nested("source.repository"))?;
    }
    Ok(())
}

/// A host port below 1024, or one berth itself listens on, is published by admins only: a
/// developer may keep what an admin published, not add one. Engine-assigned ports are anyone's.
fn check_published_ports(
    state: &AppState,
    caller: &Caller,
    before: &[berth_domain::PortMapping],
    after: &[berth_domain::PortMapping],
) -> Result<(), ApiError> {
    if caller.user().is_ok_and(|u| u.role.is_admin()) {
        return Ok(());
    }
    let published = |p: &berth_domain::PortMapping| p.published.map(|n| (n.get(), p.protocol));
    for (i, p) in after.iter().enumerate() {
        let Some((port, _)) = published(p) else {
            continue;
        };
        let privileged = port < 1024 || state.reserved_ports.contains(&port);
        if privileged && !before.iter().any(|b| published(b) == published(p)) {
            return Err(ApiError::Forbidden(
                ErrorCode::PortReserved,
                format!(
                    "ports.{i}.published: host port {port} is {}; only an admin may publish it",
                    if port < 1024 {
                        "below 1024"
                    } else {
                        "one berth listens on"
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// Creates an application in a project (write access).
#[utoipa::path(post, path = "/api/v1/projects/{id}/applications", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), request_body = ApplicationInput,
    responses((status = 201, body = ApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: web::Json<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    let parsed = body.parse(true)?;
    let s = caller.scope(&state).await?;
    let project = s.project(ProjectId::from_uuid(*id)).await?;
    require_project(caller.user()?, &s, &project, Access::Write)?;
    let runtime = parsed.runtime_over(&Default::default());
    check_published_ports(&state, &caller, &[], &runtime.ports)?;
    let c = parsed.changes;
    let (Some(name), Some(source)) = (c.name, c.source) else {
        return Err(ApiError::invalid("name", "is required"));
    };
    check_fetchable(&state, &source)?;
    let app = s
        .create_application(
            project.id,
            NewApplication {
                name,
                description: c.description.flatten(),
                source,
                runtime,
                replicas: c.replicas.unwrap_or_default(),
                credentials: c.credentials.flatten(),
            },
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "application.create",
        "application",
        app.id,
        serde_json::json!({ "name": app.name, "project_id": project.id }),
    )
    .await?;
    let v = view(&s, app).await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(v))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem)))]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let app = s.application(ApplicationId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(view(&s, app).await?))
}

/// Changes any subset of an application's settings (write access). Credentials given in
/// `source` replace the stored ones.
#[utoipa::path(patch, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = ApplicationInput,
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: web::Json<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    let parsed = body.parse(false)?;
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let mut changes = parsed.changes.clone();
    if let Some(source) = &changes.source {
        check_fetchable(&state, source)?;
    }
    if parsed.touches_runtime() {
        let runtime = parsed.runtime_over(&app.runtime);
        runtime.validate()?;
        check_published_ports(&state, &caller, &app.runtime.ports, &runtime.ports)?;
        changes.runtime = Some(runtime);
    }
    let changed: Vec<&str> = [
        changes.name.as_ref().map(|_| "name"),
        changes.description.as_ref().map(|_| "description"),
        changes.source.as_ref().map(|_| "source"),
        changes.runtime.as_ref().map(|_| "runtime"),
        changes.replicas.as_ref().map(|_| "replicas"),
        changes.credentials.as_ref().map(|_| "credentials"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let updated = s.update_application(app.id, changes).await?;
    super::audit(
        &s,
        &caller,
        "application.update",
        "application",
        app.id,
        serde_json::json!({ "changed": changed }),
    )
    .await?;
    let v = view(&s, updated).await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Deletes an application (admin access), in the background: 202 with the operation. Its
/// Swarm service and its images are removed first, then, with `delete_volumes=true`, its
/// volumes and their data (an application that has volumes is otherwise not deleted: 409
/// naming them); then the application disappears; its history is kept.
#[utoipa::path(delete, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path), DeleteApplicationQuery),
    responses((status = 202, body = OperationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<DeleteApplicationQuery>,
) -> Result<HttpResponse, ApiError> {
    let delete_volumes = q.delete_volumes == Some(true);
    super::runtime::operate(
        &state,
        &caller,
        *id,
        Access::Admin,
        berth_store::NewOperation {
            kind: berth_domain::OperationKind::Delete,
            replicas: None,
            delete_volumes,
            requested_by: caller.user().ok().map(|u| u.id),
        },
        serde_json::json!({ "delete_volumes": delete_volumes }),
    )
    .await
}

/// The application's environment; secret values are `null`.
#[utoipa::path(get, path = "/api/v1/applications/{id}/env", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<EnvView>), (status = 404, body = Problem)))]
pub async fn list_env(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let vars: Vec<EnvView> = s
        .list_env_vars(ApplicationId::from_uuid(*id))
        .await?
        .into_iter()
        .map(EnvView::from)
        .collect();
    Ok(HttpResponse::Ok().json(vars))
}

/// Sets a variable (write access). A secret's value is encrypted and never shown again.
#[utoipa::path(put, path = "/api/v1/applications/{id}/env/{key}", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("key" = String, Path)), request_body = EnvSet,
    responses((status = 200, body = EnvView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_env(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(uuid::Uuid, String)>,
    body: web::Json<EnvSet>,
) -> Result<HttpResponse, ApiError> {
    let key = EnvKey::parse(&path.1).map_err(|e| e.nested("key"))?;
    if body.value.len() > 65_536 || body.value.contains('\0') {
        return Err(ApiError::invalid(
            "value",
            "must be at most 64 KiB with no NUL character",
        ));
    }
    let s = caller.scope(&state).await?;
    let app =
        application_with(&s, &caller, ApplicationId::from_uuid(path.0), Access::Write).await?;
    let var = s
        .set_env_var(
            app.id,
            key,
            SecretString::new(body.value.clone()),
            body.is_secret,
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "application.env_set",
        "application",
        app.id,
        serde_json::json!({ "key": var.key, "is_secret": var.is_secret }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(EnvView::from(var)))
}

#[utoipa::path(delete, path = "/api/v1/applications/{id}/env/{key}", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("key" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_env(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(uuid::Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let key = EnvKey::parse(&path.1).map_err(|_| ApiError::NotFound("environment variable"))?;
    let s = caller.scope(&state).await?;
    let app =
        application_with(&s, &caller, ApplicationId::from_uuid(path.0), Access::Write).await?;
    s.delete_env_var(app.id, &key).await?;
    super::audit(
        &s,
        &caller,
        "application.env_delete",
        "application",
        app.id,
        serde_json::json!({ "key": key }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
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
    body: web::Json<VolumeCreate>,
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

#[utoipa::path(get, path = "/api/v1/applications/{id}/domains", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<DomainView>), (status = 404, body = Problem)))]
pub async fn list_domains(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let mut ds: Vec<DomainView> = Vec::new();
    for d in s.list_domains(ApplicationId::from_uuid(*id)).await? {
        ds.push(super::certificates::domain_view(&state, &s, d).await?);
    }
    Ok(HttpResponse::Ok().json(ds))
}

/// Routes a domain to the application (write access). A domain is unique on the whole
/// installation; a taken one is a conflict that does not say who holds it.
#[utoipa::path(post, path = "/api/v1/applications/{id}/domains", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = DomainCreate,
    responses((status = 201, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: web::Json<DomainCreate>,
) -> Result<HttpResponse, ApiError> {
    let host = DomainName::parse(&body.host).map_err(|e| e.nested("host"))?;
    let routing = routing_over(
        body.routing.as_ref(),
        DomainRouting::default(),
        &host,
        state.auth.bcrypt_cost,
    )
    .await?;
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let d = s
        .create_domain(
            app.project_id,
            host,
            DomainTarget::Application(app.id),
            body.tls.unwrap_or(true),
            routing,
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "domain.create",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host, "application_id": app.id }),
    )
    .await?;
    let id = d.id;
    let view = super::certificates::domain_view(&state, &s, d).await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(id),
    });
    Ok(HttpResponse::Created().json(view))
}

/// `input` applied over `current`: passwords hashed, then every option checked.
async fn routing_over(
    input: Option<&DomainRoutingInput>,
    current: DomainRouting,
    host: &DomainName,
    bcrypt_cost: u32,
) -> Result<DomainRouting, ApiError> {
    let mut r = current;
    let Some(input) = input else {
        r.validate(host).map_err(|e| e.nested("routing"))?;
        return Ok(r);
    };
    let mut v = berth_domain::error::Validator::new();
    if let Some(p) = &input.path_prefix {
        r.path_prefix = p.clone();
    }
    if let Some(port) = input.port {
        r.port = match port {
            Some(p) => v.check("port", PortNumber::parse(p)),
            None => None,
        };
    }
    if let Some(b) = input.https_redirect {
        r.https_redirect = b;
    }
    if let Some(b) = input.hsts {
        r.hsts = b;
    }
    if let Some(w) = &input.www_redirect {
        match serde_json::from_value::<WwwRedirect>(serde_json::Value::String(w.clone())) {
            Ok(w) => r.www_redirect = w,
            Err(_) => v.push("www_redirect", "must be none, to_apex or to_www"),
        }
    }
    if let Some(m) = input.max_body_mb {
        r.max_body_mb = m;
    }
    if let Some(users) = &input.basic_auth {
        let mut next = Vec::with_capacity(users.len());
        for (i, u) in users.iter().enumerate() {
            let kept = r
                .basic_auth
                .iter()
                .find(|e| e.username == u.username)
                .map(|e| e.password_hash.clone());
            let hash = match (&u.password, kept) {
                (Some(p), _) if p.len() < 8 || p.len() > 72 => {
                    v.push(
                        format!("basic_auth.{i}.password"),
                        "must be 8 to 72 characters",
                    );
                    continue;
                }
                (Some(p), _) => crate::auth::hash_password(p.clone(), bcrypt_cost).await?,
                (None, Some(h)) => h,
                (None, None) => {
                    v.push(
                        format!("basic_auth.{i}.password"),
                        "is required for a new user",
                    );
                    continue;
                }
            };
            next.push(BasicAuthEntry {
                username: u.username.clone(),
                password_hash: hash,
            });
        }
        r.basic_auth = next;
    }
    v.finish().map_err(|e| e.nested("routing"))?;
    r.validate(host).map_err(|e| e.nested("routing"))?;
    Ok(r)
}

#[utoipa::path(get, path = "/api/v1/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = DomainView), (status = 404, body = Problem)))]
pub async fn get_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let d = s.domain(DomainId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(super::certificates::domain_view(&state, &s, d).await?))
}

/// Changes TLS, routing or the target application of a domain (write access; the application
/// must be in the domain's project). The router follows at once: it reaches any port of the
/// replicas, so nothing is redeployed.
#[utoipa::path(patch, path = "/api/v1/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = DomainUpdate,
    responses((status = 200, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: web::Json<DomainUpdate>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let d = s.domain(DomainId::from_uuid(*id)).await?;
    let project = s.project(d.project_id).await?;
    require_project(caller.user()?, &s, &project, Access::Write)?;
    let target = body
        .application_id
        .map(|a| DomainTarget::Application(ApplicationId::from_uuid(a)));
    let routing = match &body.routing {
        Some(r) => {
            Some(routing_over(Some(r), d.routing.clone(), &d.host, state.auth.bcrypt_cost).await?)
        }
        None => None,
    };
    let d = s.update_domain(d.id, target, body.tls, routing).await?;
    let view = super::certificates::domain_view(&state, &s, d.clone()).await?;
    super::audit(
        &s,
        &caller,
        "domain.update",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host, "tls": d.tls }),
    )
    .await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(d.id),
    });
    Ok(HttpResponse::Ok().json(view))
}

/// Removes a domain (admin access).
#[utoipa::path(delete, path = "/api/v1/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let d = s.domain(DomainId::from_uuid(*id)).await?;
    let project = s.project(d.project_id).await?;
    require_project(caller.user()?, &s, &project, Access::Admin)?;
    s.delete_domain(d.id).await?;
    super::audit(
        &s,
        &caller,
        "domain.delete",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host }),
    )
    .await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(d.id),
    });
    Ok(HttpResponse::NoContent().finish())
}

/// The application's service tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/applications/{id}/service-tokens", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<ServiceTokenView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_service_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let tokens: Vec<ServiceTokenView> = s
        .list_service_tokens(app.id)
        .await?
        .into_iter()
        .map(ServiceTokenView::from)
        .collect();
    Ok(HttpResponse::Ok().json(tokens))
}

/// Creates a token that lets one outside party (a CI job, a git host) deploy this application
/// and nothing else (write access). Its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/applications/{id}/service-tokens", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), request_body = ServiceTokenCreate,
    responses((status = 201, body = CreatedServiceToken), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_service_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: web::Json<ServiceTokenCreate>,
) -> Result<HttpResponse, ApiError> {
    let mut v = berth_domain::error::Validator::new();
    let name = v.check("name", Label::parse(&body.name));
    let origin = v.check("origin", Label::parse(&body.origin));
    v.finish()?;
    let (Some(name), Some(origin)) = (name, origin) else {
        return Err(ApiError::invalid("name", "is invalid"));
    };
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let (token, secret) = s.create_service_token(app.id, name, origin).await?;
    super::audit(
        &s,
        &caller,
        "service_token.create",
        "application",
        app.id,
        serde_json::json!({ "token_id": token.id, "origin": token.origin }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(CreatedServiceToken {
        token: secret.expose().to_owned(),
        info: token.into(),
    }))
}

/// Revokes a service token (write access on its application).
#[utoipa::path(delete, path = "/api/v1/service-tokens/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_service_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let token = s.service_token(ServiceTokenId::from_uuid(*id)).await?;
    application_with(&s, &caller, token.application_id, Access::Write).await?;
    s.revoke_service_token(token.id).await?;
    super::audit(
        &s,
        &caller,
        "service_token.revoke",
        "application",
        token.application_id,
        serde_json::json!({ "token_id": token.id }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
