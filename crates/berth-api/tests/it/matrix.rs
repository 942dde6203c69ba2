//! The authorization matrix: every endpoint, called by every kind of caller, against an object
//! of the caller's tenant and one of another tenant, answers what the rules in
//! `berth_api::authz` say. Run on both backends.

use berth_domain::*;
use berth_store::{Actor, NewDeployment, NewLogLine, NewOperation, NewProject, NewVolume};
use berth_testkit::both_backends;
use serde_json::{json, Value};

use crate::api::{app_body, TestApi};

both_backends!(every_endpoint_role_and_tenant);

/// Whether `caller` sees a registry of the team (a member of it, its founder, an admin) and
/// whether they manage it (its owners and admins, platform admins; a platform viewer never).
fn registry_roles(caller: &Caller) -> (bool, bool) {
    let member =
        caller.platform_admin || caller.team_role.is_some() || caller.name == "project owner";
    let manager = caller.platform_admin
        || caller.name == "project owner"
        || (caller.name != "platform viewer in team"
            && matches!(caller.team_role, Some("owner" | "admin")));
    (member, manager)
}

/// What a caller may do to the project under test, as the rules say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    None,
    Read,
    Write,
    Admin,
    Owner,
    /// The user who owns the project (or a platform admin).
    Principal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Own,
    Other,
}

struct Caller {
    name: &'static str,
    token: String,
    /// Access to the own tenant's project; to the other tenant's it is `Principal` for
    /// platform admins and `None` for everyone else.
    level: Level,
    platform_admin: bool,
    team_role: Option<&'static str>,
}

/// The objects of one tenant that requests point at.
#[derive(Debug, Clone)]
struct Objects {
    project: String,
    app: String,
    domain: String,
    volume: String,
    deployment: String,
    build: String,
    operation: String,
}

struct World {
    owner: User,
    stranger: User,
    team: TeamId,
    counter: std::sync::atomic::AtomicUsize,
}

impl World {
    fn next(&self) -> usize {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// A fresh project with everything in it, for the tenant `target`.
    async fn objects(&self, api: &TestApi, target: Target) -> Objects {
        let n = self.next();
        let (user, team) = match target {
            Target::Own => (&self.owner, Some(self.team)),
            Target::Other => (&self.stranger, None),
        };
        let s = api
            .state
            .store
            .scope(Actor::User {
                id: user.id,
                role: user.role,
            })
            .await
            .unwrap();
        let p = s
            .create_project(NewProject {
                name: ProjectName::parse(&format!("project {n}")).unwrap(),
                description: None,
                team_id: team,
            })
            .await
            .unwrap();
        let mut new = berth_store::NewApplication {
            name: ResourceName::parse("web").unwrap(),
            description: None,
            source: ApplicationSource::Image {
                image: ImageReference::parse("busybox").unwrap(),
            },
            runtime: RuntimeConfig::default(),
            replicas: Replicas::default(),
            credentials: None,
        };
        new.name = ResourceName::parse(&format!("web-{n}")).unwrap();
        let a = s.create_application(p.id, new).await.unwrap();
        s.set_env_var(
            a.id,
            EnvKey::parse("PORT").unwrap(),
            SecretString::new("80"),
            false,
        )
        .await
        .unwrap();
        let d = s
            .create_domain(
                p.id,
                DomainName::parse(&format!("d{n}.example.com")).unwrap(),
                DomainTarget::Application(a.id),
                true,
                DomainRouting::default(),
            )
            .await
            .unwrap();
        let v = s
            .create_volume(NewVolume {
                name: VolumeName::parse(&format!("vol-{n}")).unwrap(),
                kind: VolumeKind::DockerVolume,
                mount_path: MountPath::parse("/data").unwrap(),
                size_gb: SizeGb::parse(1).unwrap(),
                owner: VolumeOwner::Application(a.id),
            })
            .await
            .unwrap();
        s.commit().await.unwrap();
        let s = api.state.store.scope(Actor::System).await.unwrap();
        let b = s.create_build(a.id, None).await.unwrap();
        s.transition_build(b.id, BuildStatus::InProgress, None)
            .await
            .unwrap();
        s.transition_build(b.id, BuildStatus::Succeeded, None)
            .await
            .unwrap();
        let dep = s
            .create_deployment(
                a.id,
                NewDeployment {
                    trigger: DeploymentTrigger::Manual,
                    triggered_by: None,
                    service_token_id: None,
                    commit_sha: None,
                    build_id: Some(b.id),
                    snapshot: s.snapshot(a.id).await.unwrap(),
                    rollback_of: None,
                },
            )
            .await
            .unwrap();
        s.append_logs(
            dep.id,
            vec![NewLogLine {
                step: None,
                level: LogLevel::Info,
                message: "hi".into(),
            }],
        )
        .await
        .unwrap();
        let op = s
            .create_operation(
                a.id,
                NewOperation {
                    kind: OperationKind::Restart,
                    replicas: None,
                    delete_volumes: false,
                    requested_by: None,
                },
            )
            .await
            .unwrap();
        s.commit().await.unwrap();
        Objects {
            project: p.id.to_string(),
            app: a.id.to_string(),
            domain: d.id.to_string(),
            volume: v.id.to_string(),
            deployment: dep.id.to_string(),
            build: b.id.to_string(),
            operation: op.id.to_string(),
        }
    }
}

/// A team endpoint: method, path, body, the team roles allowed, the success status.
type TeamCase = (
    &'static str,
    String,
    Option<Value>,
    &'static [&'static str],
    u16,
);

