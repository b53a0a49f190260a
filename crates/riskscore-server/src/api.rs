//! The versioned JSON API (`/v1/...`), health and metrics endpoints, and the router.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use riskscore_explain::client::Reason;

use crate::error::ApiError;
use crate::journal::{hmac_sha256, input_hash, now_rfc3339, Decided, Journal};
use crate::metrics::Metrics;
use crate::scorer::Scorer;

/// Largest accepted body.
pub const MAX_BODY: usize = 1 << 20;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Accepted API keys; open when empty.
    pub api_keys: Vec<String>,
    /// Key of the client-id pseudonyms in the journal (ids stored as such when None).
    pub journal_key: Option<Vec<u8>>,
    /// Most applications in one batch request.
    pub batch_max: usize,
    /// Time limit of a request.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_keys: Vec::new(),
            journal_key: None,
            batch_max: 100,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub scorer: Arc<Scorer>,
    pub journal: Journal,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
}

type ApiResult<T = Response> = std::result::Result<T, ApiError>;

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/clients/{id}", get(client))
        .route("/v1/clients/{id}/score", get(client_score))
        .route("/v1/clients/{id}/explanation", get(client_explanation))
        .route("/v1/clients/{id}/similar", get(client_similar))
        .route("/v1/clients/{id}/compare", get(crate::desk::compare))
        .route("/v1/clients/{id}/whatif", post(crate::desk::what_if))
        .route("/v1/score", post(score_new))
        .route("/v1/score/batch", post(score_batch))
        .route("/v1/model", get(model))
        .route("/v1/drift", get(drift))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .merge(v1)
        .merge(crate::dashboard::router())
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|State(s): State<AppState>| async move {
                Json(crate::openapi::document(!s.settings.api_keys.is_empty()))
            }),
        )
        .route(
            "/docs",
            get(|State(s): State<AppState>| async move {
                Html(crate::openapi::docs_page(!s.settings.api_keys.is_empty()))
            }),
        )
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Request id, time limit and metrics around every request.
async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "other".into());
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| state.metrics.next_request_id());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = match tokio::time::timeout(state.settings.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {} s",
                state.settings.timeout.as_secs_f64()
            ),
        )
        .into_response(),
    };
    // The body limit answers 413 in plain text: give it the common JSON shape.
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json(&resp) {
        resp = too_large().into_response();
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    state
        .metrics
        .observe(&route, resp.status().as_u16(), started.elapsed());
    resp
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is larger than {MAX_BODY} bytes"),
    )
}

#[derive(Debug, Clone)]
struct RequestId(String);

/// API keys from `X-API-Key` or `Authorization: Bearer`.
async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let keys = &state.settings.api_keys;
    if keys.is_empty() {
        return next.run(req).await;
    }
    let h = req.headers();
    let given = h
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            h.get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    match given {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an API key is required (header X-API-Key or Authorization: Bearer)",
        )
        .into_response(),
        Some(k)
            if keys
                .iter()
                .any(|key| constant_eq(key.as_bytes(), k.as_bytes())) =>
        {
            next.run(req).await
        }
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown API key")
            .into_response(),
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn parse_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::invalid_field("id", format!("`{raw}` is not an integer client id")))
}

pub(crate) fn known(scorer: &Scorer, id: i64) -> ApiResult<(usize, &[f64])> {
    scorer
        .row(id)
        .ok_or_else(|| ApiError::not_found(format!("unknown client {id}")))
}

async fn client(State(s): State<AppState>, Path(raw): Path<String>) -> ApiResult<Json<Value>> {
    let id = parse_id(&raw)?;
    let (i, _) = known(&s.scorer, id)?;
    Ok(Json(s.scorer.info(i, id)))
}

/// What a journal entry records of a decision besides its time and request.
struct Record<'a> {
    client: i64,
    kind: &'a str,
    p: f64,
    reasons: &'a [Reason],
    /// Why the intake sent it to review, if it did.
    review: Vec<String>,
    x: &'a [f64],
}

/// Journals a decision; the answer waits for the commit.
async fn record(s: &AppState, rid: &str, r: Record<'_>) -> ApiResult<i64> {
    let Record {
        client,
        kind,
        p,
        reasons,
        review,
        x,
    } = r;
    let client = match &s.settings.journal_key {
        Some(key) => hmac_sha256(key, client.to_string().as_bytes()),
        None => client.to_string(),
    };
    let d = Decided {
        time: now_rfc3339(),
        request_id: rid.to_owned(),
        client,
        kind: kind.to_owned(),
        model_version: s.scorer.model_version.clone(),
        probability: p,
        decision: match s.scorer.explainer.manifest.decide(p) {
            riskscore_model::bundle::Decision::Granted => "granted".into(),
            riskscore_model::bundle::Decision::Refused => "refused".into(),
        },
        reasons: reasons.iter().map(|r| r.feature.clone()).collect(),
        input_hash: input_hash(x),
        review,
    };
    s.journal
        .record(d, x)
        .await
        .map_err(|e| ApiError::journal(&e))
}

