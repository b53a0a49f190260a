//! Outcomes beside the journal (SQLite through the API, and the real PostgreSQL) and the
//! monitor's estimated and realized performance.

use axum::http::StatusCode;
use riskscore_server::journal::{outcomes, verify, Decided};
use riskscore_server::Settings;
use serde_json::{json, Value};

use crate::api::{assert_error, call, get, post};
use crate::common::{fixture, state};

/// Known clients with an outcome in the data, in id order.
fn labelled(n: usize) -> Vec<(i64, u8)> {
    let p = &fixture().scorer.population;
    let mut v: Vec<(i64, u8)> = p
        .ids
        .iter()
        .zip(&p.target)
        .filter_map(|(id, t)| t.map(|t| (*id, t)))
        .collect();
    v.sort_unstable();
    v.truncate(n);
    v
}

fn batch(items: &[(i64, u8)]) -> String {
    let v: Vec<Value> = items
        .iter()
        .map(|(id, d)| json!({"id": id, "defaulted": d, "observed_at": "2027-06-30"}))
        .collect();
    json!({ "outcomes": v }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_round_trip_and_the_monitor_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let clients = labelled(240);
    for (id, _) in &clients {
        let (s, v) = call(&st, get(&format!("/v1/clients/{id}/score"))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // Before any outcome: estimates only.
    let (s, m) = call(&st, get("/v1/monitor?chunk_size=100")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["decisions"], 240);
    assert_eq!(m["labelled"], 0);
    assert_eq!(
        m["estimated"].as_array().unwrap().len(),
        3,
        "100, 100 and the last 40"
    );
    assert!(m["estimated"][0]["realized"].is_null());
    let auc = m["estimated"][0]["estimated"]["roc_auc"].as_f64().unwrap();
    assert!(auc > 0.5 && auc < 1.0, "{auc}");
    // Prometheus: the latest chunk's estimate (the most recent 500 decisions: all 240).
    let (s, text) = call(&st, get("/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("riskscore_estimated_decisions 240"), "{text}");
    let auc_line = text
        .lines()
        .find(|l| l.starts_with("riskscore_estimated{metric=\"roc_auc\"}"))
        .unwrap();
    let gauge: f64 = auc_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(gauge > 0.5 && gauge < 1.0, "{auc_line}");
    assert!(text.contains("riskscore_estimated_alert{metric=\"cost\"}"));
    // The first 200 outcomes; again (unchanged); then a differing one and an unknown client.
    let (s, v) = call(&st, post("/v1/outcomes", batch(&clients[..200]))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"recorded": 200, "unchanged": 0}));
    let (s, v) = call(&st, post("/v1/outcomes", batch(&clients[..210]))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"recorded": 10, "unchanged": 200}));
    let (id, d) = clients[0];
    let (s, v) = call(
        &st,
        post("/v1/outcomes", batch(&[(clients[220].0, 0), (id, 1 - d)])),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("client {id} is recorded as defaulted = {d}")),
        "{v}"
    );
    let (s, v) = call(
        &st,
        post("/v1/outcomes", batch(&[(clients[221].0, 1), (1, 0)])),
    )
    .await;
    assert_error(&v, 404, "not_found");
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["fields"][0]["field"], "outcomes[1].id", "{v}");
    // Refused batches wrote nothing: clients 220 and 221 have no outcome.
    assert_eq!(outcomes::read(&loc).unwrap().len(), 210);
    for (body, field) in [
        (
            json!({"outcomes": [{"id": 5, "defaulted": 2, "observed_at": "2027-01-01"}]}),
            "outcomes[0].defaulted",
        ),
        (
            json!({"outcomes": [{"id": 5, "defaulted": 1, "observed_at": "soon"}]}),
            "outcomes[0].observed_at",
        ),
        (
            json!({"outcomes": [{"id": "x", "defaulted": 1, "observed_at": "2027-01-01"}]}),
            "outcomes[0].id",
        ),
        (
            json!({"outcomes": [{"id": 5, "defaulted": 1, "observed_at": "2027-01-01", "why": 1}]}),
            "outcomes[0].why",
        ),
        (json!({"outcomes": []}), "outcomes"),
    ] {
        let (s, v) = call(&st, post("/v1/outcomes", body.to_string())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{v}");
    }
    // The chain is untouched.
    let verdict = verify(&loc).unwrap();
    assert!(verdict.ok, "{:?}", verdict.problems);
    // The monitor: the first two chunks fully labelled, the last not.
    let (s, m) = call(&st, get("/v1/monitor?chunk_size=100&cohort=100")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["labelled"], 210);
    let chunks = m["estimated"].as_array().unwrap();
    assert!(chunks[0]["realized"]["roc_auc"].is_number() && chunks[1]["realized"].is_object());
    assert!(chunks[2]["realized"].is_null());
    let cohorts = m["cohorts"].as_array().unwrap();
    assert_eq!(cohorts.len(), 3);
    assert_eq!(cohorts[2]["labelled"], 10);
    // Realized by hand for the first cohort.
    let sc = &fixture().scorer;
    let t = sc.explainer.manifest.threshold;
    let first: Vec<(f64, u8)> = clients[..100]
        .iter()
        .map(|(id, y)| (sc.population.probability[sc.index(*id).unwrap()], *y))
        .collect();
    let granted: Vec<u8> = first
        .iter()
        .filter(|(p, _)| *p < t)
        .map(|(_, y)| *y)
        .collect();
    let rate = f64::from(granted.iter().map(|&y| u32::from(y)).sum::<u32>()) / granted.len() as f64;
    assert!((cohorts[0]["default_rate_granted"].as_f64().unwrap() - rate).abs() < 1e-12);
    let (s, page) = call(&st, get("/v1/monitor?format=html")).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains("Realized by cohort") && page.contains("<svg"));
    assert!(!page.contains("<script"));
    let (s, v) = call(&st, get("/v1/monitor?chunk_size=3")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // `defaulted` as a JSON boolean reads as 0 or 1.
    let (a, b) = (clients[230], clients[231]);
    let body = json!({"outcomes": [
        {"id": a.0, "defaulted": a.1 == 1, "observed_at": "2027-06-30"},
        {"id": b.0, "defaulted": b.1 == 1, "observed_at": "2027-06-30"},
    ]});
    let (s, v) = call(&st, post("/v1/outcomes", body.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"recorded": 2, "unchanged": 0}));
    let stored = outcomes::read(&loc).unwrap();
    for (id, d) in [a, b] {
        let o = stored.iter().find(|o| o.client == id.to_string()).unwrap();
        assert_eq!(o.defaulted, d, "client {id}");
    }
    // A value of another kind is named as such, not as missing.
    let body = json!({"outcomes": [{"id": [5], "defaulted": "1", "observed_at": 20270630}]});
    let (s, v) = call(&st, post("/v1/outcomes", body.to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let messages: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "`[5]` is not an integer client id",
            "`\"1\"` is not 0 or 1",
            "`20270630` is not a date or a UTC time, as a string"
        ],
        "{v}"
    );
}

