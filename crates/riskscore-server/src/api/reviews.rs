//! Human oversight of the decisions in the review queue (`/v1/reviews`): the queue, one review,
//! and a reviewer's final decision, journaled as a new entry linked to the automated one (see
//! `journal::reviews`). Only a reviewer's own key can decide; the reviewer is named from it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{
    blocking, bounded, only_keys, ApiBody, ApiQuery, ApiResult, Caller, RequestId,
};
use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::journal::reviews::{self, Figures, FinalDecision, Review, Status};
use crate::journal::{now_rfc3339, read_window, Decided, Failure, Filter, Reviewed};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews))
        .routes(routes!(get_review, decide_review))
}

/// The longest reviewer's reason, in characters.
pub const MAX_REASON: usize = 2_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReviewsQuery {
    /// `pending` (default), `decided` or `all`.
    #[param(value_type = Option<String>, pattern = "^(pending|decided|all)$")]
    status: Option<String>,
    /// At most this many (1-1000, default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// The queue and its figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewList {
    /// Pending reviews oldest first; decided ones most recent first.
    pub items: Vec<Review>,
    pub figures: Figures,
}

/// A reviewer's decision.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // read field by field, to name each invalid one
pub(crate) struct ReviewDecision {
    /// The final decision.
    #[schema(pattern = "^(granted|refused)$")]
    decision: String,
    /// The reviewer, if given: must be the one whose key is used.
    reviewer: Option<String>,
    /// Why (required when the decision differs from the automated one; at most 2,000
    /// characters).
    #[schema(max_length = 2000)]
    reason: Option<String>,
}

/// The review queue: decisions inside the review band around the threshold, those the intake
/// sent to review, and (as the server is set) every refusal or an audit share; with the queue's
/// size and age and the reviewers' override rates.
#[utoipa::path(get, path = "/v1/reviews", operation_id = "listReviews", tag = "reviews",
    params(ReviewsQuery),
    responses(
        (status = 200, description = "The reviews selected, and the queue's figures", body = ReviewList),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 422, description = "A parameter is invalid, named in fields", body = ErrorBody),
        (status = 503, description = "The journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn list_reviews(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ReviewsQuery>,
) -> ApiResult<Json<ReviewList>> {
    let status = match q.status.as_deref() {
        None => Status::Pending,
        Some(t) => Status::parse(t).ok_or_else(|| {
            ApiError::invalid_field("status", format!("`{t}`: pending, decided or all"))
        })?,
    };
    let limit = bounded("limit", q.limit.as_deref(), 100, 1..=1000)?;
    let store = s.journal.store().clone();
    let sc = s.scorer.clone();
    let list = blocking(move || {
        let mut items = reviews::list(&store, status, limit).map_err(|e| unavailable(&e))?;
        for r in &mut items {
            worded(&sc, r);
        }
        let figures = reviews::figures(&store, &now_rfc3339()).map_err(|e| unavailable(&e))?;
        Ok(ReviewList { items, figures })
    })
    .await?;
    Ok(Json(list))
}

/// One review: the automated decision and, once reviewed, the final one.
#[utoipa::path(get, path = "/v1/reviews/{entry}", operation_id = "getReview", tag = "reviews",
    params(("entry" = i64, Path, minimum = 1, description = "The automated decision's journal entry")),
    responses(
        (status = 200, description = "The review", body = Review),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "The entry is not in the review queue", body = ErrorBody),
        (status = 422, description = "The entry is not an integer", body = ErrorBody),
        (status = 503, description = "The journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn get_review(State(s): State<AppState>, Path(raw): Path<String>) -> ApiResult<Json<Review>> {
    let entry = entry_of(&raw)?;
    let store = s.journal.store().clone();
    let review = blocking(move || reviews::get(&store, entry).map_err(|e| unavailable(&e))).await?;
    review
        .map(|mut r| {
            worded(&s.scorer, &mut r);
            Json(r)
        })
        .ok_or_else(|| ApiError::not_found(format!("entry {entry} is not in the review queue")))
}

