//! berth's build engine: fetches an application's git source with git2 and builds its image
//! through the Docker engine's API (bollard), reporting every step and output line as
//! [`BuildEvent`]s.
//!
//! Architecture invariant: knows nothing of the database or HTTP. It takes domain
//! specifications in and gives events and results out. It never runs a shell or the git or
//! docker command-line tools: branch names, URLs, paths and build arguments are data.

mod bases;
mod context;
mod docker;
mod error;
mod events;
mod git;

pub use bases::{base_images, Base};
pub use context::{resolve_inside, ContextTar};
pub use docker::{BuildSpec, BuiltImage, Engine};
pub use error::BuildError;
pub use events::{BuildEvent, CancelToken, EventSink, OutputStream};
pub use git::{checkout, CommitInfo, GitRef, SourceSpec};
