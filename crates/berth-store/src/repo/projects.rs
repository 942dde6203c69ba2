use berth_domain::*;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use super::{conflict, fetch_page, found, now, parse_col};
use crate::entity::{applications, projects};
use crate::{Actor, Scope, StoreError};

#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: ProjectName,
    pub description: Option<Description>,
    pub team_id: Option<TeamId>,
}

/// A change to a project; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub name: Option<ProjectName>,
    pub description: Option<Option<Description>>,
    pub team_id: Option<Option<TeamId>>,
}

fn project_from(m: projects::Model) -> Result<Project, StoreError> {
    Ok(Project {
        id: ProjectId::from_uuid(m.id),
        name: parse_col(&m.name)?,
        description: m.description.as_deref().map(parse_col).transpose()?,
        owner_id: UserId::from_uuid(m.owner_id),
        team_id: m.team_id.map(TeamId::from_uuid),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

impl Scope {
    /// The application-level tenant filter: projects the actor owns or reaches through a team.
    pub(crate) fn visible_projects(&self) -> Select<projects::Entity> {
        let select = projects::Entity::find();
        match self.actor() {
            _ if self.is_unrestricted() => select,
            Actor::User { id, .. } => select.filter(
                Condition::any()
                    .add(projects::Column::OwnerId.eq(id.as_uuid()))
                    .add(projects::Column::TeamId.is_in(self.team_ids())),
            ),
            _ => select.filter(projects::Column::Id.is_null()),
        }
    }

    fn acting_user(&self) -> Result<UserId, StoreError> {
        match self.actor() {
            Actor::User { id, .. } => Ok(id),
            _ => Err(StoreError::Validation(ValidationError::field(
                "user",
                "this needs a signed-in user",
            ))),
        }
    }

    /// Creates a project owned by the acting user, optionally managed by one of their teams.
    pub async fn create_project(&self, new: NewProject) -> Result<Project, StoreError> {
        let owner = self.acting_user()?;
        if let Some(team) = new.team_id {
            if !self.is_unrestricted() && self.team_role(team).is_none() {
                return Err(StoreError::NotFound("team"));
            }
        }
        let t = now();
        let m = projects::Model {
            id: ProjectId::new().as_uuid(),
            name: new.name.into_inner(),
            description: new.description.map(Description::into_inner),
            owner_id: owner.as_uuid(),
            team_id: new.team_id.map(|t| t.as_uuid()),
            metadata: serde_json::json!({}),
            created_at: t,
            updated_at: t,
        };
        projects::Entity::insert(projects::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "you already have a project with this name",
            ))?;
        project_from(m)
    }

    pub async fn project(&self, id: ProjectId) -> Result<Project, StoreError> {
        let m = self
            .visible_projects()
            .filter(projects::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        project_from(found(m, "project")?)
    }

    /// How many applications each of `projects` has, by status, in one grouped read of the
    /// applications this scope sees (row-level security applies as to every read; a project
    /// with none is absent, meaning zero).
    pub async fn application_counts(
        &self,
        projects: &[ProjectId],
    ) -> Result<std::collections::HashMap<ProjectId, ApplicationCounts>, StoreError> {
        if projects.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(uuid::Uuid, String, i64)> = self
            .visible_applications()
            .select_only()
            .column(applications::Column::ProjectId)
            .column(applications::Column::Status)
            .column_as(applications::Column::Id.count(), "n")
            .filter(applications::Column::ProjectId.is_in(projects.iter().map(|p| p.as_uuid())))
            .group_by(applications::Column::ProjectId)
            .group_by(applications::Column::Status)
            .into_tuple()
            .all(self.connection())
            .await?;
        let mut counts = std::collections::HashMap::<ProjectId, ApplicationCounts>::new();
        for (project, status, n) in rows {
            let n = n.max(0) as u64;
            let c = counts.entry(ProjectId::from_uuid(project)).or_default();
            c.total += n;
            match parse_col::<ApplicationStatus>(&status)? {
                ApplicationStatus::Running => c.running += n,
                ApplicationStatus::Stopped => c.stopped += n,
                ApplicationStatus::Failed => c.failed += n,
                ApplicationStatus::Deploying | ApplicationStatus::Scaling => {}
            }
        }
        Ok(counts)
    }

    pub async fn list_projects(&self, page: Page) -> Result<Paginated<Project>, StoreError> {
        let select = self
            .visible_projects()
            .order_by_desc(projects::Column::CreatedAt)
            .order_by_desc(projects::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter()
                .map(project_from)
                .collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    pub async fn update_project(
        &self,
        id: ProjectId,
        changes: ProjectChanges,
    ) -> Result<Project, StoreError> {
        self.project(id).await?;
        let mut am = projects::ActiveModel {
            updated_at: Set(now()),
            ..Default::default()
        };
        if let Some(name) = changes.name {
            am.name = Set(name.into_inner());
        }
        if let Some(d) = changes.description {
            am.description = Set(d.map(Description::into_inner));
        }
        if let Some(team) = changes.team_id {
            if let Some(t) = team {
                if !self.is_unrestricted() && self.team_role(t).is_none() {
                    return Err(StoreError::NotFound("team"));
                }
            }
            am.team_id = Set(team.map(|t| t.as_uuid()));
        }
        projects::Entity::update_many()
            .set(am)
            .filter(projects::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "you already have a project with this name",
            ))?;
        self.project(id).await
    }

    /// Deletes a project and, by cascade, its (deleted) applications, databases and domains.
    /// Refused while it has an application not deleted yet: deleting one removes its Swarm
    /// service, jobs, secrets and images, so none keeps running with no row to manage it. Also
    /// refused while a volume of one of its applications exists (removed explicitly).
    pub async fn delete_project(&self, id: ProjectId) -> Result<(), StoreError> {
        self.project(id).await?;
        self.refuse_while_applications_left(
            applications::Column::ProjectId.eq(id.as_uuid()),
            "the project",
        )
        .await?;
        let r = projects::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::StillReferenced,
                "the project still has volumes; delete them first",
            ))?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound("project"));
        }
        Ok(())
    }
}

impl Scope {
    /// A conflict naming the applications (not deleted) that `filter` selects, if any.
    pub(crate) async fn refuse_while_applications_left(
        &self,
        filter: sea_orm::sea_query::SimpleExpr,
        what: &str,
    ) -> Result<(), StoreError> {
        let left: Vec<String> = applications::Entity::find()
            .filter(filter)
            .filter(applications::Column::DeletedAt.is_null())
            .order_by_asc(applications::Column::Name)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|a| a.name)
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        Err(StoreError::conflict(
            ErrorCode::StillReferenced,
            format!(
            "{what} still has applications ({}); delete them first, which stops and removes what berth runs for them",
            left.join(", ")
        )))
    }
}
