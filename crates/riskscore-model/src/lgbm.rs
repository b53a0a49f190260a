//! LightGBM through `lightgbm3`: the booster parameters riskscore tunes, and fitting with early
//! stopping on a validation set.

use std::time::{Duration, Instant};

/// The element types LightGBM predicts from (`f32`, `f64`).
pub use lightgbm3::DType;
use lightgbm3::{Booster, Dataset};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The LightGBM parameters riskscore sets (everything else is LightGBM's default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LgbmParams {
    /// Leaves per tree (default 31).
    pub num_leaves: u32,
    /// Shrinkage (default 0.05).
    pub learning_rate: f64,
    /// Minimum rows in a leaf, LightGBM's `min_data_in_leaf` (default 20).
    pub min_child_samples: u32,
    /// Share of features tried per tree (default 0.8).
    pub feature_fraction: f64,
    /// Share of rows bagged per tree, every round (default 0.8).
    pub bagging_fraction: f64,
    /// L1 regularisation (default 0).
    pub lambda_l1: f64,
    /// L2 regularisation (default 0).
    pub lambda_l2: f64,
    /// Upper bound on boosting rounds (default 1,000).
    pub max_rounds: u32,
    /// Stop when the validation AUC has not improved for this many rounds (default 50).
    pub early_stopping_rounds: u32,
    /// LightGBM monotone constraints, one per feature (1: the prediction never decreases as the
    /// feature grows, -1: never increases, 0: free); empty for none. Set by `--monotone-age`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monotone: Vec<i8>,
}

impl Default for LgbmParams {
    fn default() -> Self {
        LgbmParams {
            num_leaves: 31,
            learning_rate: 0.05,
            min_child_samples: 20,
            feature_fraction: 0.8,
            bagging_fraction: 0.8,
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            max_rounds: 1000,
            early_stopping_rounds: 50,
            monotone: Vec::new(),
        }
    }
}

impl LgbmParams {
    /// Rejects values LightGBM would refuse or that make no sense, before any work starts.
    pub fn check(&self) -> Result<()> {
        let unit = |name: &str, v: f64| {
            if v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(Error::param(name, format!("{v} is not in (0, 1]")))
            }
        };
        if self.num_leaves < 2 || self.num_leaves > 131_072 {
            return Err(Error::param(
                "num-leaves",
                format!("{} is not in 2..=131072", self.num_leaves),
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(Error::param(
                "learning-rate",
                format!("{} is not in (0, 1]", self.learning_rate),
            ));
        }
        if self.min_child_samples == 0 {
            return Err(Error::param("min-child-samples", "must be at least 1"));
        }
        unit("feature-fraction", self.feature_fraction)?;
        unit("bagging-fraction", self.bagging_fraction)?;
        for (name, v) in [("lambda-l1", self.lambda_l1), ("lambda-l2", self.lambda_l2)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::param(name, format!("{v} must be >= 0")));
            }
        }
        if self.max_rounds == 0 {
            return Err(Error::param("max-rounds", "must be at least 1"));
        }
        if self.early_stopping_rounds == 0 {
            return Err(Error::param("early-stopping-rounds", "must be at least 1"));
        }
        Ok(())
    }

    /// The parameter object given to LightGBM (and, in the benchmark, to Python `lightgbm.train`).
    pub fn to_lightgbm(&self, seed: u64, scale_pos_weight: Option<f64>, rounds: u32) -> Value {
        let mut v = json!({
            "objective": "binary",
            "metric": "auc",
            "verbosity": -1,
            "seed": seed % (i32::MAX as u64),
            "deterministic": true,
            "force_col_wise": true,
            "num_iterations": rounds,
            "early_stopping_rounds": self.early_stopping_rounds,
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": u32::from(self.bagging_fraction < 1.0),
            "lambda_l1": self.lambda_l1,
            "lambda_l2": self.lambda_l2,
        });
        if let (Some(w), Some(obj)) = (scale_pos_weight, v.as_object_mut()) {
            obj.insert("scale_pos_weight".into(), json!(w));
        }
        if let (false, Some(obj)) = (self.monotone.is_empty(), v.as_object_mut()) {
            let list: Vec<String> = self.monotone.iter().map(i8::to_string).collect();
            obj.insert("monotone_constraints".into(), json!(list.join(",")));
            // Basic: every leaf left of a split on a constrained feature is at most every leaf
            // right of it, which keeps the SHAP value of the lowest value at or below zero.
            obj.insert("monotone_constraints_method".into(), json!("basic"));
        }
        v
    }
}

/// Rows for LightGBM: row-major features, 0/1 labels and optional weights.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub x: &'a [f64],
    pub y: &'a [u8],
    pub n_features: usize,
}

fn dataset(rows: Rows, reference: Option<&Dataset>, names: &[String]) -> Result<Dataset> {
    let labels: Vec<f32> = rows.y.iter().map(|&v| f32::from(v)).collect();
    let mut ds = Dataset::from_slice_with_reference(
        rows.x,
        &labels,
        rows.n_features as i32,
        true,
        reference,
    )
    .map_err(Error::lightgbm("building the dataset"))?;
    ds.set_feature_names(names)
        .map_err(Error::lightgbm("naming the features"))?;
    Ok(ds)
}

