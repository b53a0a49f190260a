//! Recourse: every option offered is granted when re-scored through the full pipeline and
//! LightGBM, changes only the action set's fields within their direction and bounds, and the
//! search's optimum equals a brute-force enumeration of the same candidates on small models.

use std::time::Duration;

use axum::http::StatusCode;
use riskscore_explain::recourse::{ActionSet, Cost, Direction, Query, Status};
use riskscore_model::bundle::Decision;
use riskscore_server::{Scorer, Settings};

use crate::api::{assert_error, call, get};
use crate::common::{fixture, state};

/// Refused clients of a scorer, in id order.
fn refused(sc: &Scorer) -> Vec<i64> {
    let mut ids: Vec<i64> = sc
        .population
        .ids
        .iter()
        .enumerate()
        .filter(|(i, _)| sc.score_of(sc.population.probability[*i]).decision == Decision::Refused)
        .map(|(_, id)| *id)
        .collect();
    ids.sort_unstable();
    ids
}

fn query(k: usize) -> Query {
    Query {
        k,
        // A debug build is slow: the budget is not what is tested here.
        budget: Duration::from_secs(30),
        ..Query::default()
    }
}

/// Checks every option of `id`'s answer on its own: re-scored through the pipeline and the
/// LightGBM booster, granted outside the review band; only action fields changed, each in its
/// direction and within its bounds; the features that moved are those the changed fields feed.
/// Returns the answer's status.
fn check_client(sc: &Scorer, booster: &riskscore_model::ModelBundle, id: i64, q: &Query) -> Status {
    let (i, x) = sc.row(id).unwrap();
    let x = x.as_slice();
    let app = sc.application_of(i).unwrap().unwrap();
    let a = sc.recourse(id, &app, x, q).unwrap();
    assert_eq!(
        a.unverified, 0,
        "{id}: an option the pipeline did not confirm"
    );
    assert!(a.options.len() <= 3);
    if a.status == Status::Found {
        assert!(!a.options.is_empty());
    }
    for (n, o) in a.options.iter().enumerate() {
        assert!(
            !o.changes.is_empty() && o.changes.len() <= q.k,
            "{id}: {o:?}"
        );
        if n > 0 {
            assert!(
                o.cost >= a.options[n - 1].cost,
                "{id}: options out of order"
            );
        }
        let mut changed = app.clone();
        for c in &o.changes {
            let action = sc
                .recourse
                .action(&c.field)
                .unwrap_or_else(|| panic!("{id}: {} is not an action", c.field));
            let (lo, hi) = sc.recourse.bounds(&c.field).unwrap();
            assert!(
                c.to >= lo && c.to <= hi,
                "{id}: {} = {} outside [{lo}, {hi}]",
                c.field,
                c.to
            );
            assert_eq!(c.from, app[&c.field].as_f64().unwrap(), "{id}: {}", c.field);
            match action.direction {
                Direction::Down => assert!(c.to < c.from, "{id}: {c:?}"),
                Direction::Up => assert!(c.to > c.from, "{id}: {c:?}"),
                Direction::Both => assert!(c.to != c.from),
            }
            if let Some(step) = action.step {
                assert_eq!(
                    (c.to / step).round() * step,
                    c.to,
                    "{id}: {c:?} off the step"
                );
            }
            changed.insert(c.field.clone(), c.to.into());
        }
        let row = sc.rescore(changed, x).unwrap();
        // The real LightGBM, not the parsed trees.
        let p = booster.predict(&row).unwrap()[0];
        assert_eq!(p.to_bits(), o.probability.to_bits(), "{id}: {o:?}");
        assert!(
            !booster.in_review_band(p) && booster.decide(p) == Decision::Granted,
            "{id}: {p}"
        );
        // Nothing immutable moved: only features fed by the changed fields (the served row
        // holds some values as their f32 rounding).
        for (j, name) in sc.names.iter().enumerate() {
            if !riskscore_explain::recourse::serves(x[j], row[j]) {
                let sources = sc.pipeline.sources_of(name);
                assert!(
                    o.changes.iter().any(|c| sources.contains(&c.field)),
                    "{id}: {name} moved though none of its sources {sources:?} changed"
                );
            }
        }
        assert!(
            o.sentence.starts_with("With ") && o.sentence.ends_with("would have been granted.")
        );
    }
    a.status
}

