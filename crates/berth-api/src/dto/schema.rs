//! Schemas of request fields whose allowed values the domain decides, made from the domain's
//! own lists so that the document cannot drift from them (the roles, a volume's kind). Numeric ranges and
//! patterns sit on the fields themselves (`#[schema(minimum = …)]`), beside the parse that
//! enforces them; the schemathesis run of `make test` sends values outside each schema and
//! fails if berth takes one, so no schema is stricter than berth.

use berth_domain::{PlatformRole, TeamRole, VolumeKind};
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::openapi::{Object, ObjectBuilder};

fn one_of(values: impl Iterator<Item = &'static str>, nullable: bool) -> Object {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    let mut values: Vec<serde_json::Value> = values.map(serde_json::Value::from).collect();
    if nullable {
        values.push(serde_json::Value::Null);
    }
    ObjectBuilder::new()
        .schema_type(kind)
        .enum_values(Some(values))
        .build()
}

pub fn team_role() -> Object {
    one_of(TeamRole::ALL.iter().map(|r| r.as_str()), false)
}

pub fn platform_role_or_null() -> Object {
    one_of(PlatformRole::ALL.iter().map(|r| r.as_str()), true)
}

pub fn volume_kind_or_null() -> Object {
    one_of(VolumeKind::ALL.iter().map(|k| k.as_str()), true)
}
