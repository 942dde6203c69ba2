use berth_events::CancelToken;
use berth_swarm::{Change, DeployOutcome, SwarmEvent};

use crate::fixture::{events, Fixture, Load, TIMEOUT};

/// Two replicas serve; v2 rolls out under load with no failed request; v3, whose health check
/// fails, is rolled back by Swarm with the reason, and v2 serves throughout.
#[tokio::test]
async fn rolling_updates_keep_serving_and_a_failing_version_is_rolled_back() {
    let f = Fixture::new().await;
    let (v1, v2, v3) = (
        f.image("v1", true).await,
        f.image("v2", true).await,
        f.image("v3", false).await,
    );
    let mut spec = f.spec("web", &v1, 2);
    let name = spec.name.to_string();

    let (sink, mut rx) = events();
    let outcome = f
        .swarm
        .deploy(&spec, &sink, &CancelToken::new(), TIMEOUT)
        .await
        .unwrap();
    assert!(
        matches!(outcome, DeployOutcome::Converged { running: 2, .. }),
        "{outcome:?}"
    );
    let mut saw_running = false;
    while let Ok(e) = rx.try_recv() {
        if let SwarmEvent::Task {
            state,
            current: true,
            ..
        } = e
        {
            saw_running |= state == "running";
        }
    }
    assert!(saw_running, "task progress was reported");

    // Both replicas answer, each on its own port, each with its own hostname.
    let answers = f.answers(&name).await;
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers.iter().all(|a| a.starts_with("v1 ")), "{answers:?}");
    assert_ne!(answers[0], answers[1], "two distinct replicas serve");

    // Deploying the same specification again changes nothing and returns at once.
    let again = f.deploy(&spec).await;
    assert!(matches!(
        again,
        DeployOutcome::Converged {
            running: 2,
            change: Change::Unchanged,
            ..
        }
    ));
    assert_eq!(f.answers(&name).await, answers, "no replica was replaced");

    // v2 under a steady client load.
    let load = Load::start(&f.swarm, &name);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    spec.image = v2.clone();
    let outcome = f.deploy(&spec).await;
    assert!(
        matches!(outcome, DeployOutcome::Converged { running: 2, .. }),
        "{outcome:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (requests, failures, seen) = load.finish().await;
    println!(
        "rolling update v1 -> v2: {requests} requests, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:?}",
        failures.len()
    );
    assert_eq!(seen.first().map(String::as_str), Some("v1"));
    assert_eq!(seen.last().map(String::as_str), Some("v2"));
    assert!(f.answers(&name).await.iter().all(|a| a.starts_with("v2 ")));

    // v3 never becomes healthy: rolled back, v2 serving all along.
    let load = Load::start(&f.swarm, &name);
    spec.image = v3;
    let outcome = f.deploy(&spec).await;
    let (requests, failures, seen) = load.finish().await;
    println!(
        "failed update v2 -> v3: {requests} requests, {} failed",
        failures.len()
    );
    match outcome {
        DeployOutcome::RolledBack { reason, .. } => {
            // The check's own output says why: /health answers 404 in v3.
            assert!(
                reason.contains("health check") && reason.contains("404"),
                "{reason}"
            )
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:?}",
        failures.len()
    );
    assert!(seen.iter().all(|v| v == "v2"), "only v2 answered: {seen:?}");
    let answers = f.answers(&name).await;
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|a| a.starts_with("v2 ")), "{answers:?}");
    let status = f.swarm.status(&name).await.unwrap();
    assert_eq!((status.desired, status.running), (2, 2));

    // Swarm's previous specification is now the failed v3: berth refuses to go "back" to it.
    let refused = f
        .swarm
        .rollback(&name, &sink, &CancelToken::new(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, berth_swarm::SwarmError::NothingToRollBack(_)),
        "{refused}"
    );
    assert!(f.answers(&name).await.iter().all(|a| a.starts_with("v2 ")));
}