/// CPU-bound work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))?
}

async fn client_score(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    axum::Extension(rid): axum::Extension<RequestId>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&raw)?;
    let (i, x) = known(&s.scorer, id)?;
    let p = s.scorer.population.probability[i];
    let score = s.scorer.score_of(p);
    // A refusal carries its principal reasons, in the answer and in the journal.
    let reasons = if score.decision == riskscore_model::bundle::Decision::Refused {
        let sc = s.scorer.clone();
        let row = x.to_vec();
        blocking(move || sc.explain(id, &row, 0).map_err(|e| ApiError::internal(&e)))
            .await?
            .reasons
    } else {
        Vec::new()
    };
    let seq = record(
        &s,
        &rid.0,
        Record {
            client: id,
            kind: "known",
            p,
            reasons: &reasons,
            review: Vec::new(),
            x,
        },
    )
    .await?;
    Ok(Json(json!({
        "id": id, "score": score, "model_version": s.scorer.model_version,
        "reasons": reasons, "journal_entry": seq, "request_id": rid.0,
    })))
}

#[derive(Debug, Deserialize)]
struct TopQuery {
    top: Option<usize>,
}

async fn client_explanation(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<TopQuery>,
    axum::Extension(rid): axum::Extension<RequestId>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&raw)?;
    let top = q.top.unwrap_or(10).clamp(1, 100);
    let (_, x) = known(&s.scorer, id)?;
    let row = x.to_vec();
    let sc = s.scorer.clone();
    let e = blocking(move || {
        sc.explain(id, &row, top)
            .map_err(|e| ApiError::internal(&e))
    })
    .await?;
    let seq = record(
        &s,
        &rid.0,
        Record {
            client: id,
            kind: "explanation",
            p: e.probability,
            reasons: &e.reasons,
            review: Vec::new(),
            x,
        },
    )
    .await?;
    let mut v = serde_json::to_value(&e).map_err(|e| ApiError::internal(&e))?;
    v["score"] = serde_json::to_value(s.scorer.score_of(e.probability)).unwrap_or_default();
    v["model_version"] = s.scorer.model_version.clone().into();
    v["journal_entry"] = seq.into();
    v["request_id"] = rid.0.into();
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct SimilarQuery {
    k: Option<String>,
}

async fn client_similar(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<SimilarQuery>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&raw)?;
    let k = match q.k.as_deref() {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(k) if (1..=100).contains(&k) => k,
            _ => {
                return Err(ApiError::invalid_field(
                    "k",
                    "must be an integer from 1 to 100",
                ))
            }
        },
    };
    let (i, x) = known(&s.scorer, id)?;
    let row = x.to_vec();
    let sc = s.scorer.clone();
    let near = blocking(move || Ok(sc.similar(&row, k, Some(i)))).await?;
    let defaulted = near.iter().filter(|n| n.target == 1).count();
    Ok(Json(json!({
        "id": id, "k": k, "neighbours": near,
        "default_rate": if near.is_empty() { 0.0 } else { defaulted as f64 / near.len() as f64 },
        "space": "the 20 most important features (gain), standardised on the labelled clients; missing values at the mean",
    })))
}

/// Query parameters whose rejection (`?top=abc`, a parameter given twice) is answered in the
/// API's JSON error shape, 400, not axum's plain text.
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| ApiQuery(q))
            .map_err(|rej| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rej.body_text()))
    }
}

pub(crate) fn parse_body(body: std::result::Result<Bytes, BytesRejection>) -> ApiResult<Value> {
    let bytes = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request(rej.body_text())
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

/// An application the pipeline cannot take is the caller's (422); anything else is ours.
pub(crate) fn transform_error(e: crate::Error) -> ApiError {
    if e.is_input() {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_application",
            e.to_string(),
        )
    } else {
        ApiError::internal(&e)
    }
}

/// One posted application scored and explained.
struct Scored {
    id: i64,
    x: Vec<f64>,
    explanation: riskscore_explain::client::ClientExplanation,
    /// Why the intake sends it to review (values outside the training data).
    review: Vec<String>,
}

