//! Fetching sources with git2: clone into an empty directory, or fetch into the cached
//! checkout of an earlier build, then check out exactly one commit (detached, forced, with
//! untracked files removed).

use std::path::Path;

use berth_domain::{BranchName, CommitSha, GitCredentials, RepositoryUrl};
use git2::{build::CheckoutBuilder, Cred, FetchOptions, Oid, RemoteCallbacks, Repository};

use crate::{BuildError, BuildEvent, CancelToken, EventSink};

/// What to check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRef {
    Branch(BranchName),
    Tag(BranchName),
    Commit(CommitSha),
}

/// Where the source is and which revision to build.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub repository: RepositoryUrl,
    pub reference: GitRef,
    pub credentials: Option<GitCredentials>,
    /// Check out the repository's submodules too (recursively).
    pub submodules: bool,
    /// Directories under which a repository on this machine may be fetched (an admin's
    /// setting, none by default): any other local repository, top or submodule, is refused.
    pub local_roots: Vec<std::path::PathBuf>,
    /// The most a checkout may take, in bytes: the fetch is stopped once it received more,
    /// and a commit whose files add up to more is not checked out.
    pub max_checkout_bytes: u64,
}

/// The commit a checkout holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub message: String,
    pub author: String,
    /// The SSH server's host key (`ssh-ed25519 AAAA…`) when the source is reached over SSH:
    /// on first use, the key to record and pin for later fetches.
    pub host_key: Option<String>,
}

fn repo_error(spec: &SourceSpec) -> impl Fn(git2::Error) -> BuildError + '_ {
    move |e| BuildError::Repository {
        url: spec.repository.to_string(),
        message: e.message().to_owned(),
    }
}

/// Fetches `spec` into `dir` (cloning when `dir` holds no repository yet) and checks out the
/// commit it names. Blocking: call it from a blocking task.
pub fn checkout(
    spec: &SourceSpec,
    dir: &Path,
    events: &EventSink,
    cancel: &CancelToken,
) -> Result<CommitInfo, BuildError> {
    spec.repository
        .check_fetchable(&spec.local_roots)
        .map_err(|e| BuildError::Repository {
            url: spec.repository.to_string(),
            message: e.messages(),
        })?;
    std::fs::create_dir_all(dir).map_err(BuildError::io("creating the checkout directory"))?;
    let repo = match Repository::open(dir) {
        Ok(r) => r,
        Err(_) => Repository::init(dir).map_err(repo_error(spec))?,
    };
    let url = spec.repository.as_str();
    let mut remote = match repo.find_remote("origin") {
        Ok(r) if r.url() == Some(url) => r,
        Ok(_) => {
            repo.remote_set_url("origin", url)
                .map_err(repo_error(spec))?;
            repo.find_remote("origin").map_err(repo_error(spec))?
        }
        Err(_) => repo.remote("origin", url).map_err(repo_error(spec))?,
    };

    let refspecs: Vec<String> = match &spec.reference {
        GitRef::Branch(b) => vec![format!("+refs/heads/{b}:refs/remotes/origin/{b}")],
        GitRef::Tag(t) => vec![format!("+refs/tags/{t}:refs/tags/{t}")],
        GitRef::Commit(_) => vec![
            "+refs/heads/*:refs/remotes/origin/*".into(),
            "+refs/tags/*:refs/tags/*".into(),
        ],
    };
    let seen_host_key = std::sync::Arc::new(std::sync::Mutex::new(None));
    let mut callbacks = credentials_and_host_key(spec, seen_host_key.clone());
    let mut last_reported = 0usize;
    let too_large = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let over = too_large.clone();
    let max_fetch_bytes = spec.max_checkout_bytes;
    callbacks.transfer_progress(move |p| {
        if cancel.is_cancelled() {
            return false;
        }
        if p.received_bytes() as u64 > max_fetch_bytes {
            over.store(true, std::sync::atomic::Ordering::Relaxed);
            return false;
        }
        let received = p.received_objects();
        if received == p.total_objects() || received >= last_reported + 256 {
            last_reported = received;
            events.emit(BuildEvent::Fetch {
                received,
                total: p.total_objects(),
            });
        }
        true
    });
    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks);
    // A redirect could lead the fetch, and the credentials, to another host.
    options.follow_redirects(git2::RemoteRedirect::None);
    // Over the network, a branch or a tag needs only its tip: fetch shallow. An exact commit
    // may lie anywhere in the history, so it needs all of it (unshallowing a checkout that an
    // earlier shallow fetch left). Local transports do not support shallow fetches.
    let network = !(url.starts_with('/') || url.starts_with("file://"));
    match &spec.reference {
        GitRef::Branch(_) | GitRef::Tag(_) if network => {
            options.depth(1);
        }
        GitRef::Commit(_) if repo.is_shallow() => {
            options.depth(i32::MAX);
        }
        _ => {}
    }
    remote
        .fetch(&refspecs, Some(&mut options), None)
        .map_err(|e| {
            if cancel.is_cancelled() {
                return BuildError::Cancelled;
            }
            if too_large.load(std::sync::atomic::Ordering::Relaxed) {
                return checkout_too_large(spec);
            }
            if e.message().contains("hostkey") {
                // libgit2 puts its own words in place of the check's; say what happened.
                let presented = seen_host_key.lock().ok().and_then(|k| k.clone()).unwrap_or_default();
                return BuildError::Repository {
                    url: spec.repository.to_string(),
                    message: format!(
                        "the SSH server's host key is not the one recorded for this repository (it presented {presented})"
                    ),
                };
            }
            let message = e.message().to_owned();
            if message.contains("couldn't find remote ref")
                || message.contains("not found") && !message.contains("repository")
            {
                missing(&spec.reference)
            } else {
                BuildError::Repository {
                    url: spec.repository.to_string(),
                    message,
                }
            }
        })?;

    if cancel.is_cancelled() {
        return Err(BuildError::Cancelled);
    }
    let oid = resolve(&repo, &spec.reference)?;
    let commit = repo
        .find_commit(oid)
        .map_err(|_| missing(&spec.reference))?;
    if tree_bytes(&repo, &commit).map_err(repo_error(spec))? > spec.max_checkout_bytes {
        return Err(checkout_too_large(spec));
    }
    repo.checkout_tree(
        commit.as_object(),
        Some(CheckoutBuilder::new().force().remove_untracked(true)),
    )
    .map_err(repo_error(spec))?;
    repo.set_head_detached(oid).map_err(repo_error(spec))?;
    if spec.submodules {
        update_submodules(&repo, spec, cancel)?;
    }
    let info = CommitInfo {
        sha: oid.to_string(),
        message: commit.summary().unwrap_or_default().to_owned(),
        author: commit.author().name().unwrap_or_default().to_owned(),
        host_key: seen_host_key.lock().ok().and_then(|k| k.clone()),
    };
    events.emit(BuildEvent::CheckedOut {
        sha: info.sha.clone(),
        message: info.message.clone(),
    });
    Ok(info)
}

