use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_proxy::{BasicAuthUser, Target, Upstreams, WwwRedirect};
use http_body_util::BodyExt;
use hyper::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixture::*;

#[tokio::test]
async fn hosts_and_path_prefixes_choose_the_replicas_and_forwarded_headers_are_the_routers() {
    let (shop, api) = (replica("shop").await, replica("api").await);
    let router = Router::start(|_| {}).await;
    let mut api_route = route("api", "shop.test", vec![api]);
    api_route.path_prefix = "/api".into();
    router
        .proxy
        .install(vec![route("shop", "Shop.Test", vec![shop]), api_route]);

    let a = http(router.http, get("shop.test", "/")).await;
    assert_eq!(a.status, 200);
    assert!(
        a.body.starts_with("shop GET / host=shop.test"),
        "{}",
        a.body
    );
    let a = http(router.http, get("SHOP.test.:80", "/api/orders")).await;
    assert!(a.body.starts_with("api GET /api/orders"), "{}", a.body);
    let a = http(router.http, get("shop.test", "/apiary")).await;
    assert!(
        a.body.starts_with("shop "),
        "whole segments only: {}",
        a.body
    );

    // X-Forwarded-* come from the router; what a client claims is dropped.
    let req = Request::get("/")
        .header("host", "shop.test")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.test")
        .body(http_body_util::Full::new(bytes::Bytes::new()).boxed())
        .unwrap();
    let a = http(router.http, req).await;
    assert!(
        a.body.contains("xff=127.0.0.1 xfp=http xfh=shop.test"),
        "{}",
        a.body
    );

    // An unknown host gets the 404 page, and so does no host at all.
    let a = http(router.http, get("nobody.test", "/")).await;
    assert_eq!(a.status, 404);
    assert!(a.body.contains("No application answers"), "{}", a.body);
    assert_eq!(a.headers["content-type"], "text/html; charset=utf-8");
}

#[tokio::test]
async fn replicas_share_the_load_and_a_refused_connection_is_retried_on_another() {
    let (one, two, dead) = (
        replica("one").await,
        replica("two").await,
        dead_port().await,
    );
    let router = Router::start(|_| {}).await;
    router
        .proxy
        .install(vec![route("app", "app.test", vec![one, two, dead])]);
    let mut seen = std::collections::HashMap::new();
    for _ in 0..30 {
        let a = http(router.http, get("app.test", "/")).await;
        assert_eq!(
            a.status, 200,
            "a GET never fails while a replica answers: {}",
            a.body
        );
        *seen
            .entry(a.body.split(' ').next().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert!(seen["one"] >= 5 && seen["two"] >= 5, "{seen:?}");

    // A POST is not repeated: a refused connection is a 502.
    router
        .proxy
        .install(vec![route("app", "app.test", vec![dead])]);
    let post = Request::post("/")
        .header("host", "app.test")
        .body(http_body_util::Full::new(bytes::Bytes::from("x")).boxed())
        .unwrap();
    let a = http(router.http, post).await;
    assert_eq!(a.status, 502);
    assert!(a.body.contains("did not answer"), "{}", a.body);

    // Stopped, and running no replica: 503 pages that say which.
    let mut stopped = route("app", "app.test", vec![]);
    stopped.target = Target::Stopped { name: "app".into() };
    router.proxy.install(vec![stopped]);
    let a = http(router.http, get("app.test", "/")).await;
    assert_eq!(a.status, 503);
    assert!(a.body.contains("stopped"), "{}", a.body);
    router.proxy.install(vec![route("app", "app.test", vec![])]);
    let a = http(router.http, get("app.test", "/")).await;
    assert_eq!(a.status, 503);
    assert!(a.body.contains("no running instance"), "{}", a.body);

    let stats = router.proxy.stats();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].requests, stats[0].errors), (33, 3), "{stats:?}");
}

