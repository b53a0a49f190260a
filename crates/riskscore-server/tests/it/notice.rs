//! Adverse-action notices: the reasons sent to refused applicants, in the answer, the printable
//! page and the journal; never a protected feature, never age for an applicant aged 62 or more.

use axum::http::StatusCode;
use riskscore_model::fairness::{years_from_days_birth, ELDERLY_AGE};
use riskscore_server::journal::{read_entries, verify};
use riskscore_server::notice::Lender;
use riskscore_server::Settings;

use crate::api::{assert_error, call, get};
use crate::common::{fixture, state};

/// Every client of the fixture: a refusal's reasons never name a feature derived from a
/// protected attribute, nor, for an applicant aged 62 or more, an age feature. Then the rule
/// itself, on SHAP values where age raises the probability most: left out at 65, named at 40.
#[test]
fn reasons_never_name_a_protected_feature_nor_age_for_the_elderly() {
    let sc = &fixture().scorer;
    let bundle = riskscore_model::ModelBundle::load(&fixture().model).unwrap();
    let names = bundle.manifest.feature_names();
    let age = names.iter().position(|n| n == "DAYS_BIRTH").unwrap();
    let age_features = bundle.pipeline.age_features();
    assert_eq!(age_features, ["DAYS_BIRTH", "DAYS_EMPLOYED_PERC"]);
    let (mut refused, mut elderly, mut age_would_be_a_reason) = (0, 0, 0);
    for &id in &sc.population.ids {
        let (_, x) = sc.row(id).unwrap();
        let x = x.as_slice();
        let e = sc.explain(id, x, 0).unwrap();
        if e.decision != riskscore_model::Decision::Refused {
            continue;
        }
        refused += 1;
        assert!(!e.reasons.is_empty() && e.reasons.len() <= 4, "{id}");
        for r in &e.reasons {
            assert!(
                !bundle.pipeline.is_protected_feature(&r.feature),
                "{id}: {}",
                r.feature
            );
            assert!(!bundle.manifest.protected_features.contains(&r.feature));
        }
        if years_from_days_birth(x[age]) >= ELDERLY_AGE {
            elderly += 1;
            assert!(
                !e.reasons.iter().any(|r| age_features.contains(&r.feature)),
                "{id}: {:?}",
                e.reasons
            );
            // Without the rule: the top four features raising the probability.
            let phi = sc.explainer.explainer.explain(x).unwrap();
            let mut up: Vec<usize> = (0..names.len()).filter(|&j| phi[j] > 0.0).collect();
            up.sort_by(|&a, &b| phi[b].total_cmp(&phi[a]));
            if up.iter().take(4).any(|&j| age_features.contains(&names[j])) {
                age_would_be_a_reason += 1;
            }
        }
    }
    assert!(
        refused > 50 && elderly > 0,
        "{refused} refused, {elderly} aged 62+"
    );
    eprintln!(
        "{age_would_be_a_reason} of {elderly} refused applicants aged 62+ would have age among \
         their reasons without the rule"
    );

    // Age with the largest positive SHAP value, at 65 and at 40 years.
    let (_, x) = sc.row(first_refused(sc)).unwrap();
    let x = x.as_slice();
    let mut phi = sc.explainer.explainer.explain(x).unwrap();
    let top = phi[..names.len()].iter().cloned().fold(0.0, f64::max);
    phi[age] = top + 1.0;
    let mut x = x.to_vec();
    for (years, named) in [(65.0, false), (40.0, true)] {
        x[age] = -years * 365.25;
        let e = sc.explainer.explanation(1, &x, &phi, 0.99, 0);
        assert_eq!(
            e.reasons[0].feature == "DAYS_BIRTH",
            named,
            "{years}: {:?}",
            e.reasons
        );
        assert!(named || !e.reasons.iter().any(|r| r.feature == "DAYS_BIRTH"));
    }
}

