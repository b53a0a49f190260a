//! What the server knows at start: the model (parsed trees, explainer, pipeline) and the
//! clients of the data (their feature rows, scores, descriptive fields and outcomes).
//!
//! Scores come from the parsed trees (which can be shared between threads, unlike LightGBM's
//! booster handle); at start they are checked bit for bit against the booster on every known
//! client, and the server refuses to start if any differs. The rows are kept compactly (see
//! [`crate::rows`]), read and scored in one pass without ever holding the matrix as doubles.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use polars::prelude::*;
use riskscore_data::read::ColumnSpec;
use riskscore_data::{Folder, Kind, Table};
use riskscore_explain::client::{ClientExplanation, ServingExplainer};
use riskscore_explain::recourse::{ActionSet, Recourse};
use riskscore_explain::wording::Wording;
use riskscore_features::{FeaturePipeline, Layout};
use riskscore_model::bundle::{Decision, ModelBundle};
use riskscore_model::data::matrix;
use serde::Serialize;

use crate::applications::{Applications, Records};
use crate::error::{Error, Result};
use crate::rows::{Cuts, Rows, RowsBuilder};

/// Features used to find similar clients (the most important by gain).
const SIMILAR_FEATURES: usize = 20;

/// Descriptive fields of a Home Credit application shown for a client.
pub const INFO_FIELDS: [&str; 17] = [
    "NAME_CONTRACT_TYPE",
    "CODE_GENDER",
    "DAYS_BIRTH",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "AMT_ANNUITY",
    "AMT_GOODS_PRICE",
    "DAYS_EMPLOYED",
    "NAME_INCOME_TYPE",
    "OCCUPATION_TYPE",
    "NAME_EDUCATION_TYPE",
    "NAME_FAMILY_STATUS",
    "CNT_CHILDREN",
    "CNT_FAM_MEMBERS",
    "NAME_HOUSING_TYPE",
    "FLAG_OWN_CAR",
    "FLAG_OWN_REALTY",
];

/// History tables counted per client.
pub const HISTORY: [Table; 5] = [
    Table::Bureau,
    Table::PreviousApplication,
    Table::PosCashBalance,
    Table::InstallmentsPayments,
    Table::CreditCardBalance,
];

/// One scored row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Score {
    pub probability: f64,
    pub decision: Decision,
    pub threshold: f64,
    /// probability - threshold (negative: granted).
    pub distance: f64,
    /// `review` inside the review band around the threshold or when the intake sent the
    /// application to review, else `clear`.
    #[schema(value_type = String, pattern = "^(clear|review)$")]
    pub band: &'static str,
    /// Why the intake sent the application to review (values outside the training data, categories it never saw).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub review_reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Neighbour {
    pub id: i64,
    pub distance: f64,
    pub probability: f64,
    /// 1 defaulted, 0 repaid.
    pub target: u8,
}

/// What the lender knows of a client: the application's descriptive fields, the age and years
/// employed derived from them, how many records each history table holds, and the outcome
/// when the client is from the training data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClientInfo {
    pub id: i64,
    pub known: bool,
    /// The descriptive fields (the application's columns the lender reads).
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// From `DAYS_BIRTH`, when the data has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_years: Option<f64>,
    /// From `DAYS_EMPLOYED` when the data has it; null when not employed (the 365243 code).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub years_employed: Option<Option<f64>>,
    /// Records per history table (Home Credit layout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_records: Option<std::collections::BTreeMap<String, u32>>,
    /// 1 defaulted, 0 repaid; null for a client without an outcome.
    pub outcome: Option<u8>,
}

/// The clients of the data.
#[derive(Debug)]
pub struct Population {
    pub ids: Vec<i64>,
    index: HashMap<i64, usize>,
    /// The feature rows in the manifest's order, kept compactly (see [`Rows`]).
    rows: Rows,
    pub probability: Vec<f64>,
    pub target: Vec<Option<u8>>,
    /// Descriptive columns (the id first), one row per client in `ids` order.
    info: DataFrame,
    /// Every application column of the Home Credit clients (for what-if and recourse): where
    /// their records are, or the columns themselves; a single table's raw columns are `info`.
    raw: Option<Applications>,
    /// History record counts per table (its stem), one per client in `ids` order; Home
    /// Credit only.
    history: Vec<(&'static str, Vec<u32>)>,
    similar: Similar,
}

/// Standardised values of the top features for the labelled clients.
#[derive(Debug)]
struct Similar {
    features: Vec<usize>,
    mean: Vec<f64>,
    std: Vec<f64>,
    /// Rows of `Population` with a known outcome, and their standardised values.
    rows: Vec<usize>,
    z: Vec<f64>,
}

/// The model and the clients: everything a request needs, shared read-only.
#[derive(Debug)]
pub struct Scorer {
    pub explainer: ServingExplainer,
    pub pipeline: FeaturePipeline,
    pub population: Population,
    /// Identifies the model in answers and the journal (the hash of the training data and
    /// the creation time).
    pub model_version: String,
    pub names: Vec<String>,
    pub threads: usize,
    /// The bundle's sample of training rows with their out-of-fold probability, the drift
    /// reference (None for bundles written before it existed).
    pub reference: Option<DataFrame>,
    /// The training range of each feature (0.1 and 99.9 percentiles) for the intake.
    pub ranges: crate::application::Ranges,
    /// How far outside its training range, in widths of that range, a posted value is sent to
    /// review.
    pub intake_margin: f64,
    /// Fairness at the threshold on the training's out-of-fold decisions (None for bundles
    /// written before it was measured).
    pub fairness: Option<riskscore_model::fairness::Fairness>,
    /// The bundle's out-of-fold probabilities and outcomes, the reference of the estimated
    /// performance (None for a bundle without `oof.csv`).
    pub oof: Option<riskscore_model::cbpe::Reference>,
    /// The action set resolved on the model (the layout's shipped set, or `--actions`).
    pub recourse: Recourse,
    /// Known clients' recourse at the notice's query, once proven.
    recourse_cache: Mutex<HashMap<i64, Arc<crate::recourse::RecourseAnswer>>>,
    /// Each known client's refusal (its reasons and the notice's recourse), once computed:
    /// a pure function of the model and the client's row, so a refused client's score costs
    /// one explanation, at most; [`Scorer::warm_refusals`] computes them all after start.
    refusals: Vec<OnceLock<Arc<Refusal>>>,
    /// Each known client's input hash (the journal's `input_hash` of its row), once computed:
    /// the row is the same at every decision.
    input_hashes: Vec<OnceLock<String>>,
    /// Explanations being computed now: one alone is split over `threads`, one among others
    /// runs on one thread (the cores are busy already; splitting costs throughput).
    explaining: AtomicUsize,
}

/// What a known client's refusal carries besides its date: the explanation's reasons and the
/// recourse sentences of the notice.
#[derive(Debug)]
pub struct Refusal {
    pub explanation: ClientExplanation,
    pub recourse: Vec<String>,
    /// The refusal as last sent (its day's notice, written once per day).
    sent: Mutex<Option<Arc<crate::notice::Sent>>>,
}

impl Refusal {
    /// The refusal as sent on `date` by `lender` (written on the first score of the day, then
    /// shared; written again for another day or another lender).
    pub fn sent(
        &self,
        date: &str,
        lender: &crate::notice::Lender,
        model_version: &str,
    ) -> serde_json::Result<Arc<crate::notice::Sent>> {
        let mut last = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = last
            .as_ref()
            .filter(|s| s.date == date && s.lender == *lender)
        {
            return Ok(s.clone());
        }
        let s = Arc::new(crate::notice::Sent::new(
            &self.explanation,
            self.recourse.clone(),
            lender,
            model_version,
            date,
        )?);
        *last = Some(s.clone());
        Ok(s)
    }
}

/// Decrements the count of explanations in flight when dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The intake's default margin: a value more than one range width beyond the 0.1-99.9
/// percentiles of training is "outside the data the model was trained on".
pub const INTAKE_MARGIN: f64 = 1.0;

/// The model's version in answers and the journal: its creation time and the start of the
/// training data's hash.
pub fn model_version(bundle: &ModelBundle) -> String {
    let m = &bundle.manifest;
    format!(
        "{}-{}",
        m.created_unix,
        m.data_hash.chars().take(12).collect::<String>()
    )
}

/// The bundle's `reference.parquet`, if it has one.
pub fn read_reference(model: &Path) -> Result<Option<DataFrame>> {
    let path = model.join(riskscore_model::run::REFERENCE_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).map_err(|source| Error::Io {
        context: format!("opening {}", path.display()),
        source,
    })?;
    ParquetReader::new(file)
        .finish()
        .map(Some)
        .map_err(|source| Error::Polars {
            context: format!("reading {}", path.display()),
            source,
        })
}

/// The bundle's fairness figures, when it has them.
fn read_fairness(model: &Path) -> Result<Option<riskscore_model::fairness::Fairness>> {
    let path = model.join(riskscore_model::bundle::FAIRNESS_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        context: format!("reading {}", path.display()),
        source,
    })?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Input(format!("{}: not the fairness figures: {e}", path.display())))
}

