//! The known clients: who they are, their journaled score and explanation, their nearest
//! labelled neighbours (`/v1/clients/{id}...`; the desk's comparison and what-if are in
//! `desk.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use riskscore_explain::client::{ClientExplanation, Reason};

use super::common::{
    blocking, bounded, known, known_index, record, ApiQuery, ApiResult, ClientId, Record,
    RequestId, ScoredRow,
};
use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::notice::{features, Notice, Written};
use crate::scorer::Refusal;
use crate::scorer::{ClientInfo, Neighbour, Score};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(client))
        .routes(routes!(client_score))
        .routes(routes!(client_explanation))
        .routes(routes!(client_notice))
        .routes(routes!(client_similar))
}

/// A decision on a known client, as journaled.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreAnswer {
    pub id: i64,
    pub score: Score,
    pub model_version: String,
    /// A refusal's principal reasons (empty when granted).
    #[schema(value_type = Vec<Reason>)]
    pub reasons: Written,
    /// A refusal's adverse-action notice (None when granted).
    #[schema(value_type = Option<Notice>)]
    pub notice: Written,
    /// The journal entry that records the decision.
    pub journal_entry: i64,
    pub request_id: String,
}

/// A client's explanation, as journaled.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationAnswer {
    #[serde(flatten)]
    pub explanation: ClientExplanation,
    pub score: Score,
    pub model_version: String,
    pub journal_entry: i64,
    pub request_id: String,
}

/// A client's nearest labelled clients and how they fared.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarAnswer {
    pub id: i64,
    pub k: usize,
    pub neighbours: Vec<Neighbour>,
    /// Share of the neighbours that defaulted; null without a neighbour (no labelled client).
    pub default_rate: Option<f64>,
    /// How the distance is measured.
    pub space: &'static str,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TopQuery {
    /// Contributions returned: default 10, at least 1 and at most 100 (an integer outside
    /// gives the nearest).
    #[param(schema_with = any_integer)]
    top: Option<String>,
}

/// An integer of any size.
fn any_integer() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .build()
}

/// `?top=`: any integer, taken into 1..=100; anything else is an invalid field (422).
fn top_of(raw: Option<&str>) -> ApiResult<usize> {
    let Some(raw) = raw else { return Ok(10) };
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_field(
            "top",
            format!("`{raw}` is not an integer"),
        ));
    }
    Ok(if negative {
        1
    } else {
        digits.parse::<u64>().unwrap_or(u64::MAX).clamp(1, 100) as usize
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SimilarQuery {
    /// Neighbours (1-100, default 10).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    k: Option<String>,
}

/// Whether the client is known, and descriptive information.
#[utoipa::path(get, path = "/v1/clients/{id}", operation_id = "getClient", tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)")),
    responses(
        (status = 200, description = "The client's information", body = ClientInfo),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 422, description = "The id is not an integer", body = ErrorBody),
    ))]
async fn client(State(s): State<AppState>, ClientId(id): ClientId) -> ApiResult<Json<ClientInfo>> {
    let i = known_index(&s.scorer, id)?;
    Ok(Json(s.scorer.info(i, id)))
}

/// Default probability, decision, threshold, distance and band; a refusal's reasons.
#[utoipa::path(get, path = "/v1/clients/{id}/score", operation_id = "getScore", tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)")),
    responses(
        (status = 200, description = "The decision (journaled)", body = ScoreAnswer),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 422, description = "The id is not an integer", body = ErrorBody),
        (status = 503, description = "The decision journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn client_score(
    State(s): State<AppState>,
    ClientId(id): ClientId,
    rid: RequestId,
) -> ApiResult<Json<ScoreAnswer>> {
    let i = known_index(&s.scorer, id)?;
    let p = s.scorer.population.probability[i];
    let score = s.scorer.score_of(p);
    // A refusal carries its principal reasons and its notice, in the answer and the journal:
    // written once per client and day.
    let sent = if score.decision == riskscore_model::bundle::Decision::Refused {
        let r = refusal_of(&s, i, id).await?;
        let sent = r
            .sent(&today(), &s.settings.lender, &s.scorer.model_version)
            .map_err(|e| ApiError::internal(&e))?;
        Some(sent)
    } else {
        None
    };
    let seq = record(
        &s,
        &rid.0,
        Record {
            client: id,
            kind: "known",
            p,
            reasons: sent
                .as_ref()
                .map(|t| t.features.clone())
                .unwrap_or_default(),
            review: Vec::new(),
            notice: sent
                .as_ref()
                .map(|t| t.statements.clone())
                .unwrap_or_default(),
            row: ScoredRow::Known(i),
            posted: None,
        },
    )
    .await?;
    let (reasons, notice) = match sent {
        Some(t) => (t.reasons.clone(), t.notice.clone()),
        None => (Written::Empty, Written::Null),
    };
    Ok(Json(ScoreAnswer {
        id,
        score,
        model_version: s.scorer.model_version.clone(),
        reasons,
        notice,
        journal_entry: seq,
        request_id: rid.0,
    }))
}

