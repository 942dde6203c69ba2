use berth_domain::*;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use super::{conflict, fetch_page, found, now, parse_col};
use crate::entity::{applications, projects, team_members, teams, users};
use crate::{Scope, StoreError};

/// A user to create. The password is already hashed by the caller.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub email: Email,
    pub password_hash: String,
    pub role: PlatformRole,
}

fn user_from(m: users::Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::from_uuid(m.id),
        username: parse_col(&m.username)?,
        email: parse_col(&m.email)?,
        role: parse_col(&m.role)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn team_from(m: teams::Model) -> Result<Team, StoreError> {
    Ok(Team {
        id: TeamId::from_uuid(m.id),
        name: parse_col(&m.name)?,
        description: m.description.as_deref().map(parse_col).transpose()?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn member_from(m: team_members::Model) -> Result<TeamMember, StoreError> {
    Ok(TeamMember {
        id: TeamMemberId::from_uuid(m.id),
        team_id: TeamId::from_uuid(m.team_id),
        user_id: UserId::from_uuid(m.user_id),
        role: parse_col(&m.role)?,
        joined_at: m.joined_at,
    })
}

impl Scope {
    pub async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        let t = now();
        let model = users::Model {
            id: UserId::new().as_uuid(),
            username: new.username.into_inner(),
            email: new.email.into_inner(),
            password_hash: new.password_hash,
            role: new.role.as_str().to_owned(),
            preferences: serde_json::json!({}),
            created_at: t,
            updated_at: t,
        };
        users::Entity::insert(users::ActiveModel::from(model.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "a user with this username or email already exists",
            ))?;
        user_from(model)
    }

    /// Creates the first user of the installation; a conflict once any user exists. Two
    /// concurrent calls cannot both succeed: on Postgres they serialise on an advisory lock, on
    /// SQLite on the database's single writer.
    pub async fn create_first_user(&self, new: NewUser) -> Result<User, StoreError> {
        if self.backend() == crate::Backend::Postgres {
            use sea_orm::ConnectionTrait;
            self.connection()
                .execute_unprepared("SELECT pg_advisory_xact_lock(7243001)")
                .await?;
        }
        if self.count_users().await? > 0 {
            return Err(StoreError::conflict(
                ErrorCode::AlreadySetUp,
                "berth is already set up",
            ));
        }
        self.create_user(new).await
    }

    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        user_from(found(
            users::Entity::find_by_id(id.as_uuid())
                .one(self.connection())
                .await?,
            "user",
        )?)
    }

    /// The user whose username or email is `login`, with their password hash.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<(User, String)>, StoreError> {
        let login = login.trim().to_ascii_lowercase();
        let m = users::Entity::find()
            .filter(
                Condition::any()
                    .add(users::Column::Username.eq(&login))
                    .add(users::Column::Email.eq(&login)),
            )
            .one(self.connection())
            .await?;
        m.map(|m| {
            let hash = m.password_hash.clone();
            Ok((user_from(m)?, hash))
        })
        .transpose()
    }

    pub async fn count_users(&self) -> Result<u64, StoreError> {
        Ok(users::Entity::find().count(self.connection()).await?)
    }

    pub async fn list_users(&self, page: Page) -> Result<Paginated<User>, StoreError> {
        let select = users::Entity::find()
            .order_by_desc(users::Column::CreatedAt)
            .order_by_desc(users::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter().map(user_from).collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    pub async fn set_user_role(&self, id: UserId, role: PlatformRole) -> Result<User, StoreError> {
        self.update_user(
            id,
            users::ActiveModel {
                role: Set(role.as_str().to_owned()),
                ..Default::default()
            },
        )
        .await
    }

    pub async fn set_password_hash(&self, id: UserId, hash: String) -> Result<User, StoreError> {
        self.update_user(
            id,
            users::ActiveModel {
                password_hash: Set(hash),
                ..Default::default()
            },
        )
        .await
    }

    async fn update_user(
        &self,
        id: UserId,
        mut am: users::ActiveModel,
    ) -> Result<User, StoreError> {
        am.updated_at = Set(now());
        let r = users::Entity::update_many()
            .set(am)
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound("user"));
        }
        self.auth_changed().await?;
        self.user(id).await
    }

    /// Deletes a user: their projects go with them (refused while one has an application, see
    /// `delete_project`); deployments and audit entries they made stay, with the user cleared.
    pub async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        let owned = projects::Entity::find()
            .select_only()
            .column(projects::Column::Id)
            .filter(projects::Column::OwnerId.eq(id.as_uuid()))
            .into_query();
        self.refuse_while_applications_left(
            applications::Column::ProjectId.in_subquery(owned),
            "a project this user owns",
        )
        .await?;
        let r = users::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound("user"));
        }
        self.auth_changed().await
    }

    /// Creates a team with `owner` as its first owner.
    pub async fn create_team(
        &self,
        name: TeamName,
        description: Option<Description>,
        owner: UserId,
    ) -> Result<(Team, TeamMember), StoreError> {
        let t = now();
        let team = teams::Model {
            id: TeamId::new().as_uuid(),
            name: name.into_inner(),
            description: description.map(Description::into_inner),
            settings: serde_json::json!({}),
            created_at: t,
            updated_at: t,
        };
        teams::Entity::insert(teams::ActiveModel::from(team.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "a team with this name already exists",
            ))?;
        if matches!(self.actor(), crate::Actor::User { id, .. } if id == owner) {
            self.enter_team(TeamId::from_uuid(team.id), TeamRole::Owner)
                .await?;
        }
        let member = self
            .insert_member(TeamId::from_uuid(team.id), owner, TeamRole::Owner)
            .await?;
        Ok((team_from(team)?, member))
    }

    async fn insert_member(
        &self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> Result<TeamMember, StoreError> {
        let m = team_members::Model {
            id: TeamMemberId::new().as_uuid(),
            team_id: team.as_uuid(),
            user_id: user.as_uuid(),
            role: role.as_str().to_owned(),
            joined_at: now(),
        };
        team_members::Entity::insert(team_members::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "this user is already a member of the team",
            ))?;
        self.auth_changed().await?;
        member_from(m)
    }

    pub async fn team(&self, id: TeamId) -> Result<Team, StoreError> {
        let mut q = teams::Entity::find_by_id(id.as_uuid());
        if !self.is_unrestricted() && self.team_role(id).is_none() {
            q = q.filter(teams::Column::Id.is_null());
        }
        team_from(found(q.one(self.connection()).await?, "team")?)
    }

    /// The teams the actor belongs to (every team for admins).
    pub async fn list_teams(&self, page: Page) -> Result<Paginated<Team>, StoreError> {
        let mut select = teams::Entity::find();
        if !self.is_unrestricted() {
            select = select.filter(teams::Column::Id.is_in(self.team_ids()));
        }
        let select = select
            .order_by_desc(teams::Column::CreatedAt)
            .order_by_desc(teams::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter().map(team_from).collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    pub(crate) fn team_ids(&self) -> Vec<uuid::Uuid> {
        self.memberships()
            .iter()
            .map(|(t, _)| t.as_uuid())
            .collect()
    }

    pub async fn team_members(&self, team: TeamId) -> Result<Vec<TeamMember>, StoreError> {
        self.team(team).await?;
        team_members::Entity::find()
            .filter(team_members::Column::TeamId.eq(team.as_uuid()))
            .order_by_asc(team_members::Column::JoinedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(member_from)
            .collect()
    }

    pub async fn add_team_member(
        &self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> Result<TeamMember, StoreError> {
        self.team(team).await?;
        self.user(user).await?;
        self.insert_member(team, user, role).await
    }

    /// Changes a member's role; refused when the team would be left without an owner.
    pub async fn set_team_member_role(
        &self,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> Result<TeamMember, StoreError> {
        self.change_membership(team, MemberChange::SetRole(user, role))
            .await?;
        team_members::Entity::update_many()
            .col_expr(team_members::Column::Role, role.as_str().into())
            .filter(team_members::Column::TeamId.eq(team.as_uuid()))
            .filter(team_members::Column::UserId.eq(user.as_uuid()))
            .exec(self.connection())
            .await?;
        self.auth_changed().await?;
        let m = team_members::Entity::find()
            .filter(team_members::Column::TeamId.eq(team.as_uuid()))
            .filter(team_members::Column::UserId.eq(user.as_uuid()))
            .one(self.connection())
            .await?;
        member_from(found(m, "team member")?)
    }

    /// Removes a member; refused when they are the team's last owner.
    pub async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<(), StoreError> {
        self.change_membership(team, MemberChange::Remove(user))
            .await?;
        team_members::Entity::delete_many()
            .filter(team_members::Column::TeamId.eq(team.as_uuid()))
            .filter(team_members::Column::UserId.eq(user.as_uuid()))
            .exec(self.connection())
            .await?;
        self.auth_changed().await
    }

    async fn change_membership(
        &self,
        team: TeamId,
        change: MemberChange,
    ) -> Result<(), StoreError> {
        let members: Vec<(UserId, TeamRole)> = self
            .team_members(team)
            .await?
            .into_iter()
            .map(|m| (m.user_id, m.role))
            .collect();
        let user = match change {
            MemberChange::SetRole(u, _) | MemberChange::Remove(u) => u,
        };
        if !members.iter().any(|(u, _)| *u == user) {
            return Err(StoreError::NotFound("team member"));
        }
        // A rule about the team as it is, not about the request: a conflict (409).
        check_team_keeps_an_owner(&members, change).map_err(|_| {
            StoreError::conflict(
                ErrorCode::LastOwner,
                "a team must keep at least one owner: make another member owner first",
            )
        })?;
        Ok(())
    }

    pub async fn update_team(
        &self,
        id: TeamId,
        name: Option<TeamName>,
        description: Option<Option<Description>>,
    ) -> Result<Team, StoreError> {
        self.team(id).await?;
        let mut am = teams::ActiveModel {
            updated_at: Set(now()),
            ..Default::default()
        };
        if let Some(n) = name {
            am.name = Set(n.into_inner());
        }
        if let Some(d) = description {
            am.description = Set(d.map(Description::into_inner));
        }
        teams::Entity::update_many()
            .set(am)
            .filter(teams::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "a team with this name already exists",
            ))?;
        self.team(id).await
    }

    /// The members of a team with their usernames, in the order they joined.
    pub async fn team_members_named(
        &self,
        team: TeamId,
    ) -> Result<Vec<(TeamMember, Username)>, StoreError> {
        let members = self.team_members(team).await?;
        let ids: Vec<uuid::Uuid> = members.iter().map(|m| m.user_id.as_uuid()).collect();
        let names: std::collections::HashMap<uuid::Uuid, String> = users::Entity::find()
            .filter(users::Column::Id.is_in(ids))
            .all(self.connection())
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        members
            .into_iter()
            .map(|m| {
                let name = names
                    .get(&m.user_id.as_uuid())
                    .ok_or(StoreError::NotFound("user"))?;
                Ok((m, parse_col(name)?))
            })
            .collect()
    }

    pub async fn delete_team(&self, id: TeamId) -> Result<(), StoreError> {
        self.team(id).await?;
        teams::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        self.auth_changed().await
    }
}
