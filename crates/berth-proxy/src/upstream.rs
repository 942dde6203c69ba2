//! HTTP/1.1 to replicas, spoken inside the request's own task: the request head and body are
//! written to the replica's socket, the response head parsed from it, and the response body
//! read from it as the client takes it (no connection task, no channel between the two).
//! Each worker keeps its own idle connections by address; a connection goes back to its pool
//! once its response was read to the end, and the next request takes the newest one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Body, BoxError};

/// An idle connection is closed after this long unused.
const IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per replica and worker; more are closed.
const MAX_IDLE: usize = 512;
/// The most a response head (status line and headers) may take.
const MAX_HEAD: usize = 64 * 1024;
/// The most headers a response may have.
const MAX_HEADERS: usize = 128;
/// Trailers of a chunked response are read and dropped, up to this much.
const MAX_TRAILERS: usize = 16 * 1024;
const READ_CHUNK: usize = 16 * 1024;

#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made: nothing was sent.
    Connect(std::io::Error),
    /// The client's request body failed (or went over the limit).
    Body(BoxError),
    /// The exchange with the replica failed.
    Exchange(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(e) => write!(f, "connecting failed: {e}"),
            SendError::Body(e) => write!(f, "the request body failed: {e}"),
            SendError::Exchange(e) => f.write_str(e),
        }
    }
}

fn exchange_error(what: &str, e: impl std::fmt::Display) -> SendError {
    SendError::Exchange(format!("{what}: {e}"))
}

/// How the request body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestFraming {
    /// No body.
    None,
    /// As many bytes as the `Content-Length` header says.
    Length,
    /// Chunked (the client's own framing is unknown or was chunked).
    Chunked,
}

/// A connection to a replica and what was read from it but not used yet.
pub(crate) struct Conn {
    io: TcpStream,
    buf: BytesMut,
}

impl Conn {
    /// The socket and the bytes the replica sent after its 101 response.
    pub(crate) fn into_parts(self) -> (TcpStream, Bytes) {
        (self.io, self.buf.freeze())
    }
}

/// What the replica answered.
pub(crate) enum Answer {
    Response(Response<Body>),
    /// 101: the response head, and the connection now carrying the upgraded protocol.
    Upgrade(Response<()>, Conn),
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// One worker's connections to the replicas.
pub(crate) struct Pool {
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>>>,
    connect_timeout: Duration,
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            idle: Mutex::new(HashMap::new()),
            connect_timeout,
        })
    }

    /// Sends a request to `addr`: `headers` as given (hop-by-hop ones already removed, `Host`
    /// set), `path` in origin form, `body` framed as `framing` says (`None` with
    /// [`RequestFraming::None`]). An idle connection is used when there is one; if the
    /// replica had closed it before any of the response came, a request without a body is
    /// sent again on another.
    pub(crate) async fn send(
        self: &Arc<Self>,
        addr: SocketAddr,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        mut body: Option<Body>,
        framing: RequestFraming,
    ) -> Result<Answer, SendError> {
        let head = encode_head(method, path, headers, framing);
        let head_only = *method == Method::HEAD;
        loop {
            let (mut conn, reused) = match self.take(addr) {
                Some(conn) => (conn, true),
                // Boxed: the connecting state is large and rarely needed.
                None => (Box::pin(self.connect(addr)).await?, false),
            };
            match exchange(&mut conn, &head, body.take(), framing, head_only).await {
                Ok(parsed) => return Ok(self.answer(addr, conn, parsed)),
                Err(Failure::Stale) if reused && framing == RequestFraming::None => continue,
                Err(Failure::Stale) => {
                    return Err(SendError::Exchange(
                        "the replica closed the connection without answering".into(),
                    ))
                }
                Err(Failure::Send(e)) => return Err(e),
            }
        }
    }

    fn answer(self: &Arc<Self>, addr: SocketAddr, conn: Conn, parsed: Parsed) -> Answer {
        let Parsed {
            response,
            framing,
            reusable,
        } = parsed;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            return Answer::Upgrade(response, conn);
        }
        let state = match framing {
            ResponseFraming::Empty => {
                if reusable && conn.buf.is_empty() {
                    self.put(addr, conn);
                }
                return Answer::Response(response.map(|()| crate::empty()));
            }
            ResponseFraming::Length(n) => State::Length(n),
            ResponseFraming::Chunked => State::ChunkSize,
            ResponseFraming::Close => State::Close,
        };
        let body = UpstreamBody {
            conn: Some(conn),
            state,
            reusable,
            pool: self.clone(),
            addr,
        };
        Answer::Response(response.map(|()| body.boxed()))
    }

    fn take(&self, addr: SocketAddr) -> Option<Conn> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&addr)?;
        while let Some(c) = list.pop() {
            if c.since.elapsed() < IDLE && still_open(&c.conn.io) {
                return Some(c.conn);
            }
        }
        None
    }

    fn put(&self, addr: SocketAddr, conn: Conn) {
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
            conn,
            since: Instant::now(),
        });
    }

    async fn connect(&self, addr: SocketAddr) -> Result<Conn, SendError> {
        let io = match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(io)) => io,
            Ok(Err(e)) => return Err(SendError::Connect(e)),
            Err(_) => {
                return Err(SendError::Connect(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the replica did not accept the connection in time",
                )))
            }
        };
        let _ = io.set_nodelay(true);
        Ok(Conn {
            io,
            buf: BytesMut::new(),
        })
    }
}

