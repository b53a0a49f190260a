//! Probability calibration fitted on out-of-fold predictions: Platt scaling (a logistic
//! regression on the log-odds) or isotonic regression (pool-adjacent-violators, interpolated
//! linearly between block centres as scikit-learn does).

use serde::{Deserialize, Serialize};

use crate::metrics::brier;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    None,
    /// p' = sigmoid(a * logit(p) + b).
    Platt {
        a: f64,
        b: f64,
    },
    /// Piecewise-linear through (x, y), constant outside.
    Isotonic {
        x: Vec<f64>,
        y: Vec<f64>,
    },
}

impl Calibration {
    pub fn name(&self) -> &'static str {
        match self {
            Calibration::None => "none",
            Calibration::Platt { .. } => "platt",
            Calibration::Isotonic { .. } => "isotonic",
        }
    }

    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibration::None => p,
            Calibration::Platt { a, b } => sigmoid(a * logit(p) + b),
            Calibration::Isotonic { x, y } => interpolate(x, y, p),
        }
    }

    pub fn apply_all(&self, p: &[f64]) -> Vec<f64> {
        p.iter().map(|&q| self.apply(q)).collect()
    }
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// Platt scaling by Newton's method on the log-loss (two parameters, a few iterations).
pub fn fit_platt(p: &[f64], y: &[u8]) -> Calibration {
    let z: Vec<f64> = p.iter().map(|&q| logit(q)).collect();
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (&zi, &yi) in z.iter().zip(y) {
            let q = sigmoid(a * zi + b);
            let r = q - f64::from(yi);
            let w = q * (1.0 - q);
            ga += r * zi;
            gb += r;
            haa += w * zi * zi;
            hab += w * zi;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-10 {
            break;
        }
    }
    Calibration::Platt { a, b }
}

/// Isotonic regression of y on p (non-decreasing), by pool-adjacent-violators.
pub fn fit_isotonic(p: &[f64], y: &[u8]) -> Calibration {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    // Blocks of (sum of p, sum of y, count); equal p values start in one block.
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for &i in &idx {
        let (x, t) = (p[i], f64::from(y[i]));
        match blocks.last_mut() {
            Some(last) if last.0 / last.2 == x => {
                last.0 += x;
                last.1 += t;
                last.2 += 1.0;
            }
            _ => blocks.push((x, t, 1.0)),
        }
        while blocks.len() > 1 {
            let n = blocks.len();
            let (prev, cur) = (blocks[n - 2], blocks[n - 1]);
            if prev.1 / prev.2 <= cur.1 / cur.2 {
                break;
            }
            blocks[n - 2] = (prev.0 + cur.0, prev.1 + cur.1, prev.2 + cur.2);
            blocks.pop();
        }
    }
    let x = blocks.iter().map(|b| b.0 / b.2).collect();
    let y = blocks.iter().map(|b| b.1 / b.2).collect();
    Calibration::Isotonic { x, y }
}

fn interpolate(x: &[f64], y: &[f64], v: f64) -> f64 {
    if x.is_empty() {
        return v;
    }
    if v <= x[0] {
        return y[0];
    }
    let n = x.len();
    if v >= x[n - 1] {
        return y[n - 1];
    }
    let i = x.partition_point(|&e| e <= v);
    let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
    y0 + (y1 - y0) * (v - x0) / (x1 - x0)
}

/// Brier score before and after, the after one cross-fitted (fitted on half the rows and
/// measured on the other half, both ways) so isotonic's flexibility is not rewarded in-sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationCheck {
    pub brier_before: f64,
    pub brier_after: f64,
}

pub fn cross_fitted_brier(p: &[f64], y: &[u8], fit: fn(&[f64], &[u8]) -> Calibration) -> f64 {
    let halves: [Vec<usize>; 2] = [
        (0..p.len()).filter(|i| i % 2 == 0).collect(),
        (0..p.len()).filter(|i| i % 2 == 1).collect(),
    ];
    let mut out = vec![0.0; p.len()];
    for h in 0..2 {
        let (fit_on, score) = (&halves[h], &halves[1 - h]);
        let fp: Vec<f64> = fit_on.iter().map(|&i| p[i]).collect();
        let fy: Vec<u8> = fit_on.iter().map(|&i| y[i]).collect();
        let cal = fit(&fp, &fy);
        for &i in score {
            out[i] = cal.apply(p[i]);
        }
    }
    brier(&out, y)
}

/// Picks the calibration with the lowest cross-fitted Brier score, or none when neither helps.
pub fn choose(p: &[f64], y: &[u8]) -> (Calibration, CalibrationCheck) {
    let before = brier(p, y);
    let platt = cross_fitted_brier(p, y, fit_platt);
    let iso = cross_fitted_brier(p, y, fit_isotonic);
    let (cal, after) = if platt <= iso && platt < before {
        (fit_platt(p, y), platt)
    } else if iso < before {
        (fit_isotonic(p, y), iso)
    } else {
        (Calibration::None, before)
    };
    (
        cal,
        CalibrationCheck {
            brier_before: before,
            brier_after: after,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators() {
        // Sorted by p, outcomes 0,1,0,1: the middle pair (1,0) violates and pools to 0.5.
        let cal = fit_isotonic(&[0.1, 0.2, 0.3, 0.4], &[0, 1, 0, 1]);
        let Calibration::Isotonic { x, y } = &cal else {
            unreachable!()
        };
        assert_eq!(y, &vec![0.0, 0.5, 1.0]);
        assert!((x[1] - 0.25).abs() < 1e-12);
        // Halfway between block centres 0.1 (0) and 0.25 (0.5).
        assert!((cal.apply(0.175) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn platt_undoes_a_shift_of_the_log_odds() {
        // True probability q, model says sigmoid(logit(q) + 2): Platt must learn b ~ -2.
        let mut p = Vec::new();
        let mut y = Vec::new();
        for i in 0..2000 {
            let q = 0.02 + 0.3 * (i % 100) as f64 / 100.0;
            p.push(sigmoid(logit(q) + 2.0));
            // Deterministic outcomes with frequency q in each group of 100.
            y.push(u8::from(((i / 100) as f64) < q * 20.0));
        }
        let Calibration::Platt { a, b } = fit_platt(&p, &y) else {
            unreachable!()
        };
        assert!(a.is_finite() && b < -1.0, "a {a}, b {b}");
        let (cal, check) = choose(&p, &y);
        assert_ne!(cal, Calibration::None);
        assert!(check.brier_after < check.brier_before);
    }
}
