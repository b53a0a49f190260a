//! What a relationship manager needs across the desk beyond the score: where the client stands
//! among the others on a feature (`GET /v1/clients/{id}/compare`), and what the decision would
//! be with other figures (`POST /v1/clients/{id}/whatif`, re-scored through the model's own
//! fitted pipeline; a hypothesis, not a decision: not journaled).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use riskscore_features::Layout;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking, known, parse_body, parse_id, transform_error, ApiQuery, AppState};
use crate::error::{ApiError, FieldError};

type ApiResult<T> = std::result::Result<T, ApiError>;

/// Equal-width bins of the comparison histogram, between the 1st and 99th percentiles.
const BINS: usize = 20;
/// Neighbours the "similar clients" distribution is drawn from.
const SIMILAR: usize = 50;
/// Most points of the scatter plot (clients taken at an even step).
const SCATTER: usize = 1000;

#[derive(Debug, Deserialize)]
pub(crate) struct CompareQuery {
    feature: Option<String>,
    other: Option<String>,
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

/// The client's value of a feature against all clients, the granted, the refused and the 50
/// most similar clients (histograms over the same bins, medians, the client's percentile), and
/// optionally a scatter of two features with the client's point.
pub(crate) async fn compare(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<CompareQuery>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&raw)?;
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
    let row = x.to_vec();
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
            .filter_map(|n| sc.row(n.id).map(|(r, _)| r))
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
        let mut out = json!({
            "id": id, "feature": sc.names[j], "text": wording.describe(&sc.names[j]),
            "value": if value.is_finite() { json!(value) } else { Value::Null },
            "percentile": percentile, "edges": edges,
            "counts": {"all": h_all, "granted": h_g, "refused": h_r, "similar": h_s},
            "medians": {"all": m_all, "granted": m_g, "refused": m_r, "similar": m_s},
            "clients": {"all": n_all, "granted": n_g, "refused": n_r, "similar": n_s},
        });
        if let Some(k) = other {
            let step = n.div_ceil(SCATTER).max(1);
            let points: Vec<Value> = (0..n)
                .step_by(step)
                .filter(|r| *r != i)
                .filter_map(|r| {
                    let (a, b) = (values[r], sc.population_value(r, k));
                    (a.is_finite() && b.is_finite()).then(|| json!([a, b, u8::from(refused[r])]))
                })
                .collect();
            out["scatter"] = json!({
                "other": sc.names[k], "text": wording.describe(&sc.names[k]),
                "points": points,
                "client": [if value.is_finite() { json!(value) } else { Value::Null },
                           if row[k].is_finite() { json!(row[k]) } else { Value::Null }],
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(answer))
}

/// The client's application with some fields changed, through the model's fitted pipeline:
/// the application's features are recomputed, the history aggregates kept (they do not depend
/// on the application row), and the row re-scored.
pub(crate) async fn what_if(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&raw)?;
    let (i, x) = known(&s.scorer, id)?;
    let body = parse_body(body)?;
    let Some(changes) = body.get("changes").and_then(Value::as_object).cloned() else {
        return Err(ApiError::invalid_field(
            "changes",
            "required: an object of application fields and their new values",
        ));
    };
    let Some(mut app) = s.scorer.application_of(i) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_application",
            "the server was started on a feature matrix: the clients' applications are not known",
        ));
    };
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
    let before = x.to_vec();
    let sc = s.scorer.clone();
    let (e, moved, review) = blocking(move || {
        let posted = json!({ "application": app });
        let (_, parsed) = crate::application::parse(&sc.pipeline, &posted).map_err(|fields| {
            ApiError::invalid(
                fields
                    .into_iter()
                    .map(|mut f| {
                        f.field = f.field.replacen("application.", "changes.", 1);
                        f
                    })
                    .collect(),
            )
        })?;
        let fresh = sc.transform(parsed).map_err(transform_error)?;
        let row: Vec<f64> = match &sc.pipeline.layout {
            Layout::HomeCredit { .. } => sc
                .names
                .iter()
                .enumerate()
                .map(|(j, n)| {
                    if riskscore_features::home_credit::from_history(n) {
                        before[j]
                    } else {
                        fresh[j]
                    }
                })
                .collect(),
            Layout::Generic(_) => fresh,
        };
        // The features that differ from the served row (bit for bit; NaN equals NaN).
        let moved: Vec<String> = sc
            .names
            .iter()
            .zip(row.iter().zip(&before))
            .filter(|(_, (a, b))| a.to_bits() != b.to_bits())
            .map(|(n, _)| n.clone())
            .collect();
        let e = sc
            .explain(id, &row, 5)
            .map_err(|e| ApiError::internal(&e))?;
        Ok((e, moved, sc.intake_review(&posted)))
    })
    .await?;
    let p0 = s.scorer.population.probability[i];
    // The same row is the same score (the explainer's sum can differ in the last bit).
    let p1 = if moved.is_empty() { p0 } else { e.probability };
    Ok(Json(json!({
        "id": id, "changes": changes, "features_changed": moved,
        "before": s.scorer.score_of(p0), "after": s.scorer.score_with(p1, review),
        "change": p1 - p0, "reasons": e.reasons,
        "model_version": s.scorer.model_version, "journaled": false,
    })))
}
