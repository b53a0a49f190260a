//! The model watched from its journal (`GET /v1/monitor`): estimated performance per chunk of
//! decisions (CBPE) and realized performance by cohort once outcomes are recorded.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{blocking, bounded, ApiQuery, ApiResult};
use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::journal::{instant, outcomes, read_window, Filter};
use crate::monitor::{compare, monitor, Cohorts, ModelRef, Monitor, DEFAULT_CHUNK};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_monitor))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MonitorQuery {
    /// Decisions from this time: a date, a UTC time or a span before now (30d).
    // A date, a UTC time, or a span before now, as the journal's filters take it.
    #[param(
        pattern = "^([0-9]{1,9}[mhd]|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?(Z|\\+00:00))?)$"
    )]
    since: Option<String>,
    /// Decisions per estimated chunk (10-100000, default 500).
    #[param(value_type = Option<u32>, minimum = 10, maximum = 100000)]
    chunk_size: Option<String>,
    /// Realized cohorts: `month` (default) or a number of decisions (10 to 1,000,000).
    #[param(pattern = "^(month|[1-9][0-9]{1,5}|1000000)$")]
    cohort: Option<String>,
    /// `json` (default) or `html` (the report).
    #[param(value_type = Option<String>, pattern = "^(json|html)$")]
    format: Option<String>,
}

/// The model's estimated (CBPE, NannyML's method) and realized performance from the journal.
#[utoipa::path(get, path = "/v1/monitor", operation_id = "getMonitor", tag = "monitoring",
    params(MonitorQuery),
    responses(
        (status = 200, description = "The monitor (JSON), or the report (format=html)",
            content((Monitor = "application/json"), (String = "text/html"))),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 409, description = "The bundle has no out-of-fold predictions (oof.csv)", body = ErrorBody),
        (status = 422, description = "A parameter is invalid, named in fields", body = ErrorBody),
        (status = 503, description = "The journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn get_monitor(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<MonitorQuery>,
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
    let since = q
        .since
        .as_deref()
        .map(|t| instant(t).map_err(|m| ApiError::invalid_field("since", m)))
        .transpose()?;
    let chunk = bounded(
        "chunk_size",
        q.chunk_size.as_deref(),
        DEFAULT_CHUNK,
        10..=100_000,
    )?;
    let cohorts = match q.cohort.as_deref() {
        None | Some("month") => Cohorts::Month,
        Some(n) => Cohorts::Size(bounded("cohort", Some(n), 1, 10..=1_000_000).map_err(|_| {
            ApiError::invalid_field(
                "cohort",
                format!("`{n}`: month, or a number of decisions (10 or more)"),
            )
        })?),
    };
    let sc = s.scorer.clone();
    let store = s.journal.store().clone();
    let challenger = s.challenger.clone();
    let m: Monitor = blocking(move || {
        let Some(reference) = sc.oof.as_ref() else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "no_reference",
                "the model bundle has no out-of-fold predictions (oof.csv); retrain it to monitor",
            ));
        };
        let filter = Filter {
            since,
            ..Filter::default()
        };
        let entries = read_window(&store, &filter).map_err(|e| ApiError::journal(&e))?;
        let outcomes = outcomes::read(&store).map_err(|e| ApiError::journal(&e))?;
        let mut m = monitor(
            &entries,
            &outcomes,
            &sc.explainer.manifest,
            &sc.model_version,
            reference,
            cohorts,
            chunk,
        );
        if let Some(ch) = &challenger {
            if let Some(ch_reference) = ch.scorer.oof.as_ref() {
                m.challenger = Some(compare(
                    &entries,
                    &outcomes,
                    ModelRef {
                        manifest: &sc.explainer.manifest,
                        version: &sc.model_version,
                        reference,
                    },
                    ModelRef {
                        manifest: &ch.scorer.explainer.manifest,
                        version: &ch.scorer.model_version,
                        reference: ch_reference,
                    },
                ));
            }
        }
        Ok(m)
    })
    .await?;
    if html {
        return Ok(Html(crate::monitor::html(&m)).into_response());
    }
    Ok(Json(m).into_response())
}
