//! Explanations of a model bundle's decisions: per client (top contributions, reason codes in
//! words) and for a whole portfolio.
//!
//! Probability view: SHAP values are additive in log-odds. For display they are rescaled to
//! the probability the client is shown: each contribution gets the share phi_i / sum(phi) of
//! the gap between the client's probability and the base probability (both after the bundle's
//! calibration). The shares add up exactly to that gap and keep each value's sign and rank.

use polars::prelude::*;
use riskscore_model::bundle::{Decision, Manifest, ModelBundle};
use riskscore_model::data::matrix;
use riskscore_model::profile::Profile;
use serde::Serialize;

use crate::shap::Explainer;
use crate::wording::Wording;
use crate::{Error, Forest, Packed, Result};

/// Reasons given to a refused applicant.
pub const REASONS: usize = 4;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contribution {
    pub feature: String,
    pub text: String,
    /// The client's value (None when missing).
    pub value: Option<f64>,
    /// SHAP value in log-odds.
    pub shap: f64,
    /// Share of the probability gap to the base (see the module documentation).
    pub probability: f64,
    /// With a scorecard bundle: the points this characteristic gives the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reason {
    pub rank: usize,
    pub feature: String,
    pub text: String,
    pub value: Option<f64>,
    /// The median over the training population.
    pub typical: Option<f64>,
    pub shap: f64,
    /// One sentence a credit officer can read out.
    pub sentence: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClientExplanation {
    pub id: i64,
    pub probability: f64,
    pub decision: Decision,
    pub threshold: f64,
    pub review: bool,
    /// Log-odds of the model and of the base value.
    pub raw_score: f64,
    pub base_value: f64,
    pub base_probability: f64,
    pub contributions: Vec<Contribution>,
    /// The features pushing most towards default (for a refusal, the principal reasons).
    pub reasons: Vec<Reason>,
    pub wording_version: String,
    /// With a scorecard bundle: its score, the sum of the characteristics' points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scorecard_score: Option<f64>,
}

/// A bundle with its explainer: explanations show the booster's own probability.
#[derive(Debug)]
pub struct BundleExplainer<'a> {
    pub bundle: &'a ModelBundle,
    /// The parsed trees, explainer, wording and training profile.
    pub serving: ServingExplainer,
}

impl<'a> BundleExplainer<'a> {
    pub fn new(bundle: &'a ModelBundle, wording: Wording) -> Result<Self> {
        Ok(BundleExplainer {
            bundle,
            serving: ServingExplainer::new(bundle, wording)?,
        })
    }

    fn names(&self) -> Vec<String> {
        self.bundle.manifest.feature_names()
    }

    /// Explains one row of features (in the manifest's order).
    pub fn explain_row(&self, id: i64, x: &[f64], top: usize) -> Result<ClientExplanation> {
        let phi = self.serving.explainer.explain(x)?;
        // The probability is the served one (the booster's own sum), not sigmoid of the SHAP
        // total, which can differ in the last bit and must never flip a decision.
        let probability = self
            .bundle
            .predict(x)
            .map_err(|e| Error::Model(e.to_string()))?
            .first()
            .copied()
            .unwrap_or(f64::NAN);
        Ok(self.serving.explanation(id, x, &phi, probability, top))
    }

    /// Explains the client `id` of a feature frame.
    pub fn explain_client(
        &self,
        frame: &DataFrame,
        id: i64,
        top: usize,
    ) -> Result<ClientExplanation> {
        let id_col = &self.bundle.pipeline.id;
        let ids = frame
            .column(id_col)
            .and_then(|c| c.cast(&DataType::Int64))
            .map_err(|e| Error::Model(format!("column {id_col}: {e}")))?;
        let ids = ids.i64().map_err(|e| Error::Model(e.to_string()))?;
        let row = ids
            .iter()
            .position(|v| v == Some(id))
            .ok_or(Error::UnknownClient(id))?;
        let one = frame.slice(row as i64, 1);
        let (_, x) =
            matrix(&one, id_col, &self.names()).map_err(|e| Error::Model(e.to_string()))?;
        self.explain_row(id, &x, top)
    }

    /// SHAP values of every row: a frame with the id, the probability, one column per feature
    /// (log-odds) and the base value.
    pub fn explain_all(&self, frame: &DataFrame, threads: usize) -> Result<DataFrame> {
        let names = self.names();
        let id_col = &self.bundle.pipeline.id;
        let (ids, x) = matrix(frame, id_col, &names).map_err(|e| Error::Model(e.to_string()))?;
        let k = names.len();
        let phi = self.serving.explainer.explain_batch(&x, threads)?;
        let prob = self
            .bundle
            .predict(&x)
            .map_err(|e| Error::Model(e.to_string()))?;
        let mut cols: Vec<Column> = vec![
            Column::new(id_col.as_str().into(), ids),
            Column::new("probability".into(), prob),
        ];
        for (j, name) in names.iter().enumerate() {
            let v: Vec<f64> = phi.chunks(k + 1).map(|r| r[j]).collect();
            cols.push(Column::new(name.as_str().into(), v));
        }
        let base: Vec<f64> = phi.chunks(k + 1).map(|r| r[k]).collect();
        cols.push(Column::new("base_value".into(), base));
        DataFrame::new_infer_height(cols).map_err(|e| Error::Model(e.to_string()))
    }
}

