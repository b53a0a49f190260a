//! Stratified cross-validation of one LightGBM configuration: a booster per fold, trained on the
//! other folds after the imbalance strategy, stopped early on a stratified share of those other
//! folds ([`STOP_SHARE`](crate::folds::STOP_SHARE)), never on its own fold, whose rows it then
//! predicts (the out-of-fold predictions every later step uses).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::folds::{split, stopping_split};
use crate::imbalance::{self, Strategy};
use crate::lgbm::{self, Binning, LgbmParams, Rows};
use crate::metrics::roc_auc;
use riskscore_data::synth::rng::seed_of;

/// One fold's booster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldFit {
    pub fold: usize,
    pub auc: f64,
    pub best_iteration: u32,
    pub seconds: f64,
    /// The rounds the booster was cut at when successive halving stopped the configuration
    /// part-way through this fold (`None`: the fold's booster ran until early stopping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut: Option<u32>,
    /// The validation fold's AUC and log-loss by boosting round (empty unless asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
}

/// One point of a learning curve: the fold's booster cut at `round` trees.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CurvePoint {
    pub round: u32,
    pub auc: f64,
    pub logloss: f64,
}

#[derive(Debug, Clone)]
pub struct CvResult {
    /// Out-of-fold probabilities (as the model gives them, before calibration).
    pub oof: Vec<f64>,
    pub folds: Vec<FoldFit>,
    /// Every fit's dataset construction, the cuts trained anew included.
    pub binning: Binning,
}

impl CvResult {
    /// Mean and standard deviation of the per-fold AUCs.
    pub fn fold_auc(&self) -> (f64, f64) {
        mean_std(&self.folds.iter().map(|f| f.auc).collect::<Vec<_>>())
    }

    pub fn mean_best_iteration(&self) -> f64 {
        self.folds
            .iter()
            .map(|f| f64::from(f.best_iteration))
            .sum::<f64>()
            / self.folds.len().max(1) as f64
    }
}

/// Which configuration to cross-validate.
#[derive(Debug, Clone, Copy)]
pub struct CvSpec<'a> {
    pub params: &'a LgbmParams,
    pub strategy: Strategy,
    pub ratio: f64,
    pub seed: u64,
    /// Shown in progress lines, e.g. "trial 3/10".
    pub label: &'a str,
    /// Learning-curve points per fold (0 = none; every round when the booster has fewer).
    pub curve_points: usize,
    /// Shares of the first fold's expected rounds at which it is judged part-way, in order
    /// (empty: judged at the end of folds only). See [`crate::prune::rounds_at`].
    pub shares: &'a [f64],
    /// Whether the configuration goes on at every share whatever its loss there (the first to
    /// reach them). Its cut boosters are then read off the fold's own booster, whose first
    /// rounds they are, instead of trained anew; the pruner is still asked at each share.
    pub shares_go_on: bool,
}

/// A cross-validation after its first folds, or part-way through its first: what a pruner
/// judges it on.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The resource used, in folds: the first `step` folds, in order, or a share (below 1) of
    /// the first fold's expected rounds.
    pub step: f64,
    /// Out-of-fold probabilities, `NaN` for the rows of folds not done yet (part-way through
    /// the first fold: the cut booster's).
    pub oof: &'a [f64],
    /// The folds' boosters (part-way: the cut one, its `cut` set).
    pub folds: &'a [FoldFit],
}

/// Every fold, in order.
pub fn run(
    data: &TrainingData,
    folds: &[u8],
    k: usize,
    names: &[String],
    spec: CvSpec,
) -> Result<CvResult> {
    run_pruned(data, folds, k, names, spec, &mut |_| true)
}

