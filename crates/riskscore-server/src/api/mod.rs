//! The HTTP API: one module per resource (clients, the desk's comparison and what-if, new
//! applications, the model, drift, health), each with its own `router()` whose handlers carry
//! their OpenAPI description; `router(state)` merges them behind the API-key check and the
//! request layer (request id, time limit, metrics, the JSON error shape of every failure).
//! What the resources share is in `common.rs`.

mod clients;
mod common;
mod desk;
mod drift;
mod health;
mod model;
mod monitor;
mod outcomes;
mod recourse;
mod reviews;
mod scores;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use clients::{ExplanationAnswer, ScoreAnswer, SimilarAnswer};
pub(crate) use common::RequestId;
pub use common::{Reviewer, Settings, MAX_BODY};
pub use desk::{Comparison, WhatIfAnswer};
pub use drift::DriftAnswer;
pub use model::ModelAnswer;
pub use scores::{BatchAnswer, NewScore};

use crate::error::ApiError;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::scorer::Scorer;

#[derive(Debug, Clone)]
pub struct AppState {
    pub scorer: Arc<Scorer>,
    pub journal: Journal,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    /// The challenger scored in the shadow of every decision (`serve --challenger`).
    pub challenger: Option<Arc<crate::challenger::Challenger>>,
}

/// The `/v1` resources (behind the API keys), the open ones, and their derived document.
fn parts() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (v1, mut doc) = OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(clients::router())
        .merge(desk::router())
        .merge(recourse::router())
        .merge(outcomes::router())
        .merge(monitor::router())
        .merge(reviews::router())
        .merge(scores::router())
        .merge(model::router())
        .merge(drift::router())
        .split_for_parts();
    let (open, open_doc) = health::router().split_for_parts();
    doc.merge(open_doc);
    (v1, open, doc)
}

/// The OpenAPI document this server publishes at `/openapi.json`.
pub fn document(state: &AppState) -> serde_json::Value {
    crate::openapi::finish(parts().2, state)
}

pub fn router(state: AppState) -> Router {
    let (v1, open, doc) = parts();
    let doc = crate::openapi::finish(doc, &state);
    // Rendered once; each answer shares the bytes.
    let page = Html(axum::body::Bytes::from(crate::openapi::docs_page(&doc)));
    let doc = axum::body::Bytes::from(doc.to_string());
    Router::new()
        .merge(v1)
        .merge(open)
        .merge(crate::dashboard::router())
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc) }),
        )
        .route("/docs", get(move || async move { page }))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(Guard {
            state: state.clone(),
        })
        .with_state(state)
}

/// The layer around every route: the request id, the API key of the `/v1` resources, the body
/// limit, the time limit and the metrics; every failure in the JSON error shape (axum's own
/// answers, such as 405, are plain). One hand-written layer: it calls the route directly and
/// boxes one future per request (three `from_fn` layers cloned and boxed the routes' services
/// at every request).
#[derive(Clone)]
struct Guard {
    state: AppState,
}

impl<S> tower_layer::Layer<S> for Guard {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
struct Guarded<S> {
    inner: S,
    state: AppState,
}

type Answer = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send>,
>;

impl<S> tower_service::Service<Request> for Guarded<S>
where
    S: tower_service::Service<Request, Response = Response, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Answer;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Answer {
        let started = Instant::now();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let v1 = route
            .as_ref()
            .is_some_and(|r| r.as_str().starts_with("/v1/"));
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| self.state.metrics.next_request_id());
        req.extensions_mut().insert(RequestId(id.clone()));
        let metrics = self.state.metrics.clone();
        let finish = move |mut resp: Response| {
            let status = resp.status();
            if (status.is_client_error() || status.is_server_error()) && !is_json(&resp) {
                resp = plain_to_json(resp);
            }
            if let Ok(v) = HeaderValue::from_str(&id) {
                resp.headers_mut().insert("x-request-id", v);
            }
            metrics.observe(
                route.as_ref().map_or("other", MatchedPath::as_str),
                resp.status().as_u16(),
                started.elapsed(),
            );
            Ok(resp)
        };
        if v1 {
            match caller(&self.state.settings, req.headers()) {
                // No reviewer reads as the default caller: nothing to insert.
                Ok(c) if c.reviewer.is_some() => {
                    req.extensions_mut().insert(c);
                }
                Ok(_) => {}
                Err(e) => return Box::pin(std::future::ready(finish(e.into_response()))),
            }
        }
        let req = if matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        ) {
            req
        } else {
            req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, MAX_BODY)))
        };
        let timeout = self.state.settings.timeout;
        let answer = tokio::time::timeout(timeout, self.inner.call(req));
        Box::pin(async move {
            let resp = match answer.await {
                Ok(Ok(r)) => r,
                Ok(Err(never)) => match never {},
                Err(_) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    format!("the request took longer than {} s", timeout.as_secs_f64()),
                )
                .into_response(),
            };
            finish(resp)
        })
    }
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// A plain-text failure of axum's (413 from the body limit, 405) in the API's shape, its
/// headers (`Allow`) kept.
fn plain_to_json(resp: Response) -> Response {
    let (parts, _) = resp.into_parts();
    let error = match parts.status {
        StatusCode::PAYLOAD_TOO_LARGE => common::too_large(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            parts.status,
            "method_not_allowed",
            "this endpoint does not take this method (see the Allow header)",
        ),
        s => ApiError::new(
            s,
            "http_error",
            s.canonical_reason().unwrap_or("request failed"),
        ),
    };
    let mut out = error.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// API keys from `X-API-Key` or `Authorization: Bearer`: the service's keys and the
/// reviewers' (a reviewer's key names its reviewer for the handlers). Open when no key of
/// either kind is set; a reviewer's key is still recognised then.
fn caller(settings: &Settings, h: &axum::http::HeaderMap) -> Result<common::Caller, ApiError> {
    let keys = &settings.api_keys;
    let reviewers = &settings.reviewers;
    let given = h
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            h.get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    let reviewer = given.and_then(|k| {
        reviewers
            .iter()
            .find(|r| constant_eq(r.key.as_bytes(), k.as_bytes()))
            .map(|r| r.name.clone())
    });
    let service = given.is_some_and(|k| {
        keys.iter()
            .any(|key| constant_eq(key.as_bytes(), k.as_bytes()))
    });
    let open = keys.is_empty() && reviewers.is_empty();
    if !(open || service || reviewer.is_some()) {
        let message = if given.is_none() {
            "an API key is required (header X-API-Key or Authorization: Bearer)"
        } else {
            "unknown API key"
        };
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            message,
        ));
    }
    Ok(common::Caller { reviewer })
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