#[tokio::test]
async fn a_new_table_applies_to_new_requests_while_one_in_flight_finishes() {
    let app = replica("app").await;
    let router = Router::start(|_| {}).await;
    router
        .proxy
        .install(vec![route("app", "app.test", vec![app])]);
    let addr = router.http;
    let slow = tokio::spawn(async move { http(addr, get("app.test", "/slow")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    router.proxy.install(vec![]);
    assert_eq!(http(router.http, get("app.test", "/")).await.status, 404);
    let a = slow.await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn redirects_basic_auth_and_body_limits_are_per_domain() {
    let app = replica("app").await;
    let router = Router::start(|_| {}).await;
    let mut secure = route("secure", "secure.test", vec![app]);
    secure.https_redirect = true;
    secure.hsts = true;
    let mut apex = route("apex", "apex.test", vec![app]);
    apex.www = WwwRedirect::ToApex;
    let mut locked = route("locked", "locked.test", vec![app]);
    locked.basic_auth = vec![BasicAuthUser {
        username: "ann".into(),
        bcrypt_hash: bcrypt::hash("s3cret", 4).unwrap(),
    }];
    locked.max_body_bytes = 16;
    router.proxy.install(vec![secure, apex, locked]);

    let a = http(router.http, get("secure.test", "/a?b=c")).await;
    assert_eq!(a.status, 308);
    assert_eq!(
        a.headers["location"],
        format!("https://secure.test:{}/a?b=c", router.https.port())
    );
    let tls = Tls::connect(
        router.https,
        "secure.test",
        rustls::DEFAULT_VERSIONS,
        &[b"http/1.1"],
    )
    .await
    .unwrap();
    let a = tls.sender().await.send(get("secure.test", "/")).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("xfp=https"), "{}", a.body);
    assert_eq!(a.headers["strict-transport-security"], "max-age=31536000");

    let a = http(router.http, get("www.apex.test:8080", "/x")).await;
    assert_eq!(
        (a.status, a.headers["location"].as_str()),
        (308, "http://apex.test:8080/x")
    );

    let a = http(router.http, get("locked.test", "/")).await;
    assert_eq!(a.status, 401);
    assert!(a.headers["www-authenticate"].starts_with("Basic realm=\"locked.test\""));
    let with = |user: &str, password: &str| {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Request::get("/")
            .header("host", "locked.test")
            .header("authorization", format!("Basic {token}"))
            .body(http_body_util::Full::new(bytes::Bytes::new()).boxed())
            .unwrap()
    };
    assert_eq!(http(router.http, with("ann", "wrong")).await.status, 401);
    assert_eq!(http(router.http, with("bob", "s3cret")).await.status, 401);
    assert_eq!(http(router.http, with("ann", "s3cret")).await.status, 200);
    assert_eq!(http(router.http, with("ann", "s3cret")).await.status, 200);

    // Bodies over the limit: refused from Content-Length, and when streamed without one.
    let post = |body: &'static str| {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode("ann:s3cret");
        Request::post("/")
            .header("host", "locked.test")
            .header("authorization", format!("Basic {token}"))
            .body(http_body_util::Full::new(bytes::Bytes::from(body)).boxed())
            .unwrap()
    };
    let a = http(router.http, post("small")).await;
    assert!(a.body.ends_with("len=5"), "{}", a.body);
    assert_eq!(
        http(router.http, post("far more than sixteen bytes"))
            .await
            .status,
        413
    );
    let mut raw = tokio::net::TcpStream::connect(router.http).await.unwrap();
    let token = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("ann:s3cret")
    };
    raw.write_all(
        format!("POST / HTTP/1.1\r\nhost: locked.test\r\nauthorization: Basic {token}\r\ntransfer-encoding: chunked\r\n\r\n20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = vec![0; 4096];
    let n = raw.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn websockets_and_event_streams_pass_through_and_slow_replicas_time_out() {
    let app = replica("app").await;
    let router = Router::start(|s| s.response_timeout = Duration::from_secs(1)).await;
    router
        .proxy
        .install(vec![route("app", "app.test", vec![app])]);

    // An upgrade: 101, then bytes both ways.
    let mut raw = tokio::net::TcpStream::connect(router.http).await.unwrap();
    raw.write_all(
        b"GET /ws HTTP/1.1\r\nhost: app.test\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0; 1024];
    let n = raw.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    raw.write_all(b"ping through the router").await.unwrap();
    let mut echoed = vec![0; 23];
    tokio::time::timeout(Duration::from_secs(5), raw.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"ping through the router");

    // An event stream arrives event by event, not at its end.
    let stream = tokio::net::TcpStream::connect(router.http).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let started = std::time::Instant::now();
    let response = sender.send_request(get("app.test", "/sse")).await.unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"data: 0\n\n");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the first event came before the stream ended"
    );

    let a = http(router.http, get("app.test", "/never")).await;
    assert_eq!(a.status, 504);
}

/// A replica that counts the connections it accepted; with `keep_alive` false it closes each
/// one after its response. `HEAD` and `/empty` answer with no body (200 and 204).
async fn counting_replica(keep_alive: bool) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let mut r = hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from_static(b"counted"),
                        ));
                        if req.uri().path() == "/empty" {
                            *r.body_mut() = http_body_util::Full::new(bytes::Bytes::new());
                            *r.status_mut() = hyper::StatusCode::NO_CONTENT;
                        }
                        Ok::<_, std::convert::Infallible>(r)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn connections_to_replicas_are_reused_and_one_the_replica_closes_is_no_error() {
    let router = Router::start(|s| s.workers = 2).await;
    let (kept, kept_count) = counting_replica(true).await;
    let (closing, closing_count) = counting_replica(false).await;
    router.proxy.install(vec![
        route("kept", "kept.test", vec![kept]),
        route("closing", "closing.test", vec![closing]),
    ]);

    // One after another, with bodies and without (HEAD, 204): at most a connection per worker.
    for i in 0..60 {
        let req = match i % 3 {
            0 => get("kept.test", "/"),
            1 => Request::head("/")
                .header("host", "kept.test")
                .body(http_body_util::Empty::new().boxed())
                .unwrap(),
            _ => get("kept.test", "/empty"),
        };
        let a = http(router.http, req).await;
        assert!(a.status == 200 || a.status == 204, "{a:?}");
    }
    let n = kept_count.load(Ordering::SeqCst);
    assert!((1..=2).contains(&n), "{n} connections for 60 requests");

    // A replica that closes every connection after answering: each request still succeeds.
    for _ in 0..20 {
        let a = http(router.http, get("closing.test", "/")).await;
        assert_eq!((a.status, a.body.as_str()), (200, "counted"));
    }
    assert_eq!(closing_count.load(Ordering::SeqCst), 20);
}

/// A replica speaking raw HTTP/1.1: for each request (head, then as many body bytes as its
/// Content-Length says, or chunks to the last), the answer `respond` gives for the request's
/// path and what it received; the connection closes after an answer with no length.
async fn raw_replica(respond: fn(&str, &[u8]) -> Vec<u8>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = read_until(&mut stream, &mut buf, b"\r\n\r\n").await else {
                        return;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    buf.drain(..end + 4);
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let mut body = Vec::new();
                    if let Some(len) = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                    {
                        while buf.len() < len {
                            let mut chunk = [0u8; 4096];
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        body = buf.drain(..len).collect();
                    } else if head.contains("transfer-encoding: chunked") {
                        loop {
                            let Some(end) = read_until(&mut stream, &mut buf, b"\r\n").await else {
                                return;
                            };
                            let size = usize::from_str_radix(
                                String::from_utf8_lossy(&buf[..end]).trim(),
                                16,
                            )
                            .unwrap();
                            buf.drain(..end + 2);
                            while buf.len() < size + 2 {
                                let mut chunk = [0u8; 4096];
                                match stream.read(&mut chunk).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                                }
                            }
                            body.extend(buf.drain(..size));
                            buf.drain(..2);
                            if size == 0 {
                                break;
                            }
                        }
                    }
                    let answer = respond(&path, &body);
                    if stream.write_all(&answer).await.is_err() {
                        return;
                    }
                    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
                    if !text.contains("content-length:") && !text.contains("chunked") {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn read_until(
    stream: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
    end: &[u8],
) -> Option<usize> {
    loop {
        if let Some(i) = buf.windows(end.len()).position(|w| w == end) {
            return Some(i);
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn every_way_a_replica_frames_its_response_reaches_the_client_whole() {
    let router = Router::start(|_| {}).await;
    let replica = raw_replica(|path, body| {
        let answer: &[u8] = match path {
            "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            "/both" => b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nboth\r\n0\r\n\r\n",
            "/until-close" => b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
            "/early-hints" => b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhints",
            "/bad-length" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            "/signed-length" => b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
            "/not-http" => b"SSH-2.0-OpenSSH\r\n\r\n",
            "/big" => {
                let mut a = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n".to_vec();
                a.extend((0..1_048_576u32).map(|i| b'a' + (i % 26) as u8));
                return a;
            }
            "/echo" => {
                let mut a = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                    .into_bytes();
                a.extend_from_slice(body);
                return a;
            }
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        };
        answer.to_vec()
    })
    .await;
    router
        .proxy
        .install(vec![route("raw", "raw.test", vec![replica])]);

    let a = http(router.http, get("raw.test", "/chunked")).await;
    assert_eq!((a.status, a.body.as_str()), (200, "hello, world"));
    let a = http(router.http, get("raw.test", "/both")).await;
    assert_eq!((a.status, a.body.as_str()), (200, "both"), "chunked wins");
    let a = http(router.http, get("raw.test", "/until-close")).await;
    assert_eq!((a.status, a.body.as_str()), (200, "until the end"));
    let a = http(router.http, get("raw.test", "/early-hints")).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, "hints"),
        "1xx passed over"
    );
    let a = http(router.http, get("raw.test", "/bad-length")).await;
    assert_eq!(a.status, 502, "conflicting lengths are refused: {a:?}");
    let a = http(router.http, get("raw.test", "/signed-length")).await;
    assert_eq!(a.status, 502, "a length is digits only: {a:?}");
    let a = http(router.http, get("raw.test", "/not-http")).await;
    assert_eq!(a.status, 502, "{a:?}");
    let a = http(router.http, get("raw.test", "/")).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, "ok"),
        "still served after"
    );
    let a = http(router.http, get("raw.test", "/big")).await;
    assert_eq!(a.body.len(), 1_048_576);
    assert!(a
        .body
        .bytes()
        .enumerate()
        .all(|(i, b)| b == b'a' + (i % 26) as u8));

    // Request bodies: with a length, and chunked (the client's own framing).
    let sized = Request::post("/echo")
        .header("host", "raw.test")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"sized body")).boxed())
        .unwrap();
    let a = http(router.http, sized).await;
    assert_eq!((a.status, a.body.as_str()), (200, "sized body"));
    let chunks = futures_util::stream::iter(
        ["chunk", "ed ", "body"].map(|c| Ok(hyper::body::Frame::data(bytes::Bytes::from(c)))),
    );
    let chunked = Request::post("/echo")
        .header("host", "raw.test")
        .body(http_body_util::StreamBody::new(chunks).boxed())
        .unwrap();
    let a = http(router.http, chunked).await;
    assert_eq!((a.status, a.body.as_str()), (200, "chunked body"));
}

