//! New applications: one (`POST /v1/score`) or a bounded batch (`POST /v1/score/batch`),
//! checked at intake, transformed by the model's fitted pipeline, scored, explained and
//! journaled.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use riskscore_explain::client::{ClientExplanation, Reason};

use crate::notice::Notice;

use super::common::{
    blocking, only_keys, record, transform_error, ApiBody, ApiResult, Record, RequestId, ScoredRow,
};
use super::AppState;
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::scorer::{Score, Scorer};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(score_new))
        .routes(routes!(score_batch))
}

/// A new application. The served document replaces this outline with the model's own fields
/// and their domains (`crate::application::schema`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // read as JSON field by field, to name every invalid field
pub struct Application {
    /// The application's fields.
    #[schema(value_type = Object)]
    application: (),
}

/// A batch of new applications (at most the server's `--batch-max`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // read as JSON field by field, to name every invalid field
pub struct Batch {
    applications: Vec<Application>,
}

/// A new application's decision, as journaled.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewScore {
    pub id: i64,
    pub score: Score,
    pub explanation: ClientExplanation,
    /// A refusal's adverse-action notice (None when granted).
    pub notice: Option<Notice>,
    pub model_version: String,
    pub journal_entry: i64,
    pub request_id: String,
}

/// One decision of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub id: i64,
    pub score: Score,
    pub reasons: Vec<Reason>,
    /// A refusal's adverse-action notice (None when granted).
    pub notice: Option<Notice>,
    pub journal_entry: i64,
}

/// A batch's decisions, in the order of the applications.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    pub results: Vec<BatchResult>,
    pub model_version: String,
    pub request_id: String,
}

/// One posted application scored and explained.
struct Scored {
    id: i64,
    x: Vec<f64>,
    explanation: ClientExplanation,
    /// Why the intake sends it to review (values outside the training data, categories it never saw).
    review: Vec<String>,
    /// A refusal's recourse sentences (its notice's).
    recourse: Vec<String>,
    /// The application as posted (the challenger's input).
    body: Value,
}

/// Checks, scores and explains one posted application (CPU work, run blocking).
fn score_one(sc: &Scorer, body: &Value) -> ApiResult<Scored> {
    let (id, app) = crate::application::parse(&sc.pipeline, body).map_err(ApiError::invalid)?;
    let x = sc.transform(app).map_err(transform_error)?;
    let explanation = sc.explain(id, &x, 10).map_err(|e| ApiError::internal(&e))?;
    let recourse = if explanation.decision == riskscore_model::bundle::Decision::Refused {
        let fields = body
            .get("application")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        match sc.recourse(
            id,
            &fields,
            &x,
            &riskscore_explain::recourse::Query::default(),
        ) {
            Ok(a) => crate::recourse::sentences(&a),
            Err(e) => {
                tracing::error!(id, error = %e, "no recourse for the notice");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    Ok(Scored {
        id,
        x,
        explanation,
        review: sc.intake_review(body),
        recourse,
        body: body.clone(),
    })
}

/// Journals a posted application's decision; its score, its notice (a refusal's) and the
/// entry's number.
async fn record_new(
    s: &AppState,
    rid: &str,
    n: &Scored,
) -> ApiResult<(Score, Option<Notice>, i64)> {
    let e = &n.explanation;
    let notice = (e.decision == riskscore_model::bundle::Decision::Refused)
        .then(|| super::clients::notice_of(s, e, n.recourse.clone()));
    let seq = record(
        s,
        rid,
        Record {
            client: n.id,
            kind: "new",
            p: e.probability,
            reasons: crate::notice::features(&e.reasons),
            review: n.review.clone(),
            notice: notice.as_ref().map(Notice::statements).unwrap_or_default(),
            row: ScoredRow::Posted(&n.x),
            posted: Some(&n.body),
        },
    )
    .await?;
    Ok((
        s.scorer.score_with(e.probability, n.review.clone()),
        notice,
        seq,
    ))
}

/// Score and explain a new application through the model's fitted pipeline.
#[utoipa::path(post, path = "/v1/score", operation_id = "scoreApplication", tag = "scores",
    request_body(content = Application, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision (journaled)", body = NewScore),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named: unknown, wrong type, a required field absent, a value outside its domain", body = ErrorBody),
        (status = 503, description = "Journal unavailable or timeout", body = ErrorBody),
    ))]
async fn score_new(
    State(s): State<AppState>,
    rid: RequestId,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<NewScore>> {
    let sc = s.scorer.clone();
    let n = blocking(move || score_one(&sc, &body)).await?;
    let (score, notice, seq) = record_new(&s, &rid.0, &n).await?;
    Ok(Json(NewScore {
        id: n.id,
        score,
        explanation: n.explanation,
        notice,
        model_version: s.scorer.model_version.clone(),
        journal_entry: seq,
        request_id: rid.0,
    }))
}

/// Score a bounded batch of new applications: all are valid and journaled, or none is.
#[utoipa::path(post, path = "/v1/score/batch", operation_id = "scoreBatch", tag = "scores",
    request_body(content = Batch, content_type = "application/json"),
    responses(
        (status = 200, description = "The decisions (journaled)", body = BatchAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named (applications[i].application.FIELD): unknown, wrong type, required and absent, outside its domain", body = ErrorBody),
        (status = 503, description = "Journal unavailable or timeout", body = ErrorBody),
    ))]
async fn score_batch(
    State(s): State<AppState>,
    rid: RequestId,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<BatchAnswer>> {
    only_keys(&body, &["applications"])?;
    let Some(apps) = body.get("applications").and_then(Value::as_array).cloned() else {
        return Err(ApiError::invalid_field(
            "applications",
            "required: an array of applications",
        ));
    };
    let max = s.settings.batch_max;
    if apps.len() > max || apps.is_empty() {
        return Err(ApiError::invalid_field(
            "applications",
            format!(
                "between 1 and {max} applications per batch (got {})",
                apps.len()
            ),
        ));
    }
    let sc = s.scorer.clone();
    let scored = blocking(move || {
        let mut out = Vec::with_capacity(apps.len());
        let mut fields = Vec::new();
        for (i, a) in apps.iter().enumerate() {
            match score_one(&sc, a) {
                Ok(r) => out.push(r),
                Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
                    fields.extend(e.fields.into_iter().map(|mut f| {
                        f.field = format!("applications[{i}].{}", f.field);
                        f
                    }));
                    if e.code == "invalid_application" {
                        fields.push(FieldError {
                            field: format!("applications[{i}]"),
                            message: e.message,
                        });
                    }
                }
                Err(e) => return Err(e),
            }
        }
        if fields.is_empty() {
            Ok(out)
        } else {
            Err(ApiError::invalid(fields))
        }
    })
    .await?;
    let mut results = Vec::with_capacity(scored.len());
    for (i, n) in scored.iter().enumerate() {
        let (score, notice, seq) = record_new(&s, &format!("{}#{i}", rid.0), n).await?;
        results.push(BatchResult {
            id: n.id,
            score,
            reasons: n.explanation.reasons.clone(),
            notice,
            journal_entry: seq,
        });
    }
    Ok(Json(BatchAnswer {
        results,
        model_version: s.scorer.model_version.clone(),
        request_id: rid.0,
    }))
}