impl Scorer {
    /// Loads the bundle and builds the clients' features from `data` (a Home Credit folder, a
    /// single table, or a feature matrix built with the bundle's pipeline).
    pub fn load(model: &Path, data: &Path, threads: usize) -> Result<Self> {
        let bundle = ModelBundle::load(model)?;
        let explainer = ServingExplainer::new(&bundle, Wording::for_pipeline(&bundle.pipeline)?)?;
        let names = bundle.manifest.feature_names();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        tracing::info!(data = %data.display(), "building the clients' features");
        let cuts = Cuts::of(&explainer.forest, explainer.scorecard.as_ref(), names.len());
        // A Home Credit folder's application records are read beside the pipeline's last
        // tables and the scoring (the pipeline leaves a core idle part of the time), once its
        // peak, the split tables' statistics, is past: they would add to it.
        let (peak_past, wait) = std::sync::mpsc::channel::<()>();
        let (built, scanned) = std::thread::scope(|scope| {
            let scan = matches!(bundle.pipeline.layout, Layout::HomeCredit { .. })
                .then(|| record_folder(data))
                .flatten()
                .map(|folder| {
                    scope.spawn(move || {
                        // Told, or the pipeline is done (the sender dropped).
                        let _ = wait.recv();
                        Records::scan(&folder, &INFO_FIELDS)
                    })
                });
            let built = clients(&bundle, data, &names, cuts, cores, peak_past).map(|clients| {
                tracing::info!(
                    clients = clients.ids.len(),
                    exact = clients.rows.n_exact(),
                    megabytes = clients.rows.bytes() / 1_000_000,
                    memory = riskscore_data::usage::memory_label(),
                    "feature rows kept as f32 (the values whose rounding would cross a split exactly)"
                );
                let scoring = std::time::Instant::now();
                let scored = score_all(&bundle, &explainer, &clients.rows, cores);
                (clients, scored, scoring.elapsed())
            });
            let scanned = scan.map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Input(
                        "reading the application records failed".into(),
                    ))
                })
            });
            (built, scanned)
        });
        let (
            Clients {
                ids,
                rows,
                target,
                history,
            },
            scored,
            scoring,
        ) = built?;
        let n_clients = ids.len();
        let (booster_p, differ) = scored?;
        let scanned = scanned.transpose()?;
        tracing::info!(
            clients = n_clients,
            seconds = scoring.as_secs_f64(),
            "every client scored by LightGBM and by the parsed trees"
        );
        if differ > 0 {
            return Err(Error::Input(format!(
                "the parsed model disagrees with LightGBM on {differ} of {} clients; refusing to serve",
                ids.len()
            )));
        }
        let (info, history, raw) = match &bundle.pipeline.layout {
            Layout::HomeCredit { .. } => home_credit_clients(data, &ids, history, scanned)?,
            Layout::Generic(_) => (
                generic_info(data, &bundle.pipeline, &ids)?,
                Vec::new(),
                None,
            ),
        };
        tracing::debug!("descriptive fields read");
        let k = names.len();
        let similar = Similar::build(&bundle, &rows, &target);
        tracing::debug!("neighbour index built");
        let mut index = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            index.insert(*id, i);
        }
        let model_version = model_version(&bundle);
        let reference = read_reference(model)?;
        let fairness = read_fairness(model)?;
        let oof = if model.join("oof.csv").is_file() {
            Some(crate::monitor::read_oof(model)?)
        } else {
            None
        };
        tracing::debug!("reference, fairness and out-of-fold scores read");
        // The explainer has read the profile already.
        let ranges = crate::application::ranges(&explainer.profile);
        let recourse = Recourse::new(
            ActionSet::default_for(&bundle.pipeline)?,
            &bundle.pipeline,
            &explainer.forest,
            &names,
            &explainer.profile,
        )?;
        tracing::info!(clients = ids.len(), features = k, model = %model_version, "ready");
        Ok(Scorer {
            explainer,
            pipeline: bundle.pipeline.clone(),
            population: Population {
                ids,
                index,
                rows,
                probability: booster_p,
                target,
                info,
                raw,
                history,
                similar,
            },
            model_version,
            names,
            threads,
            reference,
            fairness,
            ranges,
            intake_margin: INTAKE_MARGIN,
            oof,
            recourse,
            recourse_cache: Mutex::new(HashMap::new()),
            refusals: (0..n_clients).map(|_| OnceLock::new()).collect(),
            input_hashes: (0..n_clients).map(|_| OnceLock::new()).collect(),
            explaining: AtomicUsize::new(0),
        })
    }

    /// Replaces the action set (`--actions FILE`); errors name the field.
    pub fn with_actions(mut self, actions: ActionSet) -> Result<Self> {
        self.recourse = Recourse::new(
            actions,
            &self.pipeline,
            &self.explainer.forest,
            &self.names,
            &self.explainer.profile,
        )?;
        self.recourse_cache().clear();
        self.refusals = (0..self.population.ids.len())
            .map(|_| OnceLock::new())
            .collect();
        Ok(self)
    }

    /// A known client's refusal, computed once (an error when it cannot be explained). The
    /// recourse of the notice is searched with the notice's settings; none when it cannot be
    /// (a server started on a feature matrix has no applications).
    pub fn refusal(&self, i: usize, id: i64) -> Result<Arc<Refusal>> {
        if let Some(r) = self.cached_refusal(i) {
            return Ok(r);
        }
        let (_, x) = self
            .row(id)
            .ok_or_else(|| Error::Input(format!("unknown client {id}")))?;
        let explanation = self.explain(id, &x, 0)?;
        let recourse = match self.recourse_known(i, id) {
            Ok(a) => crate::recourse::sentences(&a),
            Err(e) => {
                tracing::debug!(id, error = %e, "no recourse for the notice");
                Vec::new()
            }
        };
        let r = Arc::new(Refusal {
            explanation,
            recourse,
            sent: Mutex::new(None),
        });
        Ok(self
            .refusals
            .get(i)
            .map_or(r.clone(), |cell| cell.get_or_init(|| r).clone()))
    }

    /// A known client's refusal when it has been computed.
    pub fn cached_refusal(&self, i: usize) -> Option<Arc<Refusal>> {
        self.refusals.get(i)?.get().cloned()
    }

    /// Computes the refusal of every known client the model refuses, one at a time (a
    /// background thread after start: scores of refused clients then cost no explanation).
    /// Returns how many were computed.
    pub fn warm_refusals(&self) -> usize {
        let started = std::time::Instant::now();
        let mut n = 0;
        for (i, (&id, &p)) in self
            .population
            .ids
            .iter()
            .zip(&self.population.probability)
            .enumerate()
        {
            if self.explainer.manifest.decide(p) == Decision::Refused && self.refusal(i, id).is_ok()
            {
                n += 1;
            }
        }
        tracing::info!(
            refused = n,
            seconds = started.elapsed().as_secs_f64(),
            "reasons and recourse of the refused clients computed"
        );
        n
    }

    pub(crate) fn recourse_cache(
        &self,
    ) -> MutexGuard<'_, HashMap<i64, Arc<crate::recourse::RecourseAnswer>>> {
        self.recourse_cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The row index of client `id`.
    pub fn index(&self, id: i64) -> Option<usize> {
        self.population.index.get(&id).copied()
    }

    /// The input hash of the known client at row index `i` (its row's
    /// [`crate::journal::input_hash`]), computed once; None for an index out of range.
    pub fn input_hash(&self, i: usize) -> Option<String> {
        let cell = self.input_hashes.get(i)?;
        Some(
            cell.get_or_init(|| crate::journal::input_hash(&self.row_at(i)))
                .clone(),
        )
    }

    /// Client `id`'s row index and feature row.
    pub fn row(&self, id: i64) -> Option<(usize, Vec<f64>)> {
        let i = self.index(id)?;
        Some((i, self.row_at(i)))
    }

    /// The feature row of the known client at row index `i` (which must be in range).
    pub fn row_at(&self, i: usize) -> Vec<f64> {
        self.population.rows.row(i)
    }

    pub fn score_of(&self, p: f64) -> Score {
        self.score_with(p, Vec::new())
    }

    /// The score of a probability, sent to review for `review_reasons` if there are any.
    pub fn score_with(&self, p: f64, review_reasons: Vec<String>) -> Score {
        let t = self.explainer.manifest.threshold;
        let review = self.explainer.manifest.in_review_band(p) || !review_reasons.is_empty();
        Score {
            probability: p,
            decision: self.explainer.manifest.decide(p),
            threshold: t,
            distance: p - t,
            band: if review { "review" } else { "clear" },
            review_reasons,
        }
    }

    /// Why a posted application goes to review whatever its score: numbers far outside the
    /// training data, categories never seen in it.
    pub fn intake_review(&self, body: &serde_json::Value) -> Vec<String> {
        crate::application::review_reasons(&self.pipeline, body, &self.ranges, self.intake_margin)
    }

    pub fn explain(&self, id: i64, x: &[f64], top: usize) -> Result<ClientExplanation> {
        let before = self.explaining.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(&self.explaining);
        let threads = if before == 0 { self.threads } else { 1 };
        Ok(self.explainer.explain(id, x, top, self.threads, threads)?)
    }

    /// The descriptive fields of client `i`, with history counts.
    pub fn info(&self, i: usize, id: i64) -> ClientInfo {
        let p = &self.population;
        let mut fields = serde_json::Map::new();
        for c in p.info.columns().iter().skip(1) {
            let v = c.get(i).map(|v| any_to_json(&v)).unwrap_or_default();
            fields.insert(c.name().to_string(), v);
        }
        let number = |name: &str| fields.get(name).and_then(serde_json::Value::as_f64);
        let age_years = number("DAYS_BIRTH").map(|days| (-days / 365.25).floor());
        let years_employed = number("DAYS_EMPLOYED")
            .map(|days| (days <= 0.0).then(|| ((-days / 365.25) * 10.0).floor() / 10.0));
        let history_records = (!p.history.is_empty()).then(|| {
            p.history
                .iter()
                .map(|(t, rows)| ((*t).to_string(), rows.get(i).copied().unwrap_or(0)))
                .collect()
        });
        ClientInfo {
            id,
            known: true,
            fields,
            age_years,
            years_employed,
            history_records,
            outcome: p.target[i],
        }
    }

    /// The k nearest labelled clients in the standardised space of the top features.
    pub fn similar(&self, x: &[f64], k: usize, exclude: Option<usize>) -> Vec<Neighbour> {
        let s = &self.population.similar;
        let q: Vec<f64> = s
            .features
            .iter()
            .enumerate()
            .map(|(j, &f)| standardise(x[f], s.mean[j], s.std[j]))
            .collect();
        let d = s.features.len();
        let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
        for (r, z) in s.rows.iter().zip(s.z.chunks(d.max(1))) {
            if Some(*r) == exclude {
                continue;
            }
            let dist: f64 = z.iter().zip(&q).map(|(a, b)| (a - b) * (a - b)).sum();
            if best.len() < k || dist < best[best.len() - 1].0 {
                let at = best.partition_point(|(b, _)| *b <= dist);
                best.insert(at, (dist, *r));
                best.truncate(k);
            }
        }
        let p = &self.population;
        best.into_iter()
            .map(|(dist, r)| Neighbour {
                id: p.ids[r],
                distance: dist.sqrt(),
                probability: p.probability[r],
                target: p.target[r].unwrap_or(0),
            })
            .collect()
    }

    /// A new application (Home Credit tables or the single table's record) through the
    /// bundle's pipeline: the feature row.
    pub fn transform(&self, frames: NewApplication) -> Result<Vec<f64>> {
        features_of(&self.pipeline, &self.names, frames)
    }

    /// Client `i`'s application as JSON fields (every column but the target), the input of a
    /// what-if; None when the data has no raw application (a prebuilt feature matrix). An
    /// error when its record cannot be read again (the file changed or went away).
    pub fn application_of(
        &self,
        i: usize,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>> {
        let p = &self.population;
        let frame = match &p.raw {
            Some(Applications::Files(records)) => {
                let id = p
                    .ids
                    .get(i)
                    .copied()
                    .ok_or_else(|| Error::Input(format!("no client at row {i}")))?;
                return records.fields(i, id).map(Some);
            }
            Some(Applications::Frame(raw)) => raw,
            None => &p.info,
        };
        if frame.width() < 2 {
            return Ok(None);
        }
        Ok(Some(
            frame
                .columns()
                .iter()
                .map(|c| {
                    let v = c.get(i).map(|v| any_to_json(&v)).unwrap_or_default();
                    (c.name().to_string(), v)
                })
                .collect(),
        ))
    }

    /// Feature `j` of client row `r`.
    pub fn population_value(&self, r: usize, j: usize) -> f64 {
        self.population.rows.value(r, j)
    }

    /// Feature `j` of every client.
    pub fn feature_values(&self, j: usize) -> Vec<f64> {
        self.population.rows.column(j)
    }

    pub fn n_clients(&self) -> usize {
        self.population.ids.len()
    }
}

