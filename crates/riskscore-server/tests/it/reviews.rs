//! Human review over HTTP: decisions in the review band (and every refusal, or an audit
//! share, as the server is set) queue; a reviewer's key decides, the decision is a new journal
//! entry linked to the automated one and the chain verifies; overrides need a reason; a key
//! without the reviewer role gets 403. On SQLite and on the real PostgreSQL.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use riskscore_server::journal::{read_entries, verify, Location};
use riskscore_server::{AppState, Journal, Reviewer, Settings};
use serde_json::{json, Value};

use crate::api::{assert_error, call, get, post};
use crate::common::{fixture, state};

fn keyed(mut req: Request<Body>, key: &str) -> Request<Body> {
    req.headers_mut().insert("x-api-key", key.parse().unwrap());
    req
}

fn settings(refusals: bool, audit: f64) -> Settings {
    Settings {
        api_keys: vec!["service".into()],
        reviewers: Reviewer::parse_list("alice=key-a, bob=key-b").unwrap(),
        review_refusals: refusals,
        audit_share: audit,
        ..Settings::default()
    }
}

/// Clients the test scores: the first 80 known ones, and the first granted one in the review
/// band (so that both directions of override can be tried).
fn clients() -> (Vec<i64>, Option<i64>) {
    let sc = &fixture().scorer;
    let m = &sc.explainer.manifest;
    let p = &sc.population;
    let mut ids = p.ids.clone();
    ids.sort_unstable();
    let first: Vec<i64> = ids.iter().take(80).copied().collect();
    let band_granted = ids.iter().copied().find(|id| {
        let q = p.probability[sc.index(*id).unwrap()];
        m.in_review_band(q) && q < m.threshold && !first.contains(id)
    });
    (first, band_granted)
}

/// The journal's entries, read off the async threads (PostgreSQL's client blocks).
async fn entries(loc: &Location) -> Vec<riskscore_server::journal::Entry> {
    let loc = loc.clone();
    tokio::task::spawn_blocking(move || read_entries(&loc).unwrap())
        .await
        .unwrap()
}

async fn verified(loc: &Location) -> riskscore_server::journal::Verdict {
    let loc = loc.clone();
    tokio::task::spawn_blocking(move || verify(&loc).unwrap())
        .await
        .unwrap()
}

fn probability(id: i64) -> f64 {
    let sc = &fixture().scorer;
    sc.population.probability[sc.index(id).unwrap()]
}

