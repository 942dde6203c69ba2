//! RFC 9457 problem details: the one error body of the API. Every error reaches it through
//! [`crate::ApiError`], which is the only `ResponseError` of the crate.

/// An error as the caller sees it: `type`, `title`, `status`, `detail`, and for invalid input
/// the list of fields and what is wrong with each.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// A stable, machine-readable code: what a program acts on (docs/api.md says what each
    /// means).
    #[schema(schema_with = code_schema)]
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(status: u16, title: &str, code: berth_domain::ErrorCode) -> Self {
        Self {
            kind: "about:blank".into(),
            title: title.into(),
            status,
            code: code.as_str(),
            detail: None,
            errors: Vec::new(),
        }
    }
}

/// Every code berth answers, as an enumeration in the OpenAPI document.
fn code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            berth_domain::ErrorCode::ALL.iter().map(|c| c.as_str()),
        ))
        .description(Some(
            "A stable, machine-readable code: what a program acts on (docs/api.md says what each means).",
        ))
        .build()
}
