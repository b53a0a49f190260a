//! What a relationship manager needs across the desk beyond the score: where the client stands
//! among the others on a feature (`GET /v1/clients/{id}/compare`), and what the decision would
//! be with other figures (`POST /v1/clients/{id}/whatif`, re-scored through the model's own
//! fitted pipeline; a hypothesis, not a decision: not journaled).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use riskscore_explain::client::Reason;

use super::common::{
    application, blocking, known, only_keys, transform_error, ApiBody, ApiQuery, ApiResult,
    ClientId,
};
use super::AppState;
use crate::error::{ApiError, ErrorBody, FieldError};
use crate::scorer::Score;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(compare))
        .routes(routes!(what_if))
}

/// Equal-width bins of the comparison histogram, between the 1st and 99th percentiles.
const BINS: usize = 20;
/// Neighbours the "similar clients" distribution is drawn from.
const SIMILAR: usize = 50;
/// Most points of the scatter plot (clients taken at an even step).
const SCATTER: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CompareQuery {
    /// A feature of the model (required).
    #[param(required = true, value_type = String)]
    feature: Option<String>,
    /// A second feature: adds a scatter of up to 1,000 clients with their decision.
    other: Option<String>,
}

/// One figure for each group of clients.
#[derive(Debug, Serialize)]
pub struct Groups<T> {
    pub all: T,
    pub granted: T,
    pub refused: T,
    /// The 50 clients most similar to this one.
    pub similar: T,
}

/// Two features of up to 1,000 clients with their decision, and the client's point.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scatter {
    pub other: String,
    pub text: String,
    /// `[value, other value, 1 when refused else 0]` per client.
    #[schema(value_type = Vec<Vec<f64>>)]
    pub points: Vec<(f64, f64, u8)>,
    /// The client's value of the feature and of the other one (null when missing).
    pub client: [Option<f64>; 2],
}

/// Where the client stands among the others on a feature.
#[derive(Debug, Serialize, ToSchema)]
pub struct Comparison {
    pub id: i64,
    pub feature: String,
    pub text: String,
    /// The client's value (null when missing).
    pub value: Option<f64>,
    /// Share of the clients at or below the client's value (null when missing).
    pub percentile: Option<f64>,
    /// The 21 edges of the 20 equal bins between the 1st and 99th percentiles (widened to the
    /// client's value).
    pub edges: Vec<f64>,
    #[schema(value_type = Object)]
    pub counts: Groups<Vec<usize>>,
    #[schema(value_type = Object)]
    pub medians: Groups<Option<f64>>,
    #[schema(value_type = Object)]
    pub clients: Groups<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scatter: Option<Scatter>,
}

/// The client's application with some fields changed. The served document replaces this
/// outline with the model's own application fields.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // read as JSON field by field, to name every invalid field
pub struct WhatIf {
    /// Application fields and their new values, e.g. {"AMT_CREDIT": 400000}.
    #[schema(value_type = Object)]
    changes: (),
}

/// The decision before and after the changes (a hypothesis: not journaled).
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfAnswer {
    pub id: i64,
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
    /// The model's features whose value the changes moved.
    pub features_changed: Vec<String>,
    pub before: Score,
    pub after: Score,
    /// after.probability - before.probability.
    pub change: f64,
    /// The reasons after the changes.
    pub reasons: Vec<Reason>,
    pub model_version: String,
    /// Always false: a what-if is not a decision.
    pub journaled: bool,
}

fn feature_index(s: &AppState, field: &str, name: &str) -> ApiResult<usize> {
    s.scorer
        .names
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| {
            ApiError::invalid_field(field, format!("`{name}` is not a feature of the model"))
        })
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// The client's value of a feature among all clients, the granted, the refused and the 50
/// most similar; optionally a scatter of two features.
///
/// Histograms over the same bins, medians, the client's percentile, and optionally a scatter
/// of two features with the client's point.
#[utoipa::path(get, path = "/v1/clients/{id}/compare", operation_id = "compareClient", tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)"), CompareQuery),
    responses(
        (status = 200, description = "Histograms over 20 equal bins between the 1st and 99th percentiles (and the client's value), medians, the client's percentile", body = Comparison),
        (status = 400, description = "A query parameter given twice", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 422, description = "The id is not an integer, or an unknown feature, named in fields", body = ErrorBody),
    ))]
