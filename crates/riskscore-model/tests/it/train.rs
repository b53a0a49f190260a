//! The training run: metrics, threshold, trials, out-of-fold predictions, refusals.

use riskscore_model::cost::CostMatrix;
use riskscore_model::data::TrainingData;
use riskscore_model::lgbm::LgbmParams;
use riskscore_model::run::train_to_bundle;
use riskscore_model::{Error, Strategy, TrainConfig};

use crate::common::*;

#[test]
fn summary_agrees_with_the_out_of_fold_file() {
    let run = train_quick(900, &quick_config());
    let s = &run.trained.summary;
    // The table has a real signal; grant-everyone is the ceiling on cost.
    assert!(s.cv_auc > 0.65, "CV AUC {}", s.cv_auc);
    let grant_all = s.baselines[0].cost_per_client;
    assert!(s.cost_per_client < grant_all);
    assert!(s.threshold > 0.0 && s.threshold < 1.0);
    // Strategy comparison (one) + two search trials.
    assert_eq!(s.trials.len(), 3);
    assert_eq!(s.trials[0].kind, "strategy");
    // Recompute the cost at the threshold from oof.csv: it must be the reported one.
    let text = std::fs::read_to_string(run.model.join("oof.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("client_id,defaulted,fold,probability_raw,probability,stopped")
    );
    let (mut cost, mut n) = (0.0, 0.0);
    let mut per_fold = [(0usize, 0usize); 3];
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let y: u8 = f[1].parse().unwrap();
        let fold: usize = f[2].parse().unwrap();
        let p: f64 = f[4].parse().unwrap();
        per_fold[fold].0 += 1;
        per_fold[fold].1 += usize::from(y);
        let refused = p >= s.threshold;
        cost += match (refused, y == 1) {
            (false, true) => 10.0,
            (true, false) => 1.0,
            _ => 0.0,
        };
        n += 1.0;
    }
    assert_eq!(n as usize, s.n_rows);
    assert!((cost / n - s.cost_per_client).abs() < 1e-12);
    // Stratified: fold default counts differ by at most one.
    let counts: Vec<usize> = per_fold.iter().map(|f| f.1).collect();
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "{counts:?}"
    );
    // The bootstrap interval brackets the estimate.
    let u = &s.uncertainty;
    assert!(
        u.cost_per_client.low <= s.cost_per_client && s.cost_per_client <= u.cost_per_client.high
    );
}

#[test]
fn auto_compares_the_four_strategies_and_keeps_the_cheapest() {
    let cfg = TrainConfig {
        imbalance: None,
        trials: 0,
        skip_baseline: true,
        ..quick_config()
    };
    let run = train_quick(700, &cfg);
    let s = &run.trained.summary;
    let names: Vec<&str> = s.trials.iter().map(|t| t.strategy.name()).collect();
    assert_eq!(names, ["none", "class_weight", "undersample", "smote"]);
    // The cheapest of those that ran every fold (successive halving stops the others).
    let cheapest = s
        .trials
        .iter()
        .filter(|t| t.pruned_after.is_none())
        .min_by(|a, b| a.cost_per_client.total_cmp(&b.cost_per_client))
        .unwrap();
    assert_eq!(s.strategy, cheapest.strategy);
    // Distorting strategies get a calibration unless none helps; `none` never does under auto.
    if s.strategy == Strategy::None {
        assert_eq!(s.calibration, "none");
    }
}

#[test]
fn a_different_cost_matrix_moves_the_threshold() {
    // Missed defaulters four times as expensive -> refuse more -> lower threshold.
    let base = train_quick(
        1500,
        &TrainConfig {
            trials: 0,
            skip_baseline: true,
            ..quick_config()
        },
    );
    let dearer = TrainConfig {
        trials: 0,
        skip_baseline: true,
        cost: CostMatrix {
            fn_cost: 40.0,
            ..CostMatrix::default()
        },
        ..quick_config()
    };
    let (_, s2) = train_to_bundle(
        &base.frame,
        &base.pipeline,
        &dearer,
        &base.dir.path().join("m2"),
    )
    .unwrap();
    assert!(
        s2.threshold < base.summary.threshold,
        "{} vs {}",
        s2.threshold,
        base.summary.threshold
    );
}