/// The size of every file in the commit's tree, from the object headers (nothing is read
/// whole).
fn tree_bytes(repo: &Repository, commit: &git2::Commit<'_>) -> Result<u64, git2::Error> {
    let odb = repo.odb()?;
    let mut total = 0u64;
    let mut failed = None;
    commit
        .tree()?
        .walk(git2::TreeWalkMode::PreOrder, |_, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                match odb.read_header(entry.id()) {
                    Ok((size, _)) => total += size as u64,
                    Err(e) => {
                        failed = Some(e);
                        return git2::TreeWalkResult::Abort;
                    }
                }
            }
            git2::TreeWalkResult::Ok
        })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

fn checkout_too_large(spec: &SourceSpec) -> BuildError {
    BuildError::TooLarge {
        what: "the repository",
        limit_mb: spec.max_checkout_bytes >> 20,
        setting: "build_max_checkout_mb",
    }
}

/// Initialises and checks out every submodule at the commit the superproject records, then
/// theirs, and so on.
fn update_submodules(
    repo: &Repository,
    spec: &SourceSpec,
    cancel: &CancelToken,
) -> Result<(), BuildError> {
    for mut sub in repo.submodules().map_err(repo_error(spec))? {
        if cancel.is_cancelled() {
            return Err(BuildError::Cancelled);
        }
        let name = sub.name().unwrap_or("?").to_owned();
        let fail = |e: git2::Error| BuildError::Repository {
            url: format!("{} (submodule {name})", spec.repository),
            message: e.message().to_owned(),
        };
        // A submodule is fetched by the same rule as the repository: no local transport
        // outside the allowed roots, and the credentials only for their own host.
        let url = sub.url().unwrap_or("");
        spec.repository
            .resolve_submodule(url)
            .and_then(|u| u.check_fetchable(&spec.local_roots))
            .map_err(|e| BuildError::Repository {
                url: format!("{} (submodule {name} at {url})", spec.repository),
                message: e.messages(),
            })?;
        let mut options = git2::SubmoduleUpdateOptions::new();
        let callbacks = credentials(spec);
        let mut fetch = FetchOptions::new();
        fetch.remote_callbacks(callbacks);
        fetch.follow_redirects(git2::RemoteRedirect::None);
        options.fetch(fetch);
        sub.update(true, Some(&mut options)).map_err(fail)?;
        let inner = sub.open().map_err(fail)?;
        update_submodules(&inner, spec, cancel)?;
    }
    Ok(())
}

