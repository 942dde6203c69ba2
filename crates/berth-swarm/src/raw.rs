//! Requests to the engine made directly on its socket, for what the client library gets wrong
//! or lacks: a service's specification read, changed and written back as the engine's own JSON
//! (the library's model drops fields it spells differently, such as a container's health
//! check, so a read-modify-write through it would silently change the service), and the
//! service log stream. Paths are fixed; the only values put in them are service names that
//! passed [`check_name`] and ids the engine gave.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::{Swarm, SwarmError};

fn engine(e: impl std::fmt::Display) -> SwarmError {
    SwarmError::Engine(e.to_string())
}

/// Service names and ids are letters, digits, `-`, `_` and `.`; anything else names nothing.
pub(crate) fn check_name(name: &str) -> Result<&str, SwarmError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(name)
    } else {
        Err(SwarmError::NotFound(name.to_owned()))
    }
}

impl Swarm {
    /// `/v<negotiated version><path>`.
    pub(crate) fn versioned(&self, path: &str) -> String {
        let v = self.docker.client_version();
        format!("/v{}.{}{path}", v.major_version, v.minor_version)
    }

    /// Sends one request and returns the body of a 2xx answer; a 404 is
    /// [`SwarmError::NotFound`], another status an engine error with the engine's message.
    pub(crate) async fn raw(
        &self,
        method: hyper::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Incoming, SwarmError> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_default();
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(self.versioned(path))
            .header(hyper::header::HOST, "docker");
        if body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(engine)?;
        let response = if host.is_empty() || host.starts_with("unix://") {
            let socket = host
                .strip_prefix("unix://")
                .unwrap_or("/var/run/docker.sock");
            let stream = tokio::net::UnixStream::connect(socket)
                .await
                .map_err(engine)?;
            send(stream, request).await?
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            let stream = tokio::net::TcpStream::connect(addr.trim_end_matches('/'))
                .await
                .map_err(engine)?;
            send(stream, request).await?
        } else {
            return Err(SwarmError::Engine(format!(
                "berth needs the engine at a unix:// or tcp:// address, not {host}"
            )));
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response.into_body());
        }
        let text = response
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        if status == hyper::StatusCode::NOT_FOUND {
            Err(SwarmError::NotFound(message))
        } else {
            Err(SwarmError::Engine(format!(
                "{} (HTTP {})",
                message.trim(),
                status.as_u16()
            )))
        }
    }

    pub(crate) async fn raw_json(
        &self,
        method: hyper::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, SwarmError> {
        let body = body.map(|b| b.to_string().into_bytes());
        let bytes = self
            .raw(method, path, body)
            .await?
            .collect()
            .await
            .map_err(engine)?
            .to_bytes();
        if bytes.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(engine)
    }
}

async fn send<S>(
    stream: S,
    request: hyper::Request<Full<Bytes>>,
) -> Result<hyper::Response<Incoming>, SwarmError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(engine)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "engine connection ended");
        }
    });
    sender.send_request(request).await.map_err(engine)
}
