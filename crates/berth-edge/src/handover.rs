//! Handing the router's listening sockets to the router process that replaces it, so that
//! restarting or upgrading the router drops no connection.
//!
//! A running router offers its sockets on a Unix socket in the data directory (`edge.sock`,
//! mode 0600). A new `berth edge` first asks there: the running one sends its listening sockets
//! (file descriptors, `SCM_RIGHTS`) with their schemes; the new one serves the same sockets
//! (the same accept queues, so no connection is refused or reset in between) and says so; the
//! old one then stops accepting, lets the requests in flight finish and exits. With no router
//! answering, the new one binds the addresses itself.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_events::CancelToken;
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// Which listener a socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Sockets taken from the router before, and the line back to it.
#[derive(Debug)]
pub struct Taken {
    pub listeners: Vec<(Scheme, TcpListener)>,
    back: UnixStream,
}

impl Taken {
    /// Tells the router before that this one serves its sockets now: it stops accepting.
    pub fn serving(mut self) -> io::Result<()> {
        self.back.write_all(b"ok\n")
    }
}

const MAX_SOCKETS: usize = 2;

/// Asks the router at `path` for its listening sockets; `None` when no router answers there.
pub fn take(path: &Path) -> io::Result<Option<Taken>> {
    let mut stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"take\n")?;
    let mut names = [0u8; 64];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_SOCKETS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = recvmsg(
        &stream,
        &mut [IoSliceMut::new(&mut names)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    let text = std::str::from_utf8(&names[..received.bytes])
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not a list of schemes"))?;
    let schemes: Vec<Scheme> = text
        .trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "http" => Ok(Scheme::Http),
            "https" => Ok(Scheme::Https),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown scheme {other:?}"),
            )),
        })
        .collect::<io::Result<_>>()?;
    if schemes.len() != fds.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} schemes for {} sockets", schemes.len(), fds.len()),
        ));
    }
    let listeners = schemes
        .into_iter()
        .zip(fds)
        .map(|(scheme, fd)| (scheme, TcpListener::from(fd)))
        .collect();
    Ok(Some(Taken {
        listeners,
        back: stream,
    }))
}

/// Offers `sockets` at `path` until `shutdown`: the first router that asks gets them, and once
/// it says it serves them, `handed` is cancelled (this router then stops accepting).
pub fn offer(
    path: PathBuf,
    sockets: Vec<(Scheme, OwnedFd)>,
    handed: CancelToken,
    shutdown: CancelToken,
) -> io::Result<()> {
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if shutdown.is_cancelled() {
                return;
            }
            let Ok(stream) = stream else { continue };
            match hand_over(stream, &sockets) {
                Ok(()) => {
                    tracing::info!("a new router serves the listening sockets now; stopping");
                    handed.cancel();
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "a socket handover did not complete"),
            }
        }
    });
    Ok(())
}

fn hand_over(mut stream: UnixStream, sockets: &[(Scheme, OwnedFd)]) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut ask = [0u8; 5];
    stream.read_exact(&mut ask)?;
    if &ask != b"take\n" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a handover request",
        ));
    }
    let names: Vec<&str> = sockets.iter().map(|(s, _)| s.as_str()).collect();
    let names = names.join(",");
    let fds: Vec<_> = sockets.iter().map(|(_, fd)| fd.as_fd()).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_SOCKETS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    sendmsg(
        &stream,
        &[IoSlice::new(names.as_bytes())],
        &mut control,
        SendFlags::empty(),
    )?;
    let mut ok = [0u8; 3];
    stream.read_exact(&mut ok)?;
    if &ok != b"ok\n" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the new router did not confirm",
        ));
    }
    Ok(())
}