/// The upstreams of berth inside Swarm: a name (`tasks.<service>`) resolved to every replica's
/// address, here `localhost` (whichever of its addresses has no replica refuses, and is
/// passed over); a name nothing resolves is a service with no replica running.
#[tokio::test]
async fn replicas_found_by_name_are_reached() {
    let app = replica("named").await;
    let router = Router::start(|_| {}).await;
    let mut by_name = route("named", "named.test", vec![]);
    by_name.target = Target::Service {
        name: "named".into(),
        upstreams: Upstreams::Dns {
            name: "localhost".into(),
            port: app.port(),
        },
    };
    let mut nowhere = route("nowhere", "nowhere.test", vec![]);
    nowhere.target = Target::Service {
        name: "nowhere".into(),
        upstreams: Upstreams::Dns {
            name: "tasks.nowhere.invalid".into(),
            port: 80,
        },
    };
    router.proxy.install(vec![by_name, nowhere]);
    for _ in 0..5 {
        let a = http(router.http, get("named.test", "/")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.starts_with("named GET /"), "{}", a.body);
    }
    let a = http(router.http, get("nowhere.test", "/")).await;
    assert_eq!(a.status, 503, "{}", a.body);
}

/// A replica that answers each request as soon as its head arrives and only then reads the
/// body its `Content-Length` declares (as replicas that answer early do), keeping every
/// request line with its body.
async fn early_replica() -> (
    std::net::SocketAddr,
    Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let Some(end) = read_until(&mut stream, &mut buf, b"\r\n\r\n").await else {
                        return;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end + 4);
                    let line = head.lines().next().unwrap_or("").to_owned();
                    let path = line.split_whitespace().nth(1).unwrap_or("?").to_owned();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{path}",
                        path.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    let len = head
                        .to_ascii_lowercase()
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: ").map(str::to_owned))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    while buf.len() < len {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf.drain(..len).collect();
                    seen.lock().unwrap().push((line, body));
                }
            });
        }
    });
    (addr, seen)
}