/// The folds in order, asking `keep_going` at each of `spec.shares` of the first fold and
/// after each fold whether to go on. A cross-validation stopped after a fold has fewer than `k`
/// folds (its other rows' predictions `NaN`); one stopped part-way through the first fold has
/// only that fold's cut booster (its `cut` set).
///
/// The first fold's cut boosters are trained anew for each share (`lightgbm3` cannot resume a
/// booster), which costs at most the shares' sum more for a configuration that goes on. A
/// booster that stopped early before its cut is the fold's booster itself (training is
/// deterministic and the cut does not change the rounds before it), so it is kept and the
/// fold is not trained again. With `spec.shares_go_on` the fold's booster is trained first and
/// each cut read off it (see `cut_of_own`).
pub fn run_pruned(
    data: &TrainingData,
    folds: &[u8],
    k: usize,
    names: &[String],
    spec: CvSpec,
    keep_going: &mut dyn FnMut(&Progress) -> bool,
) -> Result<CvResult> {
    let nf = data.n_features();
    let mut oof = vec![f64::NAN; data.rows()];
    let mut fits = Vec::with_capacity(k);
    let binning = std::cell::Cell::new(Binning::default());
    for f in 0..k {
        let started = Instant::now();
        let fold_seed = seed_of(&[spec.seed, f as u64]);
        // The rounds are chosen on rows of the training folds: the scored fold is never seen.
        let (fit_idx, stop_idx, valid_idx) = fold_rows(&data.y, folds, f, spec.seed);
        let (tx, ty) = data.take(&fit_idx);
        let (sx, sy) = data.take(&stop_idx);
        // The scored fold is read in place (no copy beside the training rows' own).
        let vy: Vec<u8> = valid_idx.iter().map(|&i| data.y[i]).collect();
        let valid = Scored {
            data,
            idx: &valid_idx,
        };
        let bal = imbalance::apply(spec.strategy, tx, ty, nf, spec.ratio, fold_seed);
        let max_rounds = spec.params.max_rounds;
        // The fold's booster with its rounds cut at `rounds` (`max_rounds`: not cut), its
        // predictions written into `oof`. Its `cut` is set when it ran to the cut below
        // `max_rounds`; one that stopped early before is the fold's own booster.
        let fit_fold = |rounds: u32, oof: &mut [f64]| -> Result<(FoldFit, lightgbm3::Booster)> {
            let params = spec
                .params
                .to_lightgbm(spec.seed, bal.scale_pos_weight, rounds);
            let lgbm::Fitted {
                mut booster,
                binning: took,
            } = lgbm::fit_timed(
                Rows {
                    x: &bal.x,
                    y: &bal.y,
                    n_features: nf,
                },
                Some(Rows {
                    x: &sx,
                    y: &sy,
                    n_features: nf,
                }),
                names,
                &params,
            )?;
            let mut sum = binning.get();
            sum.add(took);
            binning.set(sum);
            let pred = valid.predict(&booster)?;
            for (&i, &p) in valid_idx.iter().zip(&pred) {
                oof[i] = p;
            }
            let trees = booster.num_iterations().max(0) as u32;
            let curve = learning_curve(&mut booster, &valid, &vy, trees, spec.curve_points)?;
            let fit = FoldFit {
                fold: f,
                auc: roc_auc(&pred, &vy),
                best_iteration: trees,
                seconds: started.elapsed().as_secs_f64(),
                cut: (rounds < max_rounds && trees >= rounds).then_some(rounds),
                curve,
            };
            Ok((fit, booster))
        };
        // The first fold judged part-way; a booster that stopped early before its cut is kept.
        let mut judged: Option<FoldFit> = None;
        let shares = if f == 0 { spec.shares } else { &[] };
        // Read off the fold's own booster (`shares_go_on`): trained first, its predictions
        // kept aside while each cut's are judged.
        let mut own: Option<OwnFit> = None;
        if spec.shares_go_on
            && shares
                .iter()
                .any(|&s| crate::prune::rounds_at(spec.params, s) < max_rounds)
        {
            let (fit, booster) = fit_fold(max_rounds, &mut oof)?;
            let pred = valid_idx.iter().map(|&i| oof[i]).collect();
            own = Some(OwnFit { fit, booster, pred });
        }
        for &share in shares {
            let rounds = crate::prune::rounds_at(spec.params, share);
            if rounds >= max_rounds {
                break;
            }
            // A new cut is needed unless the last one was the fold's own booster.
            let read_off = match &mut own {
                Some(own) if judged.as_ref().is_none_or(|j| j.cut.is_some()) => {
                    cut_of_own(own, rounds, spec, &valid, &vy, started)?
                }
                _ => None,
            };
            if let Some((cut, pred)) = read_off {
                for (&i, &p) in valid_idx.iter().zip(&pred) {
                    oof[i] = p;
                }
                tracing::info!(
                    "{}: fold 1/{k} cut at {rounds} rounds ({:.0} % of those expected), read off its booster: AUC {:.4}",
                    spec.label,
                    share * 100.0,
                    cut.auc,
                );
                judged = Some(cut);
            } else if judged.as_ref().is_none_or(|j| j.cut.is_some()) {
                let (cut, _) = fit_fold(rounds, &mut oof)?;
                tracing::info!(
                    "{}: fold 1/{k} cut at {rounds} rounds ({:.0} % of those expected): AUC {:.4}, {:.1} s",
                    spec.label,
                    share * 100.0,
                    cut.auc,
                    cut.seconds
                );
                judged = Some(cut);
            }
            let Some(cut) = &judged else { continue };
            let progress = Progress {
                step: share,
                oof: &oof,
                folds: std::slice::from_ref(cut),
            };
            if !keep_going(&progress) {
                fits.push(cut.clone());
                return Ok(CvResult {
                    oof,
                    folds: fits,
                    binning: binning.get(),
                });
            }
        }
        let fit = match (own, judged.filter(|j| j.cut.is_none())) {
            (Some(OwnFit { fit, pred, .. }), _) => {
                for (&i, &p) in valid_idx.iter().zip(&pred) {
                    oof[i] = p;
                }
                fit
            }
            (None, Some(own)) => own,
            (None, None) => fit_fold(max_rounds, &mut oof)?.0,
        };
        tracing::info!(
            "{}: fold {}/{k} AUC {:.4}, {} rounds, {:.1} s",
            spec.label,
            f + 1,
            fit.auc,
            fit.best_iteration,
            fit.seconds
        );
        fits.push(fit);
        let progress = Progress {
            step: (f + 1) as f64,
            oof: &oof,
            folds: &fits,
        };
        if f + 1 < k && !keep_going(&progress) {
            break;
        }
    }
    Ok(CvResult {
        oof,
        folds: fits,
        binning: binning.get(),
    })
}

