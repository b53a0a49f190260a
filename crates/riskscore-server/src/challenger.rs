//! A challenger model tried on live traffic without touching a decision (`serve
//! --challenger`): after the champion's decision is journaled and answered, the same client or
//! application is offered to a bounded queue; a background task scores it with the challenger
//! and journals a non-binding `shadow` entry naming the champion's entry. A full queue drops
//! the offer and counts it; a challenger failure is counted and logged, never answered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::journal::{input_hash, now_rfc3339, Decided, Journal};
use crate::scorer::Scorer;

/// Offers waiting for the challenger before new ones are dropped.
pub const QUEUE: usize = 1024;

/// What the challenger scores.
#[derive(Debug, Clone)]
pub enum Input {
    /// A client of the data, by id.
    Known(i64),
    /// A posted application (the body as posted).
    New(Value),
}

/// One champion decision offered to the challenger.
#[derive(Debug, Clone)]
pub struct Job {
    /// The champion's journal entry.
    pub champion: i64,
    pub request_id: String,
    /// The client as the journal stores it (the id or its pseudonym).
    pub client: String,
    pub input: Input,
}

/// The challenger's counters.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub offered: u64,
    pub scored: u64,
    pub dropped: u64,
    pub failed: u64,
}

/// The challenger and its queue.
#[derive(Debug)]
pub struct Challenger {
    pub scorer: Arc<Scorer>,
    tx: mpsc::Sender<Job>,
    offered: AtomicU64,
    scored: Arc<AtomicU64>,
    dropped: AtomicU64,
    failed: Arc<AtomicU64>,
}

impl Challenger {
    /// Starts the challenger's task on the current runtime; `delay` slows each scoring (tests).
    pub fn start(
        scorer: Arc<Scorer>,
        journal: Journal,
        queue: usize,
        delay: Option<Duration>,
    ) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<Job>(queue.max(1));
        let scored = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (sc, ok, bad) = (scorer.clone(), scored.clone(), failed.clone());
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                let s = sc.clone();
                let input = job.input.clone();
                let scoredrow = tokio::task::spawn_blocking(move || score(&s, &input)).await;
                let (p, x) = match scoredrow {
                    Ok(Ok(v)) => v,
                    Ok(Err(e)) => {
                        tracing::warn!(champion = job.champion, error = %e, "the challenger could not score");
                        bad.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(champion = job.champion, error = %e, "the challenger failed");
                        bad.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                };
                let d = Decided {
                    time: now_rfc3339(),
                    request_id: job.request_id,
                    client: job.client,
                    kind: "shadow".into(),
                    model_version: sc.model_version.clone(),
                    probability: p,
                    decision: match sc.explainer.manifest.decide(p) {
                        riskscore_model::bundle::Decision::Granted => "granted".into(),
                        riskscore_model::bundle::Decision::Refused => "refused".into(),
                    },
                    reasons: Vec::new(),
                    input_hash: input_hash(&x),
                    review: Vec::new(),
                    notice: Vec::new(),
                    champion: Some(job.champion),
                    reviewed: None,
                };
                match journal.record(d, &x).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "the challenger's entry was not journaled");
                        bad.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
        Arc::new(Challenger {
            scorer,
            tx,
            offered: AtomicU64::new(0),
            scored,
            dropped: AtomicU64::new(0),
            failed,
        })
    }

    /// Offers a champion decision; never waits (a full queue drops it, counted).
    pub fn offer(&self, job: Job) {
        self.offered.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(job).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn counts(&self) -> Counts {
        Counts {
            offered: self.offered.load(Ordering::Relaxed),
            scored: self.scored.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// The challenger's probability and feature row for an input.
fn score(sc: &Scorer, input: &Input) -> Result<(f64, Vec<f64>), String> {
    match input {
        Input::Known(id) => {
            let (i, x) = sc
                .row(*id)
                .ok_or_else(|| format!("client {id} is not in the challenger's data"))?;
            Ok((sc.population.probability[i], x))
        }
        Input::New(body) => {
            let (_, app) = crate::application::parse(&sc.pipeline, body)
                .map_err(|f| format!("{} invalid fields", f.len()))?;
            let x = sc.transform(app).map_err(|e| e.to_string())?;
            Ok((sc.explainer.probability(&x), x))
        }
    }
}
