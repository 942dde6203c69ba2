//! Authorization in one place: what a caller may do to a project (and everything in it) and to
//! a team. Visibility is decided earlier, by the store: an object the caller cannot see is
//! "not found" (404), so another tenant's objects never reveal that they exist. What is decided
//! here is what a caller who *can* see an object may do with it (403 otherwise).
//!
//! | platform role | own projects | team projects | others' projects |
//! |---|---|---|---|
//! | super_admin, admin | owner | owner | owner |
//! | developer | owner | by team role | not visible |
//! | viewer | read | read | not visible |
//!
//! Team roles give: owner → owner, admin → admin, member → write, viewer → read.
//! Needed: reading anything → read; creating and changing applications, variables, volumes,
//! domains → write; deleting applications, volumes, domains → admin; deleting a project →
//! owner. Moving a project into, out of or between teams is for the user who owns it (and
//! platform admins) only: a team owner who could do it would cut themselves off the project.
//! Teams: members read; owners and admins manage members and rename; owners delete.

use berth_domain::ErrorCode;
use berth_domain::{PlatformRole, Project, TeamId, TeamRole, User};
use berth_store::Scope;

use crate::ApiError;

/// How much a caller may do to a project, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
    Admin,
    Owner,
}

impl Access {
    fn describe(self) -> &'static str {
        match self {
            Access::Read => "read access",
            Access::Write => "write access (developer or team member)",
            Access::Admin => "admin access (team owner or admin)",
            Access::Owner => "owner access (the project's owner)",
        }
    }
}

fn from_team_role(r: TeamRole) -> Access {
    match r {
        TeamRole::Owner => Access::Owner,
        TeamRole::Admin => Access::Admin,
        TeamRole::Member => Access::Write,
        TeamRole::Viewer => Access::Read,
    }
}

/// The caller's access to a project they can see.
pub fn project_access(user: &User, scope: &Scope, project: &Project) -> Access {
    if user.role.is_admin() {
        return Access::Owner;
    }
    let own = (project.owner_id == user.id).then_some(Access::Owner);
    let team = project
        .team_id
        .and_then(|t| scope.team_role(t))
        .map(from_team_role);
    let access = own.max(team).unwrap_or(Access::Read);
    if user.role == PlatformRole::Viewer {
        access.min(Access::Read)
    } else {
        access
    }
}

/// Fails with 403 unless the caller has at least `needed` on the project.
pub fn require_project(
    user: &User,
    scope: &Scope,
    project: &Project,
    needed: Access,
) -> Result<(), ApiError> {
    if project_access(user, scope, project) >= needed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            ErrorCode::InsufficientRole,
            format!("this needs {} on the project", needed.describe()),
        ))
    }
}

/// Fails with 403 unless the caller is the user who owns the project, or a platform admin.
pub fn require_project_owner(user: &User, project: &Project) -> Result<(), ApiError> {
    if user.role.is_admin() || (project.owner_id == user.id && user.role != PlatformRole::Viewer) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            ErrorCode::InsufficientRole,
            "only the project's owner moves it between teams",
        ))
    }
}

/// Fails with 403 unless the caller holds one of `roles` in the team (admins always may).
pub fn require_team(
    user: &User,
    scope: &Scope,
    team: TeamId,
    roles: &[TeamRole],
) -> Result<(), ApiError> {
    if user.role.is_admin() {
        return Ok(());
    }
    if user.role == PlatformRole::Viewer {
        return Err(ApiError::forbidden(
            ErrorCode::ReadOnlyRole,
            "viewers cannot change anything",
        ));
    }
    match scope.team_role(team) {
        Some(r) if roles.contains(&r) => Ok(()),
        _ => Err(ApiError::forbidden(
            ErrorCode::InsufficientRole,
            "this needs a higher role in the team",
        )),
    }
}
