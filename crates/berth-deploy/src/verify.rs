//! The verify step's HTTP check, made from outside the containers: every running replica must
//! answer `GET path` on its published port with 2xx before the deadline.
//!
//! Replicas are reached the way the edge router reaches them (`docs/architecture.md`,
//! "Reaching applications"): at each replica's own address on the engine's gateway bridge,
//! whether or not the port is published.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use berth_domain::HttpVerify;
use berth_events::CancelToken;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Why the check did not pass.
pub(crate) enum Failed {
    Cancelled,
    Answer(String),
}

/// Probes until every running replica answered 2xx once, or the check's timeout passes.
/// Returns what passed, for the log.
pub(crate) async fn check(
    orchestrator: &dyn crate::Orchestrator,
    service: &str,
    check: &HttpVerify,
    cancel: &CancelToken,
) -> Result<String, Failed> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(check.timeout_s.into());
    let port = check.port.get();
    let path = check.http_path.as_str();
    // Task id -> the last thing it said; `None` once it answered 2xx.
    let mut pending: BTreeMap<String, Option<String>> = BTreeMap::new();
    loop {
        if cancel.is_cancelled() {
            return Err(Failed::Cancelled);
        }
        let endpoints = orchestrator
            .endpoints(service, port)
            .await
            .map_err(|e| Failed::Answer(e.to_string()))?;
        for e in &endpoints {
            let last = pending
                .entry(e.task_id.clone())
                .or_insert_with(|| Some(String::new()));
            if last.is_none() {
                continue;
            }
            // Each probe gets at least a second, so the last round still gets an answer.
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let wait = remaining.clamp(Duration::from_secs(1), Duration::from_secs(5));
            *last = match probe(e.addr, path, wait).await {
                Ok(status) if (200..300).contains(&status) => None,
                Ok(status) => Some(format!("answered {status}")),
                Err(why) => Some(why),
            };
        }
        let running: Vec<&String> = endpoints.iter().map(|e| &e.task_id).collect();
        let failing: Vec<(&String, &String)> = pending
            .iter()
            .filter(|(task, _)| running.contains(task))
            .filter_map(|(task, last)| last.as_ref().map(|l| (task, l)))
            .collect();
        if !running.is_empty() && failing.is_empty() {
            return Ok(format!(
                "{} of {} replicas answered GET {path} on port {port} with 2xx",
                running.len(),
                running.len()
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            let why = match failing.first() {
                Some((task, last)) => format!(
                    "replica {} {last} to GET {path} on port {port} within {} s",
                    &task[..task.len().min(12)],
                    check.timeout_s
                ),
                None => format!("no replica was running to answer GET {path} on port {port}"),
            };
            return Err(Failed::Answer(why));
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            () = cancel.cancelled() => return Err(Failed::Cancelled),
        }
    }
}

/// One `GET path` on `addr`; the status code, or why there was none.
async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, String> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("could not be reached ({e})"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("did not speak HTTP ({e})"))?;
        let driver = tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, addr.to_string())
            .header(hyper::header::USER_AGENT, "berth-verify")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("could not be asked ({e})"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("did not answer ({e})"));
        driver.abort();
        Ok(response?.status().as_u16())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("did not answer within {} ms", timeout.as_millis())),
    }
}