/// Checks, scores and explains one posted application (CPU work, run blocking).
fn score_one(sc: &Scorer, body: &Value) -> ApiResult<Scored> {
    let (id, app) = crate::application::parse(&sc.pipeline, body).map_err(ApiError::invalid)?;
    let x = sc.transform(app).map_err(transform_error)?;
    let explanation = sc.explain(id, &x, 10).map_err(|e| ApiError::internal(&e))?;
    Ok(Scored {
        id,
        x,
        explanation,
        review: sc.intake_review(body),
    })
}

/// Journals a posted application's decision; its score and the entry's number.
async fn record_new(s: &AppState, rid: &str, n: &Scored) -> ApiResult<(crate::scorer::Score, i64)> {
    let e = &n.explanation;
    let seq = record(
        s,
        rid,
        Record {
            client: n.id,
            kind: "new",
            p: e.probability,
            reasons: &e.reasons,
            review: n.review.clone(),
            x: &n.x,
        },
    )
    .await?;
    Ok((s.scorer.score_with(e.probability, n.review.clone()), seq))
}

async fn score_new(
    State(s): State<AppState>,
    axum::Extension(rid): axum::Extension<RequestId>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = parse_body(body)?;
    let sc = s.scorer.clone();
    let n = blocking(move || score_one(&sc, &body)).await?;
    let (score, seq) = record_new(&s, &rid.0, &n).await?;
    Ok(Json(json!({
        "id": n.id, "score": score, "explanation": n.explanation,
        "model_version": s.scorer.model_version, "journal_entry": seq, "request_id": rid.0,
    })))
}

async fn score_batch(
    State(s): State<AppState>,
    axum::Extension(rid): axum::Extension<RequestId>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let body = parse_body(body)?;
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
                        fields.push(crate::error::FieldError {
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
        let (score, seq) = record_new(&s, &format!("{}#{i}", rid.0), n).await?;
        results.push(json!({
            "id": n.id, "score": score, "reasons": n.explanation.reasons,
            "journal_entry": seq,
        }));
    }
    Ok(Json(json!({
        "results": results, "model_version": s.scorer.model_version, "request_id": rid.0,
    })))
}

async fn model(State(s): State<AppState>) -> Json<Value> {
    let m = &s.scorer.explainer.manifest;
    let mut importance: Vec<(&str, f64)> = m
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.gain))
        .collect();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    let importance: Vec<Value> = importance
        .iter()
        .take(30)
        .map(|(n, g)| json!({"feature": n, "text": s.scorer.explainer.wording.describe(n), "gain": g}))
        .collect();
    Json(json!({
        "model_version": s.scorer.model_version,
        "riskscore_version": m.riskscore_version,
        "created_unix": m.created_unix,
        "n_features": m.features.len(),
        "threshold": m.threshold,
        "review_band": m.review_band,
        "cost": m.cost,
        "calibration": m.calibration,
        "strategy": m.strategy,
        "metrics": m.metrics,
        "global_importance": importance,
        "clients": s.scorer.n_clients(),
    }))
}

#[derive(Debug, Deserialize)]
struct DriftQuery {
    since: Option<String>,
    until: Option<String>,
    last: Option<String>,
    format: Option<String>,
}

/// The journal's recent scores against the model's training sample: Evidently's tests per
/// feature and for the predicted probability, PSI, the verdict; JSON, or the HTML report.
async fn drift(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<DriftQuery>,
) -> ApiResult<Response> {
    use crate::drift::{journal_drift, DEFAULT_LAST, MAX_LAST};
    use crate::journal::{instant, Filter};
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
    if let (Some(a), Some(b)) = (&since, &until) {
        if a >= b {
            return Err(ApiError::invalid_field("until", "must be after since"));
        }
    }
    let last = match q.last.as_deref() {
        // Without a start, the most recent scores; with one, the whole window up to the cap.
        None => Some(if since.is_some() {
            MAX_LAST
        } else {
            DEFAULT_LAST
        }),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LAST).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::invalid_field(
                    "last",
                    format!("must be an integer from 1 to {MAX_LAST}"),
                ))
            }
        },
    };
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
    Ok(Json(json!({
        "model_version": s.scorer.model_version,
        "window": window,
        "drift": report,
    }))
    .into_response())
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.journal.is_alive() {
        Json(json!({"status": "ready", "clients": s.scorer.n_clients(),
            "model_version": s.scorer.model_version}))
        .into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the decision journal writer has stopped",
        )
        .into_response()
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Body::from(s.metrics.render()))
        .unwrap_or_else(|e| ApiError::internal(&e).into_response())
}
