//! The training report: one self-contained HTML file.

use riskscore_report::{esc, kpis, num, table, BarChart, LineChart, Page, Series};

use crate::cost::{cost_curve, CostMatrix};
use crate::metrics::{order_desc, pr_points, roc_points};
use crate::train::Trained;

pub fn render(
    t: &Trained,
    y: &[u8],
    cost: &CostMatrix,
    features: &[String],
    fairness: &crate::fairness::Fairness,
) -> String {
    let s = &t.summary;
    let mut page = Page::new("riskscore training report");
    let grant_all = s.baselines.first().map_or(f64::NAN, |b| b.cost_per_client);
    if let Some(e) = &s.estimate {
        page.section("What to expect on new applicants", &estimate_section(e));
    }
    page.raw(&kpis(&[
        (
            "CV ROC AUC, mean ± std over folds (selection-biased)",
            format!("{} ± {}", num(s.cv_auc, 4), num(s.cv_auc_std, 4)),
        ),
        (
            "decision threshold (refuse at or above)",
            num(s.threshold, 4),
        ),
        (
            "cost per client at the threshold (in-sample)",
            num(s.cost_per_client, 4),
        ),
        ("cost per client, granting everyone", num(grant_all, 4)),
        ("imbalance strategy", s.strategy.name().to_string()),
        ("calibration", s.calibration.clone()),
    ]));
    page.raw(&format!(
        "<p class=\"note\">{} labelled applicants ({} defaulters, {:.2} %), {} features, {} stratified folds (seed {}). \
Final model: {} rounds on all rows. Costs: missed defaulter {}, refused good client {}, refused defaulter {}, granted good client {}. \
Trained in {:.0} s{}.</p>",
        s.n_rows, s.n_positives, 100.0 * s.n_positives as f64 / s.n_rows as f64, s.n_features, s.folds, s.seed,
        s.rounds, cost.fn_cost, cost.fp_cost, cost.tp_cost, cost.tn_cost, s.seconds,
        if s.binning.fits > 0 {
            format!(
                ", of which {:.0} s LightGBM building the binned datasets of its {} fits (each fit bins its own rows)",
                s.binning.seconds, s.binning.fits
            )
        } else {
            String::new()
        }
    ));
    page.section("Decision threshold", &threshold_section(t, y, cost));
    page.section("Discrimination", &curves(&t.oof, y));
    page.section("Calibration", &calibration_section(t, y));
    page.section(
        "Confusion matrix at the threshold (out-of-fold)",
        &confusion(t),
    );
    page.section(
        "Metrics per fold (calibration and threshold fitted on the other folds)",
        &fold_table(t),
    );
    page.section("Fairness at the decision threshold", &fairness.html());
    page.section("Baselines", &baselines(t));
    if let Some(c) = &t.challenger {
        page.section("Challenger", &challenger(t, c, y));
    }
    page.section(
        "Trials: imbalance strategies and hyperparameter search",
        &trials(t),
    );
    page.section(
        "Feature importance (gain, final model)",
        &importance(t, features),
    );
    page.finish()
}

fn estimate_section(e: &crate::estimate::Estimate) -> String {
    let honest = if e.selection_aware {
        "Honest estimate: no choice of the procedure was made on the rows these figures are measured on."
    } else {
        "Selection-biased estimate: the configuration was chosen on the rows these figures are measured on, so they are optimistic."
    };
    let range =
        |i: crate::cost::Interval, d: usize| format!("[{}, {}]", num(i.low, d), num(i.high, d));
    let head = kpis(&[
        ("ROC AUC", num(e.auc, 4)),
        (
            "cost per client at the threshold",
            num(e.cost_per_client, 4),
        ),
        ("recall of defaulters", num(e.recall, 3)),
        ("approval rate", num(e.approval_rate, 3)),
        ("method", e.method.name().to_string()),
    ]);
    let intervals = table(
        &["95 % interval", "ROC AUC", "cost per client"],
        &[
            vec![
                "expected value".into(),
                range(e.auc_interval, 4),
                range(e.cost_interval, 4),
            ],
            vec![
                format!("measured on a new batch of {} applicants", e.new_batch),
                range(e.auc_prediction, 4),
                range(e.cost_prediction, 4),
            ],
        ],
        &[],
    );
    let parts: Vec<Vec<String>> = e
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            vec![
                (i + 1).to_string(),
                p.rows.to_string(),
                p.defaulters.to_string(),
                num(p.auc, 4),
                num(p.cost_per_client, 4),
                num(p.recall, 3),
                num(p.approval_rate, 3),
                num(p.threshold, 4),
                esc(&p.chosen),
            ]
        })
        .collect();
    let chart = BarChart {
        title: "Cost per client on each scored part".into(),
        value_label: "cost per client".into(),
        bars: e
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("part {}", i + 1), p.cost_per_client))
            .collect(),
        description: format!(
            "Cost per client of each part scored by a model that did not choose on it; their mean is {}.",
            num(e.cost_per_client, 4)
        ),
    };
    format!(
        "<p><strong>{honest}</strong> {}.</p>{head}{intervals}<p class=\"note\">The interval of the expected value accounts for the \
variability of the procedure across parts (other data, other choices, another model) and for the sampling of the {} scored rows; \
the interval for a new batch adds one model's own deviation and the sampling of {} new applicants (<code>--new-batch</code>). \
Figures elsewhere in this report marked in-sample or selection-biased are read on the predictions the choices were made on.</p>\
{}{}",
        esc(&e.how),
        e.rows,
        e.new_batch,
        table(
            &["part", "rows", "defaulters", "ROC AUC", "cost/client", "recall", "approval", "threshold", "chosen there"],
            &parts,
            &[],
        ),
        chart.svg()
    )
}

