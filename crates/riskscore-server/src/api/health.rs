//! What the platform and the operators read: liveness, readiness, Prometheus metrics. Open
//! whatever the API keys.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::error::{ApiError, ErrorBody};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The process answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

/// The model is loaded, the journal's writer runs and the journal can be read.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    #[schema(pattern = "^ready$")]
    pub status: &'static str,
    pub clients: usize,
    pub model_version: String,
    pub journal: JournalState,
}

/// The decision journal as this replica reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalState {
    /// The SQLite path or the PostgreSQL address (without its password).
    pub location: String,
    /// The last entry's sequence number, whichever replica wrote it (0 when empty).
    #[schema(minimum = 0)]
    pub head: i64,
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Alive)))]
async fn healthz() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Readiness (model loaded, journal writer running, journal readable).
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready", body = ErrorBody),
    ))]
async fn readyz(State(s): State<AppState>) -> Response {
    if !s.journal.is_alive() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the decision journal writer has stopped",
        )
        .into_response();
    }
    let loc = s.journal.store().clone();
    let head = tokio::task::spawn_blocking(move || crate::journal::head(&loc)).await;
    match head {
        Ok(Ok(head)) => Json(Ready {
            status: "ready",
            clients: s.scorer.n_clients(),
            model_version: s.scorer.model_version.clone(),
            journal: JournalState {
                location: s.journal.location(),
                head,
            },
        })
        .into_response(),
        Ok(Err(e)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("the decision journal cannot be read: {e}"),
        )
        .into_response(),
        Err(e) => ApiError::internal(&e).into_response(),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "health",
    responses((status = 200, description = "Text exposition format", body = String,
        content_type = "text/plain")))]
async fn metrics(State(s): State<AppState>) -> Response {
    let mut text = s.metrics.render();
    // The estimated performance of the latest chunk of decisions (none on a journal error).
    let sc = s.scorer.clone();
    let store = s.journal.store().clone();
    if let Ok(Some(g)) = tokio::task::spawn_blocking(move || latest_chunk(&sc, &store)).await {
        text.push_str(&g);
    }
    let store = s.journal.store().clone();
    if let Ok(Ok(f)) = tokio::task::spawn_blocking(move || {
        crate::journal::reviews::figures(&store, &crate::journal::now_rfc3339())
    })
    .await
    {
        text.push_str(&review_gauges(&f));
    }
    if let Some(c) = &s.challenger {
        let n = c.counts();
        text.push_str(
            "# HELP riskscore_challenger_total Champion decisions offered to the challenger, and what became of them.\n\
             # TYPE riskscore_challenger_total counter\n",
        );
        for (what, v) in [
            ("offered", n.offered),
            ("scored", n.scored),
            ("dropped", n.dropped),
            ("failed", n.failed),
        ] {
            text.push_str(&format!(
                "riskscore_challenger_total{{outcome=\"{what}\"}} {v}\n"
            ));
        }
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
        .body(Body::from(text))
        .unwrap_or_else(|e| ApiError::internal(&e).into_response())
}

/// Gauges of the latest chunk of decisions (the most recent `DEFAULT_CHUNK`): CBPE's estimates
/// and their alerts.
fn latest_chunk(sc: &crate::Scorer, store: &crate::Location) -> Option<String> {
    use std::fmt::Write;
    let reference = sc.oof.as_ref()?;
    let filter = crate::journal::Filter {
        last: Some(crate::monitor::DEFAULT_CHUNK),
        scores_only: true,
        ..crate::journal::Filter::default()
    };
    let entries = crate::journal::read_window(store, &filter).ok()?;
    let m = crate::monitor::monitor(
        &entries,
        &[],
        &sc.explainer.manifest,
        &sc.model_version,
        reference,
        crate::monitor::Cohorts::Month,
        crate::monitor::DEFAULT_CHUNK,
    );
    let c = m.estimated.last()?;
    let mut out = String::new();
    out.push_str(
        "# HELP riskscore_estimated Estimated performance (CBPE) of the latest decisions, by metric.\n\
         # TYPE riskscore_estimated gauge\n",
    );
    let e = &c.estimated;
    for (name, v) in riskscore_model::cbpe::NAMES.iter().zip([
        e.roc_auc,
        e.true_positive,
        e.false_positive,
        e.false_negative,
        e.true_negative,
        e.cost,
    ]) {
        let _ = writeln!(out, "riskscore_estimated{{metric=\"{name}\"}} {v}");
    }
    out.push_str(
        "# HELP riskscore_estimated_alert 1 when the latest decisions' estimate leaves its band.\n\
         # TYPE riskscore_estimated_alert gauge\n",
    );
    for name in riskscore_model::cbpe::NAMES {
        let on = u8::from(c.alerts.iter().any(|a| a == name));
        let _ = writeln!(out, "riskscore_estimated_alert{{metric=\"{name}\"}} {on}");
    }
    let _ = writeln!(
        out,
        "# HELP riskscore_estimated_decisions Decisions the latest estimate covers.\n\
         # TYPE riskscore_estimated_decisions gauge\nriskscore_estimated_decisions {}",
        c.end - c.start
    );
    Some(out)
}

/// The review queue's size and age, and each reviewer's decisions by direction.
fn review_gauges(f: &crate::journal::reviews::Figures) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP riskscore_reviews_pending Decisions waiting in the review queue.\n\
         # TYPE riskscore_reviews_pending gauge\nriskscore_reviews_pending {}",
        f.pending
    );
    let _ = writeln!(
        out,
        "# HELP riskscore_reviews_oldest_pending_seconds Age of the oldest waiting review (0 when none waits).\n\
         # TYPE riskscore_reviews_oldest_pending_seconds gauge\nriskscore_reviews_oldest_pending_seconds {}",
        f.oldest_pending_seconds.unwrap_or(0.0)
    );
    out.push_str(
        "# HELP riskscore_reviews_decided_total Reviews decided, by reviewer and direction (confirmed, refused_to_granted, granted_to_refused).\n\
         # TYPE riskscore_reviews_decided_total counter\n",
    );
    for r in &f.reviewers {
        let name = label(&r.reviewer);
        let confirmed = r.decided - r.refused_to_granted - r.granted_to_refused;
        for (direction, n) in [
            ("confirmed", confirmed),
            ("refused_to_granted", r.refused_to_granted),
            ("granted_to_refused", r.granted_to_refused),
        ] {
            let _ = writeln!(
                out,
                "riskscore_reviews_decided_total{{reviewer=\"{name}\",direction=\"{direction}\"}} {n}"
            );
        }
    }
    out
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