/// Outcomes on the real PostgreSQL, in a database of their own.
#[test]
fn outcomes_on_postgres() {
    let Some(loc) = crate::common::fresh_postgres("riskscore_outcomes") else {
        return;
    };
    let journal = riskscore_server::Journal::open(&loc).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..20 {
            let (d, row) = scored(i, &(500 + i).to_string(), "v1", "known");
            journal.record(d, &row).await.unwrap();
        }
    });
    drop(rt);
    let o = |client: i64, defaulted: u8| outcomes::Outcome {
        client,
        defaulted,
        observed_at: "2027-06-30".into(),
    };
    let batch: Vec<_> = (0..10).map(|i| o(500 + i, u8::from(i % 3 == 0))).collect();
    let done = outcomes::record(&loc, &batch).unwrap();
    assert_eq!((done.recorded, done.unchanged), (10, 0));
    let done = outcomes::record(&loc, &batch).unwrap();
    assert_eq!((done.recorded, done.unchanged), (0, 10));
    let refused = outcomes::record(&loc, &[o(510, 1), o(500, 0), o(9, 1)]).unwrap_err();
    assert_eq!(refused.unknown, vec![2]);
    assert_eq!(refused.conflicts, vec![(1, 1)]);
    let stored = outcomes::read(&loc).unwrap();
    assert_eq!(stored.len(), 10);
    assert!(stored.iter().all(|s| s.model_version == "v1"));
    assert!(verify(&loc).unwrap().ok);
}