#[test]
fn invalid_parameters_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_table(dir.path(), 300, 1);
    let (pipeline, frame) = load(&path);
    let out = dir.path().join("never");
    for (cfg, what) in [
        (
            TrainConfig {
                folds: 1,
                ..quick_config()
            },
            "folds",
        ),
        (
            TrainConfig {
                resample_ratio: 0.0,
                ..quick_config()
            },
            "resample-ratio",
        ),
        (
            TrainConfig {
                cost: CostMatrix {
                    fn_cost: -1.0,
                    ..CostMatrix::default()
                },
                ..quick_config()
            },
            "cost",
        ),
        (
            TrainConfig {
                lgbm: LgbmParams {
                    num_leaves: 1,
                    ..LgbmParams::default()
                },
                ..quick_config()
            },
            "num-leaves",
        ),
        (
            TrainConfig {
                review_band: 0.7,
                ..quick_config()
            },
            "review-band",
        ),
    ] {
        let err = train_to_bundle(&frame, &pipeline, &cfg, &out).unwrap_err();
        assert!(matches!(err, Error::Param { .. }), "{err}");
        assert!(err.to_string().contains(what), "{err}");
        assert!(!out.exists(), "nothing is written for {what}");
    }
}

#[test]
fn more_folds_than_defaulters_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("few.csv");
    std::fs::write(
        &path,
        "id,y,x\n1,1,0.5\n2,0,0.1\n3,0,0.2\n4,1,0.9\n5,0,0.3\n6,0,0.4\n",
    )
    .unwrap();
    let opts = riskscore_model::input::TableOptions {
        id: Some("id".into()),
        target: Some("y".into()),
        ..Default::default()
    };
    let (pipeline, frame) = riskscore_model::input::load(&path, &opts).unwrap();
    let err =
        train_to_bundle(&frame, &pipeline, &quick_config(), &dir.path().join("m")).unwrap_err();
    assert!(
        err.to_string()
            .contains("3 folds need at least 3 rows of each class; the data has 2 defaulters"),
        "{err}"
    );
}

#[test]
fn targets_must_be_zero_or_one_with_both_classes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "id,y,x\n1,0,0.5\n2,2,0.1\n").unwrap();
    let opts = riskscore_model::input::TableOptions {
        id: Some("id".into()),
        target: Some("y".into()),
        ..Default::default()
    };
    let err = riskscore_model::input::load(&path, &opts).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column \"y\": the target must be 0 or 1; data row 2 has 2"
    );
    std::fs::write(&path, "id,y,x\n1,0,0.5\n2,0,0.1\n").unwrap();
    let (pipeline, frame) = riskscore_model::input::load(&path, &opts).unwrap();
    let err = TrainingData::from_frame(&frame, "id", "y", &pipeline.features).unwrap_err();
    assert!(err.to_string().contains("single class"), "{err}");
}

/// Records what an observer is told.
#[derive(Default)]
struct Recorder(
    Vec<(
        riskscore_model::train::Trial,
        Vec<riskscore_model::cv::FoldFit>,
    )>,
);

impl riskscore_model::train::Observer for Recorder {
    fn trial_done(
        &mut self,
        t: &riskscore_model::train::Trial,
        f: &[riskscore_model::cv::FoldFit],
    ) {
        self.0.push((t.clone(), f.to_vec()));
    }
}