/// One posted application's feature row (the features `names`, in order) through the fitted
/// pipeline.
pub fn features_of(
    pipeline: &FeaturePipeline,
    names: &[String],
    frames: NewApplication,
) -> Result<Vec<f64>> {
    let frame = match (&pipeline.layout, frames) {
        (Layout::HomeCredit { .. }, NewApplication::HomeCredit(source)) => {
            pipeline.transform_home_credit(&source)?
        }
        (Layout::Generic(spec), NewApplication::Generic(df)) => {
            pipeline.apply_age_cap(riskscore_features::generic::transform_frame(spec, df)?)?
        }
        _ => {
            return Err(Error::Input(
                "the application does not fit the model's layout".into(),
            ))
        }
    };
    if frame.height() != 1 {
        return Err(Error::Input(format!(
            "the application gave {} feature rows (expected one)",
            frame.height()
        )));
    }
    let (_, x) = matrix(&frame, &pipeline.id, names)?;
    Ok(x)
}

/// A new application's tables, typed.
#[derive(Debug)]
pub enum NewApplication {
    HomeCredit(riskscore_data::InMemory),
    Generic(DataFrame),
}

fn standardise(v: f64, mean: f64, std: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        (v - mean) / std
    }
}

impl Similar {
    fn build(bundle: &ModelBundle, x: &Rows, target: &[Option<u8>]) -> Self {
        let k = x.n_features();
        let mut by_gain: Vec<usize> = (0..k).collect();
        let feats = &bundle.manifest.features;
        by_gain.sort_by(|&a, &b| feats[b].gain.total_cmp(&feats[a].gain));
        let features: Vec<usize> = by_gain.into_iter().take(SIMILAR_FEATURES).collect();
        let rows: Vec<usize> = (0..target.len()).filter(|&r| target[r].is_some()).collect();
        // The rows' values of these features, read once (a row's values are close together),
        // then standardised in place.
        let f = features.len();
        let mut z = Vec::with_capacity(rows.len() * f);
        for &r in &rows {
            z.extend(features.iter().map(|&j| x.value(r, j)));
        }
        let (mut mean, mut std) = (Vec::new(), Vec::new());
        for j in 0..f {
            // No labelled row (new applicants alone): no value, mean 0 and scale 1.
            let vals = || z.iter().skip(j).step_by(f.max(1)).filter(|v| !v.is_nan());
            let n = vals().count().max(1) as f64;
            let m = vals().sum::<f64>() / n;
            let var = vals().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
            mean.push(m);
            std.push(if var > 0.0 { var.sqrt() } else { 1.0 });
        }
        for row in z.chunks_mut(f.max(1)) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = standardise(*v, mean[j], std[j]);
            }
        }
        Similar {
            features,
            mean,
            std,
            rows,
            z,
        }
    }
}

