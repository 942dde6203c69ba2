//! Pure domain types of berth: identifiers, entities, parsing constructors for every value a
//! user supplies, and the status state machines of builds and deployments.
//!
//! Architecture invariant: this crate does no I/O and depends on no database, HTTP, Docker or
//! git library. Every entry point (API, webhooks, CLI) validates through these constructors.

pub mod codes;
pub mod cron;
pub mod entities;
pub mod error;
pub mod hosts;
pub mod ids;
pub mod page;
pub mod secret;
pub mod service;
pub mod snapshot;
pub mod status;
pub mod values;

pub use codes::ErrorCode;
pub use cron::{parse_time_zone, CronSchedule, TimeZone};
pub use entities::*;
pub use error::{FieldError, TransitionError, ValidationError};
pub use ids::*;
pub use page::{Cursor, CursorPage, Page, Paginated};
pub use secret::SecretString;
pub use service::{
    FailureAction, Mount, MountSource, ResourceAmount, RestartCondition, RestartPolicy,
    ServiceResources, ServiceSpec, UpdateOrder, UpdatePolicy,
};
pub use snapshot::{
    DeploymentSnapshot, Sealed, SnapshotError, SnapshotValue, SnapshotVar, SNAPSHOT_VERSION,
};
pub use status::*;
pub use values::*;
