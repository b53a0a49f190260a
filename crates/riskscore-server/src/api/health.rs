//! What the platform and the operators read: liveness, readiness, Prometheus metrics. Open
//! whatever the API keys.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::error::{ApiError, ErrorBody};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The process answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

/// The model is loaded and the journal's writer runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    #[schema(pattern = "^ready$")]
    pub status: &'static str,
    pub clients: usize,
    pub model_version: String,
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Alive)))]
async fn healthz() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Readiness (model loaded, journal writer running).
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready", body = ErrorBody),
    ))]
async fn readyz(State(s): State<AppState>) -> Response {
    if s.journal.is_alive() {
        Json(Ready {
            status: "ready",
            clients: s.scorer.n_clients(),
            model_version: s.scorer.model_version.clone(),
        })
        .into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the decision journal writer has stopped",
        )
        .into_response()
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "health",
    responses((status = 200, description = "Text exposition format", body = String,
        content_type = "text/plain")))]
async fn metrics(State(s): State<AppState>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Body::from(s.metrics.render()))
        .unwrap_or_else(|e| ApiError::internal(&e).into_response())
}