impl BundleExplainer<'_> {
    /// The global report (importance, beeswarm, dependence) over the rows of a frame.
    pub fn global_report(&self, frame: &DataFrame, threads: usize) -> Result<String> {
        let names = self.names();
        let (_, x) = matrix(frame, &self.bundle.pipeline.id, &names)
            .map_err(|e| Error::Model(e.to_string()))?;
        let shap = self.serving.explainer.explain_batch(&x, threads)?;
        let gain: Vec<f64> = self
            .bundle
            .manifest
            .features
            .iter()
            .map(|f| f.gain)
            .collect();
        Ok(crate::global::render(&crate::global::GlobalInput {
            names: &names,
            x: &x,
            shap: &shap,
            gain: &gain,
            wording: &self.serving.wording,
        }))
    }
}

/// An explainer that owns what it needs of a bundle and scores with the parsed trees, so that
/// it can be shared between threads (LightGBM's booster handle cannot). Its raw score sums the
/// same leaf values in the same order as LightGBM; `differences` checks that on rows.
#[derive(Debug, Clone)]
pub struct ServingExplainer {
    pub manifest: Manifest,
    pub forest: Forest,
    /// The forest's trees in one array, to score many rows at once.
    pub packed: Packed,
    pub explainer: Explainer,
    pub wording: Wording,
    pub profile: Profile,
    /// What a refusal's reasons never name: the inputs derived from a protected attribute,
    /// and, for an applicant aged 62 or more, the age features.
    pub withheld: Withheld,
    /// The scorecard a scorecard bundle ships: its points and classic reasons.
    pub scorecard: Option<riskscore_scorecard::Scorecard>,
}

/// The features a refusal's reasons may not name (see [`ServingExplainer::explanation`]).
#[derive(Debug, Clone, Default)]
pub struct Withheld {
    /// Inputs derived from a protected attribute (none when the pipeline keeps them out).
    pub protected: Vec<usize>,
    /// The age column's input and the inputs computed from age.
    pub age: Option<(usize, Vec<usize>)>,
    /// The age column's unit.
    pub age_unit: Option<riskscore_features::protect::AgeUnit>,
}

impl Withheld {
    pub fn of(bundle: &ModelBundle) -> Self {
        let names = bundle.manifest.feature_names();
        let index = |f: &str| names.iter().position(|n| n == f);
        let pipeline = &bundle.pipeline;
        let protected = names
            .iter()
            .enumerate()
            .filter(|(_, n)| pipeline.is_protected_feature(n))
            .map(|(j, _)| j)
            .collect();
        let age = pipeline.age_column().and_then(index).map(|a| {
            let features = pipeline
                .age_features()
                .iter()
                .filter_map(|f| index(f))
                .collect();
            (a, features)
        });
        Withheld {
            protected,
            age,
            age_unit: pipeline.age_unit(),
        }
    }

    /// Whether feature `j` may be a reason for the applicant of row `x`.
    pub fn allows(&self, j: usize, x: &[f64]) -> bool {
        if self.protected.contains(&j) {
            return false;
        }
        match &self.age {
            Some((a, features)) if features.contains(&j) => {
                // Unknown age: the rule cannot be checked, so age is not given as a reason.
                let years = self.age_unit.map_or(f64::NAN, |u| u.years(x[*a]));
                years.is_finite() && years < riskscore_model::fairness::ELDERLY_AGE
            }
            _ => true,
        }
    }
}

impl ServingExplainer {
    pub fn new(bundle: &ModelBundle, wording: Wording) -> Result<Self> {
        let path = bundle.dir.join(riskscore_model::bundle::MODEL_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Model(format!("{}: {e}", path.display())))?;
        let forest = Forest::parse(&text)?;
        if forest.n_features != bundle.n_features() {
            return Err(Error::Model(format!(
                "model.txt has {} features, the manifest {}",
                forest.n_features,
                bundle.n_features()
            )));
        }
        let profile = bundle.profile().map_err(|e| Error::Model(e.to_string()))?;
        Ok(ServingExplainer {
            manifest: bundle.manifest.clone(),
            explainer: Explainer::new(&forest)?,
            packed: forest.packed(),
            forest,
            wording,
            profile,
            withheld: Withheld::of(bundle),
            scorecard: bundle
                .scorecard()
                .map_err(|e| Error::Model(e.to_string()))?,
        })
    }

    /// The calibrated probability of default of one row.
    pub fn probability(&self, x: &[f64]) -> f64 {
        self.calibrated(self.forest.raw(x))
    }

