//! Closed sets of values (roles, kinds, statuses) and the state machines of builds and
//! deployments. Each enum has one spelling, used in JSON, in the database and in messages.

use crate::{TransitionError, ValidationError};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the one spelling of each value; anything else is a validation error that
            /// lists the allowed values.
            pub fn parse(s: &str) -> Result<Self, ValidationError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ValidationError::field(
                        "",
                        format!(concat!($what, " must be one of: {}"), Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> { Self::parse(s) }
        }
    };
}

string_enum!(
    /// Platform-wide role of a user.
    PlatformRole, "role" {
        SuperAdmin => "super_admin",
        Admin => "admin",
        Developer => "developer",
        Viewer => "viewer",
    }
);

impl PlatformRole {
    /// Admins administer the whole installation (users, every project, the audit log).
    pub fn is_admin(&self) -> bool {
        matches!(self, Self::SuperAdmin | Self::Admin)
    }
}

string_enum!(
    /// Role of a user inside one team.
    TeamRole, "team role" {
        Owner => "owner",
        Admin => "admin",
        Member => "member",
        Viewer => "viewer",
    }
);

string_enum!(ApplicationKind, "application type" {
    Docker => "docker",
    Git => "git",
    Compose => "compose",
});

string_enum!(ApplicationStatus, "application status" {
    Stopped => "stopped",
    Deploying => "deploying",
    Running => "running",
    Failed => "failed",
    Scaling => "scaling",
});

string_enum!(GitProvider, "provider" {
    Github => "github",
    Gitlab => "gitlab",
    Gitea => "gitea",
    Bitbucket => "bitbucket",
    Git => "git",
});

string_enum!(DatabaseKind, "database type" {
    Postgresql => "postgresql",
    Mysql => "mysql",
    Mongodb => "mongodb",
    Redis => "redis",
});

string_enum!(DatabaseStatus, "database status" {
    Initializing => "initializing",
    Running => "running",
    Stopped => "stopped",
    Failed => "failed",
});

string_enum!(BackupKind, "backup type" {
    Full => "full",
    Incremental => "incremental",
    Snapshot => "snapshot",
});

string_enum!(BackupStatus, "backup status" {
    Pending => "pending",
    Running => "running",
    Success => "success",
    Failed => "failed",
});

string_enum!(VolumeKind, "volume type" {
    DockerVolume => "docker_volume",
    Bind => "bind",
});

string_enum!(DomainTargetKind, "target type" {
    Application => "application",
    Database => "database",
});

string_enum!(LogLevel, "log level" {
    Debug => "debug",
    Info => "info",
    Warn => "warn",
    Error => "error",
});

string_enum!(
    /// What started a deployment.
    DeploymentTrigger, "trigger" {
        Manual => "manual",
        Webhook => "webhook",
        ServiceToken => "service_token",
        Rollback => "rollback",
        Redeploy => "redeploy",
    }
);

string_enum!(
    /// What an operation does to a running application.
    OperationKind, "operation" {
        Start => "start",
        Stop => "stop",
        Restart => "restart",
        Scale => "scale",
        Delete => "delete",
    }
);

string_enum!(
    /// Where an operation is: waiting its turn, running, or ended.
    OperationStatus, "operation status" {
        Pending => "pending",
        Running => "running",
        Success => "success",
        Failed => "failed",
    }
);

impl OperationStatus {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Success | Self::Failed)
    }
}

string_enum!(
    /// What a schedule runs. One scheduler runs every kind (docs/operations.md, "Scheduled
    /// jobs"); backups and tasks join as kinds of their own.
    ScheduleKind, "schedule kind" {
        Retention => "retention",
    }
);

string_enum!(
    /// Where one run of a schedule is.
    ScheduleRunStatus, "schedule run status" {
        Running => "running",
        Success => "success",
        Failed => "failed",
    }
);

string_enum!(StepState, "step state" {
    Pending => "pending",
    Running => "running",
    Success => "success",
    Failed => "failed",
    Skipped => "skipped",
    Cancelled => "cancelled",
});

