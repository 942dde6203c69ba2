use std::collections::HashMap;

use berth_swarm::RoutingMesh;

use crate::fixture::Fixture;

/// Setup is idempotent, leaves a manager with the shared overlay network, and gives what a
/// second machine needs to join.
#[tokio::test]
async fn setup_makes_a_manager_with_the_shared_network_and_join_tokens() {
    let f = Fixture::new().await;
    let info = f.swarm.setup().await.unwrap();
    assert!(!info.initialised, "the second setup finds the swarm there");
    assert!(info.join_tokens.worker.expose().starts_with("SWMTKN-"));
    assert!(info.join_tokens.manager.expose().starts_with("SWMTKN-"));
    assert_ne!(
        info.join_tokens.worker.expose(),
        info.join_tokens.manager.expose()
    );
    assert!(
        !format!("{:?}", info.join_tokens).contains("SWMTKN"),
        "tokens are redacted in logs"
    );
    assert!(
        info.manager_addr.ends_with(":2377"),
        "{}",
        info.manager_addr
    );
    let me = info.nodes.iter().find(|n| n.id == info.node_id).unwrap();
    assert_eq!((me.role.as_str(), me.state.as_str()), ("manager", "ready"));
    assert!(me.leader);
    let network = f
        .swarm
        .docker()
        .inspect_network(
            "berth",
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .unwrap();
    assert_eq!(network.driver.as_deref(), Some("overlay"));
    assert_eq!(network.attachable, Some(true));

    // A project's own network, made and removed idempotently.
    let project = format!("{}-project", f.prefix);
    f.swarm
        .ensure_network(&project, HashMap::new())
        .await
        .unwrap();
    f.swarm
        .ensure_network(&project, HashMap::new())
        .await
        .unwrap();
    f.swarm.remove_network(&project).await.unwrap();
    f.swarm.remove_network(&project).await.unwrap();

    // What the routing mesh can do here is known and, when it cannot work, says why.
    if let RoutingMesh::Unavailable(why) = info.routing_mesh {
        assert!(why.contains("IPVS"), "{why}");
    }
}
