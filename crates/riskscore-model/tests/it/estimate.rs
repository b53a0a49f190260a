//! Honest estimates: early stopping that never sees the scored fold, nested and held-out
//! estimates equal to hand-built loops, and the coverage check on data whose model is known.

use riskscore_data::synth::rng::{seed_of, Rng};
use riskscore_model::cv::{self, CvSpec};
use riskscore_model::data::TrainingData;
use riskscore_model::estimate::{self, Method};
use riskscore_model::lgbm::{self, LgbmParams};
use riskscore_model::metrics::roc_auc;
use riskscore_model::{folds, train, validate, Strategy, TrainConfig};

/// `n` applicants whose probability of default is known: logit = -2 + 1.5 x0 + x1 - x2 (x
/// uniform in [-1, 1], two more features of noise). Returns the data and the true probabilities.
fn known(n: usize, seed: u64) -> (TrainingData, Vec<f64>) {
    let mut rng = Rng::new(seed);
    let k = 5;
    let (mut x, mut y, mut truth) = (Vec::with_capacity(n * k), Vec::new(), Vec::new());
    for _ in 0..n {
        let row: Vec<f64> = (0..k).map(|_| 2.0 * rng.uniform() - 1.0).collect();
        let p = 1.0 / (1.0 + (-(-2.0 + 1.5 * row[0] + row[1] - row[2])).exp());
        y.push(u8::from(rng.chance(p)));
        truth.push(p);
        x.extend(row);
    }
    let data = TrainingData {
        ids: (1..=n as i64).collect(),
        y,
        x,
        features: (0..k).map(|j| format!("x{j}")).collect(),
    };
    (data, truth)
}

fn quick() -> TrainConfig {
    TrainConfig {
        folds: 3,
        imbalance: Some(Strategy::ClassWeight),
        trials: 0,
        skip_baseline: true,
        bootstrap: 0,
        lgbm: LgbmParams {
            max_rounds: 200,
            early_stopping_rounds: 20,
            learning_rate: 0.1,
            ..LgbmParams::default()
        },
        ..TrainConfig::default()
    }
}

#[test]
fn early_stopping_never_sees_the_scored_fold() {
    // Fold 0's labels are shuffled among its rows: nothing can predict them. A booster stopped
    // early on that fold would pick the round where its noise happens to look best: its
    // predictions would depend on those labels and its AUC be inflated. Stopped on rows of the
    // other folds, its predictions of fold 0 are the same whatever fold 0's labels are, and
    // their AUC is 0.5 on average.
    let params = LgbmParams {
        max_rounds: 400,
        early_stopping_rounds: 40,
        learning_rate: 0.1,
        ..LgbmParams::default()
    };
    let mut aucs = Vec::new();
    for rep in 0..12u64 {
        let (data, _) = known(1500, seed_of(&[11, rep]));
        let fold_of = folds::stratified(&data.y, 5, rep);
        let (_, planted) = folds::split(&fold_of, 0);
        let run = |shuffle: u64| {
            let mut data = data.clone();
            let mut labels: Vec<u8> = planted.iter().map(|&i| data.y[i]).collect();
            folds::shuffle(&mut labels, seed_of(&[99, rep, shuffle]));
            for (&i, &l) in planted.iter().zip(&labels) {
                data.y[i] = l;
            }
            let names = lgbm::safe_names(&data.features);
            let spec = CvSpec {
                params: &params,
                strategy: Strategy::None,
                ratio: 0.5,
                seed: rep,
                label: "planted",
                curve_points: 0,
                shares: &[],
                shares_go_on: false,
            };
            let result = cv::run(&data, &fold_of, 5, &names, spec).unwrap();
            let p: Vec<f64> = planted.iter().map(|&i| result.oof[i]).collect();
            (result, p)
        };
        let (first, p1) = run(1);
        let (second, p2) = run(2);
        // The other folds keep their signal: the boosters did learn.
        assert!(first.folds[1].auc > 0.6, "{:?}", first.folds[1]);
        assert_ne!(first.folds[0].auc, second.folds[0].auc);
        let changed = p1.iter().zip(&p2).filter(|(a, b)| a != b).count();
        assert_eq!(
            changed,
            0,
            "repetition {rep}: {changed} of fold 0's {} predictions changed with its own labels",
            p1.len()
        );
        aucs.push(first.folds[0].auc);
    }
    let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
    // One fold's AUC has a standard error of about 0.045 here, the mean of 12 about 0.013.
    assert!(
        (mean - 0.5).abs() < 0.03,
        "planted folds' mean AUC {mean:.4} (each: {aucs:.3?})"
    );
}

/// The calibrated probabilities, threshold and labels of `held` under a run on `keep`, with
/// the inner settings spelt out.
fn by_hand(
    data: &TrainingData,
    cfg: &TrainConfig,
    keep: &[usize],
    held: &[usize],
) -> (Vec<f64>, Vec<u8>, f64) {
    let inner_cfg = TrainConfig {
        estimate: Method::Cv,
        skip_baseline: true,
        bootstrap: 0,
        curve_points: 0,
        ..cfg.clone()
    };
    let inner = data.subset(keep);
    let t = train(&inner, &inner_cfg).unwrap();
    let (x, y) = data.take(held);
    let raw = lgbm::predict(&t.booster, &x, data.n_features()).unwrap();
    let p = raw.iter().map(|&v| t.calibration.apply(v)).collect();
    (p, y, t.summary.threshold)
}