struct Case {
    method: &'static str,
    path: fn(&Objects) -> String,
    body: fn(usize) -> Option<Value>,
    needed: Level,
    ok: u16,
    /// Changes or removes what it targets, so it gets objects of its own.
    mutates: bool,
}

fn none(_: usize) -> Option<Value> {
    None
}

fn cases() -> Vec<Case> {
    use Level::*;
    vec![
        Case {
            method: "GET",
            path: |o| format!("/api/v1/projects/{}", o.project),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/projects/{}/applications", o.project),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/env", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/volumes", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/domains", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/domains/{}", o.domain),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/deployments", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/deployments/{}", o.deployment),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/deployments/{}/logs", o.deployment),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/builds", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/builds/latest-successful", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/builds/{}", o.build),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "PATCH",
            path: |o| format!("/api/v1/projects/{}", o.project),
            body: |n| Some(json!({ "name": format!("renamed {n}") })),
            needed: Write,
            ok: 200,
            mutates: true,
        },
        Case {
            method: "PATCH",
            path: |o| format!("/api/v1/projects/{}", o.project),
            body: |_| Some(json!({ "team_id": null })),
            needed: Principal,
            ok: 200,
            mutates: true,
        },
        Case {
            method: "DELETE",
            path: |o| format!("/api/v1/projects/{}", o.project),
            body: none,
            needed: Owner,
            ok: 409,
            mutates: true,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/projects/{}/applications", o.project),
            body: |n| Some(app_body(&format!("new-{n}"))),
            needed: Write,
            ok: 201,
            mutates: true,
        },
        Case {
            method: "PATCH",
            path: |o| format!("/api/v1/applications/{}", o.app),
            body: |_| Some(json!({ "replicas": 3 })),
            needed: Write,
            ok: 200,
            mutates: true,
        },
        Case {
            method: "DELETE",
            path: |o| format!("/api/v1/applications/{}?delete_volumes=true", o.app),
            body: none,
            needed: Admin,
            ok: 202,
            mutates: true,
        },
        Case {
            method: "PUT",
            path: |o| format!("/api/v1/applications/{}/env/SECRET", o.app),
            body: |_| Some(json!({ "value": "s", "is_secret": true })),
            needed: Write,
            ok: 200,
            mutates: true,
        },
        Case {
            method: "DELETE",
            path: |o| format!("/api/v1/applications/{}/env/PORT", o.app),
            body: none,
            needed: Write,
            ok: 204,
            mutates: true,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/volumes", o.app),
            body: |n| {
                Some(json!({ "name": format!("extra-{n}"), "mount_path": "/x", "size_gb": 1 }))
            },
            needed: Write,
            ok: 201,
            mutates: true,
        },
        Case {
            method: "DELETE",
            path: |o| format!("/api/v1/volumes/{}", o.volume),
            body: none,
            needed: Admin,
            ok: 503,
            mutates: true,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/domains", o.app),
            body: |n| Some(json!({ "host": format!("new{n}.example.com") })),
            needed: Write,
            ok: 201,
            mutates: true,
        },
        Case {
            method: "PATCH",
            path: |o| format!("/api/v1/domains/{}", o.domain),
            body: |_| Some(json!({ "tls": false })),
            needed: Write,
            ok: 200,
            mutates: true,
        },
        Case {
            method: "DELETE",
            path: |o| format!("/api/v1/domains/{}", o.domain),
            body: none,
            needed: Admin,
            ok: 204,
            mutates: true,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/domains/{}/certificate/renew", o.domain),
            body: none,
            needed: Write,
            ok: 202,
            mutates: true,
        },
        // Authorization comes before the PEM is read: whoever may write gets to hear that
        // this is no certificate.
        Case {
            method: "PUT",
            path: |o| format!("/api/v1/domains/{}/certificate", o.domain),
            body: |_| Some(json!({ "certificate_pem": "nope", "private_key_pem": "nope" })),
            needed: Write,
            ok: 422,
            mutates: false,
        },
        Case {
            method: "DELETE",
            path: |o| format!("/api/v1/domains/{}/certificate", o.domain),
            body: none,
            needed: Write,
            ok: 204,
            mutates: true,
        },
        // The pipeline's endpoints. This API's pipeline has no engines and no worker: work is
        // queued (202) and stays so, what runs answers 503 once authorization let the caller
        // through.
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/deployments", o.app),
            body: none,
            needed: Write,
            ok: 202,
            mutates: false,
        },
        Case {
            // An image application is deployed again as it is.
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/redeploy", o.app),
            body: none,
            needed: Write,
            ok: 202,
            mutates: false,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/deployments/{}/cancel", o.deployment),
            body: none,
            needed: Write,
            ok: 202,
            mutates: true,
        },
        Case {
            // Only a successful deployment can be deployed again; this one is pending.
            method: "POST",
            path: |o| format!("/api/v1/deployments/{}/rollback", o.deployment),
            body: none,
            needed: Write,
            ok: 409,
            mutates: false,
        },
        Case {
            // An image application has no webhook.
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/webhook", o.app),
            body: none,
            needed: Write,
            ok: 409,
            mutates: false,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/webhook/rotate", o.app),
            body: none,
            needed: Write,
            ok: 409,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/runtime", o.app),
            body: none,
            needed: Read,
            ok: 503,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/usage", o.app),
            body: none,
            needed: Read,
            ok: 503,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/logs", o.app),
            body: none,
            needed: Read,
            ok: 503,
            mutates: false,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/stop", o.app),
            body: none,
            needed: Write,
            ok: 202,
            mutates: true,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/start", o.app),
            body: none,
            needed: Write,
            ok: 202,
            mutates: true,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/restart", o.app),
            body: none,
            needed: Write,
            ok: 202,
            mutates: true,
        },
        Case {
            method: "POST",
            path: |o| format!("/api/v1/applications/{}/scale", o.app),
            body: |_| Some(json!({ "replicas": 2 })),
            needed: Write,
            ok: 202,
            mutates: true,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/applications/{}/operations", o.app),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
        Case {
            method: "GET",
            path: |o| format!("/api/v1/operations/{}", o.operation),
            body: none,
            needed: Read,
            ok: 200,
            mutates: false,
        },
    ]
}