/// Columns read, cast and rounded together.
const COLUMNS_AT_ONCE: usize = 32;

/// Rows scored together at start.
const SCORE_BLOCK: usize = 4096;

/// The clients of the data: their ids, feature rows and outcomes.
struct Clients {
    ids: Vec<i64>,
    rows: Rows,
    target: Vec<Option<u8>>,
    /// A Home Credit folder's history rows per client, counted by the pipeline.
    history: Option<riskscore_features::pipeline::HistoryRows>,
}

/// The clients of `data` through the bundle's pipeline, never holding the feature matrix as
/// doubles: a Parquet feature matrix is read a batch of columns at a time, and a Home Credit
/// folder's columns are set into the rows as the pipeline makes them ([`StreamedRows`]; no
/// file). A single table is small enough to go through a frame.
fn clients(
    bundle: &ModelBundle,
    data: &Path,
    names: &[String],
    cuts: Cuts,
    threads: usize,
    peak_past: std::sync::mpsc::Sender<()>,
) -> Result<Clients> {
    let parquet = data.is_file() && riskscore_data::read::is_parquet(data);
    if parquet && riskscore_model::predict::is_bundles_feature_file(bundle, data)? {
        return parquet_clients(bundle, data, names, cuts, threads);
    }
    let folder = match bundle.pipeline.layout {
        Layout::HomeCredit { .. } => home_credit_folder(data)?,
        Layout::Generic(_) => None,
    };
    if let Some(folder) = folder {
        let mut sink = StreamedRows::new(bundle, names, cuts, threads, peak_past);
        let (_, history) = bundle
            .pipeline
            .transform_home_credit_each(&folder, &mut sink)?;
        let mut clients = sink.finish()?;
        clients.history = Some(history);
        return Ok(clients);
    }
    let frame = riskscore_model::predict::frame_for(bundle, data)?;
    let (ids, _) = matrix(&frame, &bundle.pipeline.id, &[])?;
    let mut rows = RowsBuilder::new(ids.len(), cuts);
    let mut buffers = Vec::new();
    for (first, batch) in batches(names) {
        let columns = feature_columns(&frame, first, batch, &mut buffers)?;
        rows.set(&columns, threads).map_err(Error::Input)?;
    }
    Ok(Clients {
        target: targets(&frame, &bundle.pipeline.target)?,
        ids,
        rows: rows.finish(threads),
        history: None,
    })
}

/// The clients' rows built from the pipeline's columns as it makes them (a Home Credit
/// folder): no feature matrix, no file. The model's features are set `COLUMNS_AT_ONCE` at a
/// time, with the age cap of `--monotone-age`; their buffers go back to the pipeline.
struct StreamedRows<'a> {
    pipeline: &'a FeaturePipeline,
    /// The model's features, in order, and where each is.
    names: &'a [String],
    index: HashMap<&'a str, usize>,
    /// The split points until the first column gives the row count, then the rows.
    rows: Building,
    pending: Vec<(usize, Vec<f64>)>,
    free: Vec<Vec<f64>>,
    ids: Option<Vec<i64>>,
    target: Option<Vec<Option<u8>>>,
    threads: usize,
    /// Told once the pipeline's split tables are folded (see [`Scorer::load`]).
    peak_past: Option<std::sync::mpsc::Sender<()>>,
}

