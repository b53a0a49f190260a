//! Classification metrics on probabilities. A client is refused when its probability is at or
//! above the threshold; a defaulter is the positive class.

use serde::{Deserialize, Serialize};

/// Indices sorted by descending score (stable, so equal scores keep row order).
pub fn order_desc(p: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    idx
}

/// The end (exclusive) of the run of rows of `order` from `i` whose scores equal row `i`'s:
/// at least `i + 1`, since a NaN equals nothing (a scan over the runs always goes on).
pub(crate) fn run_end(p: &[f64], order: &[usize], i: usize) -> usize {
    let mut j = i + 1;
    while j < order.len() && p[order[j]] == p[order[i]] {
        j += 1;
    }
    j
}

/// Area under the ROC curve, ties counted half (the Mann-Whitney statistic).
pub fn roc_auc(p: &[f64], y: &[u8]) -> f64 {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (mut rank_sum, mut pos) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let end = run_end(p, &idx, i);
        // Ranks i+1..=end share their mean.
        let mean_rank = (i + end + 1) as f64 / 2.0;
        for &r in &idx[i..end] {
            if y[r] == 1 {
                rank_sum += mean_rank;
                pos += 1.0;
            }
        }
        i = end;
    }
    let neg = p.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Area under the precision-recall curve as average precision (scikit-learn's definition:
/// the sum over thresholds of precision times the gain in recall).
pub fn average_precision(p: &[f64], y: &[u8]) -> f64 {
    if !y.contains(&1) {
        return f64::NAN;
    }
    let mut last_recall = 0.0;
    let mut ap = 0.0;
    for (recall, precision) in pr_points(p, y, usize::MAX) {
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    ap
}

/// Mean squared difference between probability and outcome.
pub fn brier(p: &[f64], y: &[u8]) -> f64 {
    let s: f64 = p
        .iter()
        .zip(y)
        .map(|(&q, &t)| (q - f64::from(t)).powi(2))
        .sum();
    s / p.len() as f64
}

/// Mean binary log-loss, probabilities clipped to [1e-15, 1 - 1e-15] as scikit-learn does.
pub fn log_loss(p: &[f64], y: &[u8]) -> f64 {
    if p.is_empty() {
        return f64::NAN;
    }
    let sum: f64 = p
        .iter()
        .zip(y)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y == 1 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    sum / p.len() as f64
}

/// Kolmogorov-Smirnov statistic: the largest gap between the score distributions of
/// defaulters and non-defaulters (max over thresholds of TPR - FPR).
pub fn ks(p: &[f64], y: &[u8]) -> f64 {
    roc_points(p, y, usize::MAX)
        .into_iter()
        .map(|(fpr, tpr)| tpr - fpr)
        .fold(0.0, f64::max)
}

/// Counts at a threshold: refused = probability >= threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Defaulters refused.
    pub tp: u64,
    /// Good clients refused.
    pub fp: u64,
    /// Good clients granted.
    pub tn: u64,
    /// Defaulters granted.
    pub fn_: u64,
}

impl Confusion {
    pub fn at(p: &[f64], y: &[u8], threshold: f64) -> Self {
        let mut c = Confusion::default();
        for (&q, &t) in p.iter().zip(y) {
            match (q >= threshold, t == 1) {
                (true, true) => c.tp += 1,
                (true, false) => c.fp += 1,
                (false, false) => c.tn += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        c
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// F-beta; beta > 1 weighs recall more (missed defaulters are the costly error).
    pub fn f_beta(&self, beta: f64) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        let b2 = beta * beta;
        if p + r == 0.0 {
            0.0
        } else {
            (1.0 + b2) * p * r / (b2 * p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Points of the ROC curve (FPR, TPR), one per distinct score, thinned to at most `max` points.
pub fn roc_points(p: &[f64], y: &[u8], max: usize) -> Vec<(f64, f64)> {
    curve(p, y, max, |tp, fp, pos, neg| (fp / neg, tp / pos))
}

/// Points of the precision-recall curve (recall, precision).
pub fn pr_points(p: &[f64], y: &[u8], max: usize) -> Vec<(f64, f64)> {
    curve(p, y, max, |tp, fp, pos, _| (tp / pos, tp / (tp + fp)))
}

fn curve(
    p: &[f64],
    y: &[u8],
    max: usize,
    point: impl Fn(f64, f64, f64, f64) -> (f64, f64),
) -> Vec<(f64, f64)> {
    let idx = order_desc(p);
    let pos = y.iter().filter(|&&v| v == 1).count() as f64;
    let neg = p.len() as f64 - pos;
    let mut pts = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let j = run_end(p, &idx, i);
        for &r in &idx[i..j] {
            if y[r] == 1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
        }
        pts.push(point(tp, fp, pos, neg));
        i = j;
    }
    thin(pts, max)
}

/// Keeps at most `max` points, evenly spaced, always with the last one.
pub fn thin<T: Copy>(pts: Vec<T>, max: usize) -> Vec<T> {
    if pts.len() <= max || max < 2 {
        return pts;
    }
    let step = (pts.len() - 1) as f64 / (max - 1) as f64;
    (0..max)
        .map(|i| pts[((i as f64 * step).round() as usize).min(pts.len() - 1)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Four clients: scores 0.9 (default), 0.8 (good), 0.4 (default), 0.1 (good).
    const P: [f64; 4] = [0.9, 0.8, 0.4, 0.1];
    const Y: [u8; 4] = [1, 0, 1, 0];

    #[test]
    fn auc_counts_ordered_pairs() {
        // Pairs (default, good): (0.9,0.8) ok, (0.9,0.1) ok, (0.4,0.8) wrong, (0.4,0.1) ok -> 3/4.
        assert_eq!(roc_auc(&P, &Y), 0.75);
        // A tie between a defaulter and a good client counts one half.
        assert_eq!(roc_auc(&[0.5, 0.5], &[1, 0]), 0.5);
    }

    #[test]
    fn average_precision_by_hand() {
        // Descending: 1 (P=1, R=.5), 0, 1 (P=2/3, R=1): AP = .5*1 + .5*2/3 = 5/6.
        assert!((average_precision(&P, &Y) - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn brier_and_ks_by_hand() {
        // (0.1^2 + 0.8^2 + 0.6^2 + 0.1^2) / 4 = (0.01 + 0.64 + 0.36 + 0.01) / 4 = 0.255.
        assert!((brier(&P, &Y) - 0.255).abs() < 1e-12);
        // After 0.9: TPR .5, FPR 0 -> KS .5; after 0.4: TPR 1, FPR .5 -> .5.
        assert!((ks(&P, &Y) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn confusion_refuses_at_or_above_the_threshold() {
        let c = Confusion::at(&P, &Y, 0.8);
        assert_eq!(
            c,
            Confusion {
                tp: 1,
                fp: 1,
                tn: 1,
                fn_: 1
            }
        );
        assert_eq!(c.recall(), 0.5);
        assert_eq!(c.precision(), 0.5);
        // F2 with p = r = .5 is .5.
        assert!((c.f_beta(2.0) - 0.5).abs() < 1e-12);
    }
}
