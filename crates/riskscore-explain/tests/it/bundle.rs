//! Explaining a trained bundle: additivity with the served probability, reason codes, unknown
//! clients, and the Python oracles (shap.TreeExplainer and pred_contrib).

use std::process::Command;

use riskscore_explain::client::BundleExplainer;
use riskscore_explain::wording::Wording;
use riskscore_features::write_parquet;
use riskscore_model::predict::score_frame;
use riskscore_model::ModelBundle;

/// The kit's single table (1,200 applicants) and its short bundle, trained once.
fn fixture() -> &'static riskscore_testkit::Fixture {
    riskscore_testkit::single_table()
}

#[test]
fn explanations_add_up_to_the_served_probability() {
    let f = fixture();
    let bundle = ModelBundle::load(&f.model).unwrap();
    let ex = BundleExplainer::new(&bundle, Wording::home_credit().unwrap()).unwrap();
    let scored = score_frame(&bundle, &f.frame).unwrap();
    for s in scored.iter().take(50) {
        let e = ex.explain_client(&f.frame, s.id, 100).unwrap();
        // Log-odds: contributions + base = the booster's raw score.
        let logit = (s.probability_raw / (1.0 - s.probability_raw)).ln();
        assert!((e.raw_score - logit).abs() < 1e-9, "client {}", s.id);
        let sum: f64 = e.contributions.iter().map(|c| c.shap).sum::<f64>() + e.base_value;
        assert!((sum - e.raw_score).abs() < 1e-9);
        // Probability view: the shares add up to the gap to the base probability.
        let shares: f64 = e.contributions.iter().map(|c| c.probability).sum();
        assert!((shares - (e.probability - e.base_probability)).abs() < 1e-9);
        assert_eq!(e.probability, s.probability);
        assert_eq!(e.decision, s.decision);
        // Reasons push towards default, strongest first, at most four.
        assert!(e.reasons.len() <= 4);
        assert!(e.reasons.windows(2).all(|w| w[0].shap >= w[1].shap));
        assert!(e
            .reasons
            .iter()
            .all(|r| r.shap > 0.0 && r.sentence.contains("typical applicant")));
    }
}

#[test]
fn unknown_client_is_a_clear_error() {
    let f = fixture();
    let bundle = ModelBundle::load(&f.model).unwrap();
    let ex = BundleExplainer::new(&bundle, Wording::home_credit().unwrap()).unwrap();
    let err = ex.explain_client(&f.frame, 42, 5).unwrap_err();
    assert_eq!(err.to_string(), "unknown client 42: no such id in the data");
}

#[test]
fn python_shap_and_pred_contrib_agree() {
    let Some(py) = riskscore_testkit::oracle("RISKSCORE_PYTHON", "a python with shap and lightgbm")
    else {
        return;
    };
    let f = fixture();
    let bundle = ModelBundle::load(&f.model).unwrap();
    let ex = BundleExplainer::new(&bundle, Wording::home_credit().unwrap()).unwrap();
    let mut all = ex.explain_all(&f.frame, 2).unwrap();
    let ours = f.model.parent().unwrap().join("shap.parquet");
    write_parquet(&mut all, &ours).unwrap();
    let script = riskscore_testkit::script("shap_oracle.py");
    let out = Command::new(py)
        .arg(script)
        .arg("--bundle")
        .arg(&f.model)
        .arg("--features")
        .arg(&f.features)
        .arg("--ours")
        .arg(&ours)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows"], 1200);
    for key in [
        "max_abs_diff_pred_contrib",
        "max_abs_diff_pred_contrib_base",
        "max_abs_diff_shap",
        "max_abs_diff_shap_base",
    ] {
        assert!(v[key].as_f64().unwrap() <= 1e-6, "{key}: {v}");
    }
}

#[test]
fn the_global_report_ranks_by_mean_absolute_shap() {
    let f = fixture();
    let bundle = ModelBundle::load(&f.model).unwrap();
    let ex = BundleExplainer::new(&bundle, Wording::home_credit().unwrap()).unwrap();
    let html = ex.global_report(&f.frame, 2).unwrap();
    for needle in [
        "Mean |SHAP| (top 20)",
        "Gain importance (top 20)",
        "Summary (beeswarm)",
        "Dependence: ",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    // The table's first row is the feature with the largest mean |SHAP|.
    let all = ex.explain_all(&f.frame, 2).unwrap();
    let names: Vec<String> = bundle
        .manifest
        .features
        .iter()
        .map(|f| f.name.clone())
        .collect();
    let best = names
        .iter()
        .max_by(|a, b| {
            let m = |n: &str| {
                all.column(n)
                    .unwrap()
                    .f64()
                    .unwrap()
                    .iter()
                    .map(|v| v.unwrap().abs())
                    .sum::<f64>()
            };
            m(a).total_cmp(&m(b))
        })
        .unwrap();
    assert!(
        html.contains(&format!("<td>1</td><td>{best}</td>")),
        "top feature {best}"
    );
}
