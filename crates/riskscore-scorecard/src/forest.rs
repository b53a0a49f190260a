//! The scorecard written as a LightGBM text model, so that a scorecard bundle is served,
//! explained (TreeSHAP), audited and monitored by exactly the code that serves a LightGBM one.
//!
//! A scorecard is additive: one tree per characteristic, a chain of splits on its column at the
//! bins' edges whose leaves are the characteristic's contributions to the log-odds of default,
//! `coefficient × WoE` (the intercept added to the first tree's leaves). The sum of the trees is
//! then `intercept + Σ coefficient × WoE`, the logit of the scorecard's probability, and each
//! characteristic's SHAP value is its contribution less its mean over the training rows: its
//! points against the average client's, in log-odds (÷ −factor for points).
//!
//! LightGBM sends a value left when it is at or below the threshold; a bin ends before its split
//! (`x < split`), so each threshold is the double just below the split. Missing values (NaN)
//! go right down the chain to a last node, on the last threshold again, that sends them left,
//! to the missing leaf; every value reaching that node is above its threshold.

use std::fmt::Write;

use crate::binning::Bins;
use crate::scorecard::{Characteristic, Scorecard};

/// NaN is missing, default right.
const NAN_RIGHT: u8 = 8;
/// NaN is missing, default left.
const NAN_LEFT: u8 = 10;

/// One tree of the chain.
struct Chain {
    feature: usize,
    threshold: Vec<f64>,
    decision: Vec<u8>,
    left: Vec<i64>,
    right: Vec<i64>,
    leaf_value: Vec<f64>,
    leaf_count: Vec<u64>,
    internal_count: Vec<u64>,
}

fn chain(c: &Characteristic, shift: f64) -> Option<Chain> {
    let Bins::Numeric { splits, special } = &c.binning.bins else {
        return None;
    };
    if !special.is_empty() {
        return None;
    }
    let rows = &c.binning.table;
    let missing = rows.len() - 1;
    let value = |r: usize| c.coefficient * rows[r].woe + shift;
    let count = |r: usize| rows[r].non_events + rows[r].events;
    let m = splits.len();
    let thresholds: Vec<f64> = if m == 0 {
        vec![f64::MAX]
    } else {
        splits.iter().map(|s| s.next_down()).collect()
    };
    let nodes = thresholds.len() + 1;
    let mut t = Chain {
        feature: c.column,
        threshold: thresholds.clone(),
        decision: vec![NAN_RIGHT; thresholds.len()],
        left: Vec::new(),
        right: Vec::new(),
        leaf_value: Vec::new(),
        leaf_count: Vec::new(),
        internal_count: Vec::new(),
    };
    t.threshold.push(thresholds[thresholds.len() - 1]);
    t.decision.push(NAN_LEFT);
    // Leaves: the bins on the chain's left, then the missing leaf, then the last bin.
    for k in 0..nodes - 1 {
        t.left.push(!(k as i64));
        t.right.push(k as i64 + 1);
        let bin = k.min(m);
        t.leaf_value.push(value(bin));
        t.leaf_count.push(count(bin));
    }
    t.left.push(!((nodes - 1) as i64));
    t.right.push(!(nodes as i64));
    t.leaf_value.push(value(missing));
    t.leaf_count.push(count(missing));
    t.leaf_value.push(value(m));
    t.leaf_count.push(if m == 0 { 0 } else { count(m) });
    // Rows reaching node k: every leaf from k on.
    for k in 0..nodes {
        t.internal_count.push(t.leaf_count[k..].iter().sum());
    }
    Some(t)
}

fn join<T: std::fmt::Debug>(v: &[T]) -> String {
    v.iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The scorecard as LightGBM's text model over `feature_names` (the columns it was fitted on,
/// as LightGBM names them); `None` when a characteristic is categorical or has special values,
/// which a LightGBM numerical split cannot express.
pub fn lightgbm_text(card: &Scorecard, feature_names: &[String]) -> Option<String> {
    let mut trees = Vec::new();
    for (i, c) in card.characteristics.iter().enumerate() {
        let shift = if i == 0 { card.intercept } else { 0.0 };
        trees.push(chain(c, shift)?);
    }
    let mut infos = vec!["none".to_string(); feature_names.len()];
    for c in &card.characteristics {
        if let Bins::Numeric { splits, .. } = &c.binning.bins {
            let (lo, hi) = (
                splits.first().copied().unwrap_or(0.0),
                splits.last().copied().unwrap_or(0.0),
            );
            infos[c.column] = format!("[{lo:?}:{hi:?}]");
        }
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx={}\n\
objective=binary sigmoid:1\nfeature_names={}\nfeature_infos={}\n\n",
        feature_names.len().saturating_sub(1),
        feature_names.join(" "),
        infos.join(" ")
    );
    for (i, t) in trees.iter().enumerate() {
        let nodes = t.threshold.len();
        let weights: Vec<f64> = t.leaf_count.iter().map(|&c| c as f64).collect();
        let internal_weights: Vec<f64> = t.internal_count.iter().map(|&c| c as f64).collect();
        let internal_values: Vec<f64> = (0..nodes)
            .map(|k| {
                let n: u64 = t.leaf_count[k..].iter().sum();
                if n == 0 {
                    0.0
                } else {
                    t.leaf_value[k..]
                        .iter()
                        .zip(&t.leaf_count[k..])
                        .map(|(v, &c)| v * c as f64)
                        .sum::<f64>()
                        / n as f64
                }
            })
            .collect();
        let _ = write!(
            s,
            "Tree={i}\nnum_leaves={}\nnum_cat=0\nsplit_feature={}\nsplit_gain={}\nthreshold={}\n\
decision_type={}\nleft_child={}\nright_child={}\nleaf_value={}\nleaf_weight={}\nleaf_count={}\n\
internal_value={}\ninternal_weight={}\ninternal_count={}\nis_linear=0\nshrinkage=1\n\n\n",
            nodes + 1,
            join(&vec![t.feature; nodes]),
            join(&vec![0.0f64; nodes]),
            join(&t.threshold),
            join(&t.decision),
            join(&t.left),
            join(&t.right),
            join(&t.leaf_value),
            join(&weights),
            join(&t.leaf_count),
            join(&internal_values),
            join(&internal_weights),
            join(&t.internal_count),
        );
    }
    s.push_str("end of trees\n\nfeature_importances:\n");
    for c in &card.characteristics {
        let _ = writeln!(s, "{}={}", feature_names[c.column], c.binning.n_bins());
    }
    s.push_str(
        "\nparameters:\n[objective: binary]\nend of parameters\n\npandas_categorical:null\n",
    );
    Some(s)
}