/// An idle connection the replica has not closed (and sent nothing on).
fn still_open(io: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(io.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

fn encode_head(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    framing: RequestFraming,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(path.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if framing == RequestFraming::Chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

enum Failure {
    /// The connection was closed before any of the response arrived.
    Stale,
    Send(SendError),
}

enum ResponseFraming {
    Empty,
    Length(u64),
    Chunked,
    Close,
}

struct Parsed {
    response: Response<()>,
    framing: ResponseFraming,
    reusable: bool,
}

async fn exchange(
    conn: &mut Conn,
    head: &[u8],
    body: Option<Body>,
    framing: RequestFraming,
    head_only: bool,
) -> Result<Parsed, Failure> {
    match write_request(conn, head, body, framing).await {
        Ok(()) => read_response(conn, head_only).await,
        // Writing failed: the replica may still have answered (and closed); read that. The
        // request was not written whole, so the connection is never used again.
        Err(SendError::Exchange(_)) => match read_response(conn, head_only).await {
            Ok(parsed) => Ok(Parsed {
                reusable: false,
                ..parsed
            }),
            Err(_) => Err(Failure::Stale),
        },
        Err(e) => Err(Failure::Send(e)),
    }
}

async fn write_request(
    conn: &mut Conn,
    head: &[u8],
    body: Option<Body>,
    framing: RequestFraming,
) -> Result<(), SendError> {
    let write = |e| exchange_error("sending the request failed", e);
    conn.io.write_all(head).await.map_err(write)?;
    let Some(mut body) = body else {
        return Ok(());
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(SendError::Body)?;
        let Ok(data) = frame.into_data() else {
            continue; // Trailers of the client's request are not forwarded.
        };
        if data.is_empty() {
            continue;
        }
        if framing == RequestFraming::Chunked {
            // Size line, data and end of chunk in one vectored write.
            let mut chunk = Bytes::from(format!("{:x}\r\n", data.len()))
                .chain(data)
                .chain(&b"\r\n"[..]);
            conn.io.write_all_buf(&mut chunk).await.map_err(write)?;
        } else {
            conn.io.write_all(&data).await.map_err(write)?;
        }
    }
    if framing == RequestFraming::Chunked {
        conn.io.write_all(b"0\r\n\r\n").await.map_err(write)?;
    }
    Ok(())
}

/// Reads the response head (passing over interim 1xx responses other than 101).
async fn read_response(conn: &mut Conn, head_only: bool) -> Result<Parsed, Failure> {
    let mut received = false;
    loop {
        if !conn.buf.is_empty() {
            received = true;
            match parse_head(&mut conn.buf, head_only).map_err(Failure::Send)? {
                Some(parsed) => {
                    let status = parsed.response.status();
                    if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
                        continue;
                    }
                    return Ok(parsed);
                }
                None if conn.buf.len() > MAX_HEAD => {
                    return Err(Failure::Send(SendError::Exchange(
                        "the replica's response head is too large".into(),
                    )))
                }
                None => {}
            }
        }
        conn.buf.reserve(READ_CHUNK);
        match conn.io.read_buf(&mut conn.buf).await {
            Ok(0) | Err(_) if !received => return Err(Failure::Stale),
            Ok(0) => {
                return Err(Failure::Send(SendError::Exchange(
                    "the replica closed the connection in the middle of its response head".into(),
                )))
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Failure::Send(exchange_error(
                    "reading the response failed",
                    e,
                )))
            }
        }
    }
}

/// A complete response head at the start of `buf`, taken out of it; `None` when more bytes
/// are needed.
fn parse_head(buf: &mut BytesMut, head_only: bool) -> Result<Option<Parsed>, SendError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(exchange_error("the replica's response is not HTTP/1.1", e)),
    };
    let code = parsed.code.unwrap_or(502);
    let http11 = parsed.version == Some(1);
    let base = buf.as_ptr() as usize;
    // Where each name and value sits in the head, so the values can share its bytes.
    let spans: Vec<(usize, usize, usize, usize)> = parsed
        .headers
        .iter()
        .map(|h| {
            let n = h.name.as_ptr() as usize - base;
            let v = h.value.as_ptr() as usize - base;
            (n, h.name.len(), v, h.value.len())
        })
        .collect();
    let head = buf.split_to(len).freeze();
    let status = StatusCode::from_u16(code)
        .map_err(|e| exchange_error("the replica's status is not valid", e))?;
    let mut headers = HeaderMap::with_capacity(spans.len());
    for (n, nl, v, vl) in spans {
        let name = HeaderName::from_bytes(&head[n..n + nl])
            .map_err(|e| exchange_error("a response header name is not valid", e))?;
        let value = HeaderValue::from_maybe_shared(head.slice(v..v + vl))
            .map_err(|e| exchange_error("a response header value is not valid", e))?;
        headers.append(name, value);
    }
    let close = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("close"));
    let framing = if head_only
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        ResponseFraming::Empty
    } else if let Some(te) = headers.get(header::TRANSFER_ENCODING) {
        let chunked = te
            .to_str()
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        // RFC 9112 6.3: with Transfer-Encoding, Content-Length means nothing.
        headers.remove(header::CONTENT_LENGTH);
        if chunked {
            ResponseFraming::Chunked
        } else {
            ResponseFraming::Close
        }
    } else if headers.contains_key(header::CONTENT_LENGTH) {
        let mut lengths = headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .flat_map(|v| v.to_str().ok().unwrap_or("x").split(','))
            .map(|v| {
                let v = v.trim();
                // Digits only (RFC 9110 8.6): no sign, no space inside.
                match !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    true => v.parse::<u64>().map_err(|_| ()),
                    false => Err(()),
                }
            });
        let first = lengths.next();
        match first {
            Some(Ok(n)) if lengths.all(|l| l.as_ref().ok() == Some(&n)) => match n {
                0 => ResponseFraming::Empty,
                n => ResponseFraming::Length(n),
            },
            _ => {
                return Err(SendError::Exchange(
                    "the replica's Content-Length is not valid".into(),
                ))
            }
        }
    } else {
        ResponseFraming::Close
    };
    let reusable = http11 && !close && !matches!(framing, ResponseFraming::Close);
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = Version::HTTP_11;
    *response.headers_mut() = headers;
    Ok(Some(Parsed {
        response,
        framing,
        reusable,
    }))
}

enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    Close,
    Done,
}

/// A replica's response body read from its socket as the client takes it. Read to the end,
/// its connection goes back to the pool (when the replica keeps connections); dropped before
/// that, the connection closes with it.
struct UpstreamBody {
    conn: Option<Conn>,
    state: State,
    reusable: bool,
    pool: Arc<Pool>,
    addr: SocketAddr,
}

impl UpstreamBody {
    fn finish(&mut self) {
        self.state = State::Done;
        if let Some(conn) = self.conn.take() {
            // Bytes after the response: the replica is confused; do not reuse.
            if self.reusable && conn.buf.is_empty() {
                self.pool.put(self.addr, conn);
            }
        }
    }
}

/// Reads more from the replica into the connection's buffer; `Ok(0)` when it closed.
fn poll_fill(conn: &mut Conn, cx: &mut Context<'_>) -> Poll<Result<usize, BoxError>> {
    conn.buf.reserve(READ_CHUNK);
    loop {
        match conn.io.try_read_buf(&mut conn.buf) {
            Ok(n) => return Poll::Ready(Ok(n)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                ready!(conn.io.poll_read_ready(cx))?;
            }
            Err(e) => return Poll::Ready(Err(Box::new(e))),
        }
    }
}

fn truncated() -> BoxError {
    "the replica closed the connection before the end of its response".into()
}

