//! Typed identifiers. Each entity has its own id type so that a project id can never be passed
//! where an application id is expected. New ids are UUIDv7: time-ordered, so indexes stay
//! compact and "newest first" is cheap.

use std::fmt;
use std::str::FromStr;

macro_rules! define_id {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// A fresh, time-ordered identifier.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
            pub const fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::ValidationError::field("id", "must be a UUID"))
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    )*};
}

define_id!(
    UserId,
    TeamId,
    TeamMemberId,
    ProjectId,
    ApplicationId,
    GitSourceId,
    EnvVarId,
    VolumeId,
    DomainId,
    CertificateId,
    DatabaseId,
    BackupId,
    BuildId,
    DeploymentId,
    OperationId,
    StepId,
    ServiceTokenId,
    RegistryId,
    ScheduleId,
    ScheduleRunId,
    ApiTokenId,
    SessionId,
);
