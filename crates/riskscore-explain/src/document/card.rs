//! `model_card.json` in model-card-toolkit's schema v0.0.2 (Mitchell et al. 2019's sections).
//! The schema wants text: each figure is the number as the bundle's file writes it, so that it
//! parses back to the same value.

use serde_json::{json, Value};

use super::Inputs;

/// The model card.
pub fn model_card(i: &Inputs) -> Value {
    let m = &i.manifest;
    let text = |p: &str| match m.pointer(p) {
        Some(Value::String(s)) => s.clone(),
        Some(v) if !v.is_null() => v.to_string(),
        _ => String::new(),
    };
    let metric = |kind: &str, p: &str, interval: Option<(&str, &str)>| -> Option<Value> {
        let v = m.pointer(p).filter(|v| v.is_number())?;
        let mut out = json!({"type": kind, "value": v.to_string()});
        if let Some((lo, hi)) = interval {
            if let (Some(lo), Some(hi)) = (
                m.pointer(lo).filter(|v| v.is_number()),
                m.pointer(hi).filter(|v| v.is_number()),
            ) {
                out["confidence_interval"] =
                    json!({"lower_bound": lo.to_string(), "upper_bound": hi.to_string()});
            }
        }
        Some(out)
    };
    let metrics: Vec<Value> = [
        metric(
            "ROC AUC, cross-validated (mean over folds)",
            "/metrics/cv_auc",
            None,
        ),
        metric(
            "ROC AUC, standard deviation over folds",
            "/metrics/cv_auc_std",
            None,
        ),
        metric(
            "ROC AUC on new applicants",
            "/metrics/estimate/auc",
            Some((
                "/metrics/estimate/auc_interval/low",
                "/metrics/estimate/auc_interval/high",
            )),
        ),
        metric(
            "cost per client on new applicants",
            "/metrics/estimate/cost_per_client",
            Some((
                "/metrics/estimate/cost_interval/low",
                "/metrics/estimate/cost_interval/high",
            )),
        ),
        metric(
            "cost per client at the threshold, out of fold",
            "/metrics/cost_per_client",
            Some((
                "/metrics/uncertainty/cost_per_client/low",
                "/metrics/uncertainty/cost_per_client/high",
            )),
        ),
        metric(
            "decision threshold",
            "/threshold",
            Some((
                "/metrics/uncertainty/threshold/low",
                "/metrics/uncertainty/threshold/high",
            )),
        ),
        metric(
            "Brier score after calibration",
            "/metrics/calibration_check/brier_after",
            None,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let date = date_of(
        m.pointer("/created_unix")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    );
    let protected: Vec<String> = m
        .pointer("/protected")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut details = json!({
        "name": i.name,
        "overview": "Probability of default of a loan applicant, and the decision (granted or \
    refused) at a cost-optimal threshold; borderline decisions reviewed by a person.",
        "documentation": format!(
            "See {} in this pack: purpose, target, data and lineage, features, method, \
    performance, calibration, threshold economics, stability, fairness, explanations, limitations, \
    monitoring, approvals.",
            super::DOCUMENT_FILE
        ),
        "version": {"name": i.version, "date": date},
        "licenses": [{"identifier": "proprietary"}],
        "path": i.dir.display().to_string(),
    });
    if let Some((name, contact)) = &i.owner {
        details["owners"] = json!([{"name": name, "contact": contact}]);
    }
    json!({
        "schema_version": "0.0.2",
        "model_details": details,
        "model_parameters": {
            "model_architecture": format!(
                "LightGBM gradient-boosted trees, {} rounds, imbalance strategy {}, \
    calibration {}",
                text("/rounds"),
                text("/strategy"),
                text("/calibration/method")
            ),
            "data": [{
                "name": "training",
                "description": format!(
                    "{} applicants, {} defaulted; {} features; SHA-256 of the training matrix {}",
                    text("/metrics/n_rows"),
                    text("/metrics/n_positives"),
                    text("/metrics/n_features"),
                    text("/data_hash")
                ),
                "sensitive": {"sensitive_data": protected},
            }],
            "input_format": "an application (the application table's fields, and the \
    applicant's history tables when the layout has them)",
            "output_format": "default probability (calibrated), decision granted or refused, \
    review flag, principal reasons",
        },
        "quantitative_analysis": {"performance_metrics": metrics},
        "considerations": {
            "users": [
                {"description": "credit officers and relationship managers deciding consumer loans"},
                {"description": "credit-risk analysts and model validators"},
            ],
            "use_cases": [
                {"description": "first decision on a loan application, refusals explained to the \
    applicant and borderline decisions reviewed by a person"},
            ],
            "limitations": [
                {"description": "outcomes exist only for granted loans: no reject inference"},
                {"description": "valid for applicants like those of the training data only"},
                {"description": "estimated performance without labels does not see concept shift"},
            ],
            "tradeoffs": [
                {"description": format!(
                    "the threshold trades missed defaulters (cost {}) against refused good \
    clients (cost {})",
                    text("/cost/fn_cost"),
                    text("/cost/fp_cost")
                )},
            ],
            "ethical_considerations": [
                {"name": "discrimination on protected attributes",
                 "mitigation_strategy": "protected attributes and features derived from them \
    are not inputs; approval rates, error rates and adverse impact ratios by group are measured at \
    the threshold (fairness.json)"},
                {"name": "automated refusal without recourse",
                 "mitigation_strategy": "adverse-action notice with principal reasons and \
    actionable options; human review of borderline decisions"},
            ],
        },
    })
}

/// `YYYY-MM-DD HH:MM` of a Unix time (UTC).
pub(crate) fn date_time_of(unix: u64) -> String {
    let t = utc(unix);
    format!("{} {:02}:{:02}", date_of(unix), t.hour, t.minute)
}

/// `YYYY-MM-DD` of a Unix time (UTC).
fn date_of(unix: u64) -> String {
    let t = utc(unix);
    format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
}

fn utc(unix: u64) -> riskscore_data::clock::Utc {
    riskscore_data::clock::Utc::at(std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix))
}

#[cfg(test)]
mod tests {
    use super::{date_of, date_time_of};

    #[test]
    fn dates_of_unix_times() {
        assert_eq!(date_of(0), "1970-01-01");
        // 2000-03-01: 951,868,800 s.
        assert_eq!(date_of(951_868_800), "2000-03-01");
        assert_eq!(date_of(951_868_799), "2000-02-29");
        assert_eq!(date_of(1_798_761_600), "2027-01-01");
        assert_eq!(
            date_time_of(1_798_761_600 + 3_600 + 120 + 59),
            "2027-01-01 01:02"
        );
    }
}
