//! Runtime logs of a service: every replica's output on every node, as the engine's
//! `/services/{id}/logs` gives it (the client library has no call for it; see [`crate::raw`]).

use std::collections::{HashMap, HashSet, VecDeque};

use bollard::models::TaskState;
use bollard::query_parameters::ListTasksOptions;
use bytes::{Buf, BytesMut};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::raw::check_name;
use crate::{Swarm, SwarmError};

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep the stream open and send new lines as they are written.
    pub follow: bool,
    /// Only the last `n` lines of each replica (all when `None`).
    pub tail: Option<u32>,
    /// Only lines written at or after this time.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: Option<DateTime<Utc>>,
    pub stream: LogStream,
    /// The task (replica) that wrote it.
    pub task_id: Option<String>,
    pub text: String,
}

impl Swarm {
    /// The service's output, both streams, with timestamps, oldest first; with `follow`, then
    /// every new line until the stream is dropped or the service goes away, including the
    /// lines of replicas that start later (a rollout, a restart, a scale-up).
    pub async fn logs(
        &self,
        name: &str,
        options: &LogOptions,
    ) -> Result<impl Stream<Item = Result<LogLine, SwarmError>> + Send + 'static, SwarmError> {
        let service = self
            .service(name)
            .await?
            .ok_or_else(|| SwarmError::NotFound(name.to_owned()))?;
        let id = service.id.unwrap_or_default();
        let (tx, rx) = mpsc::channel(1024);
        if options.follow {
            // The engine's follow mode keeps to the tasks that existed when it began, so each
            // running task is followed on its own, and tasks that start later are added.
            let swarm = self.clone();
            let options = options.clone();
            tokio::spawn(async move { swarm.follow(id, options, tx).await });
        } else {
            let path = format!("/services/{}/logs?{}", check_name(&id)?, query(options));
            let frames = Frames::new(self.raw(hyper::Method::GET, &path, None).await?);
            tokio::spawn(frames.forward(None, tx));
        }
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            let item = rx.recv().await?;
            Some((item, rx))
        }))
    }

    async fn follow(
        self,
        service_id: String,
        options: LogOptions,
        tx: mpsc::Sender<Result<LogLine, SwarmError>>,
    ) {
        let mut followed = HashSet::new();
        let mut first = true;
        while !tx.is_closed() {
            let filters = HashMap::from([
                ("service".to_owned(), vec![service_id.clone()]),
                ("desired-state".to_owned(), vec!["running".to_owned()]),
            ]);
            let tasks = match self
                .docker
                .list_tasks(Some(ListTasksOptions {
                    filters: Some(filters),
                }))
                .await
            {
                Ok(t) => t,
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            if self.service(&service_id).await.ok().flatten().is_none() {
                return;
            }
            for task in tasks {
                let Some(id) = task.id else { continue };
                let started = task
                    .status
                    .and_then(|s| s.state)
                    .is_some_and(|s| s == TaskState::RUNNING || s == TaskState::STARTING);
                if !started || !followed.insert(id.clone()) {
                    continue;
                }
                // Tasks there from the start honour `tail`; later ones are shown whole.
                let mut task_options = options.clone();
                if !first {
                    task_options.tail = None;
                }
                let Ok(checked) = check_name(&id) else {
                    continue;
                };
                let path = format!("/tasks/{checked}/logs?{}", query(&task_options));
                match self.raw(hyper::Method::GET, &path, None).await {
                    Ok(body) => {
                        tokio::spawn(Frames::new(body).forward(Some(id), tx.clone()));
                    }
                    Err(e) => tracing::debug!(task = %id, error = %e, "task logs not followed"),
                }
            }
            first = false;
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = tx.closed() => return,
            }
        }
    }
}

fn query(options: &LogOptions) -> String {
    let mut query = format!(
        "stdout=1&stderr=1&timestamps=1&details=1&follow={}",
        u8::from(options.follow)
    );
    if let Some(n) = options.tail {
        query.push_str(&format!("&tail={n}"));
    }
    if let Some(since) = options.since {
        query.push_str(&format!(
            "&since={}.{:09}",
            since.timestamp(),
            since.timestamp_subsec_nanos()
        ));
    }
    query
}

/// The engine's multiplexed stream: frames of an 8-byte header (stream, 3 zero bytes, length
/// big-endian) and a payload of `<timestamp> <details> <text>` lines.
struct Frames {
    body: Incoming,
    buffer: BytesMut,
    ready: VecDeque<LogLine>,
    done: bool,
}

impl Frames {
    fn new(body: Incoming) -> Self {
        Self {
            body,
            buffer: BytesMut::new(),
            ready: VecDeque::new(),
            done: false,
        }
    }

    /// Sends every line to `tx` (marked with `task_id` when the engine does not say) until the
    /// stream ends or nobody listens.
    async fn forward(
        mut self,
        task_id: Option<String>,
        tx: mpsc::Sender<Result<LogLine, SwarmError>>,
    ) {
        while let Some(mut item) = self.next().await {
            if let (Ok(line), Some(id)) = (&mut item, &task_id) {
                line.task_id.get_or_insert_with(|| id.clone());
            }
            if tx.send(item).await.is_err() {
                return;
            }
        }
    }

    async fn next(&mut self) -> Option<Result<LogLine, SwarmError>> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Some(Ok(line));
            }
            if self.done {
                return None;
            }
            while self.buffer.len() >= 8 {
                let len = u32::from_be_bytes([
                    self.buffer[4],
                    self.buffer[5],
                    self.buffer[6],
                    self.buffer[7],
                ]) as usize;
                if self.buffer.len() < 8 + len {
                    break;
                }
                let stream = if self.buffer[0] == 2 {
                    LogStream::Stderr
                } else {
                    LogStream::Stdout
                };
                self.buffer.advance(8);
                let payload = self.buffer.split_to(len);
                for raw in String::from_utf8_lossy(&payload).lines() {
                    self.ready.push_back(parse_line(stream, raw));
                }
            }
            if !self.ready.is_empty() {
                continue;
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(SwarmError::Engine(format!("logs: {e}"))));
                }
                None => self.done = true,
            }
        }
    }
}

fn parse_line(stream: LogStream, raw: &str) -> LogLine {
    let (at, rest) = match raw.split_once(' ') {
        Some((ts, rest)) => match DateTime::parse_from_rfc3339(ts) {
            Ok(t) => (Some(t.with_timezone(&Utc)), rest),
            Err(_) => (None, raw),
        },
        None => (None, raw),
    };
    // Details come first as `key=value,key=value` when the engine adds them.
    let (task_id, text) = match rest.split_once(' ') {
        Some((details, text)) if details.contains("com.docker.swarm.") => (
            details
                .split(',')
                .find_map(|kv| kv.strip_prefix("com.docker.swarm.task.id="))
                .map(str::to_owned),
            text,
        ),
        _ if rest.starts_with("com.docker.swarm.") => (None, ""),
        _ => (None, rest),
    };
    LogLine {
        at,
        stream,
        task_id,
        text: text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_with_timestamp_and_details_is_split() {
        let l = parse_line(
            LogStream::Stdout,
            "2026-11-22T22:56:44.491605304Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hello world",
        );
        assert_eq!(l.task_id.as_deref(), Some("t1"));
        assert_eq!(l.text, "hello world");
        assert!(l.at.is_some());
        let plain = parse_line(LogStream::Stderr, "no timestamp here");
        assert_eq!(plain.text, "no timestamp here");
        assert_eq!(plain.at, None);
    }
}
