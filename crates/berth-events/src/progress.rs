//! What a long operation (a build, a rollout) tells while it runs, and how it is stopped.
//!
//! A [`Sink`] sends an engine's events to a bounded channel that the caller owns. Policy: the
//! engine never waits for a slow reader. When the channel is full, the event is dropped and
//! counted; the engine returns the count with its result so a reader knows its view has gaps.
//! The operation's own outcome never depends on the reader.
//!
//! A [`CancelToken`] stops one operation and nothing else.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

/// The most turns [`Sink::pace`] gives a reader that is behind before the engine goes on.
const PACE_TURNS: usize = 16;

/// The sending side of one operation's events.
#[derive(Debug)]
pub struct Sink<E> {
    tx: Option<mpsc::Sender<E>>,
    dropped: AtomicU64,
}

impl<E> Sink<E> {
    /// A sink and the receiver the caller reads from; at most `capacity` events wait.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<E>) {
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

    pub fn emit(&self, event: E) {
        if let Some(tx) = &self.tx {
            if tx.try_send(event).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lets the reader catch up while half the channel waits: yields to the scheduler, a few
    /// times at most, and waits for nothing else. A task woken by the engine's own task runs
    /// on the same worker, after it, so an engine reading a fast stream (a build printing
    /// thousands of lines a second) would otherwise fill the channel before its reader ever ran
    /// and drop what it printed; a reader on another worker gets those turns' time too. Call
    /// it between the engine's events.
    pub async fn pace(&self) {
        if let Some(tx) = &self.tx {
            for _ in 0..PACE_TURNS {
                if tx.capacity() >= tx.max_capacity() / 2 {
                    return;
                }
                tokio::task::yield_now().await;
            }
        }
    }

    /// How many events were dropped because the reader was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Stops one operation. Cheap to clone; every clone cancels the same operation.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<(AtomicBool, Notify)>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_drops_and_counts_instead_of_waiting() {
        let (sink, mut rx) = Sink::channel(2);
        for i in 0..5 {
            sink.emit(i);
        }
        assert_eq!(sink.dropped(), 3);
        assert_eq!(rx.try_recv().ok(), Some(0));
        assert_eq!(rx.try_recv().ok(), Some(1));
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_engine_that_paces_itself_loses_nothing_to_a_reader_it_keeps_waking() {
        // The engine's loop never waits (`emit` is synchronous, as reading a buffered stream
        // is): the reader it wakes gets to run only because the engine paces itself.
        let (dropped, read) = tokio::spawn(async {
            let (sink, mut rx) = Sink::channel(64);
            let reader = tokio::spawn(async move {
                let mut n = 0u64;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                n
            });
            for i in 0..100_000u64 {
                sink.emit(i);
                sink.pace().await;
            }
            let dropped = sink.dropped();
            drop(sink);
            (dropped, reader.await.expect("the reader ends"))
        })
        .await
        .expect("the engine ends");
        assert_eq!((dropped, read), (0, 100_000));
    }

    #[tokio::test]
    async fn cancelling_wakes_a_waiter_and_stays_cancelled() {
        let token = CancelToken::new();
        let waiter = tokio::spawn({
            let token = token.clone();
            async move { token.cancelled().await }
        });
        token.cancel();
        waiter.await.expect("the waiter ends");
        assert!(token.is_cancelled());
        token.cancelled().await;
    }
}