fn not_chunked() -> BoxError {
    "the replica's chunked response is not valid".into()
}

impl hyper::body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let Some(conn) = this.conn.as_mut() else {
                this.state = State::Done;
                return Poll::Ready(None);
            };
            // What to do when more bytes are needed: wait for them, or fail when the
            // replica closed (in every state but `Close`, before the end).
            let need_more = match this.state {
                State::Done => return Poll::Ready(None),
                State::Length(0) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                State::Length(left) | State::ChunkData(left) => {
                    if conn.buf.is_empty() {
                        true
                    } else {
                        let n = conn
                            .buf
                            .len()
                            .min(usize::try_from(left).unwrap_or(usize::MAX));
                        let data = conn.buf.split_to(n).freeze();
                        let left = left - n as u64;
                        this.state = match this.state {
                            State::Length(_) => State::Length(left),
                            _ if left == 0 => State::ChunkEnd,
                            _ => State::ChunkData(left),
                        };
                        if matches!(this.state, State::Length(0)) {
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                State::ChunkSize => match httparse::parse_chunk_size(&conn.buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        conn.buf.advance(used);
                        this.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                        false
                    }
                    Ok(httparse::Status::Partial) if conn.buf.len() < 1024 => true,
                    _ => {
                        this.conn = None;
                        return Poll::Ready(Some(Err(not_chunked())));
                    }
                },
                State::ChunkEnd => {
                    if conn.buf.len() < 2 {
                        true
                    } else if &conn.buf[..2] == b"\r\n" {
                        conn.buf.advance(2);
                        this.state = State::ChunkSize;
                        false
                    } else {
                        this.conn = None;
                        return Poll::Ready(Some(Err(not_chunked())));
                    }
                }
                State::Trailers => {
                    // Lines until an empty one, each dropped.
                    match conn.buf.windows(2).position(|w| w == b"\r\n") {
                        Some(0) => {
                            conn.buf.advance(2);
                            this.finish();
                            return Poll::Ready(None);
                        }
                        Some(end) => {
                            conn.buf.advance(end + 2);
                            false
                        }
                        None if conn.buf.len() > MAX_TRAILERS => {
                            this.conn = None;
                            return Poll::Ready(Some(Err(
                                "the replica's trailers are too large".into()
                            )));
                        }
                        None => true,
                    }
                }
                State::Close => {
                    if conn.buf.is_empty() {
                        true
                    } else {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            };
            if !need_more {
                continue;
            }
            match ready!(poll_fill(conn, cx)) {
                Ok(0) if matches!(this.state, State::Close) => {
                    this.conn = None;
                    this.state = State::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(truncated())));
                }
                Ok(_) => {}
                Err(e) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done | State::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}
