//! The API's own request and response types. Domain types carry no HTTP or schema concerns;
//! these do, and convert explicitly. Request bodies reject unknown fields, and their values are
//! parsed by the domain's constructors so every invalid field is reported at once.

use berth_domain::error::Validator;
use berth_domain::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod applications;
mod audit;
mod deployments;
mod domains;
mod environment;
mod operations;
mod projects;
mod registries;
mod runtime;
mod schedules;
mod schema;
mod service_tokens;
mod settings;
mod teams;
mod users;
mod volumes;
mod webhooks;

pub use applications::*;
pub use audit::*;
pub use deployments::*;
pub use domains::*;
pub use environment::*;
pub use operations::*;
pub use projects::*;
pub use registries::*;
pub use runtime::*;
pub use schedules::*;
pub use service_tokens::*;
pub use settings::*;
pub use teams::*;
pub use users::*;
pub use volumes::*;
pub use webhooks::*;

/// One event of a live stream (Server-Sent Events) as it is sent: its name, its data (JSON
/// text, of the shape the endpoint says for that name) and, where the stream can resume
/// (a deployment's log), its id.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerSentEvent {
    pub event: String,
    pub data: String,
    pub id: Option<String>,
}

/// One page of a list, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOf<T: ToSchema> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

impl<T: ToSchema> PageOf<T> {
    pub fn from<D>(p: Paginated<D>, f: impl FnMut(D) -> T) -> Self {
        let p = p.map(f);
        Self {
            items: p.items,
            total: p.total,
            limit: p.limit,
            offset: p.offset,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (1 to 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Skip this many items.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<Page, ValidationError> {
        Page::parse(self.limit, self.offset)
    }
}

/// A nested object of a body, taken only as a JSON object: serde would also take an array of
/// its fields in order, which the document does not allow (and nobody means).
#[derive(Debug)]
pub struct Obj<T>(pub T);

impl<T> std::ops::Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Obj<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if !value.is_object() {
            return Err(serde::de::Error::custom("must be a JSON object"));
        }
        T::deserialize(value)
            .map(Obj)
            .map_err(serde::de::Error::custom)
    }
}

/// Deserialises a field that may be absent (leave as is), `null` (clear) or a value.
pub(crate) fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A PATCH description: absent (keep), `null` (clear) or a new value.
pub fn parse_description_change(
    v: &mut Validator,
    d: &Option<Option<String>>,
) -> Option<Option<Description>> {
    match d {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => v.check("description", Description::parse(text)).map(Some),
    }
}

fn parse_opt_description(
    v: &mut Validator,
    field: &str,
    d: &Option<String>,
) -> Option<Option<Description>> {
    match d {
        None => Some(None),
        Some(s) => v.check(field, Description::parse(s)).map(Some),
    }
}