    /// The calibrated probability of default of a raw score (log-odds).
    fn calibrated(&self, raw: f64) -> f64 {
        self.manifest.calibration.apply(sigmoid(raw))
    }

    /// Explains one row, its trees summed in `parts` parts (the values depend on `parts`
    /// only), computed on one thread or one thread per part (`threads` > 1).
    pub fn explain(
        &self,
        id: i64,
        x: &[f64],
        top: usize,
        parts: usize,
        threads: usize,
    ) -> Result<ClientExplanation> {
        let phi = self.explainer.explain_parallel(x, parts, threads)?;
        Ok(self.explanation(id, x, &phi, self.probability(x), top))
    }

    /// How many rows of `x` (row-major, doubles or floats) the parsed trees score differently,
    /// in any bit, from `booster` (the booster's probabilities of the same rows).
    pub fn differences<T: crate::Lane>(&self, x: &[T], booster: &[f64]) -> usize {
        let mut raw = vec![0.0; booster.len()];
        self.packed.raw_rows(x, &mut raw);
        raw.iter()
            .zip(booster)
            .filter(|(z, p)| self.calibrated(**z).to_bits() != p.to_bits())
            .count()
    }
}

impl ServingExplainer {
    /// One client's explanation from its SHAP values `phi` (base value last) and the
    /// probability served for it.
    pub fn explanation(
        &self,
        id: i64,
        x: &[f64],
        phi: &[f64],
        probability: f64,
        top: usize,
    ) -> ClientExplanation {
        let k = x.len();
        let base = phi[k];
        let raw: f64 = phi.iter().sum();
        let base_probability = self.manifest.calibration.apply(sigmoid(base));
        let total: f64 = phi[..k].iter().sum();
        let gap = probability - base_probability;
        let share = |v: f64| {
            if total.abs() > 1e-300 {
                v / total * gap
            } else {
                0.0
            }
        };
        let names = &self.manifest.features;
        let value = |j: usize| (!x[j].is_nan()).then(|| as_written(x[j]));
        // A scorecard's points per feature, and its reasons' key: the points lost against the
        // characteristic's best bin (the classic scorecard reasons); else the SHAP value.
        let mut points = vec![None; k];
        let mut key = phi[..k].to_vec();
        let scored = self.scorecard.as_ref().map(|card| {
            let s = card.score_row(x);
            key = vec![0.0; k];
            for (c, &p) in card.characteristics.iter().zip(&s.points) {
                points[c.column] = Some(p);
                key[c.column] = c.max_points() - p;
            }
            s
        });
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()));
        let contributions = order
            .iter()
            .take(top)
            .map(|&j| Contribution {
                feature: names[j].name.clone(),
                text: self.wording.describe(&names[j].name),
                value: value(j),
                shap: phi[j],
                probability: share(phi[j]),
                points: points[j],
            })
            .collect();
        // The principal reasons of a refusal: the features raising the probability most, never
        // a protected one, never age for an applicant aged 62 or more (Regulation B).
        let mut up: Vec<usize> = (0..k)
            .filter(|&j| key[j] > 1e-9 && self.withheld.allows(j, x))
            .collect();
        up.sort_by(|&a, &b| key[b].total_cmp(&key[a]));
        let reasons = up
            .iter()
            .take(REASONS)
            .enumerate()
            .map(|(r, &j)| {
                let text = self.wording.describe(&names[j].name);
                let typical = self
                    .profile
                    .features
                    .get(j)
                    .and_then(|f| f.percentiles.get(50).copied());
                let sentence = format!(
                    "{}: {} (typical applicant: {})",
                    capitalise(&text),
                    self.wording.show(&names[j].name, value(j)),
                    self.wording.show(&names[j].name, typical)
                );
                Reason {
                    rank: r + 1,
                    feature: names[j].name.clone(),
                    text,
                    value: value(j),
                    typical,
                    shap: phi[j],
                    sentence,
                }
            })
            .collect();
        ClientExplanation {
            id,
            probability,
            decision: self.manifest.decide(probability),
            threshold: self.manifest.threshold,
            review: self.manifest.in_review_band(probability),
            raw_score: raw,
            base_value: base,
            base_probability,
            contributions,
            reasons,
            wording_version: self.wording.version.clone(),
            scorecard_score: scored.map(|s| s.score),
        }
    }
}

/// A feature value as shown: one that a `f32` holds exactly (as the server keeps most values,
/// see its `rows` module) as the shortest decimal of that `f32`, which is the value written in
/// the data whenever it had at most 6 significant digits (`2469.72`, not `2469.719970703125`);
/// any other value as it is.
pub fn as_written(v: f64) -> f64 {
    let f = v as f32;
    if f.is_finite() && f64::from(f) == v {
        f.to_string().parse().unwrap_or(v)
    } else {
        v
    }
}

/// LightGBM's binary output transform (sigmoid parameter 1).
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