async fn compare(
    State(s): State<AppState>,
    ClientId(id): ClientId,
    ApiQuery(q): ApiQuery<CompareQuery>,
) -> ApiResult<Json<Comparison>> {
    let (i, x) = known(&s.scorer, id)?;
    let Some(feature) = q.feature.as_deref() else {
        return Err(ApiError::invalid_field(
            "feature",
            "required: a feature of the model",
        ));
    };
    let j = feature_index(&s, "feature", feature)?;
    let other = q
        .other
        .as_deref()
        .map(|o| feature_index(&s, "other", o))
        .transpose()?;
    let row = x;
    let sc = s.scorer.clone();
    let answer = blocking(move || {
        let values = sc.feature_values(j);
        let p = &sc.population.probability;
        let m = &sc.explainer.manifest;
        let refused: Vec<bool> = p
            .iter()
            .map(|q| m.decide(*q) == riskscore_model::bundle::Decision::Refused)
            .collect();
        let near: Vec<usize> = sc
            .similar(&row, SIMILAR, Some(i))
            .iter()
            .filter_map(|n| sc.index(n.id))
            .collect();
        let mut all: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        all.sort_unstable_by(f64::total_cmp);
        let value = row[j];
        let (lo, hi) = if all.is_empty() {
            (0.0, 1.0)
        } else {
            let q = |f: f64| all[((all.len() - 1) as f64 * f).round() as usize];
            let (mut a, mut b) = (q(0.01), q(0.99));
            // The client's own value is always inside the range.
            if value.is_finite() {
                (a, b) = (a.min(value), b.max(value));
            }
            (a, if b > a { b } else { a + 1.0 })
        };
        let width = (hi - lo) / BINS as f64;
        let bin = |v: f64| (((v - lo) / width).floor().max(0.0) as usize).min(BINS - 1);
        let hist = |rows: &mut dyn Iterator<Item = usize>| {
            let mut h = vec![0usize; BINS];
            let mut vals = Vec::new();
            for r in rows {
                let v = values[r];
                if v.is_finite() {
                    h[bin(v)] += 1;
                    vals.push(v);
                }
            }
            let n = vals.len();
            (h, median(&mut vals), n)
        };
        let n = values.len();
        let (h_all, m_all, n_all) = hist(&mut (0..n));
        let (h_g, m_g, n_g) = hist(&mut (0..n).filter(|r| !refused[*r]));
        let (h_r, m_r, n_r) = hist(&mut (0..n).filter(|r| refused[*r]));
        let (h_s, m_s, n_s) = hist(&mut near.iter().copied());
        let percentile = value
            .is_finite()
            .then(|| all.partition_point(|v| *v <= value) as f64 / all.len().max(1) as f64);
        let edges: Vec<f64> = (0..=BINS).map(|b| lo + width * b as f64).collect();
        let wording = &sc.explainer.wording;
        let finite = |v: f64| v.is_finite().then_some(v);
        let scatter = other.map(|k| {
            let step = n.div_ceil(SCATTER).max(1);
            let points = (0..n)
                .step_by(step)
                .filter(|r| *r != i)
                .filter_map(|r| {
                    let (a, b) = (values[r], sc.population_value(r, k));
                    (a.is_finite() && b.is_finite()).then(|| (a, b, u8::from(refused[r])))
                })
                .collect();
            Scatter {
                other: sc.names[k].clone(),
                text: wording.describe(&sc.names[k]),
                points,
                client: [finite(value), finite(row[k])],
            }
        });
        Ok(Comparison {
            id,
            feature: sc.names[j].clone(),
            text: wording.describe(&sc.names[j]),
            value: finite(value),
            percentile,
            edges,
            counts: Groups {
                all: h_all,
                granted: h_g,
                refused: h_r,
                similar: h_s,
            },
            medians: Groups {
                all: m_all,
                granted: m_g,
                refused: m_r,
                similar: m_s,
            },
            clients: Groups {
                all: n_all,
                granted: n_g,
                refused: n_r,
                similar: n_s,
            },
            scatter,
        })
    })
    .await?;
    Ok(Json(answer))
}

