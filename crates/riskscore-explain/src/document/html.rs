//! The pack's HTML document: one self-contained file (inline CSS and SVG, no script, no
//! network), its figures read by JSON pointer (see [`super::Source`]).

use std::fmt::Write;

use riskscore_report::chart::{LineChart, Series};
use riskscore_report::{esc, Page};
use serde_json::Value;

use super::{Inputs, Source};

/// The document.
pub fn document(i: &Inputs) -> String {
    let m = Source {
        file: "manifest.json",
        json: &i.manifest,
    };
    let mut page = Page::new(&format!("Model documentation: {}", i.name));
    page.raw(&header(i, m));
    page.section("1. Purpose and intended use", &purpose(i, m));
    page.section("2. Target definition", &target(i, m));
    page.section("3. Data and lineage", &data(i, m));
    page.section("4. Features", &features(i, m));
    page.section("5. Method and alternatives tried", &method(m));
    page.section("6. Performance", &performance(m));
    page.section("7. Calibration", &calibration(i, m));
    page.section("8. Threshold economics", &economics(i, m));
    page.section("9. Stability", &stability(i, m));
    page.section("10. Fairness", &fairness(i));
    page.section("11. Explanations and reason codes", &explanations(i, m));
    page.section("12. Limitations", &limitations(i, m));
    page.section("13. Monitoring plan and triggers", &monitoring(m));
    page.section("14. Change log and approvals", CHANGES);
    page.finish()
}

fn header(i: &Inputs, m: Source) -> String {
    format!(
        "<style>table.text td{{text-align:left;vertical-align:top}}</style>\
<p class=\"note\">Version <b>{}</b> (bundle <code>{}</code>), trained by riskscore {} \
on {}; training data SHA-256 {}. Written by <code>riskscore document</code> from the \
bundle's own files{}: each figure below is a <code>&lt;data&gt;</code> element naming the file and \
the JSON pointer it was read from.</p><p>Owner: {}.</p>",
        esc(&i.version),
        esc(&i.dir.display().to_string()),
        m.fig("/riskscore_version", 0, false),
        m.when("/created_unix"),
        m.fig("/data_hash", 0, false),
        match &i.run {
            Some(_) => " and its MLflow run",
            None => "",
        },
        match &i.owner {
            Some((n, c)) => format!("{} ({})", esc(n), esc(c)),
            None => "<i>to fill</i>".into(),
        }
    )
}

fn purpose(i: &Inputs, m: Source) -> String {
    format!(
        "<p>The model estimates, for a loan applicant, the probability of default (calibrated), and \
decides <i>granted</i> below the threshold of {} and <i>refused</i> at or above it. Decisions within \
{} of the threshold are sent to a person (the review queue). It is a high-risk AI system under the \
EU AI Act (Annex III, 5(b): creditworthiness of natural persons) and a model under SR 11-7.</p>\
<ul><li><b>Intended users</b>: credit officers and relationship managers deciding consumer \
loans, with the applicant's file; credit-risk analysts and validators.</li>\
<li><b>Intended use</b>: the first decision on applications like those of the training data \
({}), with every refusal explained to the applicant (adverse-action notice, principal reasons \
and recourse), borderline decisions reviewed by a person, and the model monitored.</li>\
<li><b>Out of scope</b>: other products or populations than the training data's; pricing; \
collections; any decision without the applicant's right to a human review; using the \
probability as a measure of a person's worth.</li></ul>",
        m.fig("/threshold", 4, false),
        m.fig("/review_band", 4, false),
        esc(&layout_name(i)),
    )
}

fn layout_name(i: &Inputs) -> String {
    if home_credit(i) {
        "the Home Credit Default Risk tables".into()
    } else {
        format!(
            "a single table of applicants with the id column {}",
            i.pipeline
                .pointer("/id")
                .and_then(Value::as_str)
                .unwrap_or("?")
        )
    }
}

fn home_credit(i: &Inputs) -> bool {
    i.pipeline.pointer("/layout/kind").and_then(Value::as_str) == Some("home_credit")
}

fn target(i: &Inputs, m: Source) -> String {
    let definition = if home_credit(i) {
        "In Home Credit's data, 1 means the client had payment difficulties: a payment late by \
more than X days on at least one of the first Y instalments of the loan (Home Credit does not \
publish X and Y); 0 all other cases."
    } else {
        "1 means the applicant defaulted as the lender defines it; 0 repaid. State the definition \
(days past due, horizon) here."
    };
    format!(
        "<p>The column {} (1 = default). {definition}</p><p>Training rows {} of which {} \
defaulted: the model is trained on applicants whose outcome is known, that is on loans that were \
granted (see the limitations on selection).</p>",
        m.fig("/target", 0, false),
        m.fig("/metrics/n_rows", 0, false),
        m.fig("/metrics/n_positives", 0, false),
    )
}

