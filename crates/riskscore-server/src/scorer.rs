//! What the server knows at start: the model (parsed trees, explainer, pipeline) and the
//! clients of the data (their feature rows, scores, descriptive fields and outcomes).
//!
//! Scores come from the parsed trees (which can be shared between threads, unlike LightGBM's
//! booster handle); at start they are checked bit for bit against the booster on every known
//! client, and the server refuses to start if any differs.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;
use riskscore_data::{Folder, Table};
use riskscore_explain::client::{ClientExplanation, ServingExplainer};
use riskscore_explain::wording::Wording;
use riskscore_features::{FeaturePipeline, Layout};
use riskscore_model::bundle::{Decision, ModelBundle};
use riskscore_model::data::matrix;
use serde::Serialize;

use crate::error::{Error, Result};

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
const HISTORY: [Table; 5] = [
    Table::Bureau,
    Table::PreviousApplication,
    Table::PosCashBalance,
    Table::InstallmentsPayments,
    Table::CreditCardBalance,
];

/// One scored row.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub probability: f64,
    pub decision: Decision,
    pub threshold: f64,
    /// probability - threshold (negative: granted).
    pub distance: f64,
    /// `review` inside the review band around the threshold, else `clear`.
    pub band: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Neighbour {
    pub id: i64,
    pub distance: f64,
    pub probability: f64,
    /// 1 defaulted, 0 repaid.
    pub target: u8,
}

/// The clients of the data.
#[derive(Debug)]
pub struct Population {
    pub ids: Vec<i64>,
    index: HashMap<i64, usize>,
    /// Row-major feature rows in the manifest's order.
    x: Vec<f64>,
    k: usize,
    pub probability: Vec<f64>,
    pub target: Vec<Option<u8>>,
    /// Descriptive columns (the id first), one row per client in `ids` order.
    info: DataFrame,
    /// Every application column of a Home Credit client, in `ids` order (for what-if); a
    /// single table's raw columns are `info`.
    raw: Option<DataFrame>,
    /// History record counts per client (table stem -> count), Home Credit only.
    history: HashMap<&'static str, HashMap<i64, u32>>,
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
}

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

impl Scorer {
    /// Loads the bundle and builds the clients' features from `data` (a Home Credit folder, a
    /// single table, or a feature matrix built with the bundle's pipeline).
    pub fn load(model: &Path, data: &Path, threads: usize) -> Result<Self> {
        let bundle = ModelBundle::load(model)?;
        let explainer = ServingExplainer::new(&bundle, Wording::home_credit())?;
        let names = bundle.manifest.feature_names();
        tracing::info!(data = %data.display(), "building the clients' features");
        let frame = riskscore_model::predict::frame_for(&bundle, data)?;
        let id_col = bundle.pipeline.id.clone();
        let (ids, x) = matrix(&frame, &id_col, &names)?;
        let booster_p = bundle.predict(&x)?;
        let differ = explainer.differences(&x, &booster_p);
        if differ > 0 {
            return Err(Error::Input(format!(
                "the parsed model disagrees with LightGBM on {differ} of {} clients; refusing to serve",
                ids.len()
            )));
        }
        let target = targets(&frame, &bundle.pipeline.target)?;
        let (info, history, raw) = match &bundle.pipeline.layout {
            Layout::HomeCredit { .. } => {
                let (info, history) = home_credit_info(data, &ids)?;
                (info, history, home_credit_raw(data, &ids)?)
            }
            Layout::Generic(_) => (
                generic_info(data, &bundle.pipeline, &ids)?,
                HashMap::new(),
                None,
            ),
        };
        let k = names.len();
        let similar = Similar::build(&bundle, &x, k, &target);
        let mut index = HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            index.insert(*id, i);
        }
        let model_version = model_version(&bundle);
        let reference = read_reference(model)?;
        tracing::info!(clients = ids.len(), features = k, model = %model_version, "ready");
        Ok(Scorer {
            explainer,
            pipeline: bundle.pipeline.clone(),
            population: Population {
                ids,
                index,
                x,
                k,
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
        })
    }

    pub fn row(&self, id: i64) -> Option<(usize, &[f64])> {
        let p = &self.population;
        let i = *p.index.get(&id)?;
        Some((i, &p.x[i * p.k..(i + 1) * p.k]))
    }

    pub fn score_of(&self, p: f64) -> Score {
        let t = self.explainer.manifest.threshold;
        Score {
            probability: p,
            decision: self.explainer.manifest.decide(p),
            threshold: t,
            distance: p - t,
            band: if self.explainer.manifest.in_review_band(p) {
                "review"
            } else {
                "clear"
            },
        }
    }

    pub fn explain(&self, id: i64, x: &[f64], top: usize) -> Result<ClientExplanation> {
        Ok(self.explainer.explain(id, x, top, self.threads)?)
    }