/// Callbacks that answer the repository's request for credentials with the source's token
/// (once: asked again means it was refused, so stop rather than loop).
fn credentials(spec: &SourceSpec) -> RemoteCallbacks<'static> {
    credentials_and_host_key(spec, std::sync::Arc::default())
}

/// Callbacks that answer the repository's request for credentials from the source (a token
/// for HTTP(S), a deploy key for SSH; once: asked again means it was refused, so stop rather
/// than loop), and check an SSH server's host key against the one recorded (or, when none is,
/// accept it and keep it in `seen` so the caller can pin it).
fn credentials_and_host_key(
    spec: &SourceSpec,
    seen: std::sync::Arc<std::sync::Mutex<Option<String>>>,
) -> RemoteCallbacks<'static> {
    let credentials = spec.credentials.clone();
    // Credentials are bound to the host they were entered for: a submodule or anything else
    // on another host gets none.
    let bound_to = spec.repository.host();
    let mut asked = false;
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |url, username, allowed| {
        let asking = RepositoryUrl::parse(url).ok().and_then(|u| u.host());
        if credentials.is_some() && (bound_to.is_none() || asking != bound_to) {
            return Err(git2::Error::from_str(&format!(
                "{} asks for credentials; the repository's are for {} only",
                asking.as_deref().unwrap_or(url),
                bound_to.as_deref().unwrap_or("no host")
            )));
        }
        if asked {
            return Err(git2::Error::from_str(
                "the repository refused the credentials",
            ));
        }
        asked = true;
        match &credentials {
            Some(GitCredentials::Token { token })
                if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) =>
            {
                Cred::userpass_plaintext("x-access-token", token.expose())
            }
            Some(GitCredentials::SshKey { ssh_key, .. })
                if allowed.contains(git2::CredentialType::SSH_KEY) =>
            {
                Cred::ssh_key_from_memory(username.unwrap_or("git"), None, ssh_key.expose(), None)
            }
            Some(_) => Err(git2::Error::from_str(
                "the repository asks for another kind of credentials than the ones configured",
            )),
            None => Err(git2::Error::from_str(
                "the repository asks for credentials and none are configured",
            )),
        }
    });
    let pinned = match &spec.credentials {
        Some(GitCredentials::SshKey {
            known_host: Some(k),
            ..
        }) => Some(k.trim().to_owned()),
        _ => None,
    };
    callbacks.certificate_check(move |cert, host| {
        let Some(hostkey) = cert.as_hostkey() else {
            // TLS certificates are checked by the TLS library as usual.
            return Ok(git2::CertificateCheckStatus::CertificatePassthrough);
        };
        let (Some(kind), Some(raw)) = (hostkey.hostkey_type(), hostkey.hostkey()) else {
            return Err(git2::Error::from_str("the SSH server sent no host key"));
        };
        let presented = format!("{} {}", kind.name(), base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw));
        match &pinned {
            Some(expected) if !same_host_key(expected, &presented) => {
                if let Ok(mut s) = seen.lock() {
                    *s = Some(presented.clone());
                }
                Err(git2::Error::from_str(&format!(
                    "the host key of {host} is not the one recorded for this repository (it presented {presented})"
                )))
            }
            _ => {
                if let Ok(mut s) = seen.lock() {
                    *s = Some(presented);
                }
                Ok(git2::CertificateCheckStatus::CertificateOk)
            }
        }
    });
    callbacks
}

/// Compares an OpenSSH public key line (`type base64 [comment]`) with a presented key.
fn same_host_key(recorded: &str, presented: &str) -> bool {
    let mut r = recorded.split_whitespace();
    let mut p = presented.split_whitespace();
    r.next() == p.next() && r.next() == p.next()
}

fn missing(r: &GitRef) -> BuildError {
    match r {
        GitRef::Branch(b) => BuildError::MissingRef {
            what: "branch",
            name: b.to_string(),
        },
        GitRef::Tag(t) => BuildError::MissingRef {
            what: "tag",
            name: t.to_string(),
        },
        GitRef::Commit(c) => BuildError::MissingRef {
            what: "commit",
            name: c.to_string(),
        },
    }
}

fn resolve(repo: &Repository, r: &GitRef) -> Result<Oid, BuildError> {
    let found = match r {
        GitRef::Branch(b) => repo.refname_to_id(&format!("refs/remotes/origin/{b}")).ok(),
        GitRef::Tag(t) => repo
            .find_reference(&format!("refs/tags/{t}"))
            .ok()
            .and_then(|reference| reference.peel_to_commit().ok())
            .map(|c| c.id()),
        GitRef::Commit(c) => Oid::from_str(c.as_str())
            .ok()
            .filter(|oid| repo.find_commit(*oid).is_ok()),
    };
    found.ok_or_else(|| missing(r))
}
