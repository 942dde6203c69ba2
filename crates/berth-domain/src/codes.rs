//! The stable, machine-readable codes of every refusal and failure berth reports. A program acts
//! on the code, a person reads the detail beside it. A code, once released, keeps its spelling
//! and its meaning; the HTTP status of each is in berth-api's one status table.

macro_rules! codes {
    ($($(#[doc = $doc:literal])+ $variant:ident = $spelling:literal,)+) => {
        /// Why a request was refused or failed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $spelling,)+
                }
            }

            /// What the code means, for the documentation.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => concat!($($doc),+).trim_start(),)+
                }
            }
        }
    };
}

codes! {
    /// The request is not well-formed: a body that is not JSON, a malformed query string.
    MalformedRequest = "malformed_request",
    /// A webhook's payload is not JSON, or not a push the git host sends.
    MalformedWebhook = "malformed_webhook",
    /// No valid credentials: a missing, malformed, expired or revoked token, a wrong password.
    Unauthenticated = "unauthenticated",
    /// A webhook's signature or token does not match the application's secret.
    WebhookSignatureInvalid = "webhook_signature_invalid",
    /// The caller's role in the project or team does not allow this.
    InsufficientRole = "insufficient_role",
    /// Only a platform admin (or a super admin) may do this.
    AdminRequired = "admin_required",
    /// A viewer changes nothing.
    ReadOnlyRole = "read_only_role",
    /// A service token may only start deployments of its own application.
    ServiceTokenScope = "service_token_scope",
    /// A user may not change their own role or delete themselves.
    OwnAccount = "own_account",
    /// A host port below 1024, or one berth itself listens on, is published by admins only.
    PortReserved = "port_reserved",
    /// The source names what berth keeps from users: its own build images (`berth/…`), an
    /// image by its id, a registry by its address (for admins only), or a repository on
    /// berth's own machine outside the directories an admin allowed.
    SourceNotAllowed = "source_not_allowed",
    /// Changing your own password needs your current password, and it was not given or did
    /// not match.
    CurrentPasswordRequired = "current_password_required",
    /// Nothing with this id exists that the caller may see (the two are not told apart).
    NotFound = "not_found",
    /// The path exists but not with this method; `Allow` lists the methods it has.
    MethodNotAllowed = "method_not_allowed",
    /// Some fields are invalid; `errors` names each and what is wrong with it.
    InvalidInput = "invalid_input",
    /// The body must be `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// The body is larger than berth accepts.
    PayloadTooLarge = "payload_too_large",
    /// Too many failed attempts (sign-in, basic auth); `Retry-After` says when to try again.
    TooManyAttempts = "too_many_attempts",
    /// Too many live streams are open; `Retry-After` says when to try again.
    TooManyStreams = "too_many_streams",
    /// berth already has its first admin.
    AlreadySetUp = "already_set_up",
    /// A name that must be unique is taken (a user, team, project, application, volume or
    /// database name; a team membership; a team's or the installation's registry).
    NameTaken = "name_taken",
    /// A domain's host (or its www alias) is claimed by another domain, or is berth's own.
    HostTaken = "host_taken",
    /// The object is still used by others: a project with applications or volumes, a user
    /// with projects.
    StillReferenced = "still_referenced",
    /// Settings that are each valid contradict each other or the object they belong to (a
    /// host port published twice, a basic-auth user listed twice or new without a password,
    /// a www redirect the domain's host cannot have, a source of another type than the
    /// application's); `errors` names each.
    ConflictingSettings = "conflicting_settings",
    /// The user named in the body does not exist (or was deleted meanwhile).
    UnknownUser = "unknown_user",
    /// A team keeps at least one owner: make another member owner before this one goes.
    LastOwner = "last_owner",
    /// The application has volumes: delete them first, or ask for them to be deleted with it.
    ApplicationHasVolumes = "application_has_volumes",
    /// A container still uses the volume.
    VolumeInUse = "volume_in_use",
    /// The application has no service yet: deploy it first.
    NotDeployed = "not_deployed",
    /// The deployment has ended already.
    DeploymentNotCancellable = "deployment_not_cancellable",
    /// This deployment cannot be deployed again: it did not succeed, has no build, or predates
    /// recorded environments.
    RollbackNotPossible = "rollback_not_possible",
    /// Only an application built from git has a webhook.
    NoWebhook = "no_webhook",
    /// The domain does not serve TLS, or has a custom certificate, so ACME does not apply.
    CertificateNotApplicable = "certificate_not_applicable",
    /// The change does not follow the object's state machine, or the object changed meanwhile.
    InvalidTransition = "invalid_transition",
    /// Another write got there first; try again.
    Conflict = "conflict",
    /// Swarm's routing mesh cannot publish a port on this machine; publish in host mode.
    RoutingMeshUnavailable = "routing_mesh_unavailable",
    /// A published host port is taken by another service.
    PortTaken = "port_taken",
    /// The image is not on the engine (a build's base image, which builds do not pull).
    ImageNotFound = "image_not_found",
    /// The Docker engine or Swarm cannot be reached or refused the operation.
    EngineUnavailable = "engine_unavailable",
    /// The engine did not finish in time.
    EngineTimeout = "engine_timeout",
    /// The database cannot be reached.
    DatabaseUnavailable = "database_unavailable",
    /// Something failed inside berth; the detail carries the request id to report.
    InternalError = "internal_error",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert!(!c.meaning().is_empty());
        }
    }
}