/// Fits a booster. With `valid`, stops early on the validation AUC and keeps the best round.
pub fn fit(train: Rows, valid: Option<Rows>, names: &[String], params: &Value) -> Result<Booster> {
    Ok(fit_timed(train, valid, names, params)?.booster)
}

/// A booster and the time LightGBM took to build its datasets before training: the training
/// rows' bins found and every row binned, then the validation rows binned with those bins.
pub struct Fitted {
    pub booster: Booster,
    pub binning: Duration,
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fitted")
            .field("trees", &self.booster.num_iterations())
            .field("binning", &self.binning)
            .finish()
    }
}

/// LightGBM's dataset construction over several fits: how many fits built their datasets, and
/// the seconds that took (the rest of a fit is boosting). Every fit bins its own rows:
/// `lightgbm3` cannot take a subset of a dataset built once (issue 26's "bin once").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Binning {
    pub fits: usize,
    pub seconds: f64,
}

impl Binning {
    /// Counts one fit's construction time.
    pub fn add(&mut self, took: Duration) {
        self.fits += 1;
        self.seconds += took.as_secs_f64();
    }

    /// Counts another run's fits.
    pub fn merge(&mut self, other: Binning) {
        self.fits += other.fits;
        self.seconds += other.seconds;
    }
}

/// [`fit`], timing the datasets' construction apart from the boosting rounds.
pub fn fit_timed(
    train: Rows,
    valid: Option<Rows>,
    names: &[String],
    params: &Value,
) -> Result<Fitted> {
    let started = Instant::now();
    let train_ds = dataset(train, None, names)?;
    let valid_ds = match valid {
        Some(v) => Some(dataset(v, Some(&train_ds), names)?),
        None => None,
    };
    let binning = started.elapsed();
    let mut params = params.clone();
    if valid_ds.is_none() {
        if let Some(obj) = params.as_object_mut() {
            obj.remove("early_stopping_rounds");
        }
    }
    let booster = Booster::train_with_valid(train_ds, valid_ds, &params)
        .map_err(Error::lightgbm("training"))?;
    Ok(Fitted { booster, binning })
}

/// A booster from LightGBM's text model.
pub fn from_text(text: &str) -> Result<Booster> {
    Booster::from_string(text).map_err(Error::lightgbm("reading a model text"))
}

/// The booster as it reads back from its text model (LightGBM's in-memory and reloaded models
/// can differ in the last bit of a prediction).
pub fn reload(booster: &Booster) -> Result<Booster> {
    let text = booster
        .save_string()
        .map_err(Error::lightgbm("writing the model text"))?;
    Booster::from_string(&text).map_err(Error::lightgbm("reading the model text back"))
}

/// Probabilities of default for row-major rows (of doubles, or of floats, which LightGBM reads
/// as the doubles they convert to).
pub fn predict<T: DType>(booster: &Booster, x: &[T], n_features: usize) -> Result<Vec<f64>> {
    predict_with(booster, x, n_features, "")
}

/// As [`predict`], on one of LightGBM's threads (for a caller that splits the rows over its own
/// threads, each with its own booster).
pub fn predict_alone<T: DType>(booster: &Booster, x: &[T], n_features: usize) -> Result<Vec<f64>> {
    predict_with(booster, x, n_features, "num_threads=1")
}

/// Probabilities with LightGBM's prediction `params` (none: its defaults).
fn predict_with<T: DType>(
    booster: &Booster,
    x: &[T],
    n_features: usize,
    params: &str,
) -> Result<Vec<f64>> {
    if x.is_empty() {
        return Ok(Vec::new());
    }
    booster
        .predict_with_params(x, n_features as i32, true, params)
        .map_err(Error::lightgbm("predicting"))
}

/// LightGBM's own SHAP values (`pred_contrib`): n_features + 1 per row, the base value last.
pub fn contrib(booster: &Booster, x: &[f64], n_features: usize) -> Result<Vec<f64>> {
    booster
        .predict_contrib(x, n_features as i32, true)
        .map_err(Error::lightgbm("computing pred_contrib"))
}

/// Feature names LightGBM accepts: it refuses JSON punctuation in names and rewrites spaces, and
/// the kernel's one-hot names carry both (`NAME_TYPE_SUITE_Spouse, partner`). Other characters
/// become `_`; a clash gets a numeric suffix. The bundle keeps both lists.
pub fn safe_names(names: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .map(|n| {
            let base: String = n
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut name = base.clone();
            let mut k = 2;
            while !seen.insert(name.clone()) {
                name = format!("{base}_{k}");
                k += 1;
            }
            name
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_are_unique_and_plain() {
        let names: Vec<String> = ["A, b", "A__b", "ok_1", "é"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(safe_names(&names), ["A__b", "A__b_2", "ok_1", "_"]);
    }

    #[test]
    fn bad_parameters_are_refused_before_training() {
        let p = LgbmParams {
            learning_rate: 0.0,
            ..LgbmParams::default()
        };
        assert!(p.check().unwrap_err().to_string().contains("learning-rate"));
        let p = LgbmParams {
            feature_fraction: 1.5,
            ..LgbmParams::default()
        };
        assert!(p
            .check()
            .unwrap_err()
            .to_string()
            .contains("feature-fraction"));
        assert!(LgbmParams::default().check().is_ok());
    }
}
