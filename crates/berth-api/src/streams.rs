//! Live streams (Server-Sent Events) hold a connection and a task each for as long as the
//! client stays: how many may be open, per user and in all. A stream holds a [`Permit`] for
//! its life; the permit is given back when the stream is dropped, however it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_domain::UserId;

use crate::ApiError;

/// The answer of every live stream: Server-Sent Events, never cached or buffered on the way.
pub(crate) fn event_stream<S>(events: S) -> actix_web::HttpResponse
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> + 'static,
{
    actix_web::HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(events)
}

/// What a live stream sends, chunk by chunk: its next chunk (an event, or a keep-alive
/// comment), `None` once it is over.
pub(crate) trait Chunks: Sized + 'static {
    fn next_chunk(&mut self) -> impl std::future::Future<Output = Option<bytes::Bytes>>;
}

/// The answer of a live stream that sends what `source` gives until it ends.
pub(crate) fn follow<S: Chunks>(source: S) -> actix_web::HttpResponse {
    event_stream(futures_util::stream::unfold(source, |mut s| async move {
        let chunk = s.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), s))
    }))
}

#[derive(Debug)]
pub struct StreamLimits {
    pub total: usize,
    pub per_user: usize,
    open: Mutex<(usize, HashMap<UserId, usize>)>,
}

impl StreamLimits {
    pub fn new(total: usize, per_user: usize) -> Arc<Self> {
        Arc::new(Self {
            total,
            per_user,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A permit for one more stream of `user`, or 429 saying which limit is reached.
    pub fn acquire(self: &Arc<Self>, user: Option<UserId>) -> Result<Permit, ApiError> {
        let mut open = self
            .open
            .lock()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("stream limits lock poisoned")))?;
        if open.0 >= self.total {
            return Err(ApiError::TooManyStreams(format!(
                "berth serves {} live streams at most and that many are open; try again shortly",
                self.total
            )));
        }
        if let Some(u) = user {
            let mine = open.1.entry(u).or_default();
            if *mine >= self.per_user {
                return Err(ApiError::TooManyStreams(format!(
                    "you have {} live streams open, the most one user may; close one first",
                    self.per_user
                )));
            }
            *mine += 1;
        }
        open.0 += 1;
        Ok(Permit {
            limits: self.clone(),
            user,
        })
    }

    /// Streams open now.
    pub fn open(&self) -> usize {
        self.open.lock().map(|o| o.0).unwrap_or(0)
    }
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            total: 256,
            per_user: 8,
            open: Mutex::new((0, HashMap::new())),
        }
    }
}

/// One open stream's place; given back on drop.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<StreamLimits>,
    user: Option<UserId>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut open) = self.limits.open.lock() {
            open.0 = open.0.saturating_sub(1);
            if let Some(u) = self.user {
                if let Some(n) = open.1.get_mut(&u) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        open.1.remove(&u);
                    }
                }
            }
        }
    }
}
