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
    pub fn new(status: u16, title: &str) -> Self {
        Self {
            kind: "about:blank".into(),
            title: title.into(),
            status,
            detail: None,
            errors: Vec::new(),
        }
    }
}