#[test]
fn the_observer_sees_every_trial_with_learning_curves_ending_at_the_fold_model() {
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, frame) = load(&write_table(dir.path(), 900, 7));
    let cfg = TrainConfig {
        curve_points: 8,
        ..quick_config()
    };
    let mut rec = Recorder::default();
    let (trained, _) = riskscore_model::run::train_to_bundle_observed(
        &frame,
        &pipeline,
        &cfg,
        &dir.path().join("m"),
        &mut rec,
    )
    .unwrap();
    let trials = &trained.summary.trials;
    assert_eq!(rec.0.len(), trials.len());
    for ((seen, folds), t) in rec.0.iter().zip(trials) {
        assert_eq!(seen.number, t.number);
        let complete = folds.iter().filter(|f| f.cut.is_none()).count();
        assert_eq!(complete, t.pruned_after.unwrap_or(cfg.folds));
        // A booster cut part-way has its curve too, ending at its cut.
        for f in folds {
            // At most 8 points plus the last round, increasing, ending at the fold's booster.
            let rounds: Vec<u32> = f.curve.iter().map(|p| p.round).collect();
            let min = (f.best_iteration as usize).min(2);
            assert!(rounds.len() >= min && rounds.len() <= 9, "{rounds:?}");
            assert!(rounds.windows(2).all(|w| w[0] < w[1]), "{rounds:?}");
            assert_eq!(rounds[0], 1);
            let last = f.curve.last().unwrap();
            assert_eq!(last.round, f.best_iteration);
            assert!(
                (last.auc - f.auc).abs() < 1e-12,
                "{} vs {}",
                last.auc,
                f.auc
            );
            assert!(f
                .curve
                .iter()
                .all(|p| p.logloss > 0.0 && p.logloss.is_finite()));
        }
    }
    // Without curve points asked for, none are computed.
    let mut rec = Recorder::default();
    riskscore_model::run::train_to_bundle_observed(
        &frame,
        &pipeline,
        &quick_config(),
        &dir.path().join("m2"),
        &mut rec,
    )
    .unwrap();
    assert!(rec
        .0
        .iter()
        .all(|(_, f)| f.iter().all(|f| f.curve.is_empty())));
}