async fn review_flow(st: &AppState, loc: &Location) {
    let sc = &fixture().scorer;
    let m = &sc.explainer.manifest;
    let (first, band_granted) = clients();
    let scored: Vec<i64> = first.iter().copied().chain(band_granted).collect();
    for id in &scored {
        let (s, v) = call(
            st,
            keyed(get(&format!("/v1/clients/{id}/score")), "service"),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // The queue: every refusal (the server reviews them all) and every decision in the band.
    let expected: Vec<i64> = scored
        .iter()
        .copied()
        .filter(|id| {
            let q = probability(*id);
            q >= m.threshold || m.in_review_band(q)
        })
        .collect();
    assert!(expected.len() >= 3, "{} queued", expected.len());
    // Scored again: the same row of the same client is pending already.
    let (s, _) = call(
        st,
        keyed(
            get(&format!("/v1/clients/{}/score", expected[0])),
            "service",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, list) = call(st, keyed(get("/v1/reviews?limit=1000"), "key-a")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let items = list["items"].as_array().unwrap();
    let queued: Vec<i64> = items
        .iter()
        .map(|r| r["client"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(queued, expected, "oldest first, each client once");
    for r in items {
        let id: i64 = r["client"].as_str().unwrap().parse().unwrap();
        let q = probability(id);
        let why: Vec<&str> = r["why"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(why.contains(&"band"), m.in_review_band(q), "{r}");
        assert_eq!(why.contains(&"refusal"), q >= m.threshold, "{r}");
        assert_eq!(r["status"], "pending");
        assert_eq!(r["probability"].as_f64().unwrap(), q);
        assert!(r.get("final_decision").is_none());
        let (reasons, words) = (
            r["reasons"].as_array().unwrap(),
            r["reasons_in_words"].as_array().unwrap(),
        );
        assert_eq!(reasons.len(), words.len(), "{r}");
        assert!(words.iter().zip(reasons).all(
            |(w, f)| w.as_str().unwrap() == sc.explainer.wording.describe(f.as_str().unwrap())
        ));
    }
    assert_eq!(list["figures"]["pending"], expected.len());
    assert!(list["figures"]["oldest_pending_seconds"].as_f64().unwrap() >= 0.0);
    let entry_of = |id: i64| -> i64 {
        items
            .iter()
            .find(|r| r["client"].as_str().and_then(|c| c.parse::<i64>().ok()) == Some(id))
            .unwrap()["entry"]
            .as_i64()
            .unwrap()
    };
    let refused: Vec<i64> = expected
        .iter()
        .copied()
        .filter(|id| probability(*id) >= m.threshold)
        .collect();
    let (r1, r2, r3) = (
        entry_of(refused[0]),
        entry_of(refused[1]),
        entry_of(refused[2]),
    );
    let decide = |entry: i64, key: Option<&str>, body: Value| {
        let req = post(&format!("/v1/reviews/{entry}"), body.to_string());
        match key {
            Some(k) => keyed(req, k),
            None => req,
        }
    };
    // Who may decide.
    let (s, v) = call(st, decide(r1, None, json!({"decision": "refused"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = call(
        st,
        decide(r1, Some("service"), json!({"decision": "refused"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_error(&v, 403, "forbidden");
    let (s, v) = call(
        st,
        decide(
            r1,
            Some("key-a"),
            json!({"decision": "refused", "reviewer": "bob"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // What a decision must say.
    let (s, v) = call(
        st,
        decide(r1, Some("key-a"), json!({"decision": "granted"})),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "reason", "{v}");
    let (s, v) = call(
        st,
        decide(
            r1,
            Some("key-a"),
            json!({"decision": "granted", "reason": "   "}),
        ),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a blank reason is none: {v}"
    );
    for (body, field) in [
        (json!({"decision": "maybe"}), "decision"),
        (json!({}), "decision"),
        (json!({"decision": "refused", "why": "x"}), "why"),
        (json!({"decision": "refused", "reason": 3}), "reason"),
        (
            json!({"decision": "refused", "reason": "x".repeat(2001)}),
            "reason",
        ),
    ] {
        let (s, v) = call(st, decide(r1, Some("key-a"), body.clone())).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{v}");
    }
    let (s, v) = call(
        st,
        decide(999_999, Some("key-a"), json!({"decision": "refused"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = call(
        st,
        keyed(
            post(
                "/v1/reviews/abc",
                json!({"decision": "refused"}).to_string(),
            ),
            "key-a",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "entry", "{v}");
    let entries_before = entries(loc).await.len();
    assert_eq!(
        entries_before,
        scored.len() + 1,
        "refused reviews journal nothing"
    );
    // Alice grants a refusal, with a reason.
    let (s, v) = call(
        st,
        decide(
            r1,
            Some("key-a"),
            json!({"decision": "granted", "reason": "income verified on payslips", "reviewer": "alice"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "decided");
    let f = &v["final_decision"];
    assert_eq!(
        (f["decision"].as_str(), f["reviewer"].as_str()),
        (Some("granted"), Some("alice"))
    );
    assert_eq!(f["override"], true);
    let final1 = f["entry"].as_i64().unwrap();
    // Decided once.
    let (s, v) = call(
        st,
        decide(r1, Some("key-b"), json!({"decision": "refused"})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_error(&v, 409, "review_decided");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("alice"),
        "{v}"
    );
    // Bob confirms a refusal: no reason needed.
    let (s, v) = call(
        st,
        decide(r2, Some("key-b"), json!({"decision": "refused"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["final_decision"]["override"], false);
    // Two reviewers at once on the same entry: one decides, the other is told.
    let (a, b) = tokio::join!(
        call(
            st,
            decide(r3, Some("key-a"), json!({"decision": "refused"}))
        ),
        call(
            st,
            decide(r3, Some("key-b"), json!({"decision": "refused"}))
        ),
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{} {}", a.1, b.1);
    let mut decided = 3;
    // A granted decision of the band refused by Bob (the other direction), when there is one.
    if let Some(g) = band_granted {
        let e = entry_of(g);
        let (s, v) = call(st, decide(e, Some("key-b"), json!({"decision": "refused"}))).await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an override needs a reason: {v}"
        );
        let (s, v) = call(
            st,
            decide(
                e,
                Some("key-b"),
                json!({"decision": "refused", "reason": "debt not on file"}),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        decided += 1;
    }
    // The journal: each final decision a new entry, linked, the automated one unchanged.
    let entries = entries(loc).await;
    assert_eq!(entries.len(), entries_before + decided);
    let review = entries.iter().find(|e| e.seq == final1).unwrap();
    let automated = entries.iter().find(|e| e.seq == r1).unwrap();
    assert_eq!(review.decided.kind, "review");
    let link = review.decided.reviewed.as_ref().unwrap();
    assert_eq!((link.entry, link.reviewer.as_str()), (r1, "alice"));
    assert_eq!(link.reason.as_deref(), Some("income verified on payslips"));
    assert_eq!(review.decided.decision, "granted");
    assert_eq!(automated.decided.decision, "refused");
    assert_eq!(review.decided.probability, automated.decided.probability);
    assert_eq!(review.decided.input_hash, automated.decided.input_hash);
    assert_eq!(review.decided.client, automated.decided.client);
    let verdict = verified(loc).await;
    assert!(verdict.ok, "{:?}", verdict.problems);
    // The queue's figures, in the list and in /metrics.
    let (s, list) = call(st, keyed(get("/v1/reviews?status=decided"), "service")).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let done = list["items"].as_array().unwrap();
    assert_eq!(done.len(), decided);
    assert!(done.iter().all(|r| r["final_decision"].is_object()));
    assert!(
        done[0]["entry"].as_i64() > done[1]["entry"].as_i64(),
        "most recent first"
    );
    let fig = &list["figures"];
    assert_eq!(fig["pending"], expected.len() - decided);
    assert_eq!(fig["decided"], decided);
    let alice = &fig["reviewers"][0];
    assert_eq!(alice["reviewer"], "alice");
    assert_eq!(alice["refused_to_granted"], 1);
    let bob = &fig["reviewers"][1];
    assert_eq!(bob["granted_to_refused"], decided - 3);
    let (s, text) = call(st, get("/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(
        text.contains(&format!(
            "riskscore_reviews_pending {}",
            expected.len() - decided
        )),
        "{text}"
    );
    assert!(text.contains(
        "riskscore_reviews_decided_total{reviewer=\"alice\",direction=\"refused_to_granted\"} 1"
    ));
    let (s, one) = call(st, keyed(get(&format!("/v1/reviews/{r1}")), "service")).await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(
        one["final_decision"]["reason"],
        "income verified on payslips"
    );
    let (s, _) = call(st, keyed(get("/v1/reviews?status=later"), "service")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), settings(true, 0.0));
    review_flow(&st, &loc).await;
}

/// The same flow on the real PostgreSQL, in a database of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_on_postgres() {
    let Some(loc) =
        tokio::task::spawn_blocking(|| crate::common::fresh_postgres("riskscore_reviews"))
            .await
            .unwrap()
    else {
        return;
    };
    let l = loc.clone();
    let journal = tokio::task::spawn_blocking(move || Journal::open(&l).unwrap())
        .await
        .unwrap();
    let st = AppState::new_shared(fixture().scorer.clone(), journal, settings(true, 0.0));
    review_flow(&st, &loc).await;
}

/// Without `--review-refusals` only the band queues; an audit share of 1 draws every other
/// decision; explanations never queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_enters_the_queue() {
    let sc = &fixture().scorer;
    let m = &sc.explainer.manifest;
    let (first, _) = clients();
    for (audit, expect_all) in [(0.0, false), (1.0, true)] {
        let dir = tempfile::tempdir().unwrap();
        let (st, _) = state(dir.path(), settings(false, audit));
        for id in &first {
            let (s, _) = call(
                &st,
                keyed(get(&format!("/v1/clients/{id}/score")), "service"),
            )
            .await;
            assert_eq!(s, StatusCode::OK);
            let (s, _) = call(
                &st,
                keyed(get(&format!("/v1/clients/{id}/explanation")), "service"),
            )
            .await;
            assert_eq!(s, StatusCode::OK);
        }
        let (_, list) = call(&st, keyed(get("/v1/reviews?limit=1000"), "service")).await;
        let items = list["items"].as_array().unwrap();
        let band = first
            .iter()
            .filter(|id| m.in_review_band(probability(**id)))
            .count();
        let expected = if expect_all { first.len() } else { band };
        assert_eq!(items.len(), expected, "audit share {audit}");
        for r in items {
            let why = r["why"].as_array().unwrap();
            let in_band = m.in_review_band(r["probability"].as_f64().unwrap());
            assert_eq!(why.iter().any(|w| w == "band"), in_band, "{r}");
            assert_eq!(why.iter().any(|w| w == "audit"), !in_band, "{r}");
            assert_eq!(r["kind"], "known");
        }
    }
    // No reviewer configured: nobody can decide, and says so.
    let dir = tempfile::tempdir().unwrap();
    let (st, _) = state(dir.path(), Settings::default());
    let (s, v) = call(
        &st,
        post("/v1/reviews/1", json!({"decision": "granted"}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("RISKSCORE_REVIEWERS"));
    assert!(Reviewer::parse_list("alice").is_err());
    assert!(Reviewer::parse_list("alice=k,bob=k")
        .unwrap_err()
        .contains("bob"));
    assert!(Reviewer::parse_list("alice=k1,alice=k2").is_err());
}
