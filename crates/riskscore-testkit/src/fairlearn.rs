//! fairlearn as the oracle of the fairness figures (scripts/fairness_oracle.py).

use std::path::Path;

use riskscore_model::fairness::{Fairness, MIN_GROUP};

/// Runs scripts/fairness_oracle.py (fairlearn) on a rows file (`defaulted`, `probability`, one
/// column per attribute; `id`, a column to leave aside); its JSON, None when the oracle is not
/// configured.
pub fn run(rows: &Path, threshold: f64, id: Option<&str>) -> Option<serde_json::Value> {
    let py = crate::oracle("RISKSCORE_PYTHON", "a python with fairlearn")?;
    let out = std::process::Command::new(py)
        .arg(crate::script("fairness_oracle.py"))
        .arg(rows)
        .args(["--threshold", &threshold.to_string()])
        .args(["--min-group", &MIN_GROUP.to_string()])
        .args(id.map(|id| ["--id", id]).into_iter().flatten())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Every per-group figure and disparity measure of `ours` equals fairlearn's (1e-12).
pub fn assert_agrees(ours: &Fairness, oracle: &serde_json::Value) {
    let close = |a: f64, b: &serde_json::Value, what: &str| {
        let b = b.as_f64().unwrap_or(f64::NAN);
        assert!(
            (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12,
            "{what}: riskscore {a}, fairlearn {b}"
        );
    };
    assert_eq!(
        ours.attributes.len(),
        oracle.as_object().unwrap().len(),
        "{oracle}"
    );
    for a in &ours.attributes {
        let theirs = &oracle[&a.attribute];
        assert_eq!(
            a.groups.len(),
            theirs["groups"].as_object().unwrap().len(),
            "{}: {theirs}",
            a.attribute
        );
        for g in &a.groups {
            let t = &theirs["groups"][&g.group];
            let what = format!("{} = {}", a.attribute, g.group);
            assert_eq!(g.count as u64, t["count"].as_u64().unwrap(), "{what}");
            close(g.approval_rate.value, &t["approval_rate"], &what);
            close(g.true_positive_rate, &t["true_positive_rate"], &what);
            close(g.false_positive_rate, &t["false_positive_rate"], &what);
            close(g.mean_probability, &t["mean_probability"], &what);
        }
        let m = &theirs["measures"];
        assert!(
            a.demographic_parity_difference.is_some() != m.is_null(),
            "{}: {m}",
            a.attribute
        );
        if let (Some(dpd), Some(dpr), Some(eod), Some(eop)) = (
            a.demographic_parity_difference,
            a.demographic_parity_ratio,
            a.equalized_odds_difference,
            a.equal_opportunity_difference,
        ) {
            close(
                dpd.value,
                &m["demographic_parity_difference"],
                "dp difference",
            );
            close(dpr.value, &m["demographic_parity_ratio"], "dp ratio");
            close(eod.value, &m["equalized_odds_difference"], "eo difference");
            close(
                eop.value,
                &m["equal_opportunity_difference"],
                "eopp difference",
            );
            for i in [dpd, dpr, eod, eop] {
                assert!(
                    i.low <= i.value + 1e-12 && i.value <= i.high + 1e-12,
                    "{i:?}"
                );
            }
        }
    }
}