#[test]
fn every_option_is_granted_through_the_full_pipeline_and_keeps_to_the_action_set() {
    let sc = &fixture().scorer;
    let booster = riskscore_model::ModelBundle::load(&fixture().model).unwrap();
    let ids = refused(sc);
    assert!(ids.len() > 50, "{} refused", ids.len());
    let mut found = 0;
    let mut none = 0;
    for (n, &id) in ids.iter().take(80).enumerate() {
        let k = 1 + n % 3;
        match check_client(sc, &booster, id, &query(k)) {
            Status::Found => found += 1,
            Status::NoRecourse => none += 1,
            other => panic!("{id}: {other:?}"),
        }
    }
    eprintln!("{found} found, {none} without recourse");
    assert!(found >= 3, "{found} found, {none} without recourse");
    // A search out of time never claims a certificate: no proof, and no `no_recourse`.
    for &id in ids.iter().take(20) {
        let (i, x) = sc.row(id).unwrap();
        let x = x.as_slice();
        let q = Query {
            budget: Duration::ZERO,
            ..query(3)
        };
        let a = sc
            .recourse(id, &sc.application_of(i).unwrap().unwrap(), x, &q)
            .unwrap();
        if a.searched.iter().any(|s| s.candidates > 0) {
            assert!(!a.proven_optimal, "{id}");
            assert!(
                matches!(a.status, Status::Unknown | Status::Found),
                "{id}: {:?}",
                a.status
            );
        }
    }
    // A granted client has nothing to change.
    let granted = sc
        .population
        .ids
        .iter()
        .enumerate()
        .find(|(i, _)| {
            !sc.explainer
                .manifest
                .in_review_band(sc.population.probability[*i])
                && sc.score_of(sc.population.probability[*i]).decision == Decision::Granted
        })
        .map(|(_, id)| *id)
        .unwrap();
    let (i, x) = sc.row(granted).unwrap();
    let x = x.as_slice();
    let a = sc
        .recourse(
            granted,
            &sc.application_of(i).unwrap().unwrap(),
            x,
            &query(2),
        )
        .unwrap();
    assert_eq!(a.status, Status::Granted);
    assert!(a.options.is_empty());
}