    /// The descriptive fields of client `i` as JSON, with history counts.
    pub fn info(&self, i: usize, id: i64) -> serde_json::Value {
        let p = &self.population;
        let mut fields = serde_json::Map::new();
        for c in p.info.columns().iter().skip(1) {
            let v = c.get(i).map(|v| any_to_json(&v)).unwrap_or_default();
            fields.insert(c.name().to_string(), v);
        }
        let mut out = serde_json::json!({ "id": id, "known": true, "fields": fields });
        if let Some(days) = fields_f64(&out["fields"], "DAYS_BIRTH") {
            out["age_years"] = serde_json::json!((-days / 365.25).floor());
        }
        if let Some(days) = fields_f64(&out["fields"], "DAYS_EMPLOYED") {
            out["years_employed"] = if days > 0.0 {
                serde_json::Value::Null
            } else {
                serde_json::json!(((-days / 365.25) * 10.0).floor() / 10.0)
            };
        }
        if !p.history.is_empty() {
            let counts: serde_json::Map<String, serde_json::Value> = p
                .history
                .iter()
                .map(|(t, m)| ((*t).to_string(), m.get(&id).copied().unwrap_or(0).into()))
                .collect();
            out["history_records"] = counts.into();
        }
        out["outcome"] = match p.target[i] {
            Some(t) => serde_json::json!(t),
            None => serde_json::Value::Null,
        };
        out
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
        let frame = match (&self.pipeline.layout, frames) {
            (Layout::HomeCredit { .. }, NewApplication::HomeCredit(source)) => {
                self.pipeline.transform_home_credit(&source)?
            }
            (Layout::Generic(spec), NewApplication::Generic(df)) => {
                riskscore_features::generic::transform_frame(spec, df)?
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
        let (_, x) = matrix(&frame, &self.pipeline.id, &self.names)?;
        Ok(x)
    }

    /// Client `i`'s application as JSON fields (every column but the target), the input of a
    /// what-if; None when the data has no raw application (a prebuilt feature matrix).
    pub fn application_of(&self, i: usize) -> Option<serde_json::Map<String, serde_json::Value>> {
        let p = &self.population;
        let frame = p.raw.as_ref().unwrap_or(&p.info);
        if frame.width() < 2 {
            return None;
        }
        Some(
            frame
                .columns()
                .iter()
                .map(|c| {
                    let v = c.get(i).map(|v| any_to_json(&v)).unwrap_or_default();
                    (c.name().to_string(), v)
                })
                .collect(),
        )
    }

    /// Feature `j` of client row `r`.
    pub fn population_value(&self, r: usize, j: usize) -> f64 {
        self.population.x[r * self.population.k + j]
    }

    /// Feature `j` of every client.
    pub fn feature_values(&self, j: usize) -> Vec<f64> {
        let p = &self.population;
        p.x.chunks(p.k.max(1)).map(|row| row[j]).collect()
    }

    pub fn n_clients(&self) -> usize {
        self.population.ids.len()
    }
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
    fn build(bundle: &ModelBundle, x: &[f64], k: usize, target: &[Option<u8>]) -> Self {
        let mut by_gain: Vec<usize> = (0..k).collect();
        let feats = &bundle.manifest.features;
        by_gain.sort_by(|&a, &b| feats[b].gain.total_cmp(&feats[a].gain));
        let features: Vec<usize> = by_gain.into_iter().take(SIMILAR_FEATURES).collect();
        let rows: Vec<usize> = (0..target.len()).filter(|&r| target[r].is_some()).collect();
        let (mut mean, mut std) = (Vec::new(), Vec::new());
        for &f in &features {
            let vals: Vec<f64> = rows
                .iter()
                .map(|&r| x[r * k + f])
                .filter(|v| !v.is_nan())
                .collect();
            let n = vals.len().max(1) as f64;
            let m = vals.iter().sum::<f64>() / n;
            let var = vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
            mean.push(m);
            std.push(if var > 0.0 { var.sqrt() } else { 1.0 });
        }
        let mut z = Vec::with_capacity(rows.len() * features.len());
        for &r in &rows {
            for (j, &f) in features.iter().enumerate() {
                z.push(standardise(x[r * k + f], mean[j], std[j]));
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

/// The descriptive fields of the applications, aligned on `ids`, and history counts.
#[allow(clippy::type_complexity)]
fn home_credit_info(
    data: &Path,
    ids: &[i64],
) -> Result<(DataFrame, HashMap<&'static str, HashMap<i64, u32>>)> {
    if !data.is_dir() {
        // A prebuilt feature matrix: no raw fields to show.
        let df = DataFrame::new_infer_height(vec![Column::new("SK_ID_CURR".into(), ids.to_vec())])
            .map_err(polars_err("info"))?;
        return Ok((df, HashMap::new()));
    }
    let folder = Folder::new(data)?;
    let mut select = vec![col("SK_ID_CURR")];
    select.extend(INFO_FIELDS.iter().map(|f| col(*f)));
    let mut parts = Vec::new();
    for table in [Table::ApplicationTrain, Table::ApplicationTest] {
        if let Some(path) = folder.path_of(table) {
            parts.push(scan(&path)?.select(select.clone()));
        }
    }
    let info = aligned(ids, parts, "client information")?;
    let mut history = HashMap::new();
    for table in HISTORY {
        let Some(path) = folder.path_of(table) else {
            continue;
        };
        let counts = scan(&path)?
            .group_by([col("SK_ID_CURR")])
            .agg([len().alias("n")])
            .collect()
            .map_err(polars_err(table.stem()))?;
        let id = counts
            .column("SK_ID_CURR")
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(polars_err(table.stem()))?;
        let n = counts
            .column("n")
            .and_then(|c| c.cast(&DataType::UInt32))
            .map_err(polars_err(table.stem()))?;
        let map: HashMap<i64, u32> = id
            .i64()
            .map_err(polars_err(table.stem()))?
            .iter()
            .zip(n.u32().map_err(polars_err(table.stem()))?.iter())
            .filter_map(|(a, b)| Some((a?, b?)))
            .collect();
        history.insert(table.stem(), map);
    }
    Ok((info, history))
}

/// Every column of the clients' applications (as in application_test), typed by the layout and
/// aligned on `ids`; None without a data folder.
fn home_credit_raw(data: &Path, ids: &[i64]) -> Result<Option<DataFrame>> {
    if !data.is_dir() {
        return Ok(None);
    }
    let folder = Folder::new(data)?;
    let cols: Vec<Expr> = Table::ApplicationTest
        .columns()
        .iter()
        .map(|(n, _)| col(*n))
        .collect();
    let mut parts = Vec::new();
    for table in [Table::ApplicationTrain, Table::ApplicationTest] {
        if let Some(path) = folder.path_of(table) {
            let df = riskscore_data::read::read_typed(
                &path,
                table.stem(),
                &riskscore_data::source::specs(table),
            )?;
            parts.push(df.lazy().select(cols.clone()));
        }
    }
    aligned(ids, parts, "applications").map(Some)
}

/// The application rows of `parts` (train and test) in the order of `ids`, one per id.
fn aligned(ids: &[i64], parts: Vec<LazyFrame>, what: &str) -> Result<DataFrame> {
    let apps = concat(parts, UnionArgs::default()).map_err(polars_err(what))?;
    let order = DataFrame::new_infer_height(vec![Column::new("SK_ID_CURR".into(), ids.to_vec())])
        .map_err(polars_err(what))?;
    order
        .lazy()
        .join(
            apps,
            [col("SK_ID_CURR")],
            [col("SK_ID_CURR")],
            JoinArgs::new(JoinType::Left),
        )
        .collect()
        .map_err(polars_err(what))
}

/// A table scanned lazily (CSV or Parquet), ids as Int64.
fn scan(path: &Path) -> Result<LazyFrame> {
    let p = PlRefPath::from(path.to_string_lossy().as_ref());
    let lf = if path.extension().is_some_and(|e| e == "parquet") {
        LazyFrame::scan_parquet(p, Default::default())
    } else {
        LazyCsvReader::new(p)
            .with_infer_schema_length(Some(10_000))
            .finish()
    }
    .map_err(polars_err(&path.display().to_string()))?;
    Ok(lf.with_column(col("SK_ID_CURR").cast(DataType::Int64)))
}

/// The raw columns of a single table (all but the target), aligned on `ids`.
fn generic_info(data: &Path, pipeline: &FeaturePipeline, ids: &[i64]) -> Result<DataFrame> {
    let order =
        DataFrame::new_infer_height(vec![Column::new(pipeline.id.as_str().into(), ids.to_vec())])
            .map_err(polars_err("info"))?;
    if !data.is_file() || data.extension().is_some_and(|e| e == "parquet") {
        return Ok(order);
    }
    let raw = LazyCsvReader::new(PlRefPath::from(data.to_string_lossy().as_ref()))
        .with_infer_schema_length(Some(10_000))
        .finish()
        .map_err(polars_err("info"))?
        .with_column(col(pipeline.id.as_str()).cast(DataType::Int64))
        .drop(by_name([pipeline.target.as_str()], false, false));
    order
        .lazy()
        .join(
            raw,
            [col(pipeline.id.as_str())],
            [col(pipeline.id.as_str())],
            JoinArgs::new(JoinType::Left),
        )
        .collect()
        .map_err(polars_err("client information"))
}

fn fields_f64(fields: &serde_json::Value, name: &str) -> Option<f64> {
    fields.get(name)?.as_f64()
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
