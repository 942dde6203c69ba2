//! What a build tells while it runs. Events go to a bounded channel that the caller owns.
//!
//! Policy: the engine never waits for a slow reader. When the channel is full, the event is
//! dropped and counted; the count comes back in the result ([`crate::BuiltImage::dropped_events`])
//! so a reader knows its view has gaps. The build's own outcome never depends on the reader.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEvent {
    /// Fetching the source: objects received so far.
    Fetch { received: usize, total: usize },
    /// The commit that was checked out.
    CheckedOut { sha: String, message: String },
    /// A Dockerfile step began ("Step 3/7 : RUN make").
    Step {
        number: u32,
        total: u32,
        text: String,
    },
    /// One line of output.
    Line {
        at: DateTime<Utc>,
        stream: OutputStream,
        text: String,
    },
}

/// The sending side of a build's events.
#[derive(Debug)]
pub struct EventSink {
    tx: Option<mpsc::Sender<BuildEvent>>,
    dropped: AtomicU64,
}

impl EventSink {
    /// A sink and the receiver the caller reads from; at most `capacity` events wait.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<BuildEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Self {
                tx: Some(tx),
                dropped: AtomicU64::new(0),
            },
            rx,
        )
    }

    /// A sink that discards everything.
    pub fn discard() -> Self {
        Self {
            tx: None,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn emit(&self, event: BuildEvent) {
        if let Some(tx) = &self.tx {
            if tx.try_send(event).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn line(&self, stream: OutputStream, text: impl Into<String>) {
        self.emit(BuildEvent::Line {
            at: Utc::now(),
            stream,
            text: text.into(),
        });
    }

    /// How many events were dropped because the reader was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_drops_and_counts_instead_of_waiting() {
        let (sink, mut rx) = EventSink::channel(2);
        for i in 0..5 {
            sink.line(OutputStream::Stdout, format!("line {i}"));
        }
        assert_eq!(sink.dropped(), 3);
        assert!(matches!(rx.try_recv(), Ok(BuildEvent::Line { text, .. }) if text == "line 0"));
        assert!(matches!(rx.try_recv(), Ok(BuildEvent::Line { text, .. }) if text == "line 1"));
        assert!(rx.try_recv().is_err());
    }
}

/// Stops one build (or one fetch) and nothing else. Cheap to clone; every clone cancels the
/// same build.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: std::sync::Arc<(std::sync::atomic::AtomicBool, tokio::sync::Notify)>,
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.inner.0.store(true, Ordering::SeqCst);
        self.inner.1.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.0.load(Ordering::SeqCst)
    }

    /// Resolves once [`Self::cancel`] has been called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}
