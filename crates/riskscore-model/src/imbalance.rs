//! Class-imbalance strategies: none, class weights, random undersampling of good clients and
//! SMOTE-style oversampling of defaulters. Resampling only ever touches the training rows of a
//! fold; validation rows are scored as they are.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::folds::shuffle;
use riskscore_data::synth::rng::{seed_of, Rng};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    Hash,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Train on the rows as they are.
    None,
    /// Weigh defaulters by good/defaulter count (LightGBM's `scale_pos_weight`).
    ClassWeight,
    /// Keep every defaulter and a random subset of good clients.
    Undersample,
    /// Add synthetic defaulters interpolated between a defaulter and one of its nearest
    /// defaulter neighbours.
    Smote,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::None,
        Strategy::ClassWeight,
        Strategy::Undersample,
        Strategy::Smote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::ClassWeight => "class_weight",
            Strategy::Undersample => "undersample",
            Strategy::Smote => "smote",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Strategy::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                Error::param(
                    "imbalance",
                    format!("{s:?} is not one of auto, none, class_weight, undersample, smote"),
                )
            })
    }

    /// Whether the strategy changes the base rate the model sees (probabilities then need
    /// calibration).
    pub fn distorts(self) -> bool {
        self != Strategy::None
    }

    /// Whether the booster is fitted on other rows than those given (undersampling drops good
    /// clients, SMOTE adds synthetic defaulters); the others fit on the rows as they are.
    pub fn resamples(self) -> bool {
        matches!(self, Strategy::Undersample | Strategy::Smote)
    }

    /// LightGBM's `scale_pos_weight` under the strategy for rows labelled `y` (class weights
    /// only).
    pub fn scale_pos_weight(self, y: &[u8]) -> Option<f64> {
        (self == Strategy::ClassWeight).then(|| class_weight(y))
    }
}

/// LightGBM's `scale_pos_weight` for class weights: good clients per defaulter.
pub fn class_weight(y: &[u8]) -> f64 {
    let pos = y.iter().filter(|&&v| v == 1).count();
    (y.len() - pos) as f64 / pos.max(1) as f64
}

/// The training rows after a strategy is applied.
#[derive(Debug)]
pub struct Balanced {
    pub x: Vec<f64>,
    pub y: Vec<u8>,
    /// For `ClassWeight`: LightGBM's `scale_pos_weight`.
    pub scale_pos_weight: Option<f64>,
}

/// Applies `strategy` to row-major rows. `ratio` is the wanted defaulters/good ratio after
/// resampling (undersampling and SMOTE).
pub fn apply(
    strategy: Strategy,
    x: Vec<f64>,
    y: Vec<u8>,
    n_features: usize,
    ratio: f64,
    seed: u64,
) -> Balanced {
    match strategy {
        Strategy::None | Strategy::ClassWeight => Balanced {
            scale_pos_weight: strategy.scale_pos_weight(&y),
            x,
            y,
        },
        Strategy::Undersample => undersample(x, y, n_features, ratio, seed),
        Strategy::Smote => smote(x, y, n_features, ratio, seed),
    }
}

fn undersample(x: Vec<f64>, y: Vec<u8>, k: usize, ratio: f64, seed: u64) -> Balanced {
    let pos = y.iter().filter(|&&v| v == 1).count();
    let mut negatives: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 0).collect();
    let keep_neg = ((pos as f64 / ratio).round() as usize).min(negatives.len());
    shuffle(&mut negatives, seed_of(&[seed, 11]));
    let mut keep: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 1).collect();
    keep.extend_from_slice(&negatives[..keep_neg]);
    keep.sort_unstable();
    let mut nx = Vec::with_capacity(keep.len() * k);
    let mut ny = Vec::with_capacity(keep.len());
    for &i in &keep {
        nx.extend_from_slice(&x[i * k..(i + 1) * k]);
        ny.push(y[i]);
    }
    Balanced {
        x: nx,
        y: ny,
        scale_pos_weight: None,
    }
}

/// Nearest neighbours among defaulters, searched in a 16-dimensional random projection of the
/// standardised features (missing values at the mean): exact k-NN in ~800 dimensions is too slow
/// on a laptop, and the neighbourhood only guides the interpolation.
const NEIGHBOURS: usize = 5;
const PROJECTED: usize = 16;