/// A fold's own booster, trained to the end, with its fit and its predictions of the scored rows.
struct OwnFit {
    fit: FoldFit,
    booster: lightgbm3::Booster,
    pred: Vec<f64>,
}

/// The cut at `rounds` of a fold whose own booster (`own`) is at hand, and the cut's
/// predictions of the scored rows, when reading it off that booster gives exactly the booster a
/// fit cut at `rounds` would train: its first `rounds` trees when it has at least that many
/// (training is deterministic and the cut does not change the rounds before it), itself when
/// early stopping ended it early enough that the cut fit stops there too. `None` when it ended
/// between (a cut fit would have run to its cut without stopping, and kept rounds the fold's
/// booster rolled back): that cut is trained.
fn cut_of_own(
    own: &mut OwnFit,
    rounds: u32,
    spec: CvSpec,
    valid: &Scored,
    vy: &[u8],
    started: Instant,
) -> Result<Option<(FoldFit, Vec<f64>)>> {
    let OwnFit {
        fit: own,
        booster,
        pred: own_pred,
    } = own;
    let trees = own.best_iteration;
    if trees < rounds {
        if trees + spec.params.early_stopping_rounds > rounds {
            return Ok(None);
        }
        // Stopped early before the cut: the cut fit is this booster, its predictions at hand.
        return Ok(Some((own.clone(), own_pred.to_vec())));
    }
    booster
        .set_max_iterations(rounds as i32)
        .map_err(Error::lightgbm("cutting the fold's booster"))?;
    let pred = valid.predict(booster)?;
    let curve = learning_curve(booster, valid, vy, rounds, spec.curve_points);
    booster
        .set_max_iterations(trees as i32)
        .map_err(Error::lightgbm(
            "restoring the fold's booster after its cut",
        ))?;
    let fit = FoldFit {
        fold: own.fold,
        auc: roc_auc(&pred, vy),
        best_iteration: rounds,
        seconds: started.elapsed().as_secs_f64(),
        cut: (rounds < spec.params.max_rounds).then_some(rounds),
        curve: curve?,
    };
    Ok(Some((fit, pred)))
}

/// The rows of fold `f` under `seed`: (fitted on, stopping early on, scored).
pub fn fold_rows(
    y: &[u8],
    folds: &[u8],
    f: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (train_idx, valid_idx) = split(folds, f as u8);
    let (fit, stop) = stopping_split(&train_idx, y, seed_of(&[seed, f as u64]));
    (fit, stop, valid_idx)
}

/// Rows of the training matrix a fold's booster scores, read in place.
struct Scored<'a> {
    data: &'a TrainingData,
    idx: &'a [usize],
}