#[test]
fn the_nested_estimate_is_the_hand_built_nested_loop() {
    let (data, _) = known(900, 3);
    let cfg = TrainConfig {
        estimate: Method::Nested,
        ..quick()
    };
    let run = train(&data, &cfg).unwrap();
    let e = run.summary.estimate.clone().unwrap();
    assert_eq!(e.method, Method::Nested);
    assert!(e.selection_aware);
    assert_eq!(e.rows, 900);
    assert_eq!(e.parts.len(), 3);
    let outer = estimate::outer_folds(&data.y, 3, cfg.seed);
    let (mut cost, mut n) = (0.0, 0usize);
    for f in 0..3u8 {
        let (keep, held) = folds::split(&outer, f);
        let (p, y, threshold) = by_hand(&data, &cfg, &keep, &held);
        let part = &e.parts[f as usize];
        assert_eq!(part.rows, held.len());
        assert_eq!(part.threshold, threshold);
        assert!((part.auc - roc_auc(&p, &y)).abs() < 1e-12);
        cost += cfg.cost.per_client(&p, &y, threshold) * y.len() as f64;
        n += y.len();
    }
    assert!((e.cost_per_client - cost / n as f64).abs() < 1e-12);
    assert!(e.cost_interval.low < e.cost_per_client && e.cost_per_client < e.cost_interval.high);
    assert!(e.cost_prediction.low <= e.cost_interval.low);

    // The estimate changes nothing of the model that ships.
    let plain = train(
        &data,
        &TrainConfig {
            estimate: Method::Cv,
            ..quick()
        },
    )
    .unwrap();
    assert_eq!(
        plain.booster.save_string().unwrap(),
        run.booster.save_string().unwrap()
    );
    assert_eq!(plain.summary.threshold, run.summary.threshold);
    assert!(!plain.summary.estimate.unwrap().selection_aware);
}

#[test]
fn the_holdout_estimate_scores_rows_no_choice_was_made_on() {
    let (data, _) = known(800, 4);
    let cfg = TrainConfig {
        estimate: Method::Holdout,
        holdout: 0.25,
        ..quick()
    };
    let e = train(&data, &cfg).unwrap().summary.estimate.unwrap();
    let (keep, held) = estimate::holdout_split(&data.y, 0.25, cfg.seed);
    assert_eq!(e.method, Method::Holdout);
    assert_eq!(e.rows, held.len());
    assert!((195..=205).contains(&held.len()), "{}", held.len());
    let (p, y, threshold) = by_hand(&data, &cfg, &keep, &held);
    assert!((e.cost_per_client - cfg.cost.per_client(&p, &y, threshold)).abs() < 1e-12);
    assert!((e.auc - roc_auc(&p, &y)).abs() < 1e-12);
}

#[test]
fn auto_is_nested_on_small_data_only() {
    assert_eq!(Method::Auto.resolve(1_000), Method::Nested);
    assert_eq!(
        Method::Auto.resolve(estimate::NESTED_MAX_ROWS),
        Method::Nested
    );
    assert_eq!(
        Method::Auto.resolve(estimate::NESTED_MAX_ROWS + 1),
        Method::Cv
    );
    assert_eq!(Method::Holdout.resolve(10), Method::Holdout);
}

#[test]
fn the_coverage_check_holds_on_data_whose_model_is_known() {
    let (data, truth) = known(2400, 8);
    let cfg = TrainConfig {
        estimate: Method::Nested,
        ..quick()
    };
    let coverage = validate::run(&data, &cfg, 8, 0.25).unwrap();
    assert_eq!(coverage.splits.len(), 8);
    for s in &coverage.splits {
        assert!(
            (595..=605).contains(&s.held_out_rows),
            "{}",
            s.held_out_rows
        );
        assert_eq!(s.method, "nested");
        assert!(s.cost_low < s.estimated_cost && s.estimated_cost < s.cost_high);
        assert_eq!(
            s.covered,
            s.cost_low <= s.held_out_cost && s.held_out_cost <= s.cost_high
        );
    }
    // The held-out rows are really held out: the known model's AUC on them bounds the trained
    // one (it is the best any model can do, up to noise).
    for (s, split) in coverage.splits.iter().enumerate() {
        let (_, held) = validate::split_rows(&data.y, 0.25, cfg.seed, s);
        let p: Vec<f64> = held.iter().map(|&i| truth[i]).collect();
        let y: Vec<u8> = held.iter().map(|&i| data.y[i]).collect();
        assert!(roc_auc(&p, &y) > split.held_out_auc - 0.01, "split {s}");
    }
    assert!(coverage.cost_coverage >= 0.75, "{coverage:#?}");
    assert!(coverage.mean_auc_gap.abs() < 0.02, "{coverage:#?}");
}