/// Re-score the client's application with some fields changed, through the model's fitted
/// pipeline (not journaled).
///
/// The application's features are recomputed, the history aggregates kept (they do not depend
/// on the application row), and the row re-scored.
#[utoipa::path(post, path = "/v1/clients/{id}/whatif", operation_id = "whatIf", tag = "clients",
    params(("id" = i64, Path, description = "Client id (SK_ID_CURR or the table's id)")),
    request_body(content = WhatIf, content_type = "application/json"),
    responses(
        (status = 200, description = "The score before and after, the change, the features that moved, the reasons after", body = WhatIfAnswer),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 404, description = "Unknown client", body = ErrorBody),
        (status = 409, description = "The server has no raw applications (started on a feature matrix)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 422, description = "Unknown fields, wrong types or values outside their domain, each named (changes.FIELD)", body = ErrorBody),
        (status = 503, description = "The client's application cannot be read again (its file changed since the start), or the request timed out", body = ErrorBody),
    ))]
async fn what_if(
    State(s): State<AppState>,
    ClientId(id): ClientId,
    ApiBody(body): ApiBody,
) -> ApiResult<Json<WhatIfAnswer>> {
    let (i, x) = known(&s.scorer, id)?;
    only_keys(&body, &["changes"])?;
    let Some(changes) = body.get("changes").and_then(Value::as_object).cloned() else {
        return Err(ApiError::invalid_field(
            "changes",
            "required: an object of application fields and their new values",
        ));
    };
    let mut app = application(&s, i)?;
    let id_column = s.scorer.pipeline.id.clone();
    let mut unknown = Vec::new();
    for (k, v) in &changes {
        if k == &id_column || !app.contains_key(k) {
            unknown.push(FieldError {
                field: format!("changes.{k}"),
                message: "not a field of the application".into(),
            });
        } else {
            app.insert(k.clone(), v.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::invalid(unknown));
    }
    let before = x;
    let sc = s.scorer.clone();
    let (e, moved, review) = blocking(move || {
        let review = sc.intake_review(&json!({ "application": app.clone() }));
        let row = sc.rescore(app, &before).map_err(|e| match e {
            crate::recourse::Rescore::Fields(fields) => ApiError::invalid(
                fields
                    .into_iter()
                    .map(|mut f| {
                        f.field = f.field.replacen("application.", "changes.", 1);
                        f
                    })
                    .collect(),
            ),
            crate::recourse::Rescore::Transform(e) => transform_error(e),
        })?;
        // The features that differ from the served row (bit for bit, or its f32 rounding as
        // the server keeps rows; NaN equals NaN).
        let moved: Vec<String> = sc
            .names
            .iter()
            .zip(row.iter().zip(&before))
            .filter(|(_, (a, b))| !riskscore_explain::recourse::serves(**b, **a))
            .map(|(n, _)| n.clone())
            .collect();
        let e = sc
            .explain(id, &row, 5)
            .map_err(|e| ApiError::internal(&e))?;
        Ok((e, moved, review))
    })
    .await?;
    let p0 = s.scorer.population.probability[i];
    // The same row is the same score (the explainer's sum can differ in the last bit).
    let p1 = if moved.is_empty() { p0 } else { e.probability };
    Ok(Json(WhatIfAnswer {
        id,
        changes,
        features_changed: moved,
        before: s.scorer.score_of(p0),
        after: s.scorer.score_with(p1, review),
        change: p1 - p0,
        reasons: e.reasons,
        model_version: s.scorer.model_version.clone(),
        journaled: false,
    }))
}