impl<'a> StreamedRows<'a> {
    fn new(
        bundle: &'a ModelBundle,
        names: &'a [String],
        cuts: Cuts,
        threads: usize,
        peak_past: std::sync::mpsc::Sender<()>,
    ) -> Self {
        StreamedRows {
            pipeline: &bundle.pipeline,
            names,
            index: names
                .iter()
                .enumerate()
                .map(|(j, n)| (n.as_str(), j))
                .collect(),
            rows: Building::Waiting(cuts),
            pending: Vec::with_capacity(COLUMNS_AT_ONCE),
            free: Vec::new(),
            ids: None,
            target: None,
            threads,
            peak_past: Some(peak_past),
        }
    }

    /// A model feature's values (NaN where missing), capped if it is the age.
    fn feature(&mut self, j: usize, name: &str, mut values: Vec<f64>) -> Result<()> {
        // One NaN for every missing value, as a feature file read back gives.
        for v in values.iter_mut().filter(|v| v.is_nan()) {
            *v = f64::NAN;
        }
        self.pipeline.apply_age_cap_to(name, &mut values);
        self.rows.start(values.len());
        self.pending.push((j, values));
        if self.pending.len() == COLUMNS_AT_ONCE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Building::Rows(rows) = &mut self.rows {
            let batch: Vec<(usize, &[f64])> = self
                .pending
                .iter()
                .map(|(j, v)| (*j, v.as_slice()))
                .collect();
            rows.set(&batch, self.threads).map_err(Error::Input)?;
        }
        for (_, v) in std::mem::take(&mut self.pending) {
            self.keep(v);
        }
        Ok(())
    }

    /// Keeps `buffer` for the pipeline's next columns if it is no larger than a column, at most
    /// `2 * COLUMNS_AT_ONCE` of them. The running statistics' buffers, the pipeline's largest
    /// memory, go back to the system instead: kept, they would stay beside the rows until the
    /// end.
    fn keep(&mut self, buffer: Vec<f64>) {
        let column = self.rows.len().unwrap_or(0);
        if buffer.capacity() <= column && self.free.len() < 2 * COLUMNS_AT_ONCE {
            self.free.push(buffer);
        }
    }

    fn finish(mut self) -> Result<Clients> {
        self.flush()?;
        let ids = self.ids.ok_or_else(|| {
            Error::Input(format!("the pipeline made no {} column", self.pipeline.id))
        })?;
        self.rows.start(ids.len());
        let Building::Rows(rows) = self.rows else {
            return Err(Error::Input("no feature rows were built".into()));
        };
        if let Some(&j) = rows.missing().first() {
            return Err(Error::Input(format!(
                "the pipeline made no column {:?}, a feature of the model",
                self.names[j]
            )));
        }
        let rows = rows.finish(self.threads);
        if rows.n_rows() != ids.len() {
            return Err(Error::Input(format!(
                "{} feature rows for {} clients",
                rows.n_rows(),
                ids.len()
            )));
        }
        Ok(Clients {
            target: self.target.unwrap_or_else(|| vec![None; ids.len()]),
            ids,
            rows,
            history: None,
        })
    }
}

/// Rows waiting for their count, then being built.
enum Building {
    Waiting(Cuts),
    Rows(RowsBuilder),
    /// Only while starting.
    Taken,
}

impl Building {
    /// The number of rows, once started.
    fn len(&self) -> Option<usize> {
        match self {
            Building::Rows(rows) => Some(rows.n_rows()),
            _ => None,
        }
    }

    /// Starts the rows with `n` rows, if not started.
    fn start(&mut self, n: usize) {
        if !matches!(self, Building::Waiting(_)) {
            return;
        }
        if let Building::Waiting(cuts) = std::mem::replace(self, Building::Taken) {
            *self = Building::Rows(RowsBuilder::new(n, cuts));
        }
    }
}

impl riskscore_features::ColumnSink for StreamedRows<'_> {
    fn column(&mut self, column: Column) -> riskscore_features::Result<()> {
        let name = column.name().to_string();
        let frame = DataFrame::new_infer_height(vec![column])
            .map_err(|e| riskscore_features::Error::Invalid(format!("column {name}: {e}")))?;
        let result = (|| -> Result<()> {
            if name == self.pipeline.id {
                self.ids = Some(matrix(&frame, &name, &[])?.0);
            } else if name == self.pipeline.target {
                self.target = Some(targets(&frame, &name)?);
            } else if let Some(&j) = self.index.get(name.as_str()) {
                let mut values = self.free.pop().unwrap_or_default();
                riskscore_model::data::column_f64_into(&frame, &name, &mut values)?;
                self.feature(j, &name, values)?;
            }
            Ok(())
        })();
        result.map_err(|e| riskscore_features::Error::Invalid(e.to_string()))
    }

    fn floats(&mut self, name: &str, values: Vec<f64>) -> riskscore_features::Result<()> {
        if name == self.pipeline.id || name == self.pipeline.target {
            // Missing where NaN, as in a feature file.
            let column: Float64Chunked =
                values.iter().map(|v| (!v.is_nan()).then_some(*v)).collect();
            return self.column(column.with_name(name.into()).into_column());
        }
        match self.index.get(name).copied() {
            Some(j) => self
                .feature(j, name, values)
                .map_err(|e| riskscore_features::Error::Invalid(e.to_string())),
            None => {
                self.keep(values);
                Ok(())
            }
        }
    }

    fn buffer(&mut self, len: usize) -> Option<Vec<f64>> {
        let i = self.free.iter().position(|v| v.capacity() >= len)?;
        Some(self.free.swap_remove(i))
    }

    fn recycle(&mut self, buffer: Vec<f64>) {
        self.keep(buffer);
    }

    /// The rows are kept: the pipeline's own peak comes on top of them.
    fn lean(&self) -> bool {
        true
    }

    /// Previous applications are the last split table (see [`Scorer::load`]).
    fn table_done(&mut self, table: Table) {
        if table == Table::PreviousApplication {
            if let Some(tell) = self.peak_past.take() {
                let _ = tell.send(());
            }
        }
    }
}

/// The features `names` in batches of `COLUMNS_AT_ONCE`, each with its first feature's index.
fn batches(names: &[String]) -> impl Iterator<Item = (usize, &[String])> {
    names
        .chunks(COLUMNS_AT_ONCE)
        .enumerate()
        .map(|(b, batch)| (b * COLUMNS_AT_ONCE, batch))
}

/// The columns `batch` of `frame` as doubles, with their feature indices (`first` onwards),
/// written into `buffers` (one per column, reused from batch to batch).
fn feature_columns<'b>(
    frame: &DataFrame,
    first: usize,
    batch: &[String],
    buffers: &'b mut Vec<Vec<f64>>,
) -> Result<Vec<(usize, &'b [f64])>> {
    buffers.resize_with(buffers.len().max(batch.len()), Vec::new);
    for (name, buffer) in batch.iter().zip(buffers.iter_mut()) {
        riskscore_model::data::column_f64_into(frame, name, buffer)?;
    }
    Ok(buffers
        .iter()
        .take(batch.len())
        .enumerate()
        .map(|(i, v)| (first + i, v.as_slice()))
        .collect())
}