/// A deliberately slow challenger (200 ms per decision, a queue of 4) never delays nor changes
/// the champion's answers; every champion decision has its shadow entry or a counted drop; the
/// chain verifies; the monitor compares the two on the shadowed decisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_challenger_never_touches_the_champion() {
    let kit = riskscore_testkit::home_credit();
    let cdir = tempfile::tempdir().unwrap();
    let mut cfg = riskscore_testkit::short_config();
    cfg.lgbm.max_rounds = 20;
    cfg.lgbm.num_leaves = 7;
    cfg.estimate = riskscore_model::estimate::Method::Cv;
    let model = cdir.path().join("challenger");
    riskscore_model::run::train_to_bundle(&kit.frame, &kit.pipeline, &cfg, &model).unwrap();
    let challenger =
        std::sync::Arc::new(riskscore_server::Scorer::load(&model, &kit.data, 1).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (plain, _) = state(dir.path(), Settings::default());
    let sdir = tempfile::tempdir().unwrap();
    let (st, loc) = state(sdir.path(), Settings::default());
    let c = riskscore_server::challenger::Challenger::start(
        challenger.clone(),
        st.journal.clone(),
        4,
        Some(std::time::Duration::from_millis(200)),
    );
    let st = st.with_challenger(c.clone());
    let clients = labelled(30);
    let started = std::time::Instant::now();
    for (id, _) in &clients {
        let (s1, with) = call(&st, get(&format!("/v1/clients/{id}/score"))).await;
        let (s2, without) = call(&plain, get(&format!("/v1/clients/{id}/score"))).await;
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
        assert_eq!(with["score"], without["score"], "{id}");
        assert_eq!(with["reasons"], without["reasons"], "{id}");
    }
    let body = crate::common::application_body(&fixture().data, clients[0].0);
    let (s, v) = call(&st, post("/v1/score", body.to_string())).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // 31 answers while the challenger needs 200 ms for each decision it takes.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let mut counts = c.counts();
    for _ in 0..300 {
        counts = c.counts();
        if counts.scored + counts.dropped + counts.failed == counts.offered {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(counts.offered, 31);
    assert_eq!(counts.failed, 0);
    assert!(
        counts.dropped > 0,
        "a queue of 4 behind a slow challenger drops: {counts:?}"
    );
    assert_eq!(counts.scored + counts.dropped, 31, "{counts:?}");
    let entries = riskscore_server::journal::read_entries(&loc).unwrap();
    let shadows: Vec<_> = entries
        .iter()
        .filter(|e| e.decided.kind == "shadow")
        .collect();
    assert_eq!(shadows.len() as u64, counts.scored);
    for s in &shadows {
        let champion = entries
            .iter()
            .find(|e| Some(e.seq) == s.decided.champion)
            .unwrap();
        assert!(matches!(champion.decided.kind.as_str(), "known" | "new"));
        assert_eq!(champion.decided.client, s.decided.client);
        assert_eq!(s.decided.model_version, challenger.model_version);
    }
    assert!(verify(&loc).unwrap().ok);
    let (s, m) = call(&st, get("/v1/monitor")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let cmp = &m["challenger"];
    assert_eq!(cmp["pairs"].as_u64().unwrap(), counts.scored, "{cmp}");
    assert_eq!(cmp["unshadowed"].as_u64().unwrap(), counts.dropped, "{cmp}");
    let agreement = cmp["agreement"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&agreement));
    assert!(cmp["challenger"]["estimated_cost"].is_number(), "{cmp}");
    let (_, metrics) = call(&st, get("/metrics")).await;
    assert!(metrics.as_str().unwrap().contains(&format!(
        "riskscore_challenger_total{{outcome=\"dropped\"}} {}",
        counts.dropped
    )));
}

/// A client's scoring decision by `version` on a one-value row.
fn scored(i: i64, client: &str, version: &str, kind: &str) -> (Decided, [f64; 1]) {
    let row = [i as f64];
    let d = Decided {
        time: riskscore_server::journal::now_rfc3339(),
        request_id: format!("v-{i}"),
        client: client.into(),
        kind: kind.into(),
        model_version: version.into(),
        probability: 0.2,
        decision: "granted".into(),
        reasons: Vec::new(),
        input_hash: riskscore_server::journal::input_hash(&row),
        review: Vec::new(),
        notice: Vec::new(),
        champion: None,
        reviewed: None,
    };
    (d, row)
}

/// Outcomes go to each client's latest scoring decision's model version, through model
/// changes back and forth, within one commit and across; explanations do not count; the
/// versions recorded for outcomes are checked by `verify`. A journal written with the index
/// the table replaced gets the table filled from its entries and loses the index.
#[test]
fn outcomes_follow_the_latest_model_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let loc = riskscore_server::Location::Sqlite(path.clone());
    let expected = versions_through_changes(&loc);

    // An edit of the recorded version, and a removal, are found.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "UPDATE journal_clients SET model_version = 'v9' WHERE client = '1'",
        [],
    )
    .unwrap();
    db.execute("DELETE FROM journal_clients WHERE client = '3'", [])
        .unwrap();
    let v = verify(&loc).unwrap();
    assert_eq!(
        v.problems,
        [
            "client 1: recorded for outcomes with model version v9, its latest decision's is v1 \
             (edited?)",
            "client 3: its latest decision (model version v2) is not recorded for outcomes \
             (removed?)"
        ]
    );

    // The journal as an earlier release left it: the index by client, no table. Opening it
    // fills the table from the entries and drops the index.
    db.execute_batch(
        "DROP TABLE journal_clients; CREATE INDEX journal_client ON journal (client);",
    )
    .unwrap();
    drop(db);
    assert!(verify(&loc).unwrap().ok);
    let db = rusqlite::Connection::open(&path).unwrap();
    let index: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'journal_client'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 0);
    let mut versions: Vec<(String, String)> = db
        .prepare("SELECT client, model_version FROM journal_clients")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    versions.sort();
    assert_eq!(versions, expected);
}