/// Writes `request` on a new connection to `addr` and reads the answer to its end (the request
/// asks the router to close).
async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("the router answered")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_sent_with_an_upgrade_is_forwarded_and_never_read_as_the_next_request() {
    let router = Router::start(|_| {}).await;
    let (replica, seen) = early_replica().await;
    router
        .proxy
        .install(vec![route("early", "early.test", vec![replica])]);
    // An upgrade the replica does not take, carrying a body that is a request of its own.
    let smuggled = b"GET /smuggled HTTP/1.1\r\nhost: early.test\r\n\r\n";
    let mut request = format!(
        "GET /up HTTP/1.1\r\nhost: early.test\r\nconnection: upgrade\r\nupgrade: websocket\r\ncontent-length: {}\r\n\r\n",
        smuggled.len()
    )
    .into_bytes();
    request.extend_from_slice(smuggled);
    let mut s = tokio::net::TcpStream::connect(router.http).await.unwrap();
    s.write_all(&request).await.unwrap();
    let mut buf = Vec::new();
    let end = tokio::time::timeout(
        Duration::from_secs(10),
        read_until(&mut s, &mut buf, b"\r\n\r\n"),
    )
    .await
    .expect("the router answered")
    .unwrap();
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Another client next, on the connection the router keeps to the replica.
    for _ in 0..3 {
        let a = http(router.http, get("early.test", "/victim")).await;
        assert_eq!((a.status, a.body.as_str()), (200, "/victim"));
    }
    let seen = seen.lock().unwrap().clone();
    let lines: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        lines,
        [
            "GET /up HTTP/1.1",
            "GET /victim HTTP/1.1",
            "GET /victim HTTP/1.1",
            "GET /victim HTTP/1.1"
        ]
    );
    assert_eq!(seen[0].1, smuggled, "the upgrade's body went with it");
}

