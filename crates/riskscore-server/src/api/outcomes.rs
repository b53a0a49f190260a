//! Outcomes as they mature (`POST /v1/outcomes`): whether decided clients defaulted, recorded
//! beside the journal and never changing an entry (see `journal::outcomes`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{blocking, only_keys, ApiBody, ApiResult};
use super::AppState;
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::journal::outcomes::{self, Outcome, Recorded};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_outcomes))
}

/// The most outcomes in one request.
pub const MAX_OUTCOMES: usize = 10_000;

/// A batch of outcomes.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // the body is read field by field, to name each invalid one
pub(crate) struct OutcomeBatch {
    /// 1 to 10,000 outcomes.
    outcomes: Vec<OutcomeItem>,
}

/// One outcome.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct OutcomeItem {
    /// The client's id (a client the journal decided).
    id: i64,
    /// 1 defaulted, 0 repaid.
    #[schema(minimum = 0, maximum = 1)]
    defaulted: u8,
    /// When it was observed: a date (2027-06-30) or a UTC time.
    observed_at: String,
}

/// Parses the body; every invalid field named (`outcomes[i].FIELD`).
pub(crate) fn parse(body: &Value) -> ApiResult<Vec<Outcome>> {
    only_keys(body, &["outcomes"])?;
    let Some(items) = body.get("outcomes").and_then(Value::as_array) else {
        return Err(ApiError::invalid_field(
            "outcomes",
            "required: an array of {id, defaulted, observed_at}",
        ));
    };
    if items.is_empty() || items.len() > MAX_OUTCOMES {
        return Err(ApiError::invalid_field(
            "outcomes",
            format!(
                "between 1 and {MAX_OUTCOMES} outcomes (got {})",
                items.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |f: &str, m: String| FieldError {
            field: format!("outcomes[{i}].{f}"),
            message: m,
        };
        let Some(obj) = item.as_object() else {
            bad.push(FieldError {
                field: format!("outcomes[{i}]"),
                message: "an object {id, defaulted, observed_at}".into(),
            });
            continue;
        };
        for k in obj.keys() {
            if !["id", "defaulted", "observed_at"].contains(&k.as_str()) {
                bad.push(at(k, "not a field of an outcome".into()));
            }
        }
        let id = obj.get("id").and_then(Value::as_i64);
        if id.is_none() {
            bad.push(at("id", "required: an integer".into()));
        }
        let defaulted = match obj.get("defaulted") {
            Some(Value::Number(n)) => n.as_u64().map(|v| v.to_string()),
            Some(Value::Bool(_)) | None | Some(_) => None,
        };
        let observed = obj.get("observed_at").and_then(Value::as_str);
        let checked = match (&defaulted, observed) {
            (Some(d), Some(t)) => match outcomes::check(d, t) {
                Ok(v) => Some(v),
                Err((f, m)) => {
                    bad.push(at(f, m));
                    None
                }
            },
            _ => {
                if defaulted.is_none() {
                    bad.push(at("defaulted", "required: 0 or 1".into()));
                }
                if observed.is_none() {
                    bad.push(at("observed_at", "required: a date or a UTC time".into()));
                }
                None
            }
        };
        if let (Some(client), Some((defaulted, observed_at))) = (id, checked) {
            out.push(Outcome {
                client,
                defaulted,
                observed_at,
            });
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::invalid(bad))
    }
}

/// Record outcomes: whether decided clients defaulted. All or nothing: a client the journal
/// never decided (422, named) or an outcome that differs from the one already recorded for the
/// client's model (409, named) refuses the batch; the same outcome again changes nothing.
/// The journal's entries and hash chain are untouched.
#[utoipa::path(post, path = "/v1/outcomes", operation_id = "postOutcomes", tag = "monitoring",
    request_body(content = OutcomeBatch, content_type = "application/json"),
    responses(
        (status = 200, description = "How many were recorded, and how many were already", body = Recorded),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 409, description = "An outcome differs from the one recorded (named)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid fields or clients without a decision, each named (outcomes[i].FIELD)", body = ErrorBody),
        (status = 503, description = "The journal is unavailable, or the request timed out", body = ErrorBody),
    ))]
async fn post_outcomes(
    State(s): State<AppState>,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<Recorded>> {
    let batch = parse(&body)?;
    let store = s.journal.store().clone();
    let done = blocking(move || {
        outcomes::record(&store, &batch).map_err(|r| {
            if let Some(m) = r.store {
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "journal_unavailable", m);
            }
            if !r.unknown.is_empty() {
                return ApiError::invalid(
                    r.unknown
                        .iter()
                        .map(|&i| FieldError {
                            field: format!("outcomes[{i}].id"),
                            message: format!(
                                "client {} has no decision in the journal",
                                batch[i].client
                            ),
                        })
                        .collect(),
                );
            }
            let named: Vec<String> = r
                .conflicts
                .iter()
                .map(|&(i, v)| {
                    format!(
                        "outcomes[{i}]: client {} is recorded as defaulted = {v}",
                        batch[i].client
                    )
                })
                .collect();
            ApiError::new(
                StatusCode::CONFLICT,
                "outcome_conflict",
                format!("outcomes differ from those recorded: {}", named.join("; ")),
            )
        })
    })
    .await?;
    Ok(Json(done))
}
