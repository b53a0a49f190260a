//! The journal's chain: intact after concurrent decisions, broken by an edit or a removal.

use axum::body::Body;
use axum::http::Request;
use riskscore_server::journal::{read_entries, verify};
use riskscore_server::{router, Settings};
use tower::ServiceExt;

use crate::common::{fixture, state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_decisions_chain_and_tampering_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        journal_key: Some(b"pseudonym key".to_vec()),
        ..Settings::default()
    };
    let (st, loc) = state(dir.path(), settings);
    let ids: Vec<i64> = fixture()
        .scorer
        .population
        .ids
        .iter()
        .take(40)
        .copied()
        .collect();
    let mut tasks = Vec::new();
    for id in &ids {
        let app = router(st.clone());
        let uri = format!("/v1/clients/{id}/score");
        tasks.push(tokio::spawn(async move {
            app.oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().is_success());
    }
    let entries = read_entries(&loc).unwrap();
    assert_eq!(entries.len(), ids.len());
    // Client ids are keyed pseudonyms, not the ids.
    assert!(entries.iter().all(|e| e.decided.client.len() == 64));
    assert!(!entries
        .iter()
        .any(|e| ids.iter().any(|id| e.decided.client == id.to_string())));
    let v = verify(&loc).unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.entries, ids.len());

    let path = dir.path().join("journal.sqlite");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute("UPDATE journal SET probability = 0.001 WHERE seq = 7", [])
        .unwrap();
    let v = verify(&loc).unwrap();
    assert!(!v.ok);
    assert!(v.problems[0].contains("entry 7"), "{:?}", v.problems);
    db.execute(
        "UPDATE journal SET probability = ?1 WHERE seq = 7",
        [entries[6].decided.probability],
    )
    .unwrap();
    assert!(verify(&loc).unwrap().ok, "restored");
    db.execute("DELETE FROM journal WHERE seq = 12", [])
        .unwrap();
    let v = verify(&loc).unwrap();
    assert!(
        v.problems.iter().any(|p| p.contains("entry 13")),
        "{:?}",
        v.problems
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_last_entries_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    for id in fixture().scorer.population.ids.iter().take(3) {
        let r = router(st.clone())
            .oneshot(
                Request::get(format!("/v1/clients/{id}/score"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let db = rusqlite::Connection::open(dir.path().join("journal.sqlite")).unwrap();
    db.execute("DELETE FROM journal WHERE seq = 3", []).unwrap();
    let v = verify(&loc).unwrap();
    assert!(!v.ok);
    assert!(
        v.problems[0].contains("head records entry 3"),
        "{:?}",
        v.problems
    );
}
