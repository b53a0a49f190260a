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
    #[schema(min_items = 1, max_items = 10000)]
    outcomes: Vec<OutcomeItem>,
}

/// One outcome.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct OutcomeItem {
    /// The client's id (a client the journal decided).
    id: i64,
    /// 1 defaulted, 0 repaid; or `true` and `false`.
    #[schema(schema_with = zero_or_one)]
    defaulted: u8,
    /// When it was observed: a date (2027-06-30) or a UTC time.
    observed_at: String,
}

/// `defaulted`: 0 or 1, or a boolean.
fn zero_or_one() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(1)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .description(Some("1 defaulted, 0 repaid; or true and false"))
        .build()
        .into()
}

/// A JSON integer: written as one (5), or as a number without a fraction (5.0), which JSON
/// Schema counts as an integer too.
fn integer(v: Option<&Value>) -> Option<i64> {
    let n = v?.as_number()?;
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        // Within i64's range (2^63 is the first float beyond it).
        (f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f))
            .then_some(f as i64)
    })
}

/// What a field that is missing, or of another kind than `wanted`, is told.
fn given(wanted: &str, v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => format!("required: {wanted}"),
        Some(v) => format!("`{v}` is not {wanted}"),
    }
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
        let id = integer(obj.get("id"));
        if id.is_none() {
            bad.push(at("id", given("an integer client id", obj.get("id"))));
        }
        // 0 or 1, or a JSON boolean (a string is not: the schema says a number or a boolean).
        let defaulted = match obj.get("defaulted") {
            Some(Value::Bool(b)) => Some(u8::from(*b).to_string()),
            v => integer(v).map(|v| v.to_string()),
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
                    bad.push(at("defaulted", given("0 or 1", obj.get("defaulted"))));
                }
                if observed.is_none() {
                    bad.push(at(
                        "observed_at",
                        given("a date or a UTC time, as a string", obj.get("observed_at")),
                    ));
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
/// never decided (404, each named) or an outcome that differs from the one already recorded for
/// the client's model (409, named) refuses the batch; the same outcome again changes nothing.
/// The journal's entries and hash chain are untouched.
#[utoipa::path(post, path = "/v1/outcomes", operation_id = "postOutcomes", tag = "monitoring",
    request_body(content = OutcomeBatch, content_type = "application/json"),
    responses(
        (status = 200, description = "How many were recorded, and how many were already", body = Recorded),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Clients the journal never decided, each named (outcomes[i].id)", body = ErrorBody),
        (status = 409, description = "An outcome differs from the one recorded (named)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Invalid fields, each named (outcomes[i].FIELD)", body = ErrorBody),
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
                // The body is valid; the clients it names are not in the journal: not found,
                // each named as a field.
                let fields: Vec<FieldError> = r
                    .unknown
                    .iter()
                    .map(|&i| FieldError {
                        field: format!("outcomes[{i}].id"),
                        message: format!(
                            "client {} has no decision in the journal",
                            batch[i].client
                        ),
                    })
                    .collect();
                let mut e = ApiError::not_found(format!(
                    "{} of the clients have no decision in the journal: {}",
                    fields.len(),
                    fields
                        .iter()
                        .take(5)
                        .map(|f| f.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                e.fields = fields;
                return e;
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