impl Scored<'_> {
    /// The booster's probabilities for the rows, in their order: each row's prediction is its
    /// own, so scoring them a chunk at a time gives the same values as scoring them at once.
    fn predict(&self, booster: &lightgbm3::Booster) -> Result<Vec<f64>> {
        self.predict_by(booster, crate::data::CHUNK_ROWS)
    }

    fn predict_by(&self, booster: &lightgbm3::Booster, chunk_rows: usize) -> Result<Vec<f64>> {
        let nf = self.data.n_features();
        let mut out = Vec::with_capacity(self.idx.len());
        crate::data::in_chunks(&self.data.x, nf, self.idx, chunk_rows, |_, rows| {
            out.extend(lgbm::predict(booster, rows, nf)?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// AUC and log-loss of the booster's first `trees` trees cut at evenly spaced rounds, on the
/// validation rows. Every point predicts with the first `round` trees, so `points` bounds the
/// cost (about `points / 2` full predictions).
fn learning_curve(
    booster: &mut lightgbm3::Booster,
    x: &Scored,
    y: &[u8],
    trees: u32,
    points: usize,
) -> Result<Vec<CurvePoint>> {
    let n = trees as usize;
    if points == 0 || n == 0 || y.is_empty() {
        return Ok(Vec::new());
    }
    let stride = n.div_ceil(points);
    let mut rounds: Vec<usize> = (1..=n).step_by(stride).collect();
    if rounds.last() != Some(&n) {
        rounds.push(n);
    }
    let mut curve = Vec::with_capacity(rounds.len());
    for r in rounds {
        booster
            .set_max_iterations(r as i32)
            .map_err(Error::lightgbm(
                "cutting the booster for its learning curve",
            ))?;
        let p = x.predict(booster)?;
        curve.push(CurvePoint {
            round: r as u32,
            auc: roc_auc(&p, y),
            logloss: crate::metrics::log_loss(&p, y),
        });
    }
    booster
        .set_max_iterations(n as i32)
        .map_err(Error::lightgbm(
            "restoring the booster after its learning curve",
        ))?;
    Ok(curve)
}

pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_scored_in_place_a_chunk_at_a_time_are_the_rows_scored_at_once() {
        // 500 rows of 3 features, a booster fitted on them, then 301 of the rows in a scattered
        // order scored in chunks of 7 (the last one short) against the same rows copied out
        // and scored in one call.
        let n = 500;
        let mut x = Vec::with_capacity(3 * n);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let s = ((i * 7919) % 1000) as f64 / 250.0 - 2.0;
            let missing = if i % 11 == 0 {
                f64::NAN
            } else {
                (i % 13) as f64
            };
            x.extend_from_slice(&[s, missing, ((i * 31) % 7) as f64]);
            y.push(u8::from((i * 37) % 100 < (50.0 + 20.0 * s) as usize));
        }
        let data = TrainingData {
            ids: (0..n as i64).collect(),
            y,
            x,
            features: vec!["a".into(), "b".into(), "c".into()],
        };
        let params = LgbmParams {
            num_leaves: 7,
            min_child_samples: 5,
            ..LgbmParams::default()
        }
        .to_lightgbm(1, None, 20);
        let all: Vec<usize> = (0..n).collect();
        let (fx, fy) = data.take(&all);
        let rows = Rows {
            x: &fx,
            y: &fy,
            n_features: 3,
        };
        let booster = lgbm::fit(rows, None, &data.features, &params).unwrap();
        let idx: Vec<usize> = (0..301).map(|i| (i * 283) % n).collect();
        let (copied, _) = data.take(&idx);
        let at_once = lgbm::predict(&booster, &copied, 3).unwrap();
        let scored = Scored {
            data: &data,
            idx: &idx,
        };
        let chunked = scored.predict_by(&booster, 7).unwrap();
        assert_eq!(chunked.len(), idx.len());
        assert!(chunked
            .iter()
            .zip(&at_once)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        // The rows' probabilities differ, so rows read in another order would show.
        assert!(at_once.iter().any(|&p| p != at_once[0]));
        assert_eq!(scored.predict(&booster).unwrap(), at_once);
    }

    /// 2,000 rows of 3 features; labels follow the first feature (`signal`) or not at all.
    fn rows(signal: bool) -> (TrainingData, Vec<u8>) {
        let n = 2000;
        let (mut x, mut y) = (Vec::with_capacity(3 * n), Vec::with_capacity(n));
        for i in 0..n {
            let s = ((i * 7919) % 1000) as f64 / 250.0 - 2.0;
            let (b, c) = (((i * 13) % 17) as f64, ((i * 31) % 7) as f64);
            x.extend_from_slice(&[s, b, c]);
            let z = if signal {
                s + 0.2 * (b - 8.0) - 0.4 * (c - 3.0)
            } else {
                -1.0
            };
            let u = ((i as u64 * 2_654_435_761) % 1000) as f64 / 1000.0;
            y.push(u8::from(u < 1.0 / (1.0 + (-z).exp())));
        }
        let data = TrainingData {
            ids: (0..n as i64).collect(),
            y,
            x,
            features: vec!["a".into(), "b".into(), "c".into()],
        };
        (data, (0..n).map(|i| (i % 3) as u8).collect())
    }

    /// What the pruner is shown at each step: the step, the scored rows' predictions (bits),
    /// and the judged folds' figures but their time.
    type Seen = Vec<(u64, Vec<u64>, Vec<(f64, u32, Option<u32>, usize)>)>;

    fn run_seen(
        data: &TrainingData,
        folds: &[u8],
        params: &LgbmParams,
        go_on: bool,
        stop_at: f64,
    ) -> (Seen, CvResult) {
        let names = data.features.clone();
        let shares = crate::prune::SHARES;
        let spec = CvSpec {
            params,
            strategy: Strategy::None,
            ratio: 0.5,
            seed: 3,
            label: "test",
            curve_points: 4,
            shares: &shares,
            shares_go_on: go_on,
        };
        let mut seen = Seen::new();
        let result = run_pruned(data, folds, 3, &names, spec, &mut |p| {
            seen.push((
                p.step.to_bits(),
                p.oof.iter().map(|v| v.to_bits()).collect(),
                p.folds
                    .iter()
                    .map(|f| (f.auc, f.best_iteration, f.cut, f.curve.len()))
                    .collect(),
            ));
            p.step != stop_at
        })
        .unwrap();
        (seen, result)
    }

    /// A fold's figures but its time: AUC, trees, cut and learning curve.
    type FoldFigures = (f64, u32, Option<u32>, Vec<(u32, f64, f64)>);

    fn figures(r: &CvResult) -> (Vec<u64>, Vec<FoldFigures>) {
        (
            r.oof.iter().map(|v| v.to_bits()).collect(),
            r.folds
                .iter()
                .map(|f| {
                    (
                        f.auc,
                        f.best_iteration,
                        f.cut,
                        f.curve
                            .iter()
                            .map(|c| (c.round, c.auc, c.logloss))
                            .collect(),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn cuts_read_off_the_folds_booster_are_the_cuts_trained() {
        // (labels follow a feature, learning rate): the fold's booster outlives both cuts
        // (read off by truncation); it stops early long before them (it is the cut booster);
        // it stops between a cut and the cut plus the patience (the cut is trained).
        let cases = [(true, 0.2), (false, 0.01), (false, 0.05)];
        for (signal, lr) in cases {
            let (data, folds) = rows(signal);
            let params = LgbmParams {
                num_leaves: 7,
                min_child_samples: 5,
                learning_rate: lr,
                max_rounds: 300,
                early_stopping_rounds: 10,
                ..LgbmParams::default()
            };
            let (trained, a) = run_seen(&data, &folds, &params, false, f64::NAN);
            let (read_off, b) = run_seen(&data, &folds, &params, true, f64::NAN);
            assert_eq!(trained, read_off, "signal {signal}, lr {lr}");
            assert_eq!(figures(&a), figures(&b), "signal {signal}, lr {lr}");
            // Every case judged the first fold at both shares, then after each fold.
            assert_eq!(trained.len(), 4);
            let cuts: Vec<u32> = crate::prune::SHARES
                .iter()
                .map(|&s| crate::prune::rounds_at(&params, s))
                .collect();
            let own = a.folds[0].best_iteration;
            match (signal, lr) {
                (true, _) => assert!(own > cuts[1], "{own} trees, cuts {cuts:?}"),
                (false, 0.01) => assert!(own + 10 <= cuts[0], "{own} trees, cuts {cuts:?}"),
                _ => assert!(
                    own < cuts[0] && cuts[0] < own + 10,
                    "{own} trees, cuts {cuts:?}"
                ),
            }
            // Stopped at the second share, both give the cut booster's figures alone.
            let (s1, c1) = run_seen(&data, &folds, &params, false, crate::prune::SHARES[1]);
            let (s2, c2) = run_seen(&data, &folds, &params, true, crate::prune::SHARES[1]);
            assert_eq!((s1, figures(&c1)), (s2, figures(&c2)));
            assert_eq!(c1.folds.len(), 1);
        }
    }
}