/// A reviewer's final decision on a queued entry, journaled as a new entry (kind `review`)
/// linked to the automated one and covered by the hash chain. Only a reviewer's key can decide
/// (403 otherwise); the reviewer is the key's. A reason is required when the decision differs
/// from the automated one. An entry is decided once (409 after).
#[utoipa::path(post, path = "/v1/reviews/{entry}", operation_id = "decideReview", tag = "reviews",
    params(("entry" = i64, Path, minimum = 1, description = "The automated decision's journal entry")),
    request_body(content = ReviewDecision, content_type = "application/json"),
    responses(
        (status = 201, description = "Decided: the review with its final decision", body = Review),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key is not a reviewer's, or names another reviewer", body = ErrorBody),
        (status = 404, description = "The entry is not in the review queue", body = ErrorBody),
        (status = 409, description = "The entry has been reviewed already", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named", body = ErrorBody),
        (status = 503, description = "The journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn decide_review(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    caller: Caller,
    RequestId(rid): RequestId,
    ApiBody(body): ApiBody,
) -> ApiResult<Response> {
    let entry = entry_of(&raw)?;
    let Some(reviewer) = caller.reviewer else {
        return Err(forbidden(if s.settings.reviewers.is_empty() {
            "deciding a review needs a reviewer's API key; this server has no reviewers \
             (RISKSCORE_REVIEWERS=NAME=KEY,...)"
                .to_owned()
        } else {
            "this API key has no reviewer role: decide with your reviewer's key".to_owned()
        }));
    };
    only_keys(&body, &["decision", "reviewer", "reason"])?;
    let decision = match body.get("decision").and_then(Value::as_str) {
        Some(d @ ("granted" | "refused")) => d.to_owned(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "decision",
                format!("`{other}`: granted or refused"),
            ))
        }
        None => {
            return Err(ApiError::invalid_field(
                "decision",
                "required: granted or refused",
            ))
        }
    };
    match body.get("reviewer") {
        None | Some(Value::Null) => {}
        Some(Value::String(named)) if *named == reviewer => {}
        Some(Value::String(named)) => {
            return Err(forbidden(format!(
                "this key is {reviewer}'s: it cannot decide as `{named}`"
            )))
        }
        Some(_) => return Err(ApiError::invalid_field("reviewer", "a name (text)")),
    }
    let reason = match body.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.chars().count() > MAX_REASON => {
            return Err(ApiError::invalid_field(
                "reason",
                format!("at most {MAX_REASON} characters"),
            ))
        }
        Some(Value::String(t)) => Some(t.trim().to_owned()).filter(|t| !t.is_empty()),
        Some(_) => return Err(ApiError::invalid_field("reason", "text")),
    };
    let store = s.journal.store().clone();
    let (review, automated) = blocking(move || {
        let Some(review) = reviews::get(&store, entry).map_err(|e| unavailable(&e))? else {
            return Err(ApiError::not_found(format!(
                "entry {entry} is not in the review queue"
            )));
        };
        let automated = read_window(
            &store,
            &Filter {
                after: Some(entry - 1),
                first: Some(1),
                rows: true,
                ..Filter::default()
            },
        )
        .map_err(|e| unavailable(&e))?
        .into_iter()
        .next()
        .filter(|e| e.seq == entry)
        .ok_or_else(|| {
            ApiError::internal(&format!("queued entry {entry} is not in the journal"))
        })?;
        Ok((review, automated))
    })
    .await?;
    if let Some(f) = &review.final_decision {
        return Err(already(entry, f));
    }
    let overrides = decision != review.decision;
    if overrides && reason.is_none() {
        return Err(ApiError::invalid_field(
            "reason",
            format!(
                "required: the decision changes the automated one ({} to {decision}); say why",
                review.decision
            ),
        ));
    }
    let Some(row) = automated.row else {
        return Err(ApiError::internal(&format!(
            "entry {entry} has no stored feature row"
        )));
    };
    let a = automated.decided;
    let d = Decided {
        time: now_rfc3339(),
        request_id: rid,
        client: a.client,
        kind: "review".into(),
        model_version: a.model_version,
        probability: a.probability,
        decision: decision.clone(),
        reasons: a.reasons,
        input_hash: a.input_hash,
        review: Vec::new(),
        notice: Vec::new(),
        champion: None,
        reviewed: Some(Reviewed {
            entry,
            reviewer: reviewer.clone(),
            reason: reason.clone(),
        }),
    };
    let time = d.time.clone();
    let seq = match s.journal.record_review(d, row).await {
        Ok(seq) => seq,
        Err(Failure::NotPending(m)) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "review_decided", m))
        }
        Err(Failure::Store(m)) => return Err(ApiError::journal(&m)),
    };
    let mut review = review;
    worded(&s.scorer, &mut review);
    review.status = "decided".into();
    review.final_decision = Some(FinalDecision {
        entry: seq,
        time,
        decision,
        reviewer,
        reason,
        overrides,
    });
    Ok((StatusCode::CREATED, Json(review)).into_response())
}

/// The review's reasons in the served model's words.
fn worded(sc: &crate::Scorer, r: &mut Review) {
    r.reasons_in_words = r
        .reasons
        .iter()
        .map(|f| sc.explainer.wording.describe(f))
        .collect();
}

fn entry_of(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>().ok().filter(|e| *e >= 1).ok_or_else(|| {
        ApiError::invalid_field("entry", format!("`{raw}` is not a journal entry number"))
    })
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

fn already(entry: i64, f: &FinalDecision) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "review_decided",
        format!(
            "entry {entry} was reviewed by {} at {}: {} (entry {})",
            f.reviewer, f.time, f.decision, f.entry
        ),
    )
}

fn unavailable(e: &dyn std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "journal_unavailable",
        e.to_string(),
    )
}
