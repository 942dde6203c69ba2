//! Schemas of request fields whose allowed values the domain decides, made from the domain's
//! own lists so that the document cannot drift from them (the roles, a volume's kind). Numeric ranges and
//! patterns sit on the fields themselves (`#[schema(minimum = …)]`), beside the parse that
//! enforces them; the rules of [`berth_domain::patterns`] that utoipa cannot state (a pattern
//! a value must not contain, one of two shapes) are written into the document from the rules
//! themselves (`openapi::state_the_rules`); the schemathesis run of `make test` sends values outside each schema and
//! fails if berth takes one, so no schema is stricter than berth.

use berth_domain::{GitProvider, PlatformRole, TeamRole, VolumeKind};
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

pub fn git_provider() -> Object {
    one_of(GitProvider::ALL.iter().map(|p| p.as_str()), false)
}

pub fn port_protocol_or_null() -> Object {
    one_of(["tcp", "udp"].into_iter(), true)
}

pub fn publish_mode_or_null() -> Object {
    one_of(["ingress", "host"].into_iter(), true)
}

pub fn www_redirect_or_null() -> Object {
    one_of(["none", "to_apex", "to_www"].into_iter(), true)
}

pub fn volume_kind_or_null() -> Object {
    one_of(VolumeKind::ALL.iter().map(|k| k.as_str()), true)
}
