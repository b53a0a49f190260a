//! Every endpoint and error through the router with `oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use riskscore_server::journal::{read_entries, verify};
use riskscore_server::{router, AppState, Settings};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{application_body, fixture, state};

pub(crate) async fn call(st: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let resp = router(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

pub(crate) fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub(crate) fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

/// A test applicant (no outcome) and a training one.
pub(crate) fn ids() -> (i64, i64) {
    let p = &fixture().scorer.population;
    let test = p.ids[p.target.iter().position(Option::is_none).unwrap()];
    let train = p.ids[p.target.iter().position(Option::is_some).unwrap()];
    (test, train)
}

pub(crate) fn assert_error(v: &Value, status: u16, code: &str) {
    assert_eq!(v["error"]["status"], status, "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_information_and_unknown_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let (id, train) = ids();
    let (s, v) = call(&st, get(&format!("/v1/clients/{id}"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["known"], true);
    assert!(v["fields"]["AMT_CREDIT"].as_f64().unwrap() > 0.0);
    assert!(v["age_years"].as_f64().unwrap() >= 18.0);
    assert!(v["history_records"]["bureau"].is_u64());
    assert_eq!(v["outcome"], Value::Null);
    let (_, v) = call(&st, get(&format!("/v1/clients/{train}"))).await;
    assert!(v["outcome"] == 0 || v["outcome"] == 1);
    let (s, v) = call(&st, get("/v1/clients/42")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, 404, "not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("42"));
    let (s, v) = call(&st, get("/v1/clients/abc/score")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"][0]["field"], "id");
    let (s, v) = call(&st, get("/v2/nothing")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn score_equals_batch_scoring_and_is_journaled_first() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let f = fixture();
    let bundle = riskscore_model::ModelBundle::load(&f.model).unwrap();
    let batch = riskscore_model::predict::score_path(&bundle, &f.data).unwrap();
    let threshold = bundle.manifest.threshold;
    // A granted and a refused client when the data has both.
    let mut picked = vec![batch[0].clone()];
    if let Some(r) = batch
        .iter()
        .find(|s| s.decision == riskscore_model::Decision::Refused)
    {
        picked.push(r.clone());
    }
    for (n, want) in picked.iter().enumerate() {
        let (s, v) = call(&st, get(&format!("/v1/clients/{}/score", want.id))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let p = v["score"]["probability"].as_f64().unwrap();
        assert_eq!(
            p.to_bits(),
            want.probability.to_bits(),
            "client {}",
            want.id
        );
        let refused = want.decision == riskscore_model::Decision::Refused;
        assert_eq!(
            v["score"]["decision"],
            if refused { "refused" } else { "granted" }
        );
        assert!((v["score"]["distance"].as_f64().unwrap() - (p - threshold)).abs() < 1e-15);
        assert_eq!(v["score"]["threshold"].as_f64().unwrap(), threshold);
        assert_eq!(v["reasons"].as_array().unwrap().is_empty(), !refused);
        // The entry exists once the answer is out.
        let entries = read_entries(&loc).unwrap();
        assert_eq!(entries.len(), n + 1);
        let e = entries.last().unwrap();
        assert_eq!(v["journal_entry"], e.seq);
        assert_eq!(e.decided.client, want.id.to_string());
        assert_eq!(e.decided.probability.to_bits(), p.to_bits());
        assert_eq!(e.decided.request_id, v["request_id"].as_str().unwrap());
    }
    assert!(verify(&loc).unwrap().ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explanation_adds_up_and_names_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let (id, _) = ids();
    let (s, v) = call(&st, get(&format!("/v1/clients/{id}/explanation?top=1000"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let contributions = v["contributions"].as_array().unwrap();
    assert_eq!(contributions.len(), 100, "top is capped at 100");
    let (_, all) = call(&st, get(&format!("/v1/clients/{id}/score"))).await;
    assert_eq!(v["probability"], all["score"]["probability"]);
    assert!(v["reasons"].as_array().unwrap().len() <= 4);
    for r in v["reasons"].as_array().unwrap() {
        assert!(r["shap"].as_f64().unwrap() > 0.0);
        assert!(!r["sentence"].as_str().unwrap().is_empty());
    }
    // Additivity over every feature: base + sum(SHAP) = raw score.
    let x = fixture().scorer.row(id).unwrap().1;
    let phi = fixture().scorer.explainer.explainer.explain(&x).unwrap();
    let raw = v["raw_score"].as_f64().unwrap();
    assert!((phi.iter().sum::<f64>() - raw).abs() < 1e-9);
    assert_eq!(v["base_value"].as_f64().unwrap(), phi[phi.len() - 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_clients_are_labelled_nearest_first() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let (_, id) = ids();
    let (s, v) = call(&st, get(&format!("/v1/clients/{id}/similar?k=5"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let n = v["neighbours"].as_array().unwrap();
    assert_eq!(n.len(), 5);
    let d: Vec<f64> = n.iter().map(|x| x["distance"].as_f64().unwrap()).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    assert!(
        n.iter().all(|x| x["id"] != id),
        "the client is not its own neighbour"
    );
    assert!(n.iter().all(|x| x["target"] == 0 || x["target"] == 1));
    let (s, v) = call(&st, get(&format!("/v1/clients/{id}/similar?k=0"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"][0]["field"], "k");
}

/// A folder of new applicants alone (application_test and the history, no application_train):
/// served with the same scores as beside the training applicants; with no labelled client,
/// similar clients are none and their default rate null (the server used to panic at start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_applicants_alone_are_served_as_beside_the_training_ones() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new");
    std::fs::create_dir(&data).unwrap();
    for entry in std::fs::read_dir(&f.data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.starts_with("application_train") && path.is_file() {
            std::fs::copy(&path, data.join(&name)).unwrap();
        }
    }
    let scorer = tokio::task::spawn_blocking({
        let (model, data) = (f.model.clone(), data.clone());
        move || riskscore_server::Scorer::load(&model, &data, 2)
    })
    .await
    .unwrap()
    .expect("a folder of new applicants is served");
    let (all, new) = (&f.scorer.population, &scorer.population);
    assert!(new.target.iter().all(Option::is_none));
    let unlabelled = all.target.iter().filter(|t| t.is_none()).count();
    assert_eq!(new.ids.len(), unlabelled);
    for (r, id) in new.ids.iter().enumerate() {
        let i = all
            .ids
            .iter()
            .position(|a| a == id)
            .expect("a known client");
        assert!(all.target[i].is_none(), "client {id} is a test applicant");
        assert_eq!(
            new.probability[r].to_bits(),
            all.probability[i].to_bits(),
            "client {id}"
        );
    }
    let journal = riskscore_server::Journal::open(&riskscore_server::Location::Sqlite(
        dir.path().join("journal.sqlite"),
    ))
    .unwrap();
    let id = new.ids[0];
    let st = AppState::new(scorer, journal, Settings::default());
    let (s, v) = call(&st, get(&format!("/v1/clients/{id}/similar?k=5"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["neighbours"], json!([]));
    assert_eq!(v["default_rate"], Value::Null);
    let (s, v) = call(&st, get(&format!("/v1/clients/{id}/score"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_application_scores_as_the_batch_did() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let f = fixture();
    for id in [ids().0, ids().1] {
        let body = application_body(&f.data, id);
        let (s, v) = call(&st, post("/v1/score", body.to_string())).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (_, known) = call(&st, get(&format!("/v1/clients/{id}/score"))).await;
        assert_eq!(
            v["score"]["probability"].as_f64().unwrap().to_bits(),
            known["score"]["probability"].as_f64().unwrap().to_bits(),
            "client {id}: one application through the pipeline gives the batch's score"
        );
        assert_eq!(v["explanation"]["id"], id);
    }
    let kinds: Vec<String> = read_entries(&loc)
        .unwrap()
        .into_iter()
        .map(|e| e.decided.kind)
        .collect();
    assert_eq!(kinds, ["new", "known", "new", "known"]);
    // An application without history is scored too; without its id it is refused at intake.
    let mut body = application_body(&f.data, ids().0);
    let app = body["application"].as_object().unwrap().clone();
    body = json!({ "application": app });
    let (s, v) = call(&st, post("/v1/score", body.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], ids().0);
    body["application"]
        .as_object_mut()
        .unwrap()
        .remove("SK_ID_CURR");
    let (s, v) = call(&st, post("/v1/score", body.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "application.SK_ID_CURR");
}

/// The field errors of a 422 answer: (field, message).
fn field_errors(v: &Value) -> Vec<(String, String)> {
    v["error"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["field"].as_str().unwrap_or("").to_owned(),
                        f["message"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 27: the intake refuses what a lender's would (each case with its status and field),
/// and sends a value far outside the training data to review, journaled as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_intake_checks_applications_before_a_decision() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let f = fixture();
    let (id, other) = ids();
    let with = |field: &str, value: Value| {
        let mut body = application_body(&f.data, id);
        body["application"][field] = value;
        body
    };
    // Every field missing: each required one named.
    let (s, v) = call(
        &st,
        post("/v1/score", json!({"application": {}}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let named: Vec<String> = field_errors(&v).into_iter().map(|f| f.0).collect();
    for required in riskscore_data::intake::REQUIRED {
        assert!(
            named.contains(&format!("application.{required}")),
            "{required}: {v}"
        );
    }
    assert!(!named.contains(&"application.CODE_GENDER".to_owned()));
    let cases = [
        ("AMT_INCOME_TOTAL", json!(-5), "greater than 0"),
        ("AMT_INCOME_TOTAL", json!(1e308), "at most 1e12"),
        ("DAYS_BIRTH", json!(5000), "18 to 100 years"),
        ("DAYS_BIRTH", json!(-17 * 365), "18 to 100 years"),
        ("DAYS_EMPLOYED", json!(12), "0 or negative"),
        ("CNT_CHILDREN", json!(-1), "0 or more"),
        ("EXT_SOURCE_2", json!(1.5), "between 0 and 1"),
        ("FLAG_DOCUMENT_3", json!(2), "0 or 1"),
    ];
    for (field, value, words) in cases {
        let (s, v) = call(
            &st,
            post("/v1/score", with(field, value.clone()).to_string()),
        )
        .await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}: {v}"
        );
        let errors = field_errors(&v);
        assert_eq!(errors.len(), 1, "{v}");
        assert_eq!(errors[0].0, format!("application.{field}"));
        assert!(errors[0].1.contains(words), "{field}: {}", errors[0].1);
    }
    // Not employed (the documented code) is a value of the domain.
    let (s, v) = call(
        &st,
        post(
            "/v1/score",
            with("DAYS_EMPLOYED", json!(365243)).to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["score"].get("review_reasons").is_none(), "{v}");
    assert!(read_entries(&loc)
        .unwrap()
        .iter()
        .all(|e| e.decided.review.is_empty()));
    // Within the domain but far outside training: scored, sent to review, journaled as such.
    let (s, v) = call(
        &st,
        post(
            "/v1/score",
            with("AMT_INCOME_TOTAL", json!(5e10)).to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["score"]["band"], "review", "{v}");
    let why = v["score"]["review_reasons"][0].as_str().unwrap();
    assert!(
        why.starts_with("AMT_INCOME_TOTAL: outside the data the model was trained on"),
        "{why}"
    );
    let last = read_entries(&loc).unwrap().pop().unwrap();
    assert_eq!(last.seq, v["journal_entry"].as_i64().unwrap());
    assert_eq!(last.decided.review, [why.to_owned()]);
    assert!(
        verify(&loc).unwrap().ok,
        "the chain covers the review reasons"
    );
    // A category the model never saw (a misspelling, a new kind of credit): scored, sent to
    // review with its place, one reason per history column however many records; the
    // protected CODE_GENDER, which the model does not read, is not looked at.
    let mut body = with("NAME_CONTRACT_TYPE", json!("Cash loan"));
    body["application"]["CODE_GENDER"] = json!("X");
    body["bureau"] = json!([
        {"SK_ID_BUREAU": 1, "CREDIT_ACTIVE": "Closed", "CREDIT_TYPE": "Space loan"},
        {"SK_ID_BUREAU": 2, "CREDIT_ACTIVE": "Closed", "CREDIT_TYPE": "Car loan"},
        {"SK_ID_BUREAU": 3, "CREDIT_ACTIVE": "Closed", "CREDIT_TYPE": "Moon loan"},
    ]);
    body.as_object_mut().unwrap().remove("bureau_balance");
    let (s, v) = call(&st, post("/v1/score", body.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["score"]["band"], "review", "{v}");
    let why: Vec<&str> = v["score"]["review_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(why.len(), 2, "{v}");
    assert_eq!(
        why[0],
        "application.NAME_CONTRACT_TYPE: `Cash loan` is not among the values the model was \
         trained on (Cash loans, Revolving loans); it counts as none of them"
    );
    assert!(
        why[1].starts_with(
            "bureau[0].CREDIT_TYPE: `Space loan` is not among the values the model was trained \
             on (Another type of loan, Car loan, Consumer credit,"
        ) && why[1].ends_with("; it counts as none of them (so do 1 more of the bureau records)"),
        "{}",
        why[1]
    );
    assert_eq!(
        read_entries(&loc).unwrap().pop().unwrap().decided.review,
        why
    );
    // The same rules for a batch item and a what-if change.
    let batch =
        json!({"applications": [application_body(&f.data, other), with("AMT_CREDIT", json!(0))]});
    let (s, v) = call(&st, post("/v1/score/batch", batch.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        field_errors(&v)[0].0,
        "applications[1].application.AMT_CREDIT"
    );
    let change = json!({"changes": {"DAYS_BIRTH": 5000}});
    let (s, v) = call(
        &st,
        post(&format!("/v1/clients/{id}/whatif"), change.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(field_errors(&v)[0].0, "changes.DAYS_BIRTH");
    let change = json!({"changes": {"AMT_INCOME_TOTAL": 5e10}});
    let (s, v) = call(
        &st,
        post(&format!("/v1/clients/{id}/whatif"), change.to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["after"]["band"], "review", "{v}");
    assert!(v["before"].get("review_reasons").is_none(), "{v}");
}

/// A server started on a folder reads a client's application again for a what-if or a
/// recourse search: once the file has changed it answers 503 naming the file, not another
/// client's fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_file_changed_since_the_start_is_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for file in std::fs::read_dir(&fixture().data).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(&file, data.join(file.file_name().unwrap())).unwrap();
    }
    let scorer = riskscore_server::Scorer::load(&fixture().model, &data, 2).unwrap();
    let id = scorer.population.ids[0];
    let loc = riskscore_server::Location::Sqlite(dir.path().join("journal.sqlite"));
    let journal = riskscore_server::Journal::open(&loc).unwrap();
    let st = AppState::new_shared(std::sync::Arc::new(scorer), journal, Settings::default());
    let what_if = || post(&format!("/v1/clients/{id}/whatif"), r#"{"changes": {}}"#);
    let (s, v) = call(&st, what_if()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["features_changed"], json!([]), "{v}");
    let path = data.join("application_train.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    for req in [what_if(), get(&format!("/v1/clients/{id}/recourse"))] {
        let (s, v) = call(&st, req).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_error(&v, 503, "application_unavailable");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(
            m.contains("application_train.csv") && m.contains("changed since the server started"),
            "{m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_one_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let (s, v) = call(&st, post("/v1/score", "{not json")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, 400, "malformed_request");
    let bad = json!({
        "application": {"AMT_CREDIT": "a lot", "NAME_CONTRACT_TYPE": 3.5, "COLOUR": "red"},
        "bureau": [{"SK_ID_BUREAU": "x"}],
        "pets": []
    });
    let (s, v) = call(&st, post("/v1/score", bad.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&v, 422, "invalid_fields");
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for want in [
        "application.AMT_CREDIT",
        "application.NAME_CONTRACT_TYPE",
        "application.COLOUR",
        "bureau[0].SK_ID_BUREAU",
        "pets",
    ] {
        assert!(fields.contains(&want), "{want} not in {fields:?}");
    }
    let (s, v) = call(&st, post("/v1/score", json!({"no": 1}).to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"][0]["field"], "application");
    // Over the server's limit (1 MiB), under axum's own (2 MiB).
    let big = format!(
        "{{\"application\": \"{}\"}}",
        "a".repeat(riskscore_server::api::MAX_BODY)
    );
    let (s, v) = call(&st, post("/v1/score", big)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&v, 413, "body_too_large");
    // No decision was given, so nothing was journaled.
    assert!(read_entries(&loc).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        batch_max: 2,
        ..Settings::default()
    };
    let (st, loc) = state(dir.path(), settings);
    let f = fixture();
    let (a, b) = ids();
    let apps =
        json!({"applications": [application_body(&f.data, a), application_body(&f.data, b)]});
    let (s, v) = call(&st, post("/v1/score/batch", apps.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert_eq!(read_entries(&loc).unwrap().len(), 2);
    let three = json!({"applications": [application_body(&f.data, a), application_body(&f.data, a), application_body(&f.data, b)]});
    let (s, v) = call(&st, post("/v1/score/batch", three.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"][0]["field"], "applications");
    let one_bad = json!({"applications": [application_body(&f.data, a), {"application": {"AMT_CREDIT": "x"}}]});
    let (s, v) = call(&st, post("/v1/score/batch", one_bad.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_errors(&v)
            .iter()
            .any(|f| f.0 == "applications[1].application.AMT_CREDIT"),
        "{v}"
    );
    assert_eq!(
        read_entries(&loc).unwrap().len(),
        2,
        "a refused batch journals nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_guard_the_v1_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        api_keys: vec!["k-one".into(), "k-two".into()],
        ..Settings::default()
    };
    let (st, _) = state(dir.path(), settings);
    let (id, _) = ids();
    let uri = format!("/v1/clients/{id}");
    let (s, v) = call(&st, get(&uri)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&v, 401, "unauthorized");
    let wrong = Request::get(&uri)
        .header("x-api-key", "k-three")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&st, wrong).await.0, StatusCode::UNAUTHORIZED);
    let right = Request::get(&uri)
        .header("x-api-key", "k-two")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&st, right).await.0, StatusCode::OK);
    let bearer = Request::get(&uri)
        .header("authorization", "Bearer k-one")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&st, bearer).await.0, StatusCode::OK);
    // Health stays open for the platform's probes.
    assert_eq!(call(&st, get("/healthz")).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_health_metrics_and_openapi() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let (s, v) = call(&st, get("/v1/model")).await;
    assert_eq!(s, StatusCode::OK);
    let bundle = riskscore_model::ModelBundle::load(&fixture().model).unwrap();
    assert_eq!(v["threshold"].as_f64().unwrap(), bundle.manifest.threshold);
    assert_eq!(
        v["cost"]["fn_cost"].as_f64().unwrap(),
        bundle.manifest.cost.fn_cost
    );
    assert_eq!(
        v["cost"]["fp_cost"].as_f64().unwrap(),
        bundle.manifest.cost.fp_cost
    );
    let imp = v["global_importance"].as_array().unwrap();
    assert!(imp
        .windows(2)
        .all(|w| w[0]["gain"].as_f64() >= w[1]["gain"].as_f64()));
    assert_eq!(call(&st, get("/readyz")).await.0, StatusCode::OK);
    let (_, m) = call(&st, get("/metrics")).await;
    let text = m.as_str().unwrap();
    assert!(
        text.contains("riskscore_requests_total{route=\"/v1/model\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("riskscore_request_seconds_bucket{route=\"/readyz\",le=\"+Inf\"} 1"));
    let (s, doc) = call(&st, get("/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/clients/{id}",
        "/v1/clients/{id}/score",
        "/v1/clients/{id}/explanation",
        "/v1/clients/{id}/similar",
        "/v1/score",
        "/v1/score/batch",
        "/v1/model",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (s, page) = call(&st, get("/docs")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page
        .as_str()
        .unwrap()
        .contains("/v1/clients/{id}/explanation"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        timeout: std::time::Duration::from_millis(50),
        ..Settings::default()
    };
    let (st, _) = state(dir.path(), settings);
    // Another process holds the journal's write lock: the decision cannot be committed
    // within the time allowed (a timeout of a few nanoseconds raced a request that can end
    // within the timer's millisecond).
    let db = rusqlite::Connection::open(dir.path().join("journal.sqlite")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (id, _) = ids();
    let (s, v) = call(&st, get(&format!("/v1/clients/{id}/explanation"))).await;
    db.execute_batch("COMMIT").unwrap();
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_error(&v, 503, "timeout");
}

/// The dashboard's page and assets: served without an API key (the page's API calls carry
/// it), with their content types and a policy that allows this server only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_served_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        api_keys: vec!["k".into()],
        ..Settings::default()
    };
    let (st, _) = state(dir.path(), settings);
    for (uri, kind, needle) in [
        (
            "/",
            "text/html",
            "<label for=\"client-id\">Client id</label>",
        ),
        ("/assets/app.js", "text/javascript", "/v1/clients/"),
        ("/assets/style.css", "text/css", "focus-visible"),
    ] {
        let resp = router(st.clone()).oneshot(get(uri)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{uri}");
        let h = resp.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{uri}"
        );
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'"));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains(needle), "{uri}");
        // Nothing fetched from elsewhere (the SVG namespace is a name, not a fetch).
        let outside = text
            .replace("http://www.w3.org/2000/svg", "")
            .contains("http");
        assert!(!outside, "{uri} refers to another origin");
    }
    // The API itself still needs the key.
    let (status, _) = call(&st, get("/v1/model")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// What-if: no change gives the served probability bit for bit (the application's features
/// recomputed by the fitted pipeline, the history aggregates kept); changes are re-scored;
/// unknown fields and wrong types are named; nothing is journaled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_if_rescoring_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let p = &fixture().scorer.population;
    for &id in p.ids.iter().take(5) {
        let (status, v) = call(
            &st,
            post(&format!("/v1/clients/{id}/whatif"), r#"{"changes": {}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let i = p.ids.iter().position(|x| *x == id).unwrap();
        // The recomputed row is the served row, bit for bit.
        assert_eq!(v["features_changed"], json!([]), "{id}");
        // (serde_json's default float parser may be off by one unit in the last place.)
        let after = v["after"]["probability"].as_f64().unwrap();
        assert!((after - p.probability[i]).abs() <= 1e-16, "{after}");
        assert_eq!(v["change"], 0.0);
    }
    let id = p.ids[0];
    let (status, v) = call(
        &st,
        post(
            &format!("/v1/clients/{id}/whatif"),
            r#"{"changes": {"AMT_ANNUITY": 1000.0, "AMT_CREDIT": 2000000.0}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["journaled"], false);
    // The amounts and the ratios built from them are recomputed; history aggregates are not.
    let changed: Vec<&str> = v["features_changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "AMT_ANNUITY",
        "AMT_CREDIT",
        "PAYMENT_RATE",
        "INCOME_CREDIT_PERC",
    ] {
        assert!(changed.contains(&f), "{f} not in {changed:?}");
    }
    assert!(changed
        .iter()
        .all(|f| !riskscore_features::home_credit::from_history(f)));
    let (status, v) = call(
        &st,
        post(
            &format!("/v1/clients/{id}/whatif"),
            r#"{"changes": {"NOPE": 1, "SK_ID_CURR": 5}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["changes.NOPE", "changes.SK_ID_CURR"]);
    let (status, v) = call(
        &st,
        post(
            &format!("/v1/clients/{id}/whatif"),
            r#"{"changes": {"AMT_CREDIT": "lots"}}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        v["error"]["fields"][0]["field"], "changes.AMT_CREDIT",
        "{v}"
    );
    let (status, _) = call(&st, post(&format!("/v1/clients/{id}/whatif"), "{}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(&st, post("/v1/clients/1/whatif", r#"{"changes": {}}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        read_entries(&loc).unwrap().is_empty(),
        "a what-if is not a decision"
    );
}

/// The comparison's histograms count every client once, split by decision, and the scatter
/// holds at most 1,000 points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparison_with_other_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let sc = &fixture().scorer;
    let (id, f, g) = (sc.population.ids[3], &sc.names[0], &sc.names[1]);
    let (status, v) = call(
        &st,
        get(&format!("/v1/clients/{id}/compare?feature={f}&other={g}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let sum = |k: &str| -> u64 {
        v["counts"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("all"), v["clients"]["all"].as_u64().unwrap());
    assert_eq!(sum("granted") + sum("refused"), sum("all"));
    let finite = sc
        .feature_values(0)
        .iter()
        .filter(|x| x.is_finite())
        .count() as u64;
    assert_eq!(sum("all"), finite);
    assert!(sum("similar") <= 50);
    assert_eq!(v["edges"].as_array().unwrap().len(), 21);
    if let Some(p) = v["percentile"].as_f64() {
        assert!((0.0..=1.0).contains(&p));
    }
    assert!(v["scatter"]["points"].as_array().unwrap().len() <= 1000);
    let (status, v) = call(&st, get(&format!("/v1/clients/{id}/compare?feature=NOPE"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"][0]["field"], "feature");
}

/// A refused client's score carries the same reasons and notice whether its refusal was
/// computed at the request or by the warm-up, which covers every refused client; an
/// explanation's parts computed on two threads equal the same parts on one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_the_same_computed_or_warmed() {
    let f = fixture();
    let bundle = riskscore_model::ModelBundle::load(&f.model).unwrap();
    let batch = riskscore_model::predict::score_path(&bundle, &f.data).unwrap();
    let refused: Vec<i64> = batch
        .iter()
        .filter(|s| s.decision == riskscore_model::Decision::Refused)
        .map(|s| s.id)
        .collect();
    assert!(refused.len() >= 2, "the fixture refuses some clients");
    let cold = tempfile::tempdir().unwrap();
    let (st, _) = state(cold.path(), Settings::default());
    let computed = refusal_answers(&st, &refused).await;
    let warm = tempfile::tempdir().unwrap();
    let (st, _) = state(warm.path(), Settings::default());
    let sc = st.scorer.clone();
    let n = tokio::task::spawn_blocking(move || sc.warm_refusals())
        .await
        .unwrap();
    assert_eq!(n, refused.len(), "every refused client warmed");
    let i = st.scorer.index(refused[0]).unwrap();
    assert!(st.scorer.cached_refusal(i).is_some());
    let warmed = refusal_answers(&st, &refused).await;
    assert_eq!(computed, warmed);
    assert!(computed
        .iter()
        .all(|(r, _)| !r.as_array().unwrap().is_empty()));
    let (_, x) = st.scorer.row(refused[0]).unwrap();
    let x = x.as_slice();
    // Two parts on one thread (a busy server) or two (an idle one): the same bits.
    let one = st
        .scorer
        .explainer
        .explain(refused[0], x, 10, 2, 1)
        .unwrap();
    let two = st
        .scorer
        .explainer
        .explain(refused[0], x, 10, 2, 2)
        .unwrap();
    assert_eq!(
        serde_json::to_value(&one).unwrap(),
        serde_json::to_value(&two).unwrap()
    );
}

/// The reasons and notice reasons of the scores of (up to five of) `refused`.
async fn refusal_answers(st: &AppState, refused: &[i64]) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    for id in refused.iter().take(5) {
        let (s, v) = call(st, get(&format!("/v1/clients/{id}/score"))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        out.push((v["reasons"].clone(), v["notice"]["reasons"].clone()));
    }
    out
}