/// The clients of a Parquet feature matrix (one file), read `COLUMNS_AT_ONCE` columns at a
/// time, with the age cap of `--monotone-age` whatever wrote the file.
fn parquet_clients(
    bundle: &ModelBundle,
    path: &Path,
    names: &[String],
    cuts: Cuts,
    threads: usize,
) -> Result<Clients> {
    let context = || format!("reading {}", path.display());
    let open = || {
        std::fs::File::open(path).map_err(|source| Error::Io {
            context: context(),
            source,
        })
    };
    let polars = |source| Error::Polars {
        context: context(),
        source,
    };
    riskscore_data::read::check_parquet_types(path)?;
    let mut reader = ParquetReader::new(open()?);
    let metadata = reader.get_metadata().map_err(polars)?.clone();
    let schema = reader.schema().map_err(polars)?;
    let has = |name: &str| schema.contains(name);
    if let Some(missing) = names.iter().find(|n| !has(n)) {
        return Err(Error::Input(format!(
            "{}: no column {missing:?}, a feature of the model",
            path.display()
        )));
    }
    let pipeline = &bundle.pipeline;
    let columns = |wanted: Vec<String>| -> Result<DataFrame> {
        let mut r = ParquetReader::new(open()?);
        r.set_metadata(metadata.clone());
        let df = r.with_columns(Some(wanted)).finish().map_err(polars)?;
        Ok(pipeline.apply_age_cap(df)?)
    };
    let (id, target) = (&bundle.pipeline.id, &bundle.pipeline.target);
    let mut head = vec![id.clone()];
    if has(target) {
        head.push(target.clone());
    }
    let head = columns(head)?;
    let (ids, _) = matrix(&head, id, &[])?;
    let target = targets(&head, target)?;
    drop(head);
    let mut rows = RowsBuilder::new(ids.len(), cuts);
    let mut buffers = Vec::new();
    // The next batch is read (decompressed and decoded) while this one is set into the rows:
    // either leaves a core idle part of the time.
    std::thread::scope(|s| -> Result<()> {
        let (send, frames) = std::sync::mpsc::sync_channel(0);
        let reader = s.spawn(move || {
            for (first, batch) in batches(names) {
                let frame = columns(batch.to_vec());
                let failed = frame.is_err();
                if send.send((first, batch, frame)).is_err() || failed {
                    return;
                }
            }
        });
        for (first, batch, frame) in frames {
            let frame = frame?;
            let columns = feature_columns(&frame, first, batch, &mut buffers)?;
            drop(frame);
            rows.set(&columns, threads).map_err(Error::Input)?;
        }
        reader
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        Ok(())
    })?;
    Ok(Clients {
        ids,
        rows: rows.finish(threads),
        target,
        history: None,
    })
}

/// Every client's probability from LightGBM, and how many of them the parsed trees score
/// differently in any bit: one pass over the rows, `SCORE_BLOCK` rows at a time, the blocks
/// shared among `threads` threads, each with its own booster of the model and one LightGBM
/// thread (no thread waits for another between LightGBM and the trees). Both read a block's
/// floats as they are kept; the few rows with a value kept exactly are then scored again as
/// doubles, by both.
fn score_all(
    bundle: &ModelBundle,
    explainer: &ServingExplainer,
    rows: &Rows,
    threads: usize,
) -> Result<(Vec<f64>, usize)> {
    let n = rows.n_rows();
    let blocks = n.div_ceil(SCORE_BLOCK);
    let text = bundle.booster_text()?;
    let (k, calibration) = (bundle.n_features(), &bundle.manifest.calibration);
    let next = std::sync::atomic::AtomicUsize::new(0);
    // One worker's blocks: (first row, probabilities, rows the trees score differently), and
    // its seconds in LightGBM and in the trees.
    type Scored = (Vec<(usize, Vec<f64>, usize)>, f64, f64);
    let work = || -> Result<Scored> {
        let booster = ModelBundle::booster_from(&text)?;
        let mut done = Vec::new();
        let (mut t_booster, mut t_trees) = (0.0, 0.0);
        loop {
            let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if b >= blocks {
                return Ok((done, t_booster, t_trees));
            }
            let start = b * SCORE_BLOCK;
            let m = SCORE_BLOCK.min(n - start);
            let x = rows.floats(start, m);
            let t = std::time::Instant::now();
            let mut p =
                calibration.apply_all(&riskscore_model::lgbm::predict_alone(&booster, x, k)?);
            t_booster += t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            let mut differ = explainer.differences(x, &p);
            t_trees += t.elapsed().as_secs_f64();
            for i in rows.with_exact(start, m) {
                let row = rows.row(start + i);
                let q = calibration
                    .apply_all(&riskscore_model::lgbm::predict_alone(&booster, &row, k)?);
                differ += explainer.differences(&row, &q);
                p[i] = q[0];
            }
            done.push((start, p, differ));
        }
    };
    let workers = threads.clamp(1, blocks.max(1));
    let parts: Vec<Result<Scored>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut scored = Vec::with_capacity(blocks);
    let (mut t_booster, mut t_trees) = (0.0, 0.0);
    for part in parts {
        let (done, b, t) = part?;
        scored.extend(done);
        t_booster += b;
        t_trees += t;
    }
    scored.sort_unstable_by_key(|(start, _, _)| *start);
    let mut probability = Vec::with_capacity(n);
    let mut differ = 0;
    for (_, p, d) in scored {
        probability.extend(p);
        differ += d;
    }
    tracing::debug!(
        booster = t_booster,
        trees = t_trees,
        "seconds spent scoring, summed over the threads"
    );
    Ok((probability, differ))
}

fn targets(frame: &DataFrame, target: &str) -> Result<Vec<Option<u8>>> {
    let Ok(c) = frame.column(target) else {
        return Ok(vec![None; frame.height()]);
    };
    let c = c.cast(&DataType::Float64).map_err(|source| Error::Polars {
        context: format!("column {target}"),
        source,
    })?;
    let v = c.f64().map_err(|source| Error::Polars {
        context: format!("column {target}"),
        source,
    })?;
    Ok(v.iter().map(|t| t.map(|t| u8::from(t == 1.0))).collect())
}

fn polars_err(context: &str) -> impl Fn(PolarsError) -> Error + '_ {
    move |source| Error::Polars {
        context: context.to_owned(),
        source,
    }
}

/// The Home Credit folder `data` is, if it is one (not a prebuilt feature matrix).
fn home_credit_folder(data: &Path) -> Result<Option<Folder>> {
    if !data.is_dir() || riskscore_model::input::parquet_parts(data).is_some() {
        return Ok(None);
    }
    Ok(Some(Folder::new(data)?))
}

/// The folder whose application records are read one client at a time (CSV files), if `data`
/// is one.
fn record_folder(data: &Path) -> Option<Folder> {
    home_credit_folder(data)
        .ok()
        .flatten()
        .filter(crate::applications::csv_files)
}

/// The shown fields (the id, then [`INFO_FIELDS`]) of the applications' columns.
fn info_of(raw: &DataFrame) -> Result<DataFrame> {
    let mut select = vec![col("SK_ID_CURR")];
    select.extend(INFO_FIELDS.iter().map(|f| col(*f)));
    raw.clone()
        .lazy()
        .select(select)
        .collect()
        .map_err(polars_err("client information"))
}