/// [`outcomes_follow_the_latest_model_version`] on the real PostgreSQL: the versions, then the
/// upgrade of a journal with the index by client.
#[test]
fn outcomes_follow_the_latest_model_version_on_postgres() {
    let Some(loc) = crate::common::fresh_postgres("riskscore_versions") else {
        return;
    };
    let expected = versions_through_changes(&loc);
    let riskscore_server::Location::Postgres(url) = &loc else {
        unreachable!()
    };
    let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
    db.batch_execute(
        "DROP TABLE journal_clients; CREATE INDEX journal_client ON journal (client);",
    )
    .unwrap();
    assert!(verify(&loc).unwrap().ok);
    let gone: bool = db
        .query_one("SELECT to_regclass('journal_client') IS NULL", &[])
        .unwrap()
        .get(0);
    assert!(gone);
    let mut versions: Vec<(String, String)> = db
        .query("SELECT client, model_version FROM journal_clients", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    versions.sort();
    assert_eq!(versions, expected);
}

/// Decisions of three clients through model changes on `loc`, then one outcome each: returns
/// the (client, version) pairs the outcomes went to, checked against the latest scoring
/// decisions'.
fn versions_through_changes(loc: &riskscore_server::Location) -> [(String, String); 3] {
    let journal = riskscore_server::Journal::open(loc).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Client 1: v1, v2, v1 one after the other; client 2: v1 then v2 and an explanation by
    // v3; client 3: v2, v1 and v2 at once (sent in that order; one commit or several, as the
    // writer takes them).
    let steps: [&[(&str, &str, &str)]; 4] = [
        &[("1", "v1", "known"), ("2", "v1", "known")],
        &[("1", "v2", "known"), ("2", "v2", "new")],
        &[("1", "v1", "known"), ("2", "v3", "explanation")],
        &[
            ("3", "v2", "known"),
            ("3", "v1", "known"),
            ("3", "v2", "known"),
        ],
    ];
    let mut i = 0;
    rt.block_on(async {
        for step in steps {
            let drafts: Vec<(Decided, [f64; 1])> = step
                .iter()
                .map(|(client, version, kind)| {
                    i += 1;
                    scored(i, client, version, kind)
                })
                .collect();
            // Each decision is sent to the writer at its first poll: polled in order, they
            // reach it in order, and none waits for the one before.
            let mut pending: Vec<_> = drafts
                .iter()
                .map(|(d, row)| Box::pin(journal.record(d.clone(), row)))
                .collect();
            let mut done: Vec<Option<_>> = pending.iter().map(|_| None).collect();
            std::future::poll_fn(|cx| {
                for (f, out) in pending.iter_mut().zip(done.iter_mut()) {
                    if out.is_none() {
                        if let std::task::Poll::Ready(r) = std::future::Future::poll(f.as_mut(), cx)
                        {
                            *out = Some(r);
                        }
                    }
                }
                if done.iter().all(Option::is_some) {
                    std::task::Poll::Ready(())
                } else {
                    std::task::Poll::Pending
                }
            })
            .await;
            for r in done {
                r.unwrap().unwrap();
            }
        }
    });
    drop(rt);
    let o = |client: i64| outcomes::Outcome {
        client,
        defaulted: 1,
        observed_at: "2027-06-30".into(),
    };
    let done = outcomes::record(loc, &[o(1), o(2), o(3)]).unwrap();
    assert_eq!(done.recorded, 3);
    let mut stored: Vec<(String, String)> = outcomes::read(loc)
        .unwrap()
        .into_iter()
        .map(|s| (s.client.to_string(), s.model_version))
        .collect();
    stored.sort();
    let expected =
        [("1", "v1"), ("2", "v2"), ("3", "v2")].map(|(c, v)| (c.to_string(), v.to_string()));
    assert_eq!(stored, expected);
    assert!(verify(loc).unwrap().ok);
    expected
}