#[test]
fn successive_halving_stops_the_worse_configurations_and_chooses_a_complete_one() {
    use riskscore_model::prune::{Prune, REDUCTION};
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, frame) = load(&write_table(dir.path(), 1200, 7));
    // The AUC objective: a configuration's loss at the first rung is minus its first fold's AUC,
    // which the observer sees, so the rule can be replayed here.
    let cfg = TrainConfig {
        imbalance: None,
        trials: 8,
        skip_baseline: true,
        bootstrap: 0,
        objective: riskscore_model::search::Objective::Auc,
        ..quick_config()
    };
    assert_eq!(cfg.prune, Prune::Asha, "successive halving is the default");
    let train = |cfg: &TrainConfig, name: &str| {
        let mut rec = Recorder::default();
        let (trained, _) = riskscore_model::run::train_to_bundle_observed(
            &frame,
            &pipeline,
            cfg,
            &dir.path().join(name),
            &mut rec,
        )
        .unwrap();
        (trained, rec)
    };
    let (pruned, rec) = train(&cfg, "asha");
    let s = &pruned.summary;
    assert_eq!(s.prune, "asha");
    assert_eq!(s.trials.len(), 12);
    // Three folds: rungs at 1/9 and 1/3 of the first fold's expected rounds (boosters cut
    // short), then after the first fold. Replay Optuna's rule on the losses each trial had at
    // the rungs it reached: it goes on from a rung iff among the best ⌊n/3⌋ there (the best
    // while n < 3).
    let steps = [1.0 / 9.0, 1.0 / 3.0, 1.0];
    let mut seen: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    let mut cut = 0;
    for ((t, folds), summary) in rec.0.iter().zip(&s.trials) {
        assert_eq!(t.pruned_after, summary.pruned_after);
        assert_eq!(t.pruned_at, summary.pruned_at);
        // Every rung in order up to where it stopped (a share whose cut would be the whole
        // fold is skipped, none here).
        let reached: Vec<f64> = t.judged.iter().map(|j| j.0).collect();
        let last = t.pruned_at.unwrap_or(1.0);
        let upto: Vec<f64> = steps.iter().copied().filter(|&s| s <= last).collect();
        assert_eq!(reached, upto, "trial {}", t.number);
        for (i, &(step, loss)) in t.judged.iter().enumerate() {
            let r = steps.iter().position(|&s| s == step).unwrap();
            seen[r].push(loss);
            let mut sorted = seen[r].clone();
            sorted.sort_by(f64::total_cmp);
            let goes_on = loss <= sorted[(sorted.len() / REDUCTION).max(1) - 1];
            let is_last = i + 1 == t.judged.len();
            assert_eq!(
                goes_on,
                !(is_last && t.pruned_at.is_some()),
                "trial {}",
                t.number
            );
        }
        match (t.pruned_at, t.pruned_after) {
            (Some(at), Some(0)) => {
                // Stopped part-way: its one booster was cut at the share's rounds, and its
                // figures are that booster's.
                cut += 1;
                assert!(at < 1.0);
                assert_eq!(folds.len(), 1);
                let rounds = riskscore_model::prune::rounds_at(&t.params, at);
                assert_eq!(folds[0].cut, Some(rounds));
                assert_eq!(folds[0].best_iteration, rounds);
                assert_eq!(t.cv_auc, folds[0].auc);
                assert_eq!(t.judged.last().unwrap().1, -folds[0].auc);
            }
            (Some(_), Some(done)) => {
                // Stopped with its first fold done (after it, or at a share when its booster
                // stopped early before the cut): the figures are the fold's.
                assert_eq!((done, folds.len()), (1, 1));
                assert_eq!(folds[0].cut, None);
                assert_eq!(t.cv_auc, folds[0].auc);
                assert_eq!(t.judged.last().unwrap().1, -folds[0].auc);
            }
            (None, None) => {
                assert_eq!(folds.len(), cfg.folds);
                assert!(folds.iter().all(|f| f.cut.is_none()));
                // Its loss after the first fold is that fold's AUC.
                assert_eq!(t.judged.last().unwrap(), &(1.0, -folds[0].auc));
            }
            other => panic!("trial {}: {other:?}", t.number),
        }
    }
    assert!(cut >= 1, "none stopped part-way through the first fold");
    let stopped = s.trials.iter().filter(|t| t.pruned_after.is_some()).count();
    assert!(stopped >= 4, "{stopped} of 12 stopped");
    // The chosen configuration ran every fold and is the best of those that did.
    let complete: Vec<_> = s
        .trials
        .iter()
        .filter(|t| t.pruned_after.is_none())
        .collect();
    let best = complete
        .iter()
        .max_by(|a, b| a.cv_auc.total_cmp(&b.cv_auc))
        .unwrap();
    assert_eq!((&s.params, s.strategy), (&best.params, best.strategy));
    assert_eq!(s.cv_auc, best.cv_auc);
    assert_eq!(s.fold_metrics.len(), cfg.folds);
    // The report says what was stopped and when.
    let report = std::fs::read_to_string(dir.path().join("asha/report.html")).unwrap();
    assert!(report.contains("Successive halving"), "no pruning note");
    assert!(report.contains("of 3, pruned in fold 1 at"));
    assert!(report.contains(&format!("Stopped early: {stopped} of 12")));

    // Without pruning every configuration runs every fold, and a strategy both runs completed
    // has the same figures bit for bit (same folds, same seeds).
    let (full, _) = train(
        &TrainConfig {
            prune: Prune::None,
            ..cfg.clone()
        },
        "none",
    );
    let f = &full.summary;
    assert_eq!(f.prune, "none");
    assert!(f.trials.iter().all(|t| t.pruned_after.is_none()));
    for (a, b) in s.trials.iter().zip(&f.trials).take(4) {
        if a.pruned_after.is_none() {
            assert_eq!((a.strategy, a.cv_auc), (b.strategy, b.cv_auc));
        }
    }
    let report = std::fs::read_to_string(dir.path().join("none/report.html")).unwrap();
    assert!(report.contains("Every configuration ran every fold"));
    // Every fit built its datasets and was timed: each configuration's folds and the final
    // fit without pruning; fewer with it (its cuts included).
    assert_eq!(f.binning.fits, f.trials.len() * cfg.folds + 1);
    assert!(f.binning.seconds > 0.0 && f.binning.seconds < f.seconds);
    assert!(s.binning.fits < f.binning.fits);
    assert!(report.contains(&format!(
        "LightGBM building the binned datasets of its {} fits",
        f.binning.fits
    )));
}