/// Top SHAP contributions, base value and reason codes.
#[utoipa::path(get, path = "/v1/clients/{id}/explanation", operation_id = "getExplanation",
    tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)"), TopQuery),
    responses(
        (status = 200, description = "The explanation (journaled)", body = ExplanationAnswer),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 422, description = "The id is not an integer, or `top` is not an integer", body = ErrorBody),
        (status = 503, description = "The decision journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn client_explanation(
    State(s): State<AppState>,
    ClientId(id): ClientId,
    ApiQuery(q): ApiQuery<TopQuery>,
    rid: RequestId,
) -> ApiResult<Json<ExplanationAnswer>> {
    let top = top_of(q.top.as_deref())?;
    let (i, x) = known(&s.scorer, id)?;
    let e = explain_known(&s, id, x.clone(), top).await?;
    let seq = record(
        &s,
        &rid.0,
        Record {
            client: id,
            kind: "explanation",
            p: e.probability,
            reasons: features(&e.reasons),
            review: Vec::new(),
            notice: Vec::new(),
            row: ScoredRow::Known(i),
            posted: None,
        },
    )
    .await?;
    Ok(Json(ExplanationAnswer {
        score: s.scorer.score_of(e.probability),
        explanation: e,
        model_version: s.scorer.model_version.clone(),
        journal_entry: seq,
        request_id: rid.0,
    }))
}

/// Nearest labelled clients in a standardised feature space, with their outcomes.
#[utoipa::path(get, path = "/v1/clients/{id}/similar", operation_id = "getSimilar", tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)"), SimilarQuery),
    responses(
        (status = 200, description = "The neighbours", body = SimilarAnswer),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 422, description = "The id is not an integer, or `k` is not an integer from 1 to 100", body = ErrorBody),
    ))]
async fn client_similar(
    State(s): State<AppState>,
    ClientId(id): ClientId,
    ApiQuery(q): ApiQuery<SimilarQuery>,
) -> ApiResult<Json<SimilarAnswer>> {
    let k = bounded("k", q.k.as_deref(), 10, 1..=100)?;
    let (i, row) = known(&s.scorer, id)?;
    let sc = s.scorer.clone();
    let near = blocking(move || Ok(sc.similar(&row, k, Some(i)))).await?;
    let defaulted = near.iter().filter(|n| n.target == 1).count();
    Ok(Json(SimilarAnswer {
        id,
        k,
        default_rate: (!near.is_empty()).then(|| defaulted as f64 / near.len() as f64),
        neighbours: near,
        space: "the 20 most important features (gain), standardised on the labelled clients; \
                missing values at the mean",
    }))
}

/// Explains a known client's row off the async threads.
async fn explain_known(
    s: &AppState,
    id: i64,
    row: Vec<f64>,
    top: usize,
) -> ApiResult<ClientExplanation> {
    let sc = s.scorer.clone();
    blocking(move || {
        sc.explain(id, &row, top)
            .map_err(|e| ApiError::internal(&e))
    })
    .await
}

/// A known refused client's refusal (reasons and notice recourse): computed once per client,
/// and for all of them after start, so no hop off the async threads once it is there.
async fn refusal_of(s: &AppState, i: usize, id: i64) -> ApiResult<Arc<Refusal>> {
    if let Some(r) = s.scorer.cached_refusal(i) {
        return Ok(r);
    }
    let sc = s.scorer.clone();
    blocking(move || sc.refusal(i, id).map_err(|e| ApiError::internal(&e))).await
}

/// The notice of a decision explained in `e` with its recourse sentences, dated today.
pub(crate) fn notice_of(s: &AppState, e: &ClientExplanation, recourse: Vec<String>) -> Notice {
    Notice::new(
        e,
        recourse,
        &s.settings.lender,
        &s.scorer.model_version,
        &today(),
    )
}

/// A notice's date: today in UTC, YYYY-MM-DD.
fn today() -> String {
    let now = crate::journal::now_rfc3339();
    now.get(..10).map_or_else(|| now.clone(), str::to_owned)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NoticeQuery {
    /// `json` (default) or `html` (a printable page).
    #[param(inline, value_type = Option<NoticeFormat>)]
    format: Option<String>,
}

/// The notice's formats.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // the query is read as text, to name an unknown format
pub(crate) enum NoticeFormat {
    Json,
    Html,
}

/// The adverse-action notice of the client's decision: a refusal's principal reasons in the
/// applicant's words (never a protected attribute, never age for an applicant aged 62 or more)
/// and the applicant's rights; `?format=html` gives a printable page. Journaled.
#[utoipa::path(get, path = "/v1/clients/{id}/notice", operation_id = "getNotice",
    tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)"), NoticeQuery),
    responses(
        (status = 200, description = "The notice (JSON, or a printable HTML page with ?format=html; journaled)",
            content((Notice = "application/json"), (String = "text/html"))),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 422, description = "The id is not an integer, or `format` is not json or html", body = ErrorBody),
        (status = 503, description = "The decision journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn client_notice(
    State(s): State<AppState>,
    ClientId(id): ClientId,
    ApiQuery(q): ApiQuery<NoticeQuery>,
    rid: RequestId,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
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
    let (i, x) = known(&s.scorer, id)?;
    let refused = s
        .scorer
        .score_of(s.scorer.population.probability[i])
        .decision
        == riskscore_model::bundle::Decision::Refused;
    let (e, recourse) = if refused {
        let r = refusal_of(&s, i, id).await?;
        (r.explanation.clone(), r.recourse.clone())
    } else {
        (explain_known(&s, id, x.clone(), 0).await?, Vec::new())
    };
    let notice = notice_of(&s, &e, recourse);
    record(
        &s,
        &rid.0,
        Record {
            client: id,
            kind: "notice",
            p: e.probability,
            reasons: if notice.reasons.is_empty() {
                Vec::new()
            } else {
                features(&e.reasons)
            },
            review: Vec::new(),
            notice: notice.statements(),
            row: ScoredRow::Known(i),
            posted: None,
        },
    )
    .await?;
    Ok(if html {
        axum::response::Html(notice.html()).into_response()
    } else {
        Json(notice).into_response()
    })
}