fn first_refused(sc: &riskscore_server::Scorer) -> i64 {
    let p = &sc.population;
    p.ids
        .iter()
        .copied()
        .find(|&id| {
            let i = sc.index(id).unwrap();
            sc.score_of(p.probability[i]).decision == riskscore_model::Decision::Refused
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_carries_its_notice_in_the_answer_the_page_and_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        lender: Lender {
            name: "Example Bank <Ltd>".into(),
            contact: "credit@example.test".into(),
        },
        ..Settings::default()
    };
    let (st, loc) = state(dir.path(), settings);
    let sc = &fixture().scorer;
    let p = &sc.population;
    let decided = |refused: bool| {
        p.ids
            .iter()
            .copied()
            .find(|&id| {
                let i = sc.index(id).unwrap();
                sc.score_of(p.probability[i]).decision
                    == if refused {
                        riskscore_model::Decision::Refused
                    } else {
                        riskscore_model::Decision::Granted
                    }
            })
            .unwrap()
    };
    let (refused, granted) = (decided(true), decided(false));

    let (s, v) = call(&st, get(&format!("/v1/clients/{refused}/score"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let notice = &v["notice"];
    assert_eq!(notice["decision"], "refused", "{v}");
    assert_eq!(notice["lender"], "Example Bank <Ltd>");
    let statements: Vec<String> = notice["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["statement"].as_str().unwrap().to_owned())
        .collect();
    let sentences: Vec<String> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sentence"].as_str().unwrap().to_owned())
        .collect();
    assert!(!statements.is_empty() && statements == sentences);
    // No day counts: durations are in years and months.
    assert!(
        !statements.iter().any(|s| s.contains("days before")),
        "{statements:?}"
    );
    assert!(notice["rights"].as_array().unwrap().len() >= 2);
    let entry = read_entries(&loc).unwrap().pop().unwrap();
    assert_eq!(entry.decided.notice, statements);

    // The notice page and a second score send what the first score sent (written once a day).
    let answer = v;
    let (s, v) = call(&st, get(&format!("/v1/clients/{refused}/notice"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "refused");
    assert_eq!(v["id"], refused);
    assert_eq!(v, answer["notice"]);
    let entry = read_entries(&loc).unwrap().pop().unwrap();
    assert_eq!(entry.decided.kind, "notice");
    assert_eq!(entry.decided.notice, statements);
    let (_, again) = call(&st, get(&format!("/v1/clients/{refused}/score"))).await;
    assert_eq!(again["notice"], answer["notice"]);
    assert_eq!(again["reasons"], answer["reasons"]);
    assert_ne!(again["journal_entry"], answer["journal_entry"]);
    let entry = read_entries(&loc).unwrap().pop().unwrap();
    assert_eq!(
        (entry.decided.kind.as_str(), &entry.decided.notice),
        ("known", &statements)
    );

    let (s, page) = call(
        &st,
        get(&format!("/v1/clients/{refused}/notice?format=html")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.starts_with("<!doctype html><html lang=\"en\">"));
    assert!(page.contains("Example Bank &lt;Ltd&gt;") && page.contains("credit@example.test"));
    assert!(page.contains("Principal reasons for our decision"));
    assert!(!page.contains("<script"));
    for st in &statements {
        let escaped = st
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(page.contains(&escaped), "{st}");
    }

    let (s, v) = call(&st, get(&format!("/v1/clients/{granted}/notice"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["decision"], "granted");
    assert!(v["reasons"].as_array().unwrap().is_empty());
    let (_, v) = call(&st, get(&format!("/v1/clients/{granted}/score"))).await;
    assert!(v["notice"].is_null(), "{v}");
    assert_eq!(v["reasons"], serde_json::json!([]), "{v}");

    let (s, v) = call(
        &st,
        get(&format!("/v1/clients/{refused}/notice?format=xml")),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&v, 422, "invalid_fields");
    assert_eq!(v["error"]["fields"][0]["field"], "format", "{v}");
    let (s, v) = call(&st, get("/v1/clients/1/notice")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, 404, "not_found");
    assert!(verify(&loc).unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_states_its_fairness() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let (s, v) = call(&st, get("/v1/model/fairness")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let written: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture().model.join(riskscore_model::bundle::FAIRNESS_FILE)).unwrap(),
    )
    .unwrap();
    assert_eq!(v["fairness"], written);
    assert_eq!(v["fairness"]["attributes"][0]["attribute"], "CODE_GENDER");
    assert_eq!(v["model_version"], fixture().scorer.model_version);
}

/// A refusal as sent is written once per day and lender: the same day and lender share it;
/// another day or another lender writes it again, with its own date and lender.
#[test]
fn a_refusal_is_written_again_for_another_day_or_lender() {
    let sc = &fixture().scorer;
    let p = &sc.population;
    let i = (0..p.ids.len())
        .find(|&i| sc.score_of(p.probability[i]).decision == riskscore_model::Decision::Refused)
        .unwrap();
    let r = sc.refusal(i, p.ids[i]).unwrap();
    let lender = Lender::default();
    let json = |t: &riskscore_server::notice::Written| serde_json::to_value(t).unwrap();
    let a = r.sent("2026-12-05", &lender, &sc.model_version).unwrap();
    let b = r.sent("2026-12-05", &lender, &sc.model_version).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(json(&a.notice)["date"], "2026-12-05");
    assert_eq!(
        json(&a.reasons),
        serde_json::to_value(&r.explanation.reasons).unwrap()
    );
    assert_eq!(a.features[0], r.explanation.reasons[0].feature);
    let c = r.sent("2026-12-06", &lender, &sc.model_version).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    assert_eq!(json(&c.notice)["date"], "2026-12-06");
    assert_eq!(a.statements, c.statements);
    let other = Lender {
        name: "Another bank".into(),
        contact: lender.contact.clone(),
    };
    let d = r.sent("2026-12-06", &other, &sc.model_version).unwrap();
    assert_eq!(json(&d.notice)["lender"], "Another bank");
    assert_eq!(json(&c.notice)["lender"], lender.name.as_str());
}
