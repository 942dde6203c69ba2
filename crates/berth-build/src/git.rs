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
}

/// The commit a checkout holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    pub sha: String,
    pub message: String,
    pub author: String,
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
    if let Some(GitCredentials::SshKey { .. }) = &spec.credentials {
        return Err(BuildError::Unsupported(
            "SSH deploy keys are not supported by this build of berth yet".into(),
        ));
    }
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
    let mut callbacks = credentials(spec);
    let mut last_reported = 0usize;
    callbacks.transfer_progress(|p| {
        if cancel.is_cancelled() {
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
    };
    events.emit(BuildEvent::CheckedOut {
        sha: info.sha.clone(),
        message: info.message.clone(),
    });
    Ok(info)
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
        let mut options = git2::SubmoduleUpdateOptions::new();
        let callbacks = credentials(spec);
        let mut fetch = FetchOptions::new();
        fetch.remote_callbacks(callbacks);
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
    let token = match &spec.credentials {
        Some(GitCredentials::Token { token }) => Some(token.clone()),
        _ => None,
    };
    let mut asked = false;
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |_url, _user, _allowed| {
        if asked {
            return Err(git2::Error::from_str(
                "the repository refused the credentials",
            ));
        }
        asked = true;
        match &token {
            Some(t) => Cred::userpass_plaintext("x-access-token", t.expose()),
            None => Err(git2::Error::from_str(
                "the repository asks for credentials and none are configured",
            )),
        }
    });
    callbacks
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
