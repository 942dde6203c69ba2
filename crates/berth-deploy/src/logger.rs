//! A deployment's log: every line numbered by the store in order, written in small batches,
//! and published on the bus with its number once stored, so a live stream that replays the
//! store and then follows the bus sees every line exactly once.
//!
//! A log is kept within its limits (lines and bytes): its first lines stay, and once it would
//! pass a limit the oldest lines after them are dropped, one line saying how many standing
//! where they were. A live stream has seen them all as they came.

use std::collections::VecDeque;
use std::time::Duration;

use berth_domain::{DeploymentId, LogLevel, StepName};
use berth_events::{Event, EventBus};
use berth_store::{Actor, NewLogLine, Store};
use tokio::sync::mpsc;

/// Where a deployment's steps write. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Logger {
    tx: Option<mpsc::UnboundedSender<NewLogLine>>,
}

const BATCH: usize = 200;
const EVERY: Duration = Duration::from_millis(150);
/// A longer line is cut here (at a character boundary), marked with `…`.
const MAX_LINE: usize = 8 * 1024;

/// The most a deployment's stored log holds.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    pub max_lines: usize,
    pub max_bytes: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_lines: 10_000,
            max_bytes: 4 << 20,
        }
    }
}

/// What the writer stored so far, to keep the log within its limits.
struct Kept {
    limits: LogLimits,
    /// First lines, always kept.
    head: usize,
    head_bytes: usize,
    /// The line standing for the dropped ones, and how many it stands for.
    marker: Option<(i64, u64)>,
    /// The lines after the head (and the marker): sequence number and size.
    tail: VecDeque<(i64, usize)>,
    tail_bytes: usize,
}

impl Kept {
    fn new(limits: LogLimits) -> Self {
        Self {
            limits,
            head: 0,
            head_bytes: 0,
            marker: None,
            tail: VecDeque::new(),
            tail_bytes: 0,
        }
    }

    fn head_limit(&self) -> usize {
        (self.limits.max_lines / 10).clamp(1, 200)
    }

    fn stored(&mut self, seq: i64, bytes: usize) {
        // The head is a tenth of either limit at most.
        if self.head < self.head_limit() && self.head_bytes + bytes <= self.limits.max_bytes / 10 {
            self.head += 1;
            self.head_bytes += bytes;
        } else {
            self.tail.push_back((seq, bytes));
            self.tail_bytes += bytes;
        }
    }

    /// The lines to drop now, if the log passed a limit: `(marker, last dropped, count)`; it
    /// drops down to nine tenths of the limits, so this is not needed after every line.
    fn over(&mut self) -> Option<(i64, i64, u64)> {
        let lines = |k: &Self| k.head + usize::from(k.marker.is_some()) + k.tail.len();
        let bytes = |k: &Self| k.head_bytes + k.tail_bytes;
        if lines(self) <= self.limits.max_lines && bytes(self) <= self.limits.max_bytes {
            return None;
        }
        let (line_goal, byte_goal) = (
            self.limits.max_lines * 9 / 10,
            self.limits.max_bytes * 9 / 10,
        );
        let mut last = None;
        let mut count = 0u64;
        while (lines(self) > line_goal || bytes(self) > byte_goal) && self.tail.len() > 1 {
            let (seq, size) = self.tail.pop_front()?;
            self.tail_bytes -= size;
            if self.marker.is_none() {
                // The first line dropped becomes the marker.
                self.marker = Some((seq, 0));
            }
            last = Some(seq);
            count += 1;
        }
        let (marker, dropped) = self.marker.as_mut()?;
        *dropped += count;
        Some((*marker, last?, *dropped))
    }
}

