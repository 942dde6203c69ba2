use std::time::Duration;

use berth_domain::{HostPath, Mount, MountPath, MountSource, PortNumber, PublishMode, Replicas};
use berth_events::CancelToken;
use berth_swarm::{RoutingMesh, SwarmError, SwarmSettings};

use crate::fixture::{events, Fixture, TIMEOUT};

/// Each bad request is refused with a clear error and leaves no service behind.
#[tokio::test]
async fn bad_input_is_refused_clearly_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let f = Fixture::with_settings(SwarmSettings {
        bind_roots: vec![HostPath::parse(root.path().to_str().unwrap()).unwrap()],
        ..SwarmSettings::default()
    })
    .await;
    let v1 = f.image("v1", true).await;
    let (sink, _rx) = events();
    let deploy = |spec: berth_domain::ServiceSpec| {
        let f = &f;
        let sink = &sink;
        async move {
            let r = f
                .swarm
                .deploy(&spec, sink, &CancelToken::new(), Duration::from_secs(60))
                .await;
            let left = f.swarm.status(spec.name.as_str()).await;
            assert!(
                matches!(left, Err(SwarmError::NotFound(_))),
                "{} was left behind: {left:?}",
                spec.name
            );
            r.unwrap_err()
        }
    };

    // An image that is not on the engine: nothing is pulled.
    let missing = format!("berth-test/{}:absent", f.prefix);
    let e = deploy(f.spec("noimage", &missing, 1)).await;
    assert!(
        matches!(&e, SwarmError::ImageNotFound(i) if *i == missing),
        "{e}"
    );
    assert!(e.to_string().contains("is not on the engine"), "{e}");

    // A host port another process holds.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let taken = listener.local_addr().unwrap().port();
    let mut spec = f.spec("taken", &v1, 1);
    spec.ports[0].published = Some(PortNumber::parse(i64::from(taken)).unwrap());
    let e = deploy(spec).await;
    assert!(
        matches!(&e, SwarmError::PortTaken { port, .. } if *port == taken),
        "{e}"
    );
    drop(listener);

    // A port another service publishes.
    let free = {
        let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut first = f.spec("first", &v1, 1);
    first.ports[0].published = Some(PortNumber::parse(i64::from(free)).unwrap());
    f.deploy(&first).await;
    let mut second = f.spec("second", &v1, 1);
    second.ports[0].published = first.ports[0].published;
    let e = deploy(second).await;
    assert!(
        matches!(&e, SwarmError::PortTaken { by, .. } if by.contains(first.name.as_str())),
        "{e}"
    );

    // A bind mount outside the allowed directories (and one inside is accepted).
    let mut spec = f.spec("bind", &v1, 1);
    spec.mounts.push(Mount {
        source: MountSource::Bind(HostPath::parse("/etc").unwrap()),
        target: MountPath::parse("/host-etc").unwrap(),
        read_only: true,
    });
    let e = deploy(spec.clone()).await;
    assert!(
        matches!(&e, SwarmError::BindMountNotAllowed { path, .. } if path == "/etc"),
        "{e}"
    );
    spec.mounts[0].source =
        MountSource::Bind(HostPath::parse(root.path().to_str().unwrap()).unwrap());
    f.deploy(&spec).await;

    // Invalid specifications never reach the engine; negative replicas are not even a value.
    assert!(Replicas::parse(-1).is_err());
    let mut spec = f.spec("invalid", &v1, 1);
    spec.labels.insert("berth.managed".into(), "false".into());
    let e = deploy(spec).await;
    assert!(matches!(e, SwarmError::Invalid(_)), "{e}");

    // Ingress publishing needs the routing mesh; where the kernel lacks IPVS it is refused
    // with the reason instead of creating a port nobody can reach.
    if let RoutingMesh::Unavailable(why) = f.swarm.routing_mesh().clone() {
        let mut spec = f.spec("ingress", &v1, 1);
        spec.ports[0].mode = PublishMode::Ingress;
        spec.ports[0].published = Some(PortNumber::parse(i64::from(free) + 1).unwrap());
        let e = deploy(spec).await;
        assert!(
            matches!(&e, SwarmError::RoutingMeshUnavailable { why: w, .. } if *w == why),
            "{e}"
        );
    }

    // A service that cannot be scheduled does not converge: reported with what the tasks
    // said, and removed.
    let mut spec = f.spec("unplaceable", &v1, 1);
    spec.constraints
        .push("node.labels.berth-test-nowhere==yes".into());
    let e = f
        .swarm
        .deploy(&spec, &sink, &CancelToken::new(), Duration::from_secs(3))
        .await
        .unwrap_err();
    match &e {
        SwarmError::NotConverged { tasks, .. } => {
            assert!(tasks.iter().any(|t| t.contains("pending")), "{e}")
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(matches!(
        f.swarm.status(spec.name.as_str()).await,
        Err(SwarmError::NotFound(_))
    ));

    // A first version that never gets healthy fails the deploy with the task's error.
    let broken = f.image("broken", false).await;
    let e = deploy(f.spec("unhealthy", &broken, 1)).await;
    assert!(
        matches!(&e, SwarmError::Failed { reason } if reason.contains("health check") && reason.contains("404")),
        "{e}"
    );

    // Operations on a service that does not exist say so.
    let ghost = format!("{}-ghost", f.prefix);
    assert!(matches!(
        f.swarm.scale(&ghost, 2, &sink, TIMEOUT).await,
        Err(SwarmError::NotFound(_))
    ));
    f.swarm.remove(&ghost, true).await.unwrap();
}
