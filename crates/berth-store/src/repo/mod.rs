//! Repository methods, grouped by aggregate, all on [`crate::Scope`]. Each list is newest first
//! and paginated with its total. Application-level filters restrict every read to what the
//! actor may see; on Postgres, row-level security applies the same rule again.

mod applications;
mod audit;
mod certificates;
mod databases;
mod deployments;
mod domains;
mod hosts;
mod operations;
mod pipeline;
mod projects;
mod registries;
mod schedules;
mod settings;
mod tokens;
mod users;
mod volumes;

pub use applications::*;
pub use audit::*;
pub use certificates::*;
pub use databases::*;
pub use deployments::*;
pub use operations::*;
pub use projects::*;
pub use registries::*;
pub use schedules::*;
pub use tokens::*;
pub use users::*;
pub use volumes::*;

use std::str::FromStr;

use berth_domain::{ErrorCode, Page, TeamId, TeamRole, UserId, ValidationError};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Select,
};

use crate::entity::team_members;
use crate::StoreError;

/// Parses a stored value back into its domain type; a failure means the row was changed
/// outside berth.
pub(crate) fn parse_col<T>(s: &str) -> Result<T, StoreError>
where
    T: FromStr<Err = ValidationError>,
{
    T::from_str(s).map_err(|e| StoreError::Corrupt(format!("{s:?}: {e}")))
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The current time, truncated to microseconds (the precision both backends keep), so that a
/// value read back equals the value written.
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Turns a uniqueness or reference violation into a conflict with a code and a message for the
/// user.
pub(crate) fn conflict(code: ErrorCode, message: &'static str) -> impl Fn(DbErr) -> StoreError {
    move |e| match StoreError::from(e) {
        StoreError::Conflict { .. } => StoreError::conflict(code, message),
        other => other,
    }
}

/// One page of `select`, with the total count of rows it matches, in one statement, in the
/// form each database runs fastest (measured: `make bench`, `bench_request`): on SQLite a
/// scalar `(SELECT COUNT(*) …)` with the same filter, evaluated once (`COUNT(*) OVER ()` made
/// it materialise every matching row and took twice as long); on Postgres `COUNT(*) OVER ()`
/// (the subquery applied the row-level security policies to every row a second time and took
/// twice as long). Only a page past the end, which has no row to carry the total, counts
/// separately.
pub(crate) async fn fetch_page<E, C>(
    conn: &C,
    select: Select<E>,
    page: Page,
) -> Result<(Vec<E::Model>, u64), StoreError>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    const TOTAL: &str = "berth_page_total";
    let backend = conn.get_database_backend();
    let total = match backend {
        DbBackend::Postgres => Expr::cust("COUNT(*) OVER ()"),
        _ => {
            let mut count = select
                .clone()
                .select_only()
                .column_as(Expr::cust("COUNT(*)"), TOTAL)
                .into_query();
            count.clear_order_by();
            SimpleExpr::SubQuery(None, Box::new(count.into_sub_query_statement()))
        }
    };
    let statement = select
        .clone()
        .column_as(total, TOTAL)
        .limit(page.limit())
        .offset(page.offset())
        .build(backend);
    let rows = conn.query_all(statement).await?;
    let Some(first) = rows.first() else {
        let total = if page.offset() == 0 {
            0
        } else {
            select.count(conn).await?
        };
        return Ok((Vec::new(), total));
    };
    let total: i64 = first.try_get("", TOTAL)?;
    let models = rows
        .iter()
        .map(|row| E::Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((models, u64::try_from(total).unwrap_or(0)))
}

/// A user's team memberships (read by the application on SQLite; Postgres returns them from
/// `berth_act_as`).
pub(crate) async fn memberships_of<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> Result<Vec<(TeamId, TeamRole)>, StoreError> {
    team_members::Entity::find()
        .filter(team_members::Column::UserId.eq(user.as_uuid()))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| Ok((TeamId::from_uuid(m.team_id), parse_col(&m.role)?)))
        .collect()
}

/// Maps "no row" to the not-found error of that kind of object.
pub(crate) fn found<T>(v: Option<T>, what: &'static str) -> Result<T, StoreError> {
    v.ok_or(StoreError::NotFound(what))
}
