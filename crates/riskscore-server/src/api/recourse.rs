//! What a refused applicant could change to be granted (`GET /v1/clients/{id}/recourse`): the
//! cheapest changes to at most K fields of the action set, searched on the model's trees and
//! each re-scored through the full pipeline. A hypothesis, not a decision: not journaled.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use riskscore_explain::recourse::{Cost, Query, MAX_CHANGES};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{application, blocking, known, known_index, ApiQuery, ApiResult, ClientId};
use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::recourse::RecourseAnswer;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recourse))
}

/// The longest time budget a request may ask for.
const MAX_BUDGET_MS: u64 = 5_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RecourseQuery {
    /// The most fields one option changes (1-3, default 2).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3)]
    k: Option<String>,
    /// `percentile` (default: shifts of the population percentile, summed) or `relative`.
    #[param(value_type = Option<String>, pattern = "^(percentile|relative)$")]
    cost: Option<String>,
    /// The search's time budget in milliseconds (1-5000, default 200).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 5000)]
    budget_ms: Option<String>,
}

fn integer(name: &str, raw: &str, lo: u64, hi: u64) -> ApiResult<u64> {
    match raw.parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(ApiError::invalid_field(
            name,
            format!("`{raw}` is not an integer from {lo} to {hi}"),
        )),
    }
}

/// The query, defaults filled in.
pub(crate) fn query_of(
    k: Option<&str>,
    cost: Option<&str>,
    budget_ms: Option<&str>,
) -> ApiResult<Query> {
    let mut q = Query::default();
    if let Some(k) = k {
        q.k = integer("k", k, 1, MAX_CHANGES as u64)? as usize;
    }
    if let Some(c) = cost {
        q.cost = c
            .parse::<Cost>()
            .map_err(|e| ApiError::invalid_field("cost", e))?;
    }
    if let Some(b) = budget_ms {
        q.budget = Duration::from_millis(integer("budget_ms", b, 1, MAX_BUDGET_MS)?);
    }
    Ok(q)
}

/// What the client could change to be granted: up to three options, cheapest first, each a
/// change of at most `k` fields of the action set (never a protected attribute, age, an
/// external score or the credit history), re-scored through the model's fitted pipeline.
/// `no_recourse` is certified over the candidate values (the model's own split thresholds);
/// `proven_optimal` says the search completed within its budget. Not journaled.
#[utoipa::path(get, path = "/v1/clients/{id}/recourse", operation_id = "getRecourse",
    tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)"), RecourseQuery),
    responses(
        (status = 200, description = "The options (status found), or why there are none", body = RecourseAnswer),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 409, description = "The server has no raw applications (started on a feature matrix)", body = ErrorBody),
        (status = 422, description = "The id is not an integer, or k, cost or budget_ms is not one of their values", body = ErrorBody),
        (status = 503, description = "The client's application cannot be read again (its file changed since the start), or the request timed out", body = ErrorBody),
    ))]
async fn recourse(
    State(s): State<AppState>,
    ClientId(id): ClientId,
    ApiQuery(q): ApiQuery<RecourseQuery>,
) -> ApiResult<Json<RecourseAnswer>> {
    let query = query_of(q.k.as_deref(), q.cost.as_deref(), q.budget_ms.as_deref())?;
    let i = known_index(&s.scorer, id)?;
    let app = application(&s, i)?;
    let sc = s.scorer.clone();
    let answer = blocking(move || {
        let (_, x) = known(&sc, id)?;
        sc.recourse(id, &app, &x, &query)
            .map_err(|e| ApiError::internal(&e))
    })
    .await?;
    Ok(Json(answer))
}
