//! Recourse for a refused applicant: the search on the model's trees
//! (`riskscore_explain::recourse`), then every option re-scored through the full pipeline and
//! the model, as a what-if is, and returned only when it is granted outside the review band.

use std::sync::Arc;

use riskscore_explain::recourse::{Cost, Model, Outcome, Query, Status};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{Error, FieldError, Result};
use crate::scorer::{Score, Scorer};

/// One field an option changes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionChange {
    pub field: String,
    pub from: f64,
    pub to: f64,
    /// How the field is named to the applicant (the action set's text).
    pub text: String,
}

/// One way to be granted, re-scored through the pipeline and the model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecourseOption {
    pub changes: Vec<OptionChange>,
    /// Percentile points (or the relative change) summed over the fields changed.
    pub cost: f64,
    /// The probability with the changes, re-scored through the full pipeline.
    pub probability: f64,
    pub score: Score,
    /// What the notice says ("With a credit amount of 310,000 instead of 379,230, the
    /// application would have been granted.").
    pub sentence: String,
}

/// A field's candidate values searched.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Searched {
    pub field: String,
    pub candidates: usize,
}

/// A field of the action set left as it is, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Fixed {
    pub field: String,
    pub reason: String,
}

/// What a refused applicant could change to be granted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecourseAnswer {
    pub id: i64,
    /// The decision as it stands.
    pub score: Score,
    /// `found`, `no_recourse` (certified over the candidates), `unknown` (the budget ran out),
    /// `granted` (nothing to change) or `no_actions`.
    pub status: Status,
    /// The search completed: the first option is the cheapest over the candidates and
    /// `no_recourse` is certified.
    pub proven_optimal: bool,
    /// The most fields one option changes.
    pub k: usize,
    pub cost: Cost,
    /// Cheapest first, diverse by the fields they change (at most three).
    pub options: Vec<RecourseOption>,
    /// The probability an option must fall below: the threshold less the review band.
    pub limit: f64,
    pub searched: Vec<Searched>,
    pub fixed: Vec<Fixed>,
    /// Options the search returned that the full pipeline did not grant (always 0: a
    /// non-zero count is a defect, and those options are not offered).
    pub unverified: usize,
    pub nodes: u64,
    pub elapsed_ms: f64,
    /// The action set's version (`recourse/home_credit.csv` or the `--actions` file).
    pub action_set: String,
    pub model_version: String,
}

/// Why a changed application could not be re-scored.
#[derive(Debug)]
pub enum Rescore {
    /// Fields the pipeline's intake refuses (named `application.FIELD`).
    Fields(Vec<FieldError>),
    Transform(Error),
}

impl Scorer {
    /// The feature row of an application (JSON fields) through the fitted pipeline; a Home
    /// Credit client's history aggregates are kept from `before` (they do not depend on the
    /// application row).
    pub fn rescore(
        &self,
        app: Map<String, Value>,
        before: &[f64],
    ) -> std::result::Result<Vec<f64>, Rescore> {
        let posted = serde_json::json!({ "application": app });
        let (_, parsed) =
            crate::application::parse(&self.pipeline, &posted).map_err(Rescore::Fields)?;
        let fresh = self.transform(parsed).map_err(Rescore::Transform)?;
        Ok(match &self.pipeline.layout {
            riskscore_features::Layout::HomeCredit { .. } => self
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
            riskscore_features::Layout::Generic(_) => fresh,
        })
    }