fn threshold_section(t: &Trained, y: &[u8], cost: &CostMatrix) -> String {
    let s = &t.summary;
    let mut c = LineChart::new(
        "Mean cost per client against the threshold",
        "threshold",
        "cost per client",
    );
    let hi = (s.threshold * 3.0).clamp(0.2, 1.0);
    c.series.push(Series::line(
        "model (out-of-fold)",
        cost_curve(&t.oof, y, cost, 201, hi),
    ));
    c.markers
        .push((s.threshold, format!("chosen {}", num(s.threshold, 3))));
    if s.bayes_threshold <= hi {
        c.markers.push((s.bayes_threshold, "cost ratio".into()));
    }
    c.x_range = Some((0.0, hi));
    c.description = format!(
        "Cost per client falls to a minimum of {} at threshold {}, then rises as more good clients are refused.",
        num(s.cost_per_client, 4),
        num(s.threshold, 4)
    );
    let u = &s.uncertainty;
    format!(
        "{}<p>The threshold minimises the mean cost per client on the out-of-fold probabilities. \
Bootstrap ({} resamples of those predictions) 95 % intervals: threshold [{}, {}], cost per client at the chosen threshold [{}, {}] \
(in-sample: the threshold was chosen on the same predictions; see the first section for new applicants). \
A perfectly calibrated model would refuse at the cost ratio {}. Review band: probabilities within ±{} of the threshold.</p>",
        c.svg(),
        u.resamples,
        num(u.threshold.low, 4),
        num(u.threshold.high, 4),
        num(u.cost_per_client.low, 4),
        num(u.cost_per_client.high, 4),
        num(s.bayes_threshold, 4),
        num(s.review_band, 3)
    )
}

fn curves(p: &[f64], y: &[u8]) -> String {
    let mut roc = LineChart::new("ROC curve", "false positive rate", "true positive rate");
    roc.series
        .push(Series::line("model (out-of-fold)", roc_points(p, y, 300)));
    roc.series
        .push(Series::line("chance", vec![(0.0, 0.0), (1.0, 1.0)]).dashed());
    roc.x_range = Some((0.0, 1.0));
    roc.y_range = Some((0.0, 1.0));
    roc.description =
        "ROC curve of the out-of-fold probabilities against the chance diagonal.".into();
    let mut pr = LineChart::new("Precision-recall curve", "recall", "precision");
    pr.series
        .push(Series::line("model (out-of-fold)", pr_points(p, y, 300)));
    let rate = y.iter().filter(|&&v| v == 1).count() as f64 / y.len() as f64;
    pr.series
        .push(Series::line("base rate", vec![(0.0, rate), (1.0, rate)]).dashed());
    pr.x_range = Some((0.0, 1.0));
    pr.y_range = Some((0.0, 1.0));
    pr.description = format!(
        "Precision against recall; the base rate of default is {:.3}.",
        rate
    );
    format!("<div class=\"charts\">{}{}</div>", roc.svg(), pr.svg())
}

