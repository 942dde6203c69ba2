//! Connections to replicas. Each worker keeps its own by address: a connection goes back to
//! its worker's pool when the response it carried has been read to the end, and the next
//! request to that replica takes the most recently used one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::{Body, BoxError};

/// An idle connection is closed after this long unused.
const IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per replica and worker; more are closed.
const MAX_IDLE: usize = 512;

#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made: nothing was sent.
    Connect(std::io::Error),
    /// The exchange failed after the request was (or may have been) sent.
    Exchange(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(e) => write!(f, "connecting failed: {e}"),
            SendError::Exchange(e) => write!(f, "{e}"),
        }
    }
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

/// One worker's connections to the replicas.
pub(crate) struct Pool {
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>>>,
    connect_timeout: Duration,
}

/// A connection lent to one exchange.
pub(crate) struct Lease {
    pool: Arc<Pool>,
    addr: SocketAddr,
    sender: SendRequest<Body>,
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(HashMap::new()),
            connect_timeout,
        })
    }

    /// Sends `req` (origin-form URI) to `addr` on an idle connection, or a new one when none
    /// is idle or the idle one turns out closed before the request went out.
    pub(crate) async fn send(
        self: &Arc<Self>,
        addr: SocketAddr,
        mut req: Request<Body>,
    ) -> Result<(Response<Incoming>, Lease), SendError> {
        while let Some(mut sender) = self.take(addr) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(response) => return Ok((response, self.lease(addr, sender))),
                Err(mut e) => match e.take_message() {
                    // Never written: the connection was closing. Another one gets it.
                    Some(unsent) => req = unsent,
                    None => return Err(SendError::Exchange(e.into_error())),
                },
            }
        }
        // Boxed: the connecting state is large and rarely needed, the exchange stays small.
        let mut sender = Box::pin(self.connect(addr)).await?;
        match sender.send_request(req).await {
            Ok(response) => Ok((response, self.lease(addr, sender))),
            Err(e) => Err(SendError::Exchange(e)),
        }
    }

    fn lease(self: &Arc<Self>, addr: SocketAddr, sender: SendRequest<Body>) -> Lease {
        Lease {
            pool: self.clone(),
            addr,
            sender,
        }
    }

    fn take(&self, addr: SocketAddr) -> Option<SendRequest<Body>> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&addr)?;
        while let Some(c) = list.pop() {
            if !c.sender.is_closed() && c.since.elapsed() < IDLE {
                return Some(c.sender);
            }
        }
        None
    }

    fn put(&self, addr: SocketAddr, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let list = idle.entry(addr).or_default();
        // The oldest are first: close those unused for too long, and any over the cap.
        let stale = list
            .iter()
            .take_while(|c| c.since.elapsed() >= IDLE)
            .count()
            .max((list.len() + 1).saturating_sub(MAX_IDLE));
        list.drain(..stale.min(list.len()));
        list.push(Idle {
            sender,
            since: Instant::now(),
        });
    }

    async fn connect(&self, addr: SocketAddr) -> Result<SendRequest<Body>, SendError> {
        let tcp =
            match tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(addr))
                .await
            {
                Ok(Ok(tcp)) => tcp,
                Ok(Err(e)) => return Err(SendError::Connect(e)),
                Err(_) => {
                    return Err(SendError::Connect(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the replica did not accept the connection in time",
                    )))
                }
            };
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(SendError::Exchange)?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }
}

/// A replica's response body that gives its connection back to the pool once read to the
/// end. Dropped before that, the connection closes with it.
pub(crate) struct Returning {
    body: Incoming,
    lease: Option<Lease>,
}

impl Returning {
    pub(crate) fn new(body: Incoming, lease: Lease) -> Self {
        Self {
            body,
            lease: Some(lease),
        }
    }

    fn give_back(&mut self) {
        if let Some(l) = self.lease.take() {
            l.pool.put(l.addr, l.sender);
        }
    }
}

impl hyper::body::Body for Returning {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match polled {
            Poll::Ready(None) => {
                self.give_back();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                // The connection is broken; it closes with the lease.
                self.lease = None;
                Poll::Ready(Some(Err(Box::new(e))))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if hyper::body::Body::is_end_stream(&self.body) {
                    self.give_back();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        // A body with nothing in it (HEAD, 204, 304) may never be polled.
        if hyper::body::Body::is_end_stream(&self.body) {
            self.give_back();
        }
    }
}

/// The response as the client gets it.
pub(crate) fn into_body(body: Incoming, lease: Lease) -> Body {
    http_body_util::BodyExt::boxed(Returning::new(body, lease))
}