fn data(i: &Inputs, m: Source) -> String {
    let tables = if home_credit(i) {
        "<code>application_train</code> (one row per applicant, the target), joined on \
<code>SK_ID_CURR</code> with <code>bureau</code> and <code>bureau_balance</code> (credit bureau \
history, via <code>SK_ID_BUREAU</code>), <code>previous_application</code>, \
<code>POS_CASH_balance</code>, <code>installments_payments</code> and \
<code>credit_card_balance</code> (earlier loans with the lender, via <code>SK_ID_PREV</code>), \
aggregated per applicant."
            .to_owned()
    } else {
        "one table, one row per applicant.".to_owned()
    };
    let protected = list(&i.manifest, "/protected");
    let derived = list(&i.manifest, "/protected_features");
    let mut s = format!(
        "<p><b>Tables</b>: {tables}</p><p><b>Rows</b>: {} training applicants, {} features after \
the pipeline; {} cross-validation folds (seed {}). <b>Dates</b>: trained on {} (the \
tables carry no calendar dates: their times are days relative to the application). <b>Data \
hash</b>: {} (SHA-256 of the ids, labels and values of the training matrix).</p>",
        m.fig("/metrics/n_rows", 0, false),
        m.fig("/metrics/n_features", 0, false),
        m.fig("/metrics/folds", 0, false),
        m.fig("/metrics/seed", 0, false),
        m.when("/created_unix"),
        m.fig("/data_hash", 0, false),
    );
    let _ = write!(
        s,
        "<p><b>Exclusions</b>: applicants without an outcome (the test table) are not training \
rows. Protected attributes are not model inputs, nor any feature derived from them: {}{}.</p>",
        if protected.is_empty() {
            "none was named at training (<code>--protected</code>)".to_owned()
        } else {
            esc(&protected.join(", "))
        },
        if derived.is_empty() {
            String::new()
        } else {
            format!(
                "; features derived from them, kept for the fairness audit only: {}",
                esc(&derived.join(", "))
            )
        }
    );
    if let Some(run) = &i.run {
        s.push_str(&run_section(run));
    }
    s
}