/// Reliability: mean predicted against observed default rate in ten bins of equal count.
fn reliability(p: &[f64], y: &[u8]) -> Vec<(f64, f64)> {
    let mut idx = order_desc(p);
    idx.reverse();
    let bins = 10.min(idx.len().max(1));
    idx.chunks(idx.len().div_ceil(bins).max(1))
        .map(|chunk| {
            let n = chunk.len() as f64;
            let mp = chunk.iter().map(|&i| p[i]).sum::<f64>() / n;
            let my = chunk.iter().map(|&i| f64::from(y[i])).sum::<f64>() / n;
            (mp, my)
        })
        .collect()
}

fn calibration_section(t: &Trained, y: &[u8]) -> String {
    let s = &t.summary;
    let before = reliability(&t.oof_raw, y);
    let after = reliability(&t.oof, y);
    let hi = before
        .iter()
        .chain(&after)
        .flat_map(|p| [p.0, p.1])
        .fold(0.05, f64::max)
        .min(1.0);
    let mut c = LineChart::new(
        "Reliability diagram",
        "mean predicted probability",
        "observed default rate",
    );
    c.series
        .push(Series::line("before calibration", before).dots());
    c.series
        .push(Series::line(&format!("after ({})", s.calibration), after).dots());
    c.series
        .push(Series::line("perfect", vec![(0.0, 0.0), (hi, hi)]).dashed());
    c.x_range = Some((0.0, hi));
    c.y_range = Some((0.0, hi));
    c.description = "Ten bins of equal count; points on the diagonal are well calibrated.".into();
    format!(
        "{}<p>Brier score before calibration {}, after {} (cross-fitted: the calibration is fitted on one half of the \
out-of-fold rows and measured on the other). Method: {}.</p>",
        c.svg(),
        num(s.calibration_check.brier_before, 5),
        num(s.calibration_check.brier_after, 5),
        esc(&s.calibration)
    )
}

fn confusion(t: &Trained) -> String {
    let c = t.summary.confusion;
    table(
        &["", "refused", "granted"],
        &[
            vec![
                "defaulted".into(),
                format!("{} (TP)", c.tp),
                format!("{} (FN)", c.fn_),
            ],
            vec![
                "repaid".into(),
                format!("{} (FP)", c.fp),
                format!("{} (TN)", c.tn),
            ],
        ],
        &[],
    )
}

fn fold_table(t: &Trained) -> String {
    let s = &t.summary;
    let mut rows: Vec<Vec<String>> = s
        .fold_metrics
        .iter()
        .map(|f| {
            vec![
                format!("fold {}", f.fold + 1),
                f.rows.to_string(),
                num(f.auc, 4),
                num(f.pr_auc, 4),
                num(f.cost_per_client, 4),
                num(f.recall, 3),
                num(f.precision, 3),
                num(f.f2, 3),
                num(f.brier, 5),
                num(f.ks, 3),
                f.best_iteration.to_string(),
            ]
        })
        .collect();
    let mut mean = vec!["mean ± std".to_string(), String::new()];
    for (_, m) in &s.mean {
        mean.push(format!("{} ± {}", num(m.mean, 4), num(m.std, 4)));
    }
    mean.push(String::new());
    rows.push(mean);
    let n = rows.len() - 1;
    table(
        &[
            "fold",
            "rows",
            "ROC AUC",
            "PR AUC",
            "cost/client",
            "recall",
            "precision",
            "F2",
            "Brier",
            "KS",
            "rounds",
        ],
        &rows,
        &[n],
    )
}

fn baselines(t: &Trained) -> String {
    let s = &t.summary;
    let mut rows: Vec<Vec<String>> = s
        .baselines
        .iter()
        .map(|b| {
            vec![
                b.name.clone(),
                num(b.auc, 4),
                num(b.threshold, 4),
                num(b.cost_per_client, 4),
            ]
        })
        .collect();
    rows.push(vec![
        format!("riskscore ({}, the model)", model_name(s)),
        num(s.oof_auc, 4),
        num(s.threshold, 4),
        num(s.cost_per_client, 4),
    ]);
    let n = rows.len() - 1;
    format!(
        "{}<p class=\"note\">Out-of-fold, same folds; each model at its own cost-minimising threshold. The logistic \
regression uses standardised features with missing values at the mean, fitted on at most {} rows per fold.</p>",
        table(&["model", "ROC AUC", "threshold", "cost/client"], &rows, &[n]),
        crate::logistic::MAX_ROWS
    )
}