fn smote(mut x: Vec<f64>, mut y: Vec<u8>, k: usize, ratio: f64, seed: u64) -> Balanced {
    let minority: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 1).collect();
    let neg = y.len() - minority.len();
    let wanted = (neg as f64 * ratio).round() as usize;
    if minority.len() < 2 || wanted <= minority.len() {
        return Balanced {
            x,
            y,
            scale_pos_weight: None,
        };
    }
    let proj = project(&x, k, &minority, seed);
    let neighbours = nearest(&proj, NEIGHBOURS.min(minority.len() - 1));
    let mut rng = Rng::new(seed_of(&[seed, 17]));
    let extra = wanted - minority.len();
    x.reserve(extra * k);
    for _ in 0..extra {
        let a = (rng.next_u64() % minority.len() as u64) as usize;
        let nb = &neighbours[a];
        let b = nb[(rng.next_u64() % nb.len() as u64) as usize];
        let gap = rng.uniform();
        let (ra, rb) = (minority[a] * k, minority[b] * k);
        for j in 0..k {
            let (va, vb) = (x[ra + j], x[rb + j]);
            let v = if vb.is_nan() {
                va
            } else {
                va + gap * (vb - va)
            };
            x.push(v);
        }
        y.push(1);
    }
    Balanced {
        x,
        y,
        scale_pos_weight: None,
    }
}

fn project(x: &[f64], k: usize, rows: &[usize], seed: u64) -> Vec<[f64; PROJECTED]> {
    let (mean, scale) = crate::logistic::standardise(x, k, rows, 0.0);
    let mut rng = Rng::new(seed_of(&[seed, 23]));
    let dirs: Vec<f64> = (0..k * PROJECTED).map(|_| rng.normal()).collect();
    rows.iter()
        .map(|&r| {
            let mut out = [0.0; PROJECTED];
            for j in 0..k {
                let v = x[r * k + j];
                if !v.is_finite() || scale[j] == 0.0 {
                    continue;
                }
                let z = (v - mean[j]) * scale[j];
                for (d, o) in out.iter_mut().enumerate() {
                    *o += z * dirs[j * PROJECTED + d];
                }
            }
            out
        })
        .collect()
}

fn nearest(points: &[[f64; PROJECTED]], n: usize) -> Vec<Vec<usize>> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut best: Vec<(f64, usize)> = Vec::with_capacity(n + 1);
            for (j, q) in points.iter().enumerate() {
                if i == j {
                    continue;
                }
                let d: f64 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
                if best.len() < n || d < best[best.len() - 1].0 {
                    let at = best.partition_point(|&(e, _)| e <= d);
                    best.insert(at, (d, j));
                    best.truncate(n);
                }
            }
            best.into_iter().map(|(_, j)| j).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> (Vec<f64>, Vec<u8>) {
        // 100 rows, 2 features, 10 defaulters with feature 0 near 10.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..100 {
            let d = i % 10 == 0;
            x.push(if d {
                10.0 + i as f64 / 100.0
            } else {
                i as f64 / 100.0
            });
            x.push(if i == 20 { f64::NAN } else { 1.0 });
            y.push(u8::from(d));
        }
        (x, y)
    }

    #[test]
    fn undersampling_keeps_every_defaulter() {
        let (x, y) = rows();
        let b = apply(Strategy::Undersample, x, y, 2, 0.5, 1);
        // 10 defaulters and 10 / 0.5 = 20 good clients.
        assert_eq!(b.y.len(), 30);
        assert_eq!(b.y.iter().filter(|&&v| v == 1).count(), 10);
    }

    #[test]
    fn smote_adds_defaulters_between_defaulters() {
        let (x, y) = rows();
        let b = apply(Strategy::Smote, x, y, 2, 0.5, 1);
        // 90 good clients, ratio 0.5: 45 defaulters, 35 of them synthetic.
        assert_eq!(b.y.len(), 135);
        for r in 100..135 {
            assert_eq!(b.y[r], 1);
            let v = b.x[r * 2];
            assert!((10.0..=10.9).contains(&v), "synthetic row {r}: {v}");
        }
    }

    #[test]
    fn class_weight_is_the_count_ratio() {
        let (x, y) = rows();
        let b = apply(Strategy::ClassWeight, x, y, 2, 0.5, 1);
        assert_eq!(b.scale_pos_weight, Some(9.0));
    }
}
