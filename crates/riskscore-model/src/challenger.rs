//! The scorecard challenger of `train --challenger scorecard`: optbinning's optimal binning,
//! a logistic regression on the weights of evidence and points, cross-validated on the same
//! folds as LightGBM, its threshold chosen by the same business cost, then fitted on all rows.

use riskscore_scorecard::{Column, Scorecard, ScorecardOptions, Values};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::cost;
use crate::cv::mean_std;
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::folds;
use crate::metrics;

/// The challenger's cross-validated figures, beside LightGBM's in the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengerSummary {
    pub name: String,
    pub cv_auc: f64,
    pub cv_auc_std: f64,
    pub oof_auc: f64,
    /// Cost-minimising threshold on its out-of-fold probabilities.
    pub threshold: f64,
    pub cost_per_client: f64,
    pub brier: f64,
    /// Mean predicted probability against the observed default rate (out of fold).
    pub mean_probability: f64,
    pub default_rate: f64,
    /// Characteristics of each fold's scorecard, then of the one fitted on all rows.
    pub fold_characteristics: Vec<usize>,
    pub characteristics: usize,
    pub seconds: f64,
}

/// The challenger fitted: its figures, the scorecard on all rows and the challenger's
/// out-of-fold probabilities. With `--model scorecard` the roles swap: the scorecard ships and
/// `summary` and `oof` are LightGBM's.
#[derive(Debug, Clone)]
pub struct ChallengerFit {
    pub summary: ChallengerSummary,
    pub scorecard: Scorecard,
    /// The threshold the scorecard's own cross-validation chose, whichever model ships.
    pub scorecard_threshold: f64,
    pub oof: Vec<f64>,
}

/// The columns of `x` (row-major, `k` per row) for rows `idx`.
fn columns(x: &[f64], k: usize, idx: &[usize]) -> Vec<Vec<f64>> {
    let mut cols = vec![Vec::with_capacity(idx.len()); k];
    for &i in idx {
        for (j, col) in cols.iter_mut().enumerate() {
            col.push(x[i * k + j]);
        }
    }
    cols
}

fn fit(data: &TrainingData, idx: &[usize], options: &ScorecardOptions) -> Result<Scorecard> {
    let k = data.n_features();
    let cols = columns(&data.x, k, idx);
    let y: Vec<u8> = idx.iter().map(|&i| data.y[i]).collect();
    let input: Vec<Column> = data
        .features
        .iter()
        .zip(&cols)
        .map(|(name, values)| Column {
            name,
            values: Values::Numeric(values),
        })
        .collect();
    Scorecard::fit(&input, &y, options).map_err(|e| Error::Data(format!("scorecard: {e}")))
}

/// Cross-validates the scorecard on `fold_of` and fits it on all rows.
pub fn scorecard(
    data: &TrainingData,
    fold_of: &[u8],
    cfg: &TrainConfig,
    options: &ScorecardOptions,
) -> Result<ChallengerFit> {
    let started = std::time::Instant::now();
    let mut oof = vec![f64::NAN; data.rows()];
    let (mut aucs, mut fold_characteristics) = (Vec::new(), Vec::new());
    for f in 0..cfg.folds {
        tracing::info!("scorecard challenger: fold {}/{}", f + 1, cfg.folds);
        let (train_idx, valid_idx) = folds::split(fold_of, f as u8);
        let card = fit(data, &train_idx, options)?;
        let mut p = Vec::with_capacity(valid_idx.len());
        for &i in &valid_idx {
            let s = card.score_row(data.row(i));
            oof[i] = s.probability;
            p.push(s.probability);
        }
        let vy: Vec<u8> = valid_idx.iter().map(|&i| data.y[i]).collect();
        aucs.push(metrics::roc_auc(&p, &vy));
        fold_characteristics.push(card.characteristics.len());
    }
    tracing::info!("scorecard challenger: fitting on all rows");
    let all: Vec<usize> = (0..data.rows()).collect();
    let scorecard = fit(data, &all, options)?;
    let best = cost::best_threshold(&oof, &data.y, &cfg.cost);
    let (cv_auc, cv_auc_std) = mean_std(&aucs);
    let n = data.rows() as f64;
    let summary = ChallengerSummary {
        name: "scorecard".into(),
        cv_auc,
        cv_auc_std,
        oof_auc: metrics::roc_auc(&oof, &data.y),
        threshold: best.threshold,
        cost_per_client: best.cost_per_client,
        brier: metrics::brier(&oof, &data.y),
        mean_probability: oof.iter().sum::<f64>() / n,
        default_rate: data.positives() as f64 / n,
        fold_characteristics,
        characteristics: scorecard.characteristics.len(),
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(
        "scorecard challenger: CV AUC {:.4} ± {:.4}, cost per client {:.4}, {} characteristics",
        summary.cv_auc,
        summary.cv_auc_std,
        summary.cost_per_client,
        summary.characteristics
    );
    Ok(ChallengerFit {
        scorecard_threshold: summary.threshold,
        summary,
        scorecard,
        oof,
    })
}