/// A share of a fold's expected rounds, as "1/9".
fn share(r: f64) -> String {
    format!("1/{}", (1.0 / r).round())
}

fn trials(t: &Trained) -> String {
    let s = &t.summary;
    let chosen = s.trials.iter().position(|tr| {
        tr.params == s.params && tr.strategy == s.strategy && tr.pruned_after.is_none()
    });
    let rows: Vec<Vec<String>> = s
        .trials
        .iter()
        .map(|tr| {
            let p = &tr.params;
            vec![
                tr.number.to_string(),
                tr.kind.clone(),
                tr.strategy.name().into(),
                format!("{} ± {}", num(tr.cv_auc, 4), num(tr.cv_auc_std, 4)),
                num(tr.cost_per_client, 4),
                p.num_leaves.to_string(),
                num(p.learning_rate, 4),
                p.min_child_samples.to_string(),
                num(p.feature_fraction, 2),
                num(p.bagging_fraction, 2),
                format!("{:.2e}", p.lambda_l1),
                format!("{:.2e}", p.lambda_l2),
                num(tr.mean_best_iteration, 0),
                match (tr.pruned_at, tr.pruned_after) {
                    (Some(at), _) if at < 1.0 => format!(
                        "{} of {}, pruned in fold 1 at {} rounds",
                        share(at),
                        s.folds,
                        num(tr.mean_best_iteration, 0)
                    ),
                    (_, Some(f)) => format!("{f} of {}, pruned", s.folds),
                    (_, None) => s.folds.to_string(),
                },
                num(tr.seconds, 1),
            ]
        })
        .collect();
    let (pruned, fits) = crate::train::pruning_counts(&s.trials, s.folds);
    let note = if s.prune == crate::prune::Prune::Asha.name() {
        let rungs = crate::prune::Rungs::new(crate::prune::Prune::Asha, s.folds);
        let at = |r: f64| {
            if r < 1.0 {
                format!("at {} of fold 1", share(r))
            } else {
                format!("after fold {r}")
            }
        };
        let after: Vec<String> = rungs
            .steps()
            .iter()
            .map(|&r| {
                let n = s.trials.iter().filter(|t| t.pruned_at == Some(r)).count();
                format!("{n} {}", at(r))
            })
            .collect();
        format!(
            "<p class=\"note\">Successive halving (asynchronous, reduction factor {}): each \
             configuration is judged {}, on what it has done, against every configuration \
             judged there, and goes on only if among the best third (the best so far while \
             fewer than three were judged). Part-way through fold 1, its booster is cut at a \
             share of the rounds it is expected to need ({} rounds x 0.01 / its learning \
             rate, at most that). Stopped early: {} of {} ({}); {} of {} fold fits run to \
             their end. The chosen configuration ran every fold; the figures of a pruned \
             one are those of its folds done (or of its cut booster).</p>",
            crate::prune::REDUCTION,
            rungs
                .steps()
                .iter()
                .map(|&r| at(r))
                .collect::<Vec<_>>()
                .join(", "),
            s.params.max_rounds,
            pruned,
            s.trials.len(),
            after.join(", "),
            fits,
            s.trials.len() * s.folds
        )
    } else {
        "<p class=\"note\">Every configuration ran every fold (<code>--prune none</code>).</p>"
            .to_string()
    };
    note + &table(
        &[
            "#",
            "kind",
            "imbalance",
            "CV AUC",
            "cost/client",
            "leaves",
            "learning rate",
            "min child",
            "feature frac.",
            "bagging frac.",
            "L1",
            "L2",
            "rounds",
            "folds",
            "seconds",
        ],
        &rows,
        &chosen.into_iter().collect::<Vec<_>>(),
    )
}

fn importance(t: &Trained, features: &[String]) -> String {
    let mut pairs: Vec<(String, f64)> = features
        .iter()
        .cloned()
        .zip(t.gain.iter().copied())
        .collect();
    pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
    pairs.truncate(20);
    let chart = BarChart {
        title: "Top 20 features by total gain".into(),
        value_label: "total gain".into(),
        description: format!(
            "The largest is {} ({}).",
            pairs.first().map_or("", |p| p.0.as_str()),
            pairs.first().map_or(String::new(), |p| num(p.1, 1))
        ),
        bars: pairs,
    };
    chart.svg()
}

