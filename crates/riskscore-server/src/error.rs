//! Errors: the crate's `Error` (start-up and journal), and `ApiError`, the one JSON shape of
//! every 4xx/5xx answer: `{"error": {"status", "code", "message", "fields"?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("journal {location}: {message}")]
    Journal { location: String, message: String },
    #[error(transparent)]
    Model(#[from] riskscore_model::Error),
    #[error(transparent)]
    Explain(#[from] riskscore_explain::Error),
    #[error(transparent)]
    Features(#[from] riskscore_features::Error),
    #[error(transparent)]
    Data(#[from] riskscore_data::Error),
    #[error("{context}: {}", riskscore_data::error::brief(.source))]
    Polars {
        context: String,
        source: polars::error::PolarsError,
    },
    #[error("{0}")]
    Input(String),
    /// Nothing to compute on (an empty journal window).
    #[error("{0}")]
    NoData(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the cause is the user's input or configuration (exit code 1) rather than ours.
    pub fn is_input(&self) -> bool {
        match self {
            Error::Model(e) => e.is_input(),
            Error::Polars { .. } => false,
            _ => true,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What went wrong: the HTTP status, a stable code, a message, and the invalid fields.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(serialize_with = "status_code")]
    #[schema(value_type = u16)]
    pub status: StatusCode,
    /// Stable: `not_found`, `malformed_request`, `invalid_query`, `invalid_fields`,
    /// `invalid_application`, `unauthorized`, `body_too_large`, `method_not_allowed`, `conflict`
    /// codes (`no_application`, `no_reference`, `no_data`), `timeout`, `journal_unavailable`,
    /// `not_ready`, `internal`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", message)
    }

    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_fields",
            message: format!("invalid fields: {}", listed(&names, 5)),
            fields,
        }
    }

    /// One invalid field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// A failure of ours: the cause is logged, the answer stays generic.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the cause is in the server log",
        )
    }

    /// The journal could not commit: no decision is given without its record.
    pub fn journal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "journal unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "journal_unavailable",
            "the decision journal is unavailable; no decision was given",
        )
    }
}

fn status_code<S: serde::Serializer>(s: &StatusCode, out: S) -> Result<S::Ok, S::Error> {
    out.serialize_u16(s.as_u16())
}

/// Every 4xx and 5xx answer: `{"error": {...}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ApiError,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(ErrorBody { error: self })).into_response()
    }
}

/// The first `shown` of `items` joined with commas, then how many more (`a, b and 3 more`).
pub(crate) fn listed<S: AsRef<str>>(items: &[S], shown: usize) -> String {
    let mut text = items
        .iter()
        .take(shown)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > shown {
        text.push_str(&format!(" and {} more", items.len() - shown));
    }
    text
}