/// On a model of at most 30 trees, the branch and bound's cheapest cost equals the brute-force
/// minimum over the same candidate grid, for K = 1, 2 and 3; "no recourse" is confirmed by
/// the enumeration finding nothing.
#[test]
fn the_optimum_equals_brute_force_on_small_models() {
    let kit = riskscore_testkit::home_credit();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = riskscore_testkit::short_config();
    cfg.lgbm.max_rounds = 30;
    cfg.lgbm.early_stopping_rounds = 30;
    cfg.estimate = riskscore_model::estimate::Method::Cv;
    let model = dir.path().join("small");
    let (frame, pipeline) = (&kit.frame, &kit.pipeline);
    riskscore_model::run::train_to_bundle(frame, pipeline, &cfg, &model).unwrap();
    let sc = Scorer::load(&model, &kit.data, 1).unwrap();
    assert!(sc.explainer.forest.trees.len() <= 30);
    let model_ref = sc.recourse_model();
    let ids = refused(&sc);
    let (mut compared, mut none) = (0, 0);
    for (n, &id) in ids.iter().take(40).enumerate() {
        let k = if n < 6 { 3 } else { 1 + n % 2 };
        for cost in [Cost::Percentile, Cost::Relative] {
            let q = Query { cost, ..query(k) };
            let (i, x) = sc.row(id).unwrap();
            let x = x.as_slice();
            let app = sc.application_of(i).unwrap().unwrap();
            let current = |f: &str| {
                app.get(f)
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(f64::NAN)
            };
            let out = sc.recourse.search(model_ref, x, &current, &q).unwrap();
            assert!(out.proven_optimal, "{id}");
            let brute = sc.recourse.brute_force(model_ref, x, &current, &q).unwrap();
            match (out.options.first(), brute) {
                (Some(best), Some(b)) => {
                    assert!(
                        (best.cost - b).abs() <= 1e-9 * b.max(1.0),
                        "{id} K={k} {cost:?}: {} vs {b}",
                        best.cost
                    );
                }
                (None, None) => {
                    assert_eq!(out.status, Status::NoRecourse, "{id}");
                    none += 1;
                }
                (a, b) => panic!("{id} K={k} {cost:?}: search {a:?}, brute force {b:?}"),
            }
            compared += 1;
        }
    }
    assert!(compared >= 60, "{compared}");
    eprintln!("{compared} searches equal to brute force, {none} without recourse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recourse_endpoint_answers_and_names_bad_queries() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let sc = &fixture().scorer;
    let ids = refused(sc);
    // The first refused client with an option.
    let mut with_option = None;
    for &id in ids.iter().take(40) {
        let (status, body) = call(
            &st,
            get(&format!("/v1/clients/{id}/recourse?k=2&budget_ms=5000")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["k"], 2);
        assert_eq!(body["action_set"], "1");
        if body["status"] == "found" {
            with_option = Some((id, body));
            break;
        }
    }
    let (id, body) = with_option.expect("a refused client with recourse");
    let o = &body["options"][0];
    assert_eq!(o["score"]["decision"], "granted");
    assert_eq!(o["score"]["band"], "clear");
    assert!(
        o["sentence"].as_str().unwrap().contains(" instead of "),
        "{o}"
    );
    // The notice carries it, in JSON, on the printed page and in the journal.
    let (status, notice) = call(&st, get(&format!("/v1/clients/{id}/notice"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(notice["recourse"][0], o["sentence"], "{notice}");
    let (status, page) = call(&st, get(&format!("/v1/clients/{id}/notice?format=html"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.as_str()
            .unwrap()
            .contains("What would have changed our decision"),
        "{page}"
    );
    let entries = riskscore_server::journal::read_entries(&loc).unwrap();
    let last = entries.last().unwrap();
    assert!(
        last.decided
            .notice
            .iter()
            .any(|s| Some(s.as_str()) == o["sentence"].as_str()),
        "{:?}",
        last.decided.notice
    );
    // Bad queries and unknown clients.
    for (q, field, want) in [
        ("k=4", "k", "`4` is not an integer from 1 to 3"),
        ("k=two", "k", "`two`"),
        ("cost=cheapest", "cost", "cost \"cheapest\""),
        ("budget_ms=0", "budget_ms", "`0`"),
    ] {
        let (status, body) = call(&st, get(&format!("/v1/clients/{id}/recourse?{q}"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {body}");
        assert_error(&body, 422, "invalid_fields");
        assert_eq!(body["error"]["fields"][0]["field"], field, "{q}: {body}");
        assert!(
            body["error"]["fields"][0]["message"]
                .as_str()
                .unwrap()
                .contains(want),
            "{q}: {body}"
        );
    }
    let (status, body) = call(&st, get(&format!("/v1/clients/{id}/recourse?k=1&k=2"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_error(&body, 400, "invalid_query");
    let (status, body) = call(&st, get("/v1/clients/1/recourse")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, 404, "not_found");
}

/// The shipped set never lets a protected attribute or age move.
#[test]
fn protected_attributes_and_age_are_never_actions() {
    let kit = riskscore_testkit::home_credit();
    let head = "# version: 1\nfield,direction,min,max,step,text\n";
    for (body, want) in [
        (
            "CODE_GENDER,both,,,1,a gender",
            "CODE_GENDER is a protected attribute",
        ),
        (
            "DAYS_BIRTH,down,,,1,an age",
            "DAYS_BIRTH is the applicant's age",
        ),
        (
            "BURO_DAYS_CREDIT_MIN,up,,,1,x",
            "BURO_DAYS_CREDIT_MIN is not a numeric column",
        ),
        (
            "NAME_CONTRACT_TYPE,up,,,1,x",
            "NAME_CONTRACT_TYPE is not a numeric column",
        ),
    ] {
        let set = ActionSet::parse(&format!("{head}{body}\n"), "actions.csv").unwrap();
        let sc = Scorer::load(&kit.model, &kit.data, 1).unwrap();
        let e = sc.with_actions(set).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    let shipped = &fixture().scorer.recourse.actions;
    for a in &shipped.actions {
        assert!(a.field.starts_with("AMT_"), "{}", a.field);
    }
}

/// One table has no action set by default; a file gives one, and its errors name the field.
#[test]
fn a_single_table_takes_an_action_file_and_bad_ones_are_named() {
    let kit = riskscore_testkit::single_table();
    let sc = Scorer::load(&kit.model, &kit.data, 1).unwrap();
    let ids = refused(&sc);
    let id = ids[0];
    let (i, x) = sc.row(id).unwrap();
    let x = x.as_slice();
    let app = sc.application_of(i).unwrap().unwrap();
    assert_eq!(
        sc.recourse(id, &app, x, &query(2)).unwrap().status,
        Status::NoActions
    );
    let head = "# version: 7\nfield,direction,min,max,step,text\n";
    let bad = |body: &str| {
        let set = ActionSet::parse(&format!("{head}{body}\n"), "actions.csv").unwrap();
        let sc = Scorer::load(&kit.model, &kit.data, 1).unwrap();
        sc.with_actions(set).unwrap_err().to_string()
    };
    assert!(bad("salary,up,,,1,a salary").contains("salary is not a numeric column"));
    assert!(bad("kind,up,,,1,a kind").contains("kind is not a numeric column"));
    assert!(bad("client_id,up,,,1,an id").contains("client_id is not a numeric column"));
    let set = ActionSet::parse(
        &format!("{head}credit,down,,,100,a credit\nincome,up,,,100,an income\n"),
        "actions.csv",
    )
    .unwrap();
    let sc = sc.with_actions(set).unwrap();
    let booster = riskscore_model::ModelBundle::load(&kit.model).unwrap();
    let mut found = 0;
    for &id in ids.iter().take(30) {
        if check_client(&sc, &booster, id, &query(2)) == Status::Found {
            found += 1;
        }
    }
    assert!(found > 5, "{found}");
}