/// LightGBM against the scorecard on the same folds, the two ROC curves, then the scorecard's
/// points table.
fn challenger(t: &Trained, c: &crate::challenger::ChallengerFit, y: &[u8]) -> String {
    let s = &t.summary;
    let k = &c.summary;
    let rate = k.default_rate;
    let model_mean = t.oof.iter().sum::<f64>() / t.oof.len().max(1) as f64;
    let model = model_name(s);
    let rows = vec![
        vec![
            format!("{model} (the model)"),
            format!("{} ± {}", num(s.cv_auc, 4), num(s.cv_auc_std, 4)),
            num(s.oof_auc, 4),
            num(s.threshold, 4),
            num(s.cost_per_client, 4),
            num(crate::metrics::brier(&t.oof, y), 4),
            format!("{} / {}", num(model_mean, 4), num(rate, 4)),
            if s.model == "scorecard" {
                c.scorecard.characteristics.len().to_string()
            } else {
                s.n_features.to_string()
            },
        ],
        vec![
            format!("{} (challenger)", k.name),
            format!("{} ± {}", num(k.cv_auc, 4), num(k.cv_auc_std, 4)),
            num(k.oof_auc, 4),
            num(k.threshold, 4),
            num(k.cost_per_client, 4),
            num(k.brier, 4),
            format!("{} / {}", num(k.mean_probability, 4), num(rate, 4)),
            inputs(k),
        ],
    ];
    let compared = table(
        &[
            "model",
            "CV ROC AUC",
            "out-of-fold AUC",
            "threshold",
            "cost/client",
            "Brier",
            "mean p / default rate",
            "inputs",
        ],
        &rows,
        &[],
    );
    let mut roc = LineChart::new(
        "ROC curves, out of fold",
        "false positive rate",
        "true positive rate",
    );
    roc.series
        .push(Series::line(model, roc_points(&t.oof, y, 300)));
    roc.series
        .push(Series::line(&k.name, roc_points(&c.oof, y, 300)));
    roc.series
        .push(Series::line("chance", vec![(0.0, 0.0), (1.0, 1.0)]).dashed());
    roc.x_range = Some((0.0, 1.0));
    roc.y_range = Some((0.0, 1.0));
    roc.description = format!(
        "Out-of-fold ROC curves of {model} and {} on the same folds.",
        k.name
    );
    let card = &c.scorecard;
    let mut points = Vec::new();
    for ch in &card.characteristics {
        for (row, p) in ch.binning.table.iter().zip(&ch.points) {
            if row.non_events + row.events == 0 {
                continue;
            }
            points.push(vec![
                esc(&ch.binning.name),
                esc(&row.label),
                num(*p, 1),
                (row.non_events + row.events).to_string(),
                num(row.event_rate, 4),
                num(row.woe, 4),
                num(ch.binning.iv, 4),
            ]);
        }
    }
    format!(
        "{compared}<p class=\"note\">Same folds, same business cost; each model at its own cost-minimising threshold. \
The scorecard is refitted in every fold (binning, selection and regression see only the fold's training rows). \
Scaling: {} points at good:bad odds {}:1, {} points to double the odds (offset {}, factor {}). \
Shipped in the bundle as <code>scorecard.json</code>, <code>scorecard_points.csv</code> and <code>scorecard.sql</code>.</p>\
<div class=\"charts\">{}</div><h3>Points table (scorecard on all rows)</h3>{}<p class=\"note\">{} characteristics left out; \
rows without a training client (an empty special bin) are not shown.</p>",
        num(card.scaling.base_points, 0),
        num(card.scaling.base_odds, 0),
        num(card.scaling.pdo, 0),
        num(card.scaling.offset, 2),
        num(card.scaling.factor, 4),
        roc.svg(),
        table(
            &["characteristic", "bin", "points", "clients", "default rate", "WoE", "IV"],
            &points,
            &[],
        ),
        card.rejected.len()
    )
}

/// The shipped model's name for the report.
fn model_name(s: &crate::train::TrainSummary) -> &'static str {
    if s.model == "scorecard" {
        "scorecard"
    } else {
        "LightGBM"
    }
}

/// A challenger's inputs: characteristics per fold, or LightGBM's features.
fn inputs(k: &crate::challenger::ChallengerSummary) -> String {
    if k.fold_characteristics.is_empty() {
        return k.characteristics.to_string();
    }
    let folds: Vec<String> = k
        .fold_characteristics
        .iter()
        .map(ToString::to_string)
        .collect();
    format!("{} (folds: {})", k.characteristics, folds.join(", "))
}