#[tokio::test]
async fn an_absolute_target_is_routed_and_forwarded_by_the_one_host_it_names() {
    let (shop, other) = (replica("shop").await, replica("other").await);
    let router = Router::start(|_| {}).await;
    router.proxy.install(vec![
        route("shop", "shop.test", vec![shop]),
        route("other", "other.test", vec![other]),
    ]);
    let a = raw_exchange(
        router.http,
        b"GET http://shop.test/x HTTP/1.1\r\nhost: other.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 400"), "{a}");
    assert!(a.contains("different hosts"), "{a}");
    let a = raw_exchange(
        router.http,
        b"GET http://Shop.Test/x HTTP/1.1\r\nhost: shop.test:80\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    assert!(a.contains("shop GET /x host=shop.test"), "{a}");
}

/// One GET to `locked.test` with basic auth, from the local address `from`.
async fn basic_from(
    router: std::net::SocketAddr,
    from: &str,
    user: &str,
    password: &str,
) -> Answer {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(router).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/")
        .header("host", "locked.test")
        .header("authorization", format!("Basic {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::new()).boxed())
        .unwrap();
    collect(sender.send_request(req).await.unwrap()).await
}

#[tokio::test]
async fn failed_basic_auth_is_throttled_per_client_without_locking_others_out() {
    let app = replica("app").await;
    let router = Router::start(|_| {}).await;
    let mut locked = route("locked", "locked.test", vec![app]);
    locked.basic_auth = vec![BasicAuthUser {
        username: "ann".into(),
        bcrypt_hash: bcrypt::hash("s3cret", 4).unwrap(),
    }];
    router.proxy.install(vec![locked]);
    // Unknown users and wrong passwords count alike.
    for i in 0..10 {
        let user = if i % 2 == 0 { "ann" } else { "nobody" };
        let a = basic_from(router.http, "127.0.0.1", user, "guess").await;
        assert_eq!(a.status, 401, "attempt {i}");
    }
    let a = basic_from(router.http, "127.0.0.1", "ann", "guess").await;
    assert_eq!(a.status, 429, "{}", a.body);
    let wait: u64 = a.headers["retry-after"].parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Even the right password waits out the window from that client...
    let a = basic_from(router.http, "127.0.0.1", "ann", "s3cret").await;
    assert_eq!(a.status, 429);
    // ...while another client signs in.
    let a = basic_from(router.http, "127.0.0.2", "ann", "s3cret").await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn failed_basic_auth_is_throttled_per_domain_across_clients() {
    let app = replica("app").await;
    let router = Router::start(|_| {}).await;
    let mut locked = route("locked", "locked.test", vec![app]);
    locked.basic_auth = vec![BasicAuthUser {
        username: "ann".into(),
        bcrypt_hash: bcrypt::hash("s3cret", 4).unwrap(),
    }];
    router.proxy.install(vec![locked]);
    // Ten clients, ten guesses each: the domain's own limit.
    for c in 0..10 {
        let from = format!("127.0.1.{}", c + 1);
        for i in 0..10 {
            let a = basic_from(router.http, &from, "ann", "guess").await;
            assert_eq!(a.status, 401, "client {c}, attempt {i}");
        }
    }
    let a = basic_from(router.http, "127.0.2.1", "ann", "s3cret").await;
    assert_eq!(
        a.status, 429,
        "the domain is throttled for every client now"
    );
}