/// What the server shows of the Home Credit clients: their descriptive fields, their history
/// counts per table (those the folder has, as the pipeline counted them) and where their
/// applications' records are (CSV files, read beside the scoring: `scanned`) or every column
/// of them (Parquet), all read with the layout's types (the real files write some integer
/// columns as `-303.0` in one file and `-303` in the other).
#[allow(clippy::type_complexity)]
fn home_credit_clients(
    data: &Path,
    ids: &[i64],
    history: Option<riskscore_features::pipeline::HistoryRows>,
    scanned: Option<crate::applications::Scanned>,
) -> Result<(
    DataFrame,
    Vec<(&'static str, Vec<u32>)>,
    Option<Applications>,
)> {
    let Some(folder) = home_credit_folder(data)? else {
        // A prebuilt feature matrix: no raw fields to show.
        let df = DataFrame::new_infer_height(vec![Column::new("SK_ID_CURR".into(), ids.to_vec())])
            .map_err(polars_err("info"))?;
        return Ok((df, Vec::new(), None));
    };
    let (info, raw) = if let Some(scanned) = scanned {
        let (records, info) = scanned.align(ids)?;
        (info, Applications::Files(records))
    } else {
        let raw = home_credit_raw(&folder, ids)?;
        (info_of(&raw)?, Applications::Frame(raw))
    };
    let history = history
        .unwrap_or_default()
        .into_iter()
        .filter(|(table, _)| HISTORY.contains(table) && folder.path_of(*table).is_some())
        .map(|(table, rows)| (table.stem(), rows))
        .collect();
    Ok((info, history, Some(raw)))
}

/// Every column of the clients' applications (as in application_test), typed by the layout and
/// aligned on `ids`.
fn home_credit_raw(folder: &Folder, ids: &[i64]) -> Result<DataFrame> {
    let cols: Vec<Expr> = Table::ApplicationTest
        .columns()
        .iter()
        .map(|(n, _)| col(*n))
        .collect();
    let mut parts = Vec::new();
    for table in [Table::ApplicationTrain, Table::ApplicationTest] {
        if let Some(path) = folder.path_of(table) {
            let df = riskscore_data::read::read_typed_again(
                &path,
                table.stem(),
                &riskscore_data::source::specs(table),
            )?;
            parts.push(df.lazy().select(cols.clone()));
        }
    }
    aligned(ids, parts, "applications", "SK_ID_CURR")
}

/// The rows of `parts` in the order of `ids`, one per id (the id column as Int64, first).
/// When the parts' rows are already the clients' in order (the pipeline keeps the files'
/// order), they are taken as they are, without the join's copy.
fn aligned(ids: &[i64], parts: Vec<LazyFrame>, what: &str, id: &str) -> Result<DataFrame> {
    let args = UnionArgs {
        rechunk: false,
        ..UnionArgs::default()
    };
    let rows = concat(parts, args)
        .map_err(polars_err(what))?
        .with_column(col(id).cast(DataType::Int64))
        .collect()
        .map_err(polars_err(what))?;
    let in_order = rows.height() == ids.len()
        && rows
            .column(id)
            .ok()
            .and_then(|c| c.i64().ok())
            .is_some_and(|c| c.iter().zip(ids).all(|(a, b)| a == Some(*b)));
    if in_order {
        // The join's column order: the id, then the others.
        let names: Vec<PlSmallStr> = std::iter::once(PlSmallStr::from(id))
            .chain(
                rows.get_column_names()
                    .into_iter()
                    .filter(|n| n.as_str() != id)
                    .cloned(),
            )
            .collect();
        return rows.select(names).map_err(polars_err(what));
    }
    let order = DataFrame::new_infer_height(vec![Column::new(id.into(), ids.to_vec())])
        .map_err(polars_err(what))?;
    order
        .lazy()
        .join(
            rows.lazy(),
            [col(id)],
            [col(id)],
            JoinArgs::new(JoinType::Left),
        )
        .collect()
        .map_err(polars_err(what))
}

/// The raw columns of a single table (all but the target), aligned on `ids`, read with the
/// types the pipeline learned (columns the model does not use as text).
fn generic_info(data: &Path, pipeline: &FeaturePipeline, ids: &[i64]) -> Result<DataFrame> {
    let Layout::Generic(spec) = &pipeline.layout else {
        return Err(Error::Input("not a single-table pipeline".into()));
    };
    let order =
        DataFrame::new_infer_height(vec![Column::new(pipeline.id.as_str().into(), ids.to_vec())])
            .map_err(polars_err("info"))?;
    if !data.is_file() || riskscore_model::predict::pipeline_beside(data).is_some() {
        // A feature matrix: no raw fields to show.
        return Ok(order);
    }
    let kind_of = |name: &str| {
        if name == spec.id {
            if spec.integer_id {
                Kind::Id
            } else {
                Kind::Cat
            }
        } else if spec.numeric.iter().any(|n| n == name) {
            Kind::Num
        } else {
            Kind::Cat
        }
    };
    let names: Vec<String> = if riskscore_data::read::is_parquet(data) {
        let used = std::iter::once(&spec.id)
            .chain(&spec.numeric)
            .chain(spec.categorical.iter().map(|(n, _)| n));
        used.cloned().collect()
    } else {
        riskscore_data::read::csv_header(data)?
            .into_iter()
            .filter(|n| n != &spec.target)
            .collect()
    };
    let specs: Vec<ColumnSpec> = names
        .iter()
        .map(|n| ColumnSpec {
            name: n.clone(),
            kind: kind_of(n),
        })
        .collect();
    let raw = riskscore_data::read::read_single_table_again(data, &specs)?;
    aligned(ids, vec![raw.lazy()], "client information", &spec.id)
}

/// A polars value as JSON (NaN and null as null).
pub fn any_to_json(v: &AnyValue) -> serde_json::Value {
    match v {
        AnyValue::Null => serde_json::Value::Null,
        AnyValue::Boolean(b) => (*b).into(),
        AnyValue::String(s) => (*s).into(),
        AnyValue::StringOwned(s) => s.as_str().into(),
        AnyValue::Float64(f) if f.is_finite() => (*f).into(),
        AnyValue::Float32(f) if f.is_finite() => f64::from(*f).into(),
        AnyValue::Float64(_) | AnyValue::Float32(_) => serde_json::Value::Null,
        other => match other.extract::<i64>() {
            Some(i) => i.into(),
            None => other.to_string().into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every client's SK_ID_CURR in the folder's application files, train then test.
    fn application_ids(folder: &Folder) -> Vec<i64> {
        let mut ids = Vec::new();
        for table in [Table::ApplicationTrain, Table::ApplicationTest] {
            let Some(path) = folder.path_of(table) else {
                continue;
            };
            let mut r = csv::Reader::from_path(&path).unwrap();
            let at = r
                .headers()
                .unwrap()
                .iter()
                .position(|h| h.ends_with("SK_ID_CURR"))
                .unwrap();
            ids.extend(
                r.records()
                    .map(|rec| rec.unwrap()[at].parse::<i64>().unwrap()),
            );
        }
        ids
    }

    /// The records read again one at a time, and the shown columns, against the columns as
    /// Polars reads them (what the server held before), for every client, in two orders.
    fn records_match_the_frame(dir: &Path) {
        let folder = Folder::new(dir).unwrap();
        assert!(crate::applications::csv_files(&folder));
        let mut ids = application_ids(&folder);
        for round in 0..2 {
            if round == 1 {
                ids.reverse();
                ids.truncate(ids.len() * 2 / 3);
            }
            let raw = home_credit_raw(&folder, &ids).unwrap();
            let (records, info) = Records::index(&folder, &ids, &INFO_FIELDS).unwrap();
            let want_info = info_of(&raw).unwrap();
            assert!(info.equals_missing(&want_info), "{info:?}\n{want_info:?}");
            for (i, &id) in ids.iter().enumerate() {
                let want: serde_json::Map<String, serde_json::Value> = raw
                    .columns()
                    .iter()
                    .map(|c| (c.name().to_string(), any_to_json(&c.get(i).unwrap())))
                    .collect();
                assert_eq!(records.fields(i, id).unwrap(), want, "client {id}");
            }
        }
    }

    #[test]
    fn the_real_sample_s_records_read_again_as_polars_reads_them() {
        records_match_the_frame(&riskscore_testkit::real_sample());
    }

    /// A folder with the real sample's first records, some fields written as other writers do.
    fn edited_folder(edit: impl Fn(usize, &mut Vec<String>)) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (stem, crlf, bom) in [
            ("application_train", false, false),
            ("application_test", true, true),
        ] {
            let from = riskscore_testkit::real_sample().join(format!("{stem}.csv"));
            let mut r = csv::Reader::from_path(&from).unwrap();
            let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
            let mut out = String::new();
            if bom {
                out.push('\u{feff}');
            }
            let end = if crlf { "\r\n" } else { "\n" };
            out += &header.join(",");
            out += end;
            for (n, rec) in r.records().take(40).enumerate() {
                // As CSV writes them: quoted when they hold a comma or a quote.
                let mut fields: Vec<String> = rec
                    .unwrap()
                    .iter()
                    .map(|f| {
                        if f.contains([',', '"']) {
                            format!("\"{}\"", f.replace('"', "\"\""))
                        } else {
                            f.to_owned()
                        }
                    })
                    .collect();
                let at = |name: &str| header.iter().position(|h| h == name).unwrap();
                match n % 5 {
                    // Quoted values, a category with a comma and a quote inside.
                    0 => {
                        let c = at("NAME_TYPE_SUITE");
                        fields[c] = "\"Family, \"\"extended\"\"\"".into();
                        let a = at("AMT_CREDIT");
                        fields[a] = format!("\"{}\"", fields[a]);
                    }
                    // Integers written as decimals, exponents.
                    1 => {
                        let d = at("DAYS_BIRTH");
                        fields[d] = format!("{}.0", fields[d]);
                        fields[at("AMT_INCOME_TOTAL")] = "1.35e5".into();
                    }
                    // Empty fields.
                    2 => {
                        fields[at("OCCUPATION_TYPE")] = String::new();
                        fields[at("AMT_ANNUITY")] = String::new();
                    }
                    _ => {}
                }
                edit(n, &mut fields);
                out += &fields.join(",");
                out += end;
            }
            std::fs::write(dir.path().join(format!("{stem}.csv")), out).unwrap();
        }
        dir
    }

    #[test]
    fn records_written_otherwise_read_again_as_polars_reads_them() {
        records_match_the_frame(edited_folder(|_, _| {}).path());
    }

    #[test]
    fn a_bad_value_stops_the_start_and_a_changed_file_is_not_read() {
        let bad = edited_folder(|n, fields| {
            if n == 7 {
                fields[7] = "12o00".into();
            }
        });
        let folder = Folder::new(bad.path()).unwrap();
        let ids = application_ids(&Folder::new(edited_folder(|_, _| {}).path()).unwrap());
        let e = Records::index(&folder, &ids, &INFO_FIELDS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("application_train.csv")
                && e.contains("line 9")
                && e.contains("AMT_INCOME_TOTAL")
                && e.contains("12o00"),
            "{e}"
        );

        let dir = edited_folder(|_, _| {});
        let folder = Folder::new(dir.path()).unwrap();
        let ids = application_ids(&folder);
        let (records, _) = Records::index(&folder, &ids, &INFO_FIELDS).unwrap();
        let e = records.fields(0, ids[0] + 1).unwrap_err().to_string();
        assert!(e.contains("is not client"), "{e}");
        let unknown = ids.iter().max().unwrap() + 1;
        let (others, _) = Records::index(&folder, &[unknown], &INFO_FIELDS).unwrap();
        let e = others.fields(0, unknown).unwrap_err().to_string();
        assert!(
            e.contains(&format!("no application of client {unknown}")),
            "{e}"
        );
        let path = dir.path().join("application_train.csv");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        let e = records.fields(0, ids[0]).unwrap_err().to_string();
        assert!(
            e.contains("application_train.csv") && e.contains("changed since the server started"),
            "{e}"
        );
    }

    fn part(ids: &[i64], v: &[f64], s: &[&str]) -> LazyFrame {
        DataFrame::new_infer_height(vec![
            Column::new("x".into(), v.to_vec()),
            Column::new("ID".into(), ids.to_vec()),
            Column::new("s".into(), s.to_vec()),
        ])
        .unwrap()
        .lazy()
    }

    #[test]
    fn rows_in_the_clients_order_are_taken_as_the_join_would_give_them() {
        let parts = || {
            vec![
                part(&[3, 1], &[0.5, f64::NAN], &["a", "b"]),
                part(&[7], &[2.0], &["c"]),
            ]
        };
        // In order: no join. Another order, a missing client and an unknown row: the join.
        let fast = aligned(&[3, 1, 7], parts(), "t", "ID").unwrap();
        let joined = aligned(&[7, 3, 9, 1], parts(), "t", "ID").unwrap();
        assert_eq!(fast.get_column_names(), ["ID", "x", "s"]);
        assert_eq!(joined.get_column_names(), ["ID", "x", "s"]);
        let id = |f: &DataFrame| f.column("ID").unwrap().i64().unwrap().to_vec();
        assert_eq!(id(&fast), [Some(3), Some(1), Some(7)]);
        assert_eq!(id(&joined), [Some(7), Some(3), Some(9), Some(1)]);
        let s = |f: &DataFrame| {
            f.column("s")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|s| s.map(str::to_owned))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            s(&fast),
            [Some("a".into()), Some("b".into()), Some("c".into())]
        );
        assert_eq!(
            s(&joined),
            [Some("c".into()), Some("a".into()), None, Some("b".into())]
        );
        // The same frame either way for the same clients.
        let reordered = aligned(
            &[3, 1, 7],
            vec![
                part(&[7], &[2.0], &["c"]),
                part(&[3, 1], &[0.5, f64::NAN], &["a", "b"]),
            ],
            "t",
            "ID",
        )
        .unwrap();
        assert!(fast.equals_missing(&reordered));
    }
}