    /// The model the search runs on.
    pub fn recourse_model(&self) -> Model<'_> {
        let m = &self.explainer.manifest;
        Model {
            forest: &self.explainer.forest,
            calibration: &m.calibration,
            limit: m.threshold - m.review_band,
        }
    }

    /// Recourse for the application `app` whose feature row is `x`.
    pub fn recourse(
        &self,
        id: i64,
        app: &Map<String, Value>,
        x: &[f64],
        query: &Query,
    ) -> Result<RecourseAnswer> {
        let current = |f: &str| app.get(f).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let model = self.recourse_model();
        let out: Outcome = self.recourse.search(model, x, &current, query)?;
        let mut options = Vec::new();
        let mut unverified = 0;
        for plan in &out.options {
            let mut changed = app.clone();
            for c in &plan.changes {
                changed.insert(c.field.clone(), c.to.into());
            }
            let p = match self.rescore(changed, x) {
                Ok(row) => self.explainer.probability(&row),
                Err(e) => {
                    tracing::error!(id, ?e, "a recourse option could not be re-scored");
                    f64::NAN
                }
            };
            let granted = p < model.limit;
            if !granted || p.to_bits() != plan.probability.to_bits() {
                tracing::error!(
                    id,
                    searched = plan.probability,
                    rescored = p,
                    "a recourse option was not confirmed by the full pipeline; not offered"
                );
                unverified += 1;
                if !granted {
                    continue;
                }
            }
            let changes: Vec<OptionChange> = plan
                .changes
                .iter()
                .map(|c| OptionChange {
                    field: c.field.clone(),
                    from: c.from,
                    to: c.to,
                    text: self
                        .recourse
                        .action(&c.field)
                        .map_or_else(|| c.field.clone(), |a| a.text.clone()),
                })
                .collect();
            options.push(RecourseOption {
                sentence: self.sentence(&changes),
                changes,
                cost: plan.cost,
                probability: p,
                score: self.score_of(p),
            });
        }
        let status = if options.is_empty() && out.status == Status::Found {
            Status::Unknown
        } else {
            out.status
        };
        Ok(RecourseAnswer {
            id,
            score: self.score_of(out.probability),
            status,
            proven_optimal: out.proven_optimal && unverified == 0,
            k: query.k,
            cost: query.cost,
            options,
            limit: out.limit,
            searched: out
                .candidates
                .into_iter()
                .map(|(field, candidates)| Searched { field, candidates })
                .collect(),
            fixed: out
                .fixed
                .into_iter()
                .map(|(field, reason)| Fixed { field, reason })
                .collect(),
            unverified,
            nodes: out.nodes,
            elapsed_ms: out.elapsed_ms,
            action_set: self.recourse.actions.version.clone(),
            model_version: self.model_version.clone(),
        })
    }

    /// Recourse for a known client at the notice's query (cached once proven: a client's row
    /// does not change while the server runs).
    pub fn recourse_known(&self, i: usize, id: i64) -> Result<Arc<RecourseAnswer>> {
        if let Some(a) = self.recourse_cache().get(&id) {
            return Ok(a.clone());
        }
        let Some(app) = self.application_of(i)? else {
            return Err(Error::Input(
                "the server was started on a feature matrix: the clients' applications are not known"
                    .into(),
            ));
        };
        let (_, x) = self
            .row(id)
            .ok_or_else(|| Error::Input(format!("unknown client {id}")))?;
        let a = Arc::new(self.recourse(id, &app, &x, &Query::default())?);
        if a.proven_optimal {
            self.recourse_cache().insert(id, a.clone());
        }
        Ok(a)
    }

    /// The notice's sentence for an option.
    fn sentence(&self, changes: &[OptionChange]) -> String {
        let w = &self.explainer.wording;
        let parts: Vec<String> = changes
            .iter()
            .map(|c| {
                format!(
                    "{} of {} instead of {}",
                    c.text,
                    w.show(&c.field, Some(c.to)),
                    w.show(&c.field, Some(c.from))
                )
            })
            .collect();
        format!(
            "With {}, the application would have been granted.",
            parts.join(" and ")
        )
    }
}

/// The sentences a refusal's notice carries: one per option.
pub fn sentences(a: &RecourseAnswer) -> Vec<String> {
    a.options.iter().map(|o| o.sentence.clone()).collect()
}