fn list(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn run_section(run: &Value) -> String {
    let r = Source {
        file: "mlflow-run",
        json: run,
    };
    let mut s = format!(
        "<p><b>MLflow run</b> {} of experiment {} ({}), from {} to {} (Unix ms).</p>",
        r.fig("/info/run_id", 0, false),
        r.fig("/info/experiment_id", 0, false),
        r.fig("/info/status", 0, false),
        r.fig("/info/start_time", 0, false),
        r.fig("/info/end_time", 0, false),
    );
    let rows = |key: &str, value: &str| -> Vec<Vec<String>> {
        run.pointer(&format!("/data/{key}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .enumerate()
                    .map(|(n, p)| {
                        vec![
                            esc(p["key"].as_str().unwrap_or("")),
                            r.fig(&format!("/data/{key}/{n}/{value}"), 4, false),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let metrics = rows("metrics", "value");
    let params = rows("params", "value");
    let _ = write!(
        s,
        "<details><summary>The run's {} metrics and {} parameters</summary>{}{}</details>",
        metrics.len(),
        params.len(),
        raw_table(&["Metric", "Value"], &metrics),
        raw_table(&["Parameter", "Value"], &params)
    );
    s
}

/// A table of cells already in HTML (figures are `<data>` elements).
fn raw_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    table_of("<table>", headers, rows)
}

/// [`raw_table`] for text: cells aligned left.
fn text_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    table_of("<table class=\"text\">", headers, rows)
}

fn table_of(open: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!("{open}<thead><tr>");
    for h in headers {
        let _ = write!(s, "<th scope=\"col\">{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            let _ = write!(s, "<td>{cell}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

fn features(i: &Inputs, m: Source) -> String {
    let specs = i
        .manifest
        .pointer("/features")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut order: Vec<usize> = (0..specs.len()).collect();
    let gain = |k: usize| specs[k]["gain"].as_f64().unwrap_or(0.0);
    order.sort_by(|a, b| gain(*b).total_cmp(&gain(*a)));
    let used = order.iter().filter(|k| gain(**k) > 0.0).count();
    let rows: Vec<Vec<String>> = order
        .iter()
        .enumerate()
        .map(|(rank, &k)| {
            let name = specs[k]["name"].as_str().unwrap_or("");
            vec![
                (rank + 1).to_string(),
                format!("<code>{}</code>", esc(name)),
                esc(&i.wording.describe(name)),
                m.fig(&format!("/features/{k}/kind"), 0, false),
                m.fig(&format!("/features/{k}/gain"), 1, false),
            ]
        })
        .collect();
    format!(
        "<p>{} model inputs, {used} of which the final model splits on. Each is described in \
the words of the reviewed wording file (the same words as the reasons given to applicants). \
Ordered by total gain in the final model.</p><details><summary>All features</summary>{}</details>",
        specs.len(),
        text_table(&["Rank", "Feature", "Description", "Kind", "Gain"], &rows)
    )
}

fn method(m: Source) -> String {
    let mut s = format!(
        "<p>LightGBM gradient-boosted trees (binary objective), {} rounds, imbalance handled by \
<b>{}</b>; leaves {}, learning rate {}, minimum leaf size {}, feature fraction {}, bagging \
fraction {}, L1 {}, L2 {}, early stopping after {} rounds without improvement. Probabilities \
calibrated out of fold by {}. Stratified {}-fold cross-validation; the threshold minimises the \
business cost on the out-of-fold predictions.</p>",
        m.fig("/rounds", 0, false),
        m.fig("/strategy", 0, false),
        m.fig("/params/num_leaves", 0, false),
        m.fig("/params/learning_rate", 4, false),
        m.fig("/params/min_child_samples", 0, false),
        m.fig("/params/feature_fraction", 2, false),
        m.fig("/params/bagging_fraction", 2, false),
        m.fig("/params/lambda_l1", 3, false),
        m.fig("/params/lambda_l2", 3, false),
        m.fig("/params/early_stopping_rounds", 0, false),
        m.fig("/calibration/method", 0, false),
        m.fig("/metrics/folds", 0, false),
    );
    let trials = m.get("/metrics/trials").and_then(Value::as_array);
    let rows: Vec<Vec<String>> = (0..trials.map_or(0, Vec::len))
        .map(|k| {
            let p = |f: &str| format!("/metrics/trials/{k}/{f}");
            vec![
                m.fig(&p("number"), 0, false),
                m.fig(&p("kind"), 0, false),
                m.fig(&p("strategy"), 0, false),
                m.fig(&p("params/num_leaves"), 0, false),
                m.fig(&p("params/learning_rate"), 4, false),
                m.fig(&p("cv_auc"), 4, false),
                m.fig(&p("cv_auc_std"), 4, false),
                m.fig(&p("cost_per_client"), 4, false),
            ]
        })
        .collect();
    if rows.is_empty() {
        s.push_str("<p>Alternatives: none tried (one configuration, no search).</p>");
    } else {
        let _ = write!(
            s,
            "<p>Alternatives tried: the imbalance strategies compared, then the search trials \
(each cross-validated on the same folds).</p>{}",
            raw_table(
                &[
                    "Trial",
                    "Kind",
                    "Strategy",
                    "Leaves",
                    "Learning rate",
                    "CV AUC",
                    "Std",
                    "Cost per client"
                ],
                &rows
            )
        );
    }
    let baselines = m.get("/metrics/baselines").and_then(Value::as_array);
    let rows: Vec<Vec<String>> = (0..baselines.map_or(0, Vec::len))
        .map(|k| {
            let p = |f: &str| format!("/metrics/baselines/{k}/{f}");
            vec![
                m.fig(&p("name"), 0, false),
                m.fig(&p("auc"), 4, false),
                m.fig(&p("threshold"), 4, false),
                m.fig(&p("cost_per_client"), 4, false),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let _ = write!(
            s,
            "<p>Baselines on the same folds:</p>{}",
            raw_table(&["Baseline", "AUC", "Threshold", "Cost per client"], &rows)
        );
    }
    s
}

fn performance(m: Source) -> String {
    let mut s = format!(
        "<p>Cross-validated ROC AUC {} ± {} (standard deviation over folds); out-of-fold AUC {}.</p>",
        m.fig("/metrics/cv_auc", 4, false),
        m.fig("/metrics/cv_auc_std", 4, false),
        m.fig("/metrics/oof_auc", 4, false),
    );
    if m.get("/metrics/estimate").is_some() {
        let e = |f: &str| format!("/metrics/estimate/{f}");
        let _ = write!(
            s,
            "<p><b>On new applicants</b> ({} estimate, {}): AUC {} (95 %: {} to {}; on a batch of {} \
new applicants: {} to {}), cost per client {} (95 %: {} to {}; on a batch: {} to {}), approval rate \
{}, defaulters refused {}. {}</p>",
            m.fig(&e("method"), 0, false),
            if m.get(&e("selection_aware")).and_then(Value::as_bool) == Some(true) {
                "no choice made on the scored rows"
            } else {
                "selection-biased"
            },
            m.fig(&e("auc"), 4, false),
            m.fig(&e("auc_interval/low"), 4, false),
            m.fig(&e("auc_interval/high"), 4, false),
            m.fig(&e("new_batch"), 0, false),
            m.fig(&e("auc_prediction/low"), 4, false),
            m.fig(&e("auc_prediction/high"), 4, false),
            m.fig(&e("cost_per_client"), 4, false),
            m.fig(&e("cost_interval/low"), 4, false),
            m.fig(&e("cost_interval/high"), 4, false),
            m.fig(&e("cost_prediction/low"), 4, false),
            m.fig(&e("cost_prediction/high"), 4, false),
            m.fig(&e("approval_rate"), 1, true),
            m.fig(&e("recall"), 1, true),
            m.fig(&e("how"), 0, false),
        );
    }
    let folds = m.get("/metrics/fold_metrics").and_then(Value::as_array);
    let rows: Vec<Vec<String>> = (0..folds.map_or(0, Vec::len))
        .map(|k| {
            let p = |f: &str| format!("/metrics/fold_metrics/{k}/{f}");
            vec![
                m.fig(&p("fold"), 0, false),
                m.fig(&p("rows"), 0, false),
                m.fig(&p("auc"), 4, false),
                m.fig(&p("pr_auc"), 4, false),
                m.fig(&p("brier"), 4, false),
                m.fig(&p("ks"), 4, false),
                m.fig(&p("threshold"), 4, false),
                m.fig(&p("cost_per_client"), 4, false),
                m.fig(&p("recall"), 3, false),
                m.fig(&p("precision"), 3, false),
            ]
        })
        .collect();
    let _ = write!(
        s,
        "<p>By fold (the threshold chosen on the other folds, applied to this one):</p>{}",
        raw_table(
            &[
                "Fold",
                "Rows",
                "AUC",
                "PR AUC",
                "Brier",
                "KS",
                "Threshold",
                "Cost per client",
                "Recall",
                "Precision"
            ],
            &rows
        )
    );
    let means = m.get("/metrics/mean").and_then(Value::as_array);
    let rows: Vec<Vec<String>> = (0..means.map_or(0, Vec::len))
        .map(|k| {
            vec![
                m.fig(&format!("/metrics/mean/{k}/0"), 0, false),
                m.fig(&format!("/metrics/mean/{k}/1/mean"), 4, false),
                m.fig(&format!("/metrics/mean/{k}/1/std"), 4, false),
            ]
        })
        .collect();
    let _ = write!(
        s,
        "<p>Mean and standard deviation over the folds:</p>{}",
        raw_table(&["Metric", "Mean", "Std"], &rows)
    );
    s
}

fn calibration(i: &Inputs, m: Source) -> String {
    let mut s = format!(
        "<p>Method {}, chosen by cross-fitted Brier score: Brier score {} before calibration, {} \
after.</p>",
        m.fig("/calibration/method", 0, false),
        m.fig("/metrics/calibration_check/brier_before", 5, false),
        m.fig("/metrics/calibration_check/brier_after", 5, false),
    );
    if let Some((p, y)) = &i.oof {
        let bins = reliability(p, y);
        let mut chart = LineChart::new(
            "Predicted and observed default rate, out of fold",
            "mean predicted probability",
            "observed default rate",
        );
        let max = bins
            .iter()
            .map(|b| b.0.max(b.1))
            .fold(0.0, f64::max)
            .max(0.01);
        chart.series = vec![
            Series::line("observed", bins.iter().map(|b| (b.0, b.1)).collect()).dots(),
            Series::line("perfect calibration", vec![(0.0, 0.0), (max, max)]).dashed(),
        ];
        chart.description = String::from("By tenth of the out-of-fold probabilities: ")
            + &bins
                .iter()
                .map(|b| {
                    format!(
                        "predicted {:.3}, observed {:.3} ({} clients)",
                        b.0, b.1, b.2
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
        let _ = write!(
            s,
            "{}<p class=\"note\">By tenth of the probabilities, from the bundle's <code>oof.csv</code> ({} out-of-fold \
probabilities).</p>",
            chart.svg(),
            p.len()
        );
    }
    s
}

/// (mean predicted, observed rate, count) by tenth of the sorted probabilities.
fn reliability(p: &[f64], y: &[u8]) -> Vec<(f64, f64, usize)> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|a, b| p[*a].total_cmp(&p[*b]));
    idx.chunks(p.len().div_ceil(10).max(1))
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|&k| p[k]).sum::<f64>() / n,
                c.iter().map(|&k| f64::from(y[k])).sum::<f64>() / n,
                c.len(),
            )
        })
        .collect()
}

fn economics(i: &Inputs, m: Source) -> String {
    let mut s = format!(
        "<p>Cost matrix (relative units): a defaulter granted costs {}, a good client refused {}, \
a defaulter refused {}, a good client granted {}. The threshold {} minimises the out-of-fold cost \
per client ({}; bootstrap of {} resamples: threshold 95 % {} to {}, cost {} to {}). Bayes-optimal \
threshold for calibrated probabilities: {}. Review band: ± {} around the threshold.</p>",
        m.fig("/cost/fn_cost", 2, false),
        m.fig("/cost/fp_cost", 2, false),
        m.fig("/cost/tp_cost", 2, false),
        m.fig("/cost/tn_cost", 2, false),
        m.fig("/threshold", 4, false),
        m.fig("/metrics/cost_per_client", 4, false),
        m.fig("/metrics/uncertainty/resamples", 0, false),
        m.fig("/metrics/uncertainty/threshold/low", 4, false),
        m.fig("/metrics/uncertainty/threshold/high", 4, false),
        m.fig("/metrics/uncertainty/cost_per_client/low", 4, false),
        m.fig("/metrics/uncertainty/cost_per_client/high", 4, false),
        m.fig("/metrics/bayes_threshold", 4, false),
        m.fig("/review_band", 4, false),
    );
    let _ = write!(
        s,
        "<p>Out-of-fold decisions at the threshold: {} defaulters refused, {} defaulters granted, {} \
good clients refused, {} good clients granted.</p>",
        m.fig("/metrics/confusion/tp", 0, false),
        m.fig("/metrics/confusion/fn_", 0, false),
        m.fig("/metrics/confusion/fp", 0, false),
        m.fig("/metrics/confusion/tn", 0, false),
    );
    if let (Some((p, y)), Some(cost)) = (&i.oof, costs(m)) {
        let points: Vec<(f64, f64)> = (1..100)
            .map(|k| {
                let t = f64::from(k) / 100.0;
                (t, cost_at(p, y, t, cost))
            })
            .collect();
        let mut chart = LineChart::new(
            "Cost per client by threshold (out of fold)",
            "threshold",
            "cost per client",
        );
        chart.series = vec![Series::line("cost per client", points.clone())];
        if let Some(t) = m.f64("/threshold") {
            chart.markers = vec![(t, "chosen".into())];
        }
        let best = points
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .copied()
            .unwrap_or((0.0, 0.0));
        chart.description = format!(
            "Cost per client from threshold 0.01 to 0.99; lowest on this grid {:.4} at {:.2}.",
            best.1, best.0
        );
        s.push_str(&chart.svg());
    }
    s
}

fn costs(m: Source) -> Option<[f64; 4]> {
    Some([
        m.f64("/cost/fn_cost")?,
        m.f64("/cost/fp_cost")?,
        m.f64("/cost/tp_cost")?,
        m.f64("/cost/tn_cost")?,
    ])
}

fn cost_at(p: &[f64], y: &[u8], t: f64, [fnc, fpc, tpc, tnc]: [f64; 4]) -> f64 {
    let total: f64 = p
        .iter()
        .zip(y)
        .map(|(&q, &d)| match (q >= t, d == 1) {
            (true, true) => tpc,
            (true, false) => fpc,
            (false, true) => fnc,
            (false, false) => tnc,
        })
        .sum();
    total / p.len().max(1) as f64
}

fn stability(i: &Inputs, m: Source) -> String {
    let aucs: Vec<(usize, f64)> = (0..m
        .get("/metrics/fold_metrics")
        .and_then(Value::as_array)
        .map_or(0, Vec::len))
        .filter_map(|k| Some((k, m.f64(&format!("/metrics/fold_metrics/{k}/auc"))?)))
        .collect();
    let lo = aucs.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|a| a.0);
    let hi = aucs.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|a| a.0);
    let mut s = match (lo, hi) {
        (Some(lo), Some(hi)) => format!(
            "<p>Across folds the AUC ranges from {} to {} (standard deviation {}); the threshold's \
bootstrap interval is given in section 8.</p>",
            m.fig(&format!("/metrics/fold_metrics/{lo}/auc"), 4, false),
            m.fig(&format!("/metrics/fold_metrics/{hi}/auc"), 4, false),
            m.fig("/metrics/cv_auc_std", 4, false),
        ),
        _ => String::new(),
    };
    match &i.drift {
        Some(d) => s.push_str(&drift_section(d)),
        None => s.push_str(
            "<p>No drift result was given (<code>riskscore drift --json</code> then \
<code>document --drift FILE</code>).</p>",
        ),
    }
    match &i.monitor {
        Some(mon) => s.push_str(&monitor_section(mon)),
        None => s.push_str(
            "<p>No monitoring result was given (<code>riskscore monitor --json</code> then \
<code>document --monitor FILE</code>).</p>",
        ),
    }
    s
}

fn drift_section(d: &Value) -> String {
    let src = Source {
        file: "drift",
        json: d,
    };
    let mut s = format!(
        "<h3>Data drift</h3><p>{} reference rows against {} current rows: {} of {} features tested drifted (share {}; the data set drifts at a share of {}: {}).</p>",
        src.fig("/reference_rows", 0, false),
        src.fig("/current_rows", 0, false),
        src.fig("/drifted", 0, false),
        src.fig("/tested", 0, false),
        src.fig("/share", 3, false),
        src.fig("/drift_share", 2, false),
        src.fig("/dataset_drift", 0, false),
    );
    let rows: Vec<Vec<String>> = d
        .pointer("/columns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| c["drifted"].as_bool() == Some(true))
        .take(20)
        .map(|(k, _)| {
            let p = |f: &str| format!("/columns/{k}/{f}");
            vec![
                src.fig(&p("column"), 0, false),
                src.fig(&p("test"), 0, false),
                src.fig(&p("score"), 4, false),
                src.fig(&p("threshold"), 4, false),
                src.fig(&p("psi"), 3, false),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let _ = write!(
            s,
            "<p>Drifted features (the first 20):</p>{}",
            raw_table(&["Feature", "Test", "Score", "Threshold", "PSI"], &rows)
        );
    }
    s
}

fn monitor_section(mon: &Value) -> String {
    let src = Source {
        file: "monitor",
        json: mon,
    };
    let chunks = mon.pointer("/estimated").and_then(Value::as_array);
    let rows: Vec<Vec<String>> = (0..chunks.map_or(0, Vec::len))
        .map(|k| {
            let p = |f: &str| format!("/estimated/{k}/{f}");
            vec![
                src.fig(&p("start"), 0, false),
                src.fig(&p("end"), 0, false),
                src.fig(&p("estimated/roc_auc"), 4, false),
                src.fig(&p("realized/roc_auc"), 4, false),
                src.fig(&p("estimated/cost"), 4, false),
                src.fig(&p("realized/cost"), 4, false),
            ]
        })
        .collect();
    format!(
        "<h3>Since deployment</h3><p>{} decisions journaled, {} with an outcome.</p>{}",
        src.fig("/decisions", 0, false),
        src.fig("/labelled", 0, false),
        raw_table(
            &[
                "From",
                "To",
                "AUC estimated",
                "AUC realized",
                "Cost estimated",
                "Cost realized"
            ],
            &rows
        )
    )
}

fn fairness(i: &Inputs) -> String {
    let Some(f) = &i.fairness else {
        return "<p>The bundle has no fairness measures (<code>fairness.json</code>): it was \
trained before they were measured.</p>"
            .into();
    };
    let src = Source {
        file: "fairness.json",
        json: f,
    };
    let mut s = format!(
        "<p>Decisions at the threshold {} on the {} ({} applicants); 95 % intervals from {} \
bootstrap resamples; groups under {} applicants are shown but not measured. An adverse impact \
ratio under 0.8 is flagged.</p>",
        src.fig("/threshold", 4, false),
        esc(src.str("/data").unwrap_or("")),
        src.fig("/rows", 0, false),
        src.fig("/resamples", 0, false),
        src.fig("/min_group", 0, false),
    );
    let attrs = f.pointer("/attributes").and_then(Value::as_array);
    if attrs.is_none_or(Vec::is_empty) && f.pointer("/age_rule").is_none_or(Value::is_null) {
        s.push_str(
            "<p>Nothing to measure: no protected attribute was named at training \
(<code>--protected</code>) and the data's layout has no known age column. Name them to measure \
approval and error rates by group.</p>",
        );
    }
    for (a, attr) in attrs.into_iter().flatten().enumerate() {
        let p = |x: &str| format!("/attributes/{a}/{x}");
        let _ = write!(
            s,
            "<h3>{} ({})</h3>",
            esc(attr["attribute"].as_str().unwrap_or("")),
            esc(attr["source"].as_str().unwrap_or(""))
        );
        let groups = attr["groups"].as_array().map_or(0, Vec::len);
        let rows: Vec<Vec<String>> = (0..groups)
            .map(|g| {
                let q = |x: &str| p(&format!("groups/{g}/{x}"));
                vec![
                    src.fig(&q("group"), 0, false),
                    src.fig(&q("count"), 0, false),
                    src.fig(&q("default_rate"), 1, true),
                    format!(
                        "{} ({} to {})",
                        src.fig(&q("approval_rate/value"), 1, true),
                        src.fig(&q("approval_rate/low"), 1, true),
                        src.fig(&q("approval_rate/high"), 1, true)
                    ),
                    src.fig(&q("false_positive_rate"), 1, true),
                    src.fig(&q("true_positive_rate"), 1, true),
                    src.fig(&q("calibration_gap"), 3, false),
                    src.fig(&q("adverse_impact_ratio"), 3, false),
                ]
            })
            .collect();
        s.push_str(&raw_table(
            &[
                "Group",
                "Applicants",
                "Default rate",
                "Approval rate",
                "Good clients refused",
                "Defaulters refused",
                "Calibration gap",
                "Adverse impact ratio",
            ],
            &rows,
        ));
        let measure = |name: &str, key: &str| {
            if src.get(&p(key)).is_some() {
                format!(
                    "{name} {} ({} to {})",
                    src.fig(&p(&format!("{key}/value")), 3, false),
                    src.fig(&p(&format!("{key}/low")), 3, false),
                    src.fig(&p(&format!("{key}/high")), 3, false)
                )
            } else {
                format!("{name}: not measured")
            }
        };
        let _ = write!(
            s,
            "<p>{}; {}; {}; {}.</p>",
            measure(
                "demographic parity difference",
                "demographic_parity_difference"
            ),
            measure("ratio", "demographic_parity_ratio"),
            measure("equalized odds difference", "equalized_odds_difference"),
            measure(
                "equal opportunity difference",
                "equal_opportunity_difference"
            ),
        );
    }
    if f.pointer("/age_rule").is_some_and(|v| !v.is_null()) {
        let _ = write!(
            s,
            "<p>Age rule (Regulation B, 12 CFR 1002.6(b)(2)): of {} applicants aged 62 or more, {} \
are scored down for age.</p>",
            src.fig("/age_rule/elderly", 0, false),
            src.fig("/age_rule/raised", 0, false)
        );
    }
    s
}

fn explanations(i: &Inputs, m: Source) -> String {
    let specs = i.manifest.pointer("/features").and_then(Value::as_array);
    let mut top: Vec<(usize, f64)> = specs
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(k, f)| (k, f["gain"].as_f64().unwrap_or(0.0)))
        .collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rows: Vec<Vec<String>> = top
        .iter()
        .take(15)
        .map(|&(k, _)| {
            let name = specs.and_then(|s| s[k]["name"].as_str()).unwrap_or("");
            vec![
                format!("<code>{}</code>", esc(name)),
                esc(&i.wording.describe(name)),
                m.fig(&format!("/features/{k}/gain"), 1, false),
            ]
        })
        .collect();
    format!(
        "<p>Each decision is explained by exact TreeSHAP values of the served model (equal to \
LightGBM's <code>pred_contrib</code>, tested against the <code>shap</code> package): the \
contribution of every input to the log-odds of default. The <b>reason codes</b> of a refusal are \
its inputs with the largest contributions towards default, most important first, worded from \
the reviewed wording file; the adverse-action notice gives the principal four, with what the \
applicant could change (recourse, searched exactly on the model within the reviewed action set). \
Protected attributes never appear, since they are not inputs.</p><p>The inputs the model relies \
on most (total gain):</p>{}",
        text_table(&["Feature", "In words", "Gain"], &rows)
    )
}

fn limitations(i: &Inputs, m: Source) -> String {
    let positives = match (m.f64("/metrics/n_positives"), m.f64("/metrics/n_rows")) {
        (Some(p), Some(n)) if n > 0.0 => format!("{:.1} %", 100.0 * p / n),
        _ => "–".into(),
    };
    format!(
        "<ul><li><b>Selection</b>: outcomes exist only for granted loans; the model has not seen \
how refused applicants would have repaid (no reject inference).</li>\
<li><b>Imbalance</b>: {positives} of training rows defaulted ({} of {}); the precision of a refusal is \
modest (section 6).</li>\
<li><b>Population</b>: valid for applicants like those of {}; new products, channels or economic \
conditions need revalidation.</li>\
<li><b>Estimates</b>: the cross-validated AUC is selection-biased when a search chose the \
configuration; the figures on new applicants (section 6) are the honest ones.</li>\
<li><b>Monitoring</b>: the estimated performance without labels (CBPE) reads only the \
probabilities: it sees a change in who applies, not a change in how outcomes follow the \
probabilities (concept shift). Realized figures judge once outcomes mature (12 to 24 months).</li>\
<li><b>Explanations</b> describe the model, not causes: changing an input the model uses may not \
change the applicant's true risk.</li></ul>",
        m.fig("/metrics/n_positives", 0, false),
        m.fig("/metrics/n_rows", 0, false),
        esc(&layout_name(i)),
    )
}

fn monitoring(m: Source) -> String {
    format!(
        "<table class=\"text\"><thead><tr><th scope=\"col\">What</th><th scope=\"col\">How</th>\
<th scope=\"col\">Trigger</th><th scope=\"col\">Action</th></tr></thead><tbody>\
<tr><td>Inputs</td><td><code>riskscore drift</code> against the bundle's reference \
(Evidently's tests per feature)</td><td>a drifted feature among the top 15 by gain, or half \
the features drifted</td><td>investigate; revalidate</td></tr>\
<tr><td>Performance before outcomes</td><td>CBPE per chunk of 500 journaled decisions \
(<code>GET /v1/monitor</code>, <code>riskscore_estimated</code> in <code>/metrics</code>)</td>\
<td>an estimate outside its band (reference chunks' mean ± 3 standard deviations)</td>\
<td>investigate; consider a challenger</td></tr>\
<tr><td>Realized performance</td><td>outcomes posted to <code>/v1/outcomes</code>; AUC, \
default rates and cost per client by cohort</td><td>cost per client above the \
cross-validated {} by more than its interval, or AUC below {}</td><td>retrain or \
replace</td></tr>\
<tr><td>Human oversight</td><td>review queue (<code>/v1/reviews</code>), decisions within {} \
of the threshold</td><td>queue age over 2 working days; a reviewer's override rate far from \
the others'</td><td>staff the queue; review the reviewer's cases</td></tr>\
<tr><td>Fairness</td><td><code>riskscore fairness</code> on recent decisions</td><td>an \
adverse impact ratio under 0.8</td><td>investigate before the next release</td></tr>\
</tbody></table>",
        m.fig("/metrics/cost_per_client", 4, false),
        m.fig("/metrics/estimate/auc_prediction/low", 4, false),
        m.fig("/review_band", 4, false),
    )
}

const CHANGES: &str = "<p>To fill by the model owner and the validators.</p>\
<table><caption>Change log</caption><thead><tr><th scope=\"col\">Version</th>\
<th scope=\"col\">Date</th><th scope=\"col\">Change</th><th scope=\"col\">Author</th></tr></thead>\
<tbody><tr><td>&nbsp;</td><td></td><td></td><td></td></tr><tr><td>&nbsp;</td><td></td><td></td><td></td></tr></tbody></table>\
<table><caption>Approvals</caption><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">Name</th>\
<th scope=\"col\">Date</th><th scope=\"col\">Decision and conditions</th></tr></thead><tbody>\
<tr><td>Model owner</td><td></td><td></td><td></td></tr>\
<tr><td>Independent validation (SR 11-7)</td><td></td><td></td><td></td></tr>\
<tr><td>Risk committee</td><td></td><td></td><td></td></tr>\
<tr><td>Human-oversight lead (EU AI Act Art. 14)</td><td></td><td></td><td></td></tr>\
</tbody></table>";