impl StepState {
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

string_enum!(
    /// Lifecycle of a build: `pending -> in_progress -> succeeded | failed`; a pending build may
    /// also fail without starting (cancelled before it ran).
    BuildStatus, "build status" {
        Pending => "pending",
        InProgress => "in_progress",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

impl BuildStatus {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }

    pub fn can_transition_to(&self, to: Self) -> bool {
        use BuildStatus::*;
        matches!(
            (self, to),
            (Pending, InProgress)
                | (Pending, Failed)
                | (InProgress, Succeeded)
                | (InProgress, Failed)
        )
    }

    /// The new status, or an error when the table does not allow the change.
    pub fn transition(self, to: Self) -> Result<Self, TransitionError> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(TransitionError {
                entity: "build",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }
}

string_enum!(
    /// Lifecycle of a deployment: `pending -> building -> deploying -> success | failed |
    /// rolled_back`, and `cancelled` from any state that is not final. A deployment that needs no
    /// build (a rollback, a prebuilt image) goes from `pending` straight to `deploying`; one that
    /// fails before deploying goes to `failed` from `pending` or `building`.
    DeploymentStatus, "deployment status" {
        Pending => "pending",
        Building => "building",
        Deploying => "deploying",
        Success => "success",
        Failed => "failed",
        RolledBack => "rolled_back",
        Cancelled => "cancelled",
    }
);

impl DeploymentStatus {
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Success | Self::Failed | Self::RolledBack | Self::Cancelled
        )
    }

    pub fn can_transition_to(&self, to: Self) -> bool {
        use DeploymentStatus::*;
        if self.is_final() {
            return false;
        }
        matches!(
            (self, to),
            (_, Cancelled)
                | (Pending, Building | Deploying | Failed)
                | (Building, Deploying | Failed)
                | (Deploying, Success | Failed | RolledBack)
        )
    }

    /// The new status, or an error when the table does not allow the change.
    pub fn transition(self, to: Self) -> Result<Self, TransitionError> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(TransitionError {
                entity: "deployment",
                from: self.as_str(),
                to: to.as_str(),
            })
        }
    }

    /// The statuses a deployment may be in while it still holds work.
    pub fn non_final() -> impl Iterator<Item = Self> {
        Self::ALL.iter().copied().filter(|s| !s.is_final())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_round_trips() {
        for s in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(s.as_str()).unwrap(), *s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().into())
            );
        }
        for r in PlatformRole::ALL {
            assert_eq!(PlatformRole::parse(r.as_str()).unwrap(), *r);
        }
    }

    #[test]
    fn unknown_value_lists_allowed_ones() {
        let e = TeamRole::parse("boss").unwrap_err();
        assert_eq!(
            e.errors[0].message,
            "team role must be one of: owner, admin, member, viewer"
        );
    }

    #[test]
    fn deployment_happy_path() {
        use DeploymentStatus::*;
        let s = Pending.transition(Building).unwrap();
        let s = s.transition(Deploying).unwrap();
        assert_eq!(s.transition(Success).unwrap(), Success);
        assert!(Deploying.can_transition_to(RolledBack));
        assert!(
            Pending.can_transition_to(Deploying),
            "rollbacks skip the build"
        );
    }

    #[test]
    fn deployment_illegal_transitions_are_errors() {
        use DeploymentStatus::*;
        let e = Success.transition(Building).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a deployment cannot go from success to building"
        );
        assert!(Pending.transition(Success).is_err());
        assert!(Building.transition(RolledBack).is_err());
        assert!(Cancelled.transition(Cancelled).is_err());
        for s in DeploymentStatus::ALL.iter().filter(|s| s.is_final()) {
            for t in DeploymentStatus::ALL {
                assert!(!s.can_transition_to(*t), "{s} is final");
            }
        }
        for s in DeploymentStatus::non_final() {
            assert!(s.can_transition_to(Cancelled), "{s} can be cancelled");
        }
    }

    #[test]
    fn build_transitions() {
        use BuildStatus::*;
        assert_eq!(Pending.transition(InProgress).unwrap(), InProgress);
        assert_eq!(InProgress.transition(Succeeded).unwrap(), Succeeded);
        assert!(Pending.transition(Succeeded).is_err());
        assert!(Succeeded.transition(Failed).is_err());
        assert!(Failed.transition(InProgress).is_err());
    }
}

string_enum!(
    /// The steps of a deployment, in the order they run.
    StepName, "step" {
        Clone => "clone",
        Build => "build",
        Release => "release",
        Rollout => "rollout",
        Verify => "verify",
    }
);
