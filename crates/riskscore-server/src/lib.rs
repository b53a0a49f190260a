//! The scoring service: a JSON API over a model bundle and its clients' data (`api.rs`), with
//! a decision journal (`journal.rs`) that commits every decision before its answer is sent.

pub mod api;
pub mod application;
pub mod applications;
pub mod challenger;
pub mod dashboard;
pub mod drift;
pub mod error;
pub mod journal;
pub mod metrics;
pub mod monitor;
pub mod notice;
pub mod openapi;
pub mod recourse;
pub mod rows;
pub mod scorer;

use std::net::SocketAddr;
use std::sync::Arc;

pub use api::{router, AppState, Reviewer, Settings};
pub use error::{ApiError, Error, Result};
pub use journal::{Journal, Location};
pub use scorer::Scorer;

impl AppState {
    pub fn new(scorer: Scorer, journal: Journal, settings: Settings) -> Self {
        Self::new_shared(Arc::new(scorer), journal, settings)
    }

    /// As `new`, with a scorer already shared (several states over one loaded model).
    pub fn new_shared(scorer: Arc<Scorer>, journal: Journal, settings: Settings) -> Self {
        AppState {
            scorer,
            journal,
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::new()),
            challenger: None,
        }
    }

    /// Scores every decision with `challenger` too, in its shadow.
    pub fn with_challenger(mut self, challenger: Arc<challenger::Challenger>) -> Self {
        self.challenger = Some(challenger);
        self
    }
}

/// Binds the server's address. `serve` binds before it loads the model and the data, so that an
/// address in use fails at once, not after the load; connections made meanwhile wait for it.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Io {
            context: format!("listening on {addr}"),
            source,
        })
}

/// Serves until SIGINT or SIGTERM, then stops accepting, finishes the requests in flight
/// (their decisions are journaled) and returns.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> Result<()> {
    let local = listener.local_addr().map_err(|source| Error::Io {
        context: "local address".into(),
        source,
    })?;
    tracing::info!(address = %local, "serving");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|source| Error::Io {
            context: "serving".into(),
            source,
        })?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