fn expected(case: &Case, caller: &Caller, target: Target) -> u16 {
    let level = match target {
        Target::Own => caller.level,
        Target::Other if caller.platform_admin => Level::Principal,
        Target::Other => Level::None,
    };
    if level == Level::None {
        404
    } else if level >= case.needed {
        case.ok
    } else {
        403
    }
}

async fn every_endpoint_role_and_tenant(api: TestApi) {
    let api = api.without_worker();
    let root = api.admin().await;
    let mut callers = Vec::new();
    let (owner_id, owner_token) = api.user(&root, "owner", "developer").await;
    let (stranger_id, _) = api.user(&root, "stranger", "developer").await;
    let r = api
        .post("/api/v1/teams", &owner_token, json!({ "name": "the team" }))
        .await;
    let team = r.body["id"].as_str().unwrap().to_owned();
    callers.push(Caller {
        name: "super_admin",
        token: root.clone(),
        level: Level::Principal,
        platform_admin: true,
        team_role: None,
    });
    let (_, admin) = api.user(&root, "admin", "admin").await;
    callers.push(Caller {
        name: "admin",
        token: admin,
        level: Level::Principal,
        platform_admin: true,
        team_role: None,
    });
    callers.push(Caller {
        name: "project owner",
        token: owner_token.clone(),
        level: Level::Principal,
        platform_admin: false,
        team_role: None,
    });
    for (name, platform, team_role, level) in [
        ("team owner", "developer", "owner", Level::Owner),
        ("team admin", "developer", "admin", Level::Admin),
        ("team member", "developer", "member", Level::Write),
        ("team viewer", "developer", "viewer", Level::Read),
        ("platform viewer in team", "viewer", "owner", Level::Read),
        ("outsider", "developer", "", Level::None),
    ] {
        let username = name.replace(' ', "-");
        let (id, token) = api.user(&root, &username, platform).await;
        if !team_role.is_empty() {
            let r = api
                .post(
                    &format!("/api/v1/teams/{team}/members"),
                    &owner_token,
                    json!({ "user_id": id, "role": team_role }),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        callers.push(Caller {
            name,
            token,
            level,
            platform_admin: false,
            team_role: (!team_role.is_empty()).then_some(team_role),
        });
    }
    let s = api.state.store.scope(Actor::System).await.unwrap();
    let owner = s
        .user(UserId::from_uuid(owner_id.parse().unwrap()))
        .await
        .unwrap();
    let stranger = s
        .user(UserId::from_uuid(stranger_id.parse().unwrap()))
        .await
        .unwrap();
    drop(s);
    let world = World {
        owner,
        stranger,
        team: TeamId::from_uuid(team.parse().unwrap()),
        counter: Default::default(),
    };

    let shared_own = world.objects(&api, Target::Own).await;
    let shared_other = world.objects(&api, Target::Other).await;
    let mut mismatches = Vec::new();
    let mut calls = 0;
    for case in cases() {
        for caller in &callers {
            for target in [Target::Own, Target::Other] {
                let objects = if case.mutates {
                    world.objects(&api, target).await
                } else if target == Target::Own {
                    shared_own.clone()
                } else {
                    shared_other.clone()
                };
                let path = (case.path)(&objects);
                let r = api
                    .call(
                        case.method,
                        &path,
                        Some(&caller.token),
                        (case.body)(world.next()),
                    )
                    .await;
                calls += 1;
                let want = expected(&case, caller, target);
                if r.status != want {
                    mismatches.push(format!(
                        "{} {path} as {} on {target:?}: got {}, want {want}: {}",
                        case.method, caller.name, r.status, r.body
                    ));
                }
            }
        }
    }

    // Team endpoints, on the team that manages the own project.
    let team_cases: &[TeamCase] = &[
        (
            "GET",
            format!("/api/v1/teams/{team}"),
            None,
            &["owner", "admin", "member", "viewer"],
            200,
        ),
        (
            "GET",
            format!("/api/v1/teams/{team}/members"),
            None,
            &["owner", "admin", "member", "viewer"],
            200,
        ),
        (
            "PATCH",
            format!("/api/v1/teams/{team}"),
            Some(json!({ "description": "d" })),
            &["owner", "admin"],
            200,
        ),
    ];
    for (method, path, body, allowed, ok) in team_cases {
        for caller in &callers {
            let r = api
                .call(method, path, Some(&caller.token), body.clone())
                .await;
            calls += 1;
            let want = if caller.platform_admin || caller.name == "project owner" {
                *ok
            } else {
                match caller.team_role {
                    None => 404,
                    // A platform viewer reads the team but changes nothing.
                    Some(_) if caller.name == "platform viewer in team" => {
                        if *method == "GET" {
                            *ok
                        } else {
                            403
                        }
                    }
                    Some(role) if allowed.contains(&role) => *ok,
                    Some(_) => 403,
                }
            };
            if r.status != want {
                mismatches.push(format!(
                    "{method} {path} as {}: got {}, want {want}: {}",
                    caller.name, r.status, r.body
                ));
            }
        }
    }
    // Registries: a team's are its owners' and admins' to change and its members' to read
    // (not found for everyone else); the installation's are the admins' to change and
    // everyone's to read.
    let made = api
        .post(
            "/api/v1/registries",
            &owner_token,
            json!({ "host": "team.example.com", "team_id": team,
                    "credentials": { "username": "u", "password": "p" } }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let team_registry = made.body["id"].as_str().unwrap().to_owned();
    let made = api
        .post(
            "/api/v1/registries",
            &callers[0].token,
            json!({ "host": "all.example.com" }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let installation_registry = made.body["id"].as_str().unwrap().to_owned();
    for (i, caller) in callers.iter().enumerate() {
        let (member, manager) = registry_roles(caller);
        let cases: [(&str, String, Option<Value>, u16); 6] = [
            (
                "GET",
                format!("/api/v1/registries/{team_registry}"),
                None,
                if member { 200 } else { 404 },
            ),
            (
                "PATCH",
                format!("/api/v1/registries/{team_registry}"),
                Some(json!({ "credentials": { "username": "v", "password": "q" } })),
                if manager {
                    200
                } else if member {
                    403
                } else {
                    404
                },
            ),
            (
                "POST",
                "/api/v1/registries".to_owned(),
                Some(json!({ "host": format!("r{i}.example.com"), "team_id": team })),
                if manager {
                    201
                } else if member {
                    403
                } else {
                    404
                },
            ),
            (
                "GET",
                format!("/api/v1/registries/{installation_registry}"),
                None,
                200,
            ),
            (
                "PATCH",
                format!("/api/v1/registries/{installation_registry}"),
                Some(json!({ "credentials": null })),
                if caller.platform_admin { 200 } else { 403 },
            ),
            (
                "POST",
                "/api/v1/registries".to_owned(),
                Some(json!({ "host": format!("i{i}.example.com") })),
                if caller.platform_admin { 201 } else { 403 },
            ),
        ];
        for (method, path, body, want) in cases {
            let r = api.call(method, &path, Some(&caller.token), body).await;
            calls += 1;
            if r.status != want {
                mismatches.push(format!(
                    "{method} {path} as {}: got {}, want {want}: {}",
                    caller.name, r.status, r.body
                ));
            }
        }
    }
    // Deleting, last: each caller tries on a registry of its own kind made for it.
    for caller in &callers {
        let (member, manager) = registry_roles(caller);
        let n = world.next();
        let team_one = api
            .post(
                "/api/v1/registries",
                &owner_token,
                json!({ "host": format!("d{n}.example.com"), "team_id": team }),
            )
            .await;
        let all_one = api
            .post(
                "/api/v1/registries",
                &callers[0].token,
                json!({ "host": format!("e{n}.example.com") }),
            )
            .await;
        for (made, want) in [
            (
                team_one,
                if manager {
                    204
                } else if member {
                    403
                } else {
                    404
                },
            ),
            (all_one, if caller.platform_admin { 204 } else { 403 }),
        ] {
            let path = format!("/api/v1/registries/{}", made.body["id"].as_str().unwrap());
            let r = api.call("DELETE", &path, Some(&caller.token), None).await;
            calls += 1;
            if r.status != want {
                mismatches.push(format!(
                    "DELETE {path} as {}: got {}, want {want}: {}",
                    caller.name, r.status, r.body
                ));
            }
        }
    }
    for (path, admins_only) in [
        ("/api/v1/users", true),
        ("/api/v1/audit-log", true),
        ("/api/v1/edge", true),
        ("/api/v1/settings/acme-dns", true),
        ("/api/v1/settings/acme", true),
        ("/api/v1/projects", false),
        ("/api/v1/tokens", false),
        ("/api/v1/registries", false),
        ("/api/v1/schedules", true),
    ] {
        for caller in &callers {
            let r = api.get(path, &caller.token).await;
            calls += 1;
            let want = if admins_only && !caller.platform_admin {
                403
            } else {
                200
            };
            if r.status != want {
                mismatches.push(format!(
                    "GET {path} as {}: got {}, want {want}",
                    caller.name, r.status
                ));
            }
        }
    }
    // The live view of changes: every signed-in caller opens their own (what it carries is
    // filtered per change: isolation::the_event_stream_carries_the_callers_changes_only_…);
    // no token, no stream. Only the status is read: the stream does not end by itself.
    let service = actix_web::test::init_service(berth_api::build_app(api.state.clone())).await;
    for (who, token) in callers
        .iter()
        .map(|c| (c.name, Some(c.token.as_str())))
        .chain([("nobody", None)])
    {
        let mut req = actix_web::test::TestRequest::get().uri("/api/v1/events/stream");
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        let res = actix_web::test::call_service(&service, req.to_request()).await;
        calls += 1;
        let want = if token.is_some() { 200 } else { 401 };
        if res.status().as_u16() != want {
            mismatches.push(format!(
                "GET /api/v1/events/stream as {who}: got {}, want {want}",
                res.status()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {calls} calls answered otherwise than the rules:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(calls > 500, "the matrix is complete ({calls} calls)");
}
