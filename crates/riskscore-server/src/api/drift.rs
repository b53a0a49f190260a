//! Drift of the journal's recent scores against the model's training sample
//! (`GET /v1/drift`), as JSON or the self-contained HTML report.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use riskscore_drift::detect::DataDrift;

use super::common::{blocking, bounded, ApiQuery, ApiResult};
use super::AppState;
use crate::drift::{journal_drift, Window, DEFAULT_LAST, MAX_LAST};
use crate::error::{ApiError, ErrorBody};
use crate::journal::{instant, Filter};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(drift))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DriftQuery {
    /// From this time: a date (2026-11-28), a UTC time (2026-11-28T14:30:00Z) or a span before
    /// now (90m, 24h, 7d).
    // A date, a UTC time, or a span before now, as the journal's filters take it.
    #[param(
        pattern = "^([0-9]{1,9}[mhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?(Z|\\+00:00))?)$"
    )]
    since: Option<String>,
    /// Before this time (same forms). A window that ends before it starts is empty (409).
    // A date, a UTC time, or a span before now, as the journal's filters take it.
    #[param(
        pattern = "^([0-9]{1,9}[mhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?(Z|\\+00:00))?)$"
    )]
    until: Option<String>,
    /// The most recent N scores of the window (1-100000; default 10000 without since, 100000
    /// with it).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100000)]
    last: Option<String>,
    /// json (default) or html (the self-contained report).
    #[param(inline, value_type = Option<Format>)]
    format: Option<String>,
}

/// The answer's form.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // read as text, to name an unknown form in a 422
pub enum Format {
    Json,
    Html,
}

/// The drift of a window of the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriftAnswer {
    pub model_version: String,
    pub window: Window,
    /// As `riskscore drift --json`: per column the test, score, threshold, verdict, PSI and its
    /// band; the share of drifted columns and the data set's verdict.
    #[schema(value_type = Object)]
    pub drift: DataDrift,
}

/// Drift of the journal's recent scores against the model's training sample.
///
/// The feature rows the model scored (known clients and new applications, each (client, row)
/// once, the latest kept) in the window, against the bundle's reference.parquet (training rows
/// with their out-of-fold probability): Evidently's DataDriftPreset tests per feature and for
/// the predicted probability, PSI, the share of drifted columns and the verdict.
#[utoipa::path(get, path = "/v1/drift", operation_id = "getDrift", tag = "drift",
    params(DriftQuery),
    responses(
        (status = 200, description = "The window and the drift (JSON), or the report (format=html)",
            content((DriftAnswer = "application/json"), (String = "text/html"))),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 409, description = "No scored applications of this model with rows in the window, or a bundle without a training sample", body = ErrorBody),
        (status = 422, description = "A parameter is invalid, named in fields", body = ErrorBody),
        (status = 503, description = "The journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn drift(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<DriftQuery>,
) -> ApiResult<Response> {
    let html = match q.format.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(other) => {
            return Err(ApiError::invalid_field(
                "format",
                format!("`{other}`: json or html"),
            ))
        }
    };
    let bound = |field: &str, v: &Option<String>| -> ApiResult<Option<String>> {
        v.as_deref()
            .map(|t| instant(t).map_err(|m| ApiError::invalid_field(field, m)))
            .transpose()
    };
    let since = bound("since", &q.since)?;
    let until = bound("until", &q.until)?;
    // Without a start, the most recent scores; with one, the whole window up to the cap.
    let default = if since.is_some() {
        MAX_LAST
    } else {
        DEFAULT_LAST
    };
    let last = Some(bounded("last", q.last.as_deref(), default, 1..=MAX_LAST)?);
    let sc = s.scorer.clone();
    let store = s.journal.store().clone();
    let filter = Filter {
        since,
        until,
        last,
        ..Filter::default()
    };
    let (report, window) = blocking(move || {
        let reference = sc.reference.as_ref().ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_reference",
                "the model bundle has no training sample (reference.parquet); retrain it to \
                 analyse drift",
            )
        })?;
        journal_drift(&store, filter, reference, &sc.names, &sc.model_version).map_err(
            |e| match e {
                crate::Error::NoData(m) => ApiError::new(StatusCode::CONFLICT, "no_data", m),
                crate::Error::Journal { .. } => ApiError::journal(&e),
                e => ApiError::internal(&e),
            },
        )
    })
    .await?;
    if html {
        let page = riskscore_drift::report::render(
            &report,
            &format!("training sample of model {}", s.scorer.model_version),
            &format!(
                "journal: {} applications scored from {} to {}",
                window.used,
                window.first_time.as_deref().unwrap_or("?"),
                window.last_time.as_deref().unwrap_or("?")
            ),
        );
        return Ok(Html(page).into_response());
    }
    Ok(Json(DriftAnswer {
        model_version: s.scorer.model_version.clone(),
        window,
        drift: report,
    })
    .into_response())
}