impl Logger {
    /// A logger and the task that stores and publishes its lines; the task ends when every
    /// clone of the logger is dropped and the last batch is written.
    pub(crate) fn start(
        store: Store,
        bus: EventBus,
        deployment: DeploymentId,
        limits: LogLimits,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<NewLogLine>();
        let task = tokio::spawn(async move {
            let mut kept = Kept::new(limits);
            let mut open = true;
            while open {
                let mut batch = Vec::new();
                match rx.recv().await {
                    Some(line) => batch.push(line),
                    None => break,
                }
                let deadline = tokio::time::Instant::now() + EVERY;
                while batch.len() < BATCH {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(line)) => batch.push(line),
                        Ok(None) => {
                            open = false;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = write(&store, &bus, deployment, batch, &mut kept).await {
                    tracing::error!(%deployment, error = %e, "deployment log lines were lost");
                }
            }
        });
        (Self { tx: Some(tx) }, task)
    }

    pub(crate) fn line(&self, step: Option<StepName>, level: LogLevel, message: impl Into<String>) {
        let message: String = message.into();
        let Some(tx) = &self.tx else { return };
        for part in message.lines() {
            let mut text = part.to_owned();
            if text.len() > MAX_LINE {
                let mut cut = MAX_LINE;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push('…');
            }
            let _ = tx.send(NewLogLine {
                step,
                level,
                message: text,
            });
        }
    }

    /// No more lines from this handle; the writer finishes once every clone is closed or
    /// dropped.
    pub(crate) fn close(&mut self) {
        self.tx = None;
    }

    pub(crate) fn info(&self, step: StepName, message: impl Into<String>) {
        self.line(Some(step), LogLevel::Info, message);
    }

    pub(crate) fn error(&self, step: Option<StepName>, message: impl Into<String>) {
        self.line(step, LogLevel::Error, message);
    }
}

async fn write(
    store: &Store,
    bus: &EventBus,
    deployment: DeploymentId,
    batch: Vec<NewLogLine>,
    kept: &mut Kept,
) -> Result<(), berth_store::StoreError> {
    let scope = store.scope(Actor::System).await?;
    let stored = scope.append_logs(deployment, batch).await?;
    for l in &stored {
        kept.stored(l.seq, l.message.len());
    }
    if let Some((marker, to, dropped)) = kept.over() {
        let limits = kept.limits;
        let message = format!(
            "… {dropped} lines were dropped here: a deployment's log keeps its first lines and its last, {} lines and {} MiB at most",
            limits.max_lines,
            limits.max_bytes >> 20
        );
        scope.drop_logs(deployment, marker, to, message).await?;
    }
    scope.commit().await?;
    for l in stored {
        bus.publish(Event::DeploymentLog { line: l });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_long_log_keeps_its_first_and_last_lines_and_says_how_many_it_dropped() {
        let mut kept = Kept::new(LogLimits {
            max_lines: 100,
            max_bytes: 1 << 20,
        });
        // The store as the writer changes it.
        let mut store: BTreeMap<i64, String> = BTreeMap::new();
        for batch in (1..=1000i64).collect::<Vec<_>>().chunks(37) {
            for seq in batch {
                store.insert(*seq, format!("line {seq}"));
                kept.stored(*seq, 8);
            }
            if let Some((marker, to, dropped)) = kept.over() {
                store.retain(|s, _| !(*s > marker && *s <= to));
                store.insert(marker, format!("{dropped} dropped"));
            }
            assert!(store.len() <= 100, "{}", store.len());
        }
        let seqs: Vec<i64> = store.keys().copied().collect();
        assert_eq!(
            seqs[..10],
            (1..=10).collect::<Vec<_>>()[..],
            "the first lines stay"
        );
        assert_eq!(*seqs.last().unwrap(), 1000, "the last line stays");
        let marker = &store[&11];
        let dropped: usize = marker.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(
            dropped + store.len() - 1,
            1000,
            "{marker}: every line is counted"
        );
    }

    #[test]
    fn bytes_are_a_limit_too() {
        let mut kept = Kept::new(LogLimits {
            max_lines: 10_000,
            max_bytes: 10_000,
        });
        for seq in 1..=100i64 {
            kept.stored(seq, 1_000);
            kept.over();
            assert!(kept.head_bytes + kept.tail_bytes <= 10_000);
        }
        assert_eq!(kept.head, 1, "a tenth of the bytes");
        assert!(kept.marker.is_some());
    }
}
