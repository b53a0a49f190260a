//! The journal's chain: intact after concurrent decisions, broken by an edit or a removal.

use axum::body::Body;
use axum::http::Request;
use riskscore_server::journal::{input_hash, read_entries, read_window, verify, Filter};
use riskscore_server::{router, Settings};
use tower::ServiceExt;

use crate::api::{call, get};
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

/// A known client's row is stored once however many decisions score it; every entry reads
/// its own row back; an edited or removed stored row is found by `verify` on every entry that
/// scored it; an entry written before rows were shared (its row in its own column) still
/// reads and verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_is_stored_once_and_checked_at_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (st, loc) = state(dir.path(), Settings::default());
    let ids: Vec<i64> = fixture()
        .scorer
        .population
        .ids
        .iter()
        .take(3)
        .copied()
        .collect();
    // Each client three times, score and explanation.
    for _ in 0..3 {
        for id in &ids {
            for what in ["score", "explanation"] {
                let (s, v) = call(&st, get(&format!("/v1/clients/{id}/{what}"))).await;
                assert!(s.is_success(), "{v}");
            }
        }
    }
    let db = rusqlite::Connection::open(dir.path().join("journal.sqlite")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM journal"), 18);
    assert_eq!(count("SELECT COUNT(*) FROM journal_rows"), 3);
    assert_eq!(
        count("SELECT COUNT(*) FROM journal WHERE length(features) = 0"),
        18
    );
    let with_rows = Filter {
        rows: true,
        ..Filter::default()
    };
    let scorer = &fixture().scorer;
    for e in read_window(&loc, &with_rows).unwrap() {
        let id: i64 = e.decided.client.parse().unwrap();
        let (i, x) = scorer.row(id).unwrap();
        let row = e.features().unwrap();
        assert_eq!(
            row.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "entry {}",
            e.seq
        );
        assert_eq!(e.decided.input_hash, input_hash(&x));
        assert_eq!(scorer.input_hash(i).unwrap(), e.decided.input_hash);
    }
    assert!(verify(&loc).unwrap().ok);

    // The first client's stored row replaced by the second's: its six entries are found.
    let first = read_entries(&loc).unwrap()[0].decided.input_hash.clone();
    db.execute(
        "UPDATE journal_rows SET features = (SELECT features FROM journal_rows \
         WHERE input_hash <> ?1 LIMIT 1) WHERE input_hash = ?1",
        [&first],
    )
    .unwrap();
    // Each of the first client's six entries is reported, for `why`.
    let six_found = |why: &str| {
        let v = verify(&loc).unwrap();
        assert_eq!(v.problems.len(), 6, "{:?}", v.problems);
        assert!(
            v.problems.iter().all(|p| p.ends_with(why)),
            "{:?}",
            v.problems
        );
    };
    six_found("its stored feature row does not match its input hash (edited?)");
    // Removed: found as missing.
    db.execute("DELETE FROM journal_rows WHERE input_hash = ?1", [&first])
        .unwrap();
    six_found("its feature row is missing from journal_rows (removed?)");
    let missing = read_window(&loc, &with_rows).unwrap();
    assert_eq!(missing.iter().filter(|e| e.features().is_none()).count(), 6);

    // The second client's entries as written before rows were shared: the row in each
    // entry's own column, none in journal_rows. They read and verify as before.
    let second = read_entries(&loc)
        .unwrap()
        .into_iter()
        .map(|e| e.decided.input_hash)
        .find(|h| *h != first)
        .unwrap();
    db.execute(
        "UPDATE journal SET features = (SELECT features FROM journal_rows \
         WHERE input_hash = ?1) WHERE input_hash = ?1",
        [&second],
    )
    .unwrap();
    db.execute("DELETE FROM journal_rows WHERE input_hash = ?1", [&second])
        .unwrap();
    let v = verify(&loc).unwrap();
    assert_eq!(
        v.problems.len(),
        6,
        "only the first client's: {:?}",
        v.problems
    );
    let read = read_window(&loc, &with_rows).unwrap();
    assert_eq!(read.iter().filter(|e| e.features().is_some()).count(), 12);
}

/// The PostgreSQL journal against a real server: `RISKSCORE_TEST_POSTGRES` is its address
/// (`.ci/run` starts one); required when `RISKSCORE_REQUIRE_ORACLES=1`, else skipped.
#[test]
fn postgres_journal_chains_and_detects_edits() {
    let Ok(url) = std::env::var("RISKSCORE_TEST_POSTGRES") else {
        assert!(
            std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "RISKSCORE_TEST_POSTGRES is not set but the oracles are required"
        );
        eprintln!("skipped: RISKSCORE_TEST_POSTGRES is not set");
        return;
    };
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute("DROP TABLE IF EXISTS journal; DROP TABLE IF EXISTS journal_head;")
        .unwrap();
    let loc = riskscore_server::Location::parse(&url);
    let journal = riskscore_server::Journal::open(&loc).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seqs: Vec<i64> = rt.block_on(async {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let j = journal.clone();
                tokio::spawn(async move {
                    let row = [f64::from(i), f64::NAN, -0.5];
                    let d = decision(
                        format!("pg-{i}"),
                        (100_000 + i).to_string(),
                        f64::from(i) / 50.0,
                        "granted",
                        &row,
                    );
                    j.record(d, &row).await.unwrap()
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    drop(rt);
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=50).collect::<Vec<i64>>());
    let v = verify(&loc).unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.entries, 50);
    assert_eq!(
        read_entries(&loc).unwrap()[9].decided.reasons,
        ["EXT_SOURCE_2"]
    );
    admin
        .execute(
            "UPDATE journal SET decision = 'refused' WHERE seq = 10",
            &[],
        )
        .unwrap();
    let v = verify(&loc).unwrap();
    assert_eq!(
        v.problems,
        ["entry 10: its content does not match its hash (edited?)"]
    );
    // The rows come back bit for bit, and an edited row is found.
    let window = read_window(
        &loc,
        &Filter {
            last: Some(5),
            rows: true,
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(
        window.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [46, 47, 48, 49, 50]
    );
    for e in &window {
        let row = e.features().unwrap();
        assert_eq!(row.len(), 3);
        assert!(row[1].is_nan() && row[2] == -0.5);
        assert_eq!(input_hash(&row), e.decided.input_hash);
    }
    admin
        .execute(
            "UPDATE journal SET decision = 'granted' WHERE seq = 10",
            &[],
        )
        .unwrap();
    admin
        .execute(
            "UPDATE journal SET features = '\\x0000000000000000' WHERE seq = 20",
            &[],
        )
        .unwrap();
    let v = verify(&loc).unwrap();
    assert_eq!(
        v.problems,
        ["entry 20: its stored feature row does not match its input hash (edited?)"]
    );
}

/// A journal written before feature rows were stored is upgraded in place: its chain still
/// verifies, its old entries read without rows, new entries carry theirs.
#[test]
fn a_journal_without_rows_is_upgraded_in_place() {
    use riskscore_server::journal::{entry_hash, Decided, GENESIS};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE journal (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, request_id TEXT NOT NULL, client TEXT NOT NULL,
  kind TEXT NOT NULL, model_version TEXT NOT NULL, probability REAL NOT NULL,
  decision TEXT NOT NULL, reasons TEXT NOT NULL, input_hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE journal_head (one INTEGER PRIMARY KEY CHECK (one = 1),
  seq INTEGER NOT NULL, hash TEXT NOT NULL);",
    )
    .unwrap();
    let decided = |i: i64| Decided {
        time: format!("2026-11-0{i}T09:00:00.000Z"),
        request_id: format!("old-{i}"),
        client: format!("{}", 100_000 + i),
        kind: "known".into(),
        model_version: "m".into(),
        probability: 0.25,
        decision: "granted".into(),
        reasons: Vec::new(),
        input_hash: "abc".into(),
        review: Vec::new(),
        notice: Vec::new(),
        champion: None,
        reviewed: None,
    };
    let mut prev = GENESIS.to_string();
    for i in 1..=2 {
        let d = decided(i);
        let hash = entry_hash(i, &d, &prev);
        db.execute(
            "INSERT INTO journal VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '[]', ?9, ?10, ?11)",
            rusqlite::params![
                i,
                d.time,
                d.request_id,
                d.client,
                d.kind,
                d.model_version,
                d.probability,
                d.decision,
                d.input_hash,
                prev,
                hash
            ],
        )
        .unwrap();
        db.execute(
            "INSERT OR REPLACE INTO journal_head VALUES (1, ?1, ?2)",
            rusqlite::params![i, hash],
        )
        .unwrap();
        prev = hash;
    }
    drop(db);
    let loc = riskscore_server::Location::Sqlite(path);
    let journal = riskscore_server::Journal::open(&loc).unwrap();
    let row = [1.5, f64::NAN];
    let d = Decided {
        time: riskscore_server::journal::now_rfc3339(),
        input_hash: input_hash(&row),
        review: Vec::new(),
        notice: Vec::new(),
        champion: None,
        reviewed: None,
        ..decided(3)
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(journal.record(d, &row)).unwrap(), 3);
    let v = verify(&loc).unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.entries, 3);
    let all = read_window(
        &loc,
        &Filter {
            rows: true,
            ..Filter::default()
        },
    )
    .unwrap();
    assert!(all[0].row.is_none() && all[1].row.is_none());
    assert_eq!(all[2].features().unwrap()[0], 1.5);
    // A window by time: only the second old entry.
    let window = read_window(
        &loc,
        &Filter {
            since: Some("2026-11-02T00:00:00.000Z".into()),
            until: Some("2026-11-03T00:00:00.000Z".into()),
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(window.iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
    // Its entries may be out of order (written before the writer kept them in order): it is
    // given the `time` index, and stays at version 0.
    let db =
        rusqlite::Connection::open(riskscore_server::journal::sqlite_path(&loc).unwrap()).unwrap();
    let (version, indexed): (i64, bool) = db
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), \
             (SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'journal_time')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((version, indexed), (0, true));
}

/// A new journal keeps its entries in time order: a decision stamped before the entry committed
/// ahead of it takes that entry's time, in its hash too. It has no `time` index, and a window
/// of time (found by bisection on the sequence numbers) holds exactly the entries whose times
/// are in it. The audit draw is made on the time as written, so it can be recomputed from the
/// entry.
#[test]
fn entries_are_in_time_order_and_a_window_is_found_without_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let loc = riskscore_server::Location::Sqlite(dir.path().join("journal.sqlite"));
    let journal = riskscore_server::Journal::open(&loc).unwrap();
    let t = |m: u32| format!("2026-12-05T10:{m:02}:00.000Z");
    // Stamps in the order the decisions reach the writer (each committed before the next).
    let stamped = [3, 1, 5, 5, 2, 9, 4, 12, 12, 11];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for (i, m) in stamped.iter().enumerate() {
        let row = vec![i as f64, 0.5];
        let d = riskscore_server::journal::Decided {
            time: t(*m),
            ..decision(
                format!("r-{i}"),
                format!("{}", 100_000 + i),
                0.2,
                "granted",
                &row,
            )
        };
        rt.block_on(journal.record_queued(d, || row, Vec::new(), 0.5))
            .unwrap();
    }
    let all = read_entries(&loc).unwrap();
    let times: Vec<String> = all.iter().map(|e| e.decided.time.clone()).collect();
    let expected: Vec<String> = [3, 3, 5, 5, 5, 9, 9, 12, 12, 12]
        .iter()
        .map(|m| t(*m))
        .collect();
    assert_eq!(times, expected);
    let v = verify(&loc).unwrap();
    assert!(v.ok, "{:?}", v.problems);
    let db =
        rusqlite::Connection::open(riskscore_server::journal::sqlite_path(&loc).unwrap()).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let indexed: bool = db
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'journal_time'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((version, indexed), (1, false));
    // Every window, bounds on and between the entries' times, open on either side.
    let mut bounds: Vec<Option<String>> = (0..=13).map(|m| Some(t(m))).collect();
    bounds.push(Some("2026-12-05T10:05:00.001Z".into()));
    bounds.push(None);
    for since in &bounds {
        for until in &bounds {
            let window = read_window(
                &loc,
                &Filter {
                    since: since.clone(),
                    until: until.clone(),
                    ..Filter::default()
                },
            )
            .unwrap();
            let want: Vec<i64> = all
                .iter()
                .filter(|e| since.as_ref().is_none_or(|s| e.decided.time >= *s))
                .filter(|e| until.as_ref().is_none_or(|u| e.decided.time < *u))
                .map(|e| e.seq)
                .collect();
            let got: Vec<i64> = window.iter().map(|e| e.seq).collect();
            assert_eq!(got, want, "since {since:?} until {until:?}");
        }
    }
    // The audit draw, recomputed from each entry as written (clamped times included).
    let queued: Vec<i64> = riskscore_server::journal::reviews::list(
        &loc,
        riskscore_server::journal::reviews::Status::All,
        100,
    )
    .unwrap()
    .iter()
    .map(|r| r.entry)
    .collect();
    let drawn: Vec<i64> = all
        .iter()
        .filter(|e| {
            let d = &e.decided;
            riskscore_server::journal::reviews::audit_draw(&d.request_id, &d.time, &d.input_hash)
                < 0.5
        })
        .map(|e| e.seq)
        .collect();
    let mut queued_sorted = queued.clone();
    queued_sorted.sort_unstable();
    assert_eq!(queued_sorted, drawn);
    assert!(!drawn.is_empty() && drawn.len() < all.len(), "{drawn:?}");
}

/// A decision of writer `w` (a replica), its `i`-th.
fn replica_decision(w: usize, i: usize) -> (riskscore_server::journal::Decided, Vec<f64>) {
    let row = vec![w as f64, i as f64, f64::NAN];
    let d = decision(
        format!("replica-{w}-{i}"),
        format!("{}", 100_000 + i),
        0.3,
        "refused",
        &row,
    );
    (d, row)
}

/// A known client's decision of model "test" on `row`, with one reason.
fn decision(
    request_id: String,
    client: String,
    probability: f64,
    decision: &str,
    row: &[f64],
) -> riskscore_server::journal::Decided {
    riskscore_server::journal::Decided {
        time: riskscore_server::journal::now_rfc3339(),
        request_id,
        client,
        kind: "known".into(),
        model_version: "test".into(),
        probability,
        decision: decision.into(),
        reasons: vec!["EXT_SOURCE_2".into()],
        input_hash: input_hash(row),
        review: Vec::new(),
        notice: Vec::new(),
        champion: None,
        reviewed: None,
    }
}

/// `writers` journals on one store (each with its own connection and writer thread, as the
/// processes of replicas have) record `per` decisions each, all at once: every decision is
/// committed once, with one sequence number, in one valid chain. Then both try to decide one
/// queued entry's review: exactly one succeeds, from either replica.
async fn replicas_keep_one_chain(loc: riskscore_server::Location, writers: usize, per: usize) {
    let l = loc.clone();
    let journals: Vec<riskscore_server::Journal> = tokio::task::spawn_blocking(move || {
        (0..writers)
            .map(|_| riskscore_server::Journal::open(&l).unwrap())
            .collect()
    })
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..per {
        for (w, j) in journals.iter().enumerate() {
            let j = j.clone();
            tasks.push(tokio::spawn(async move {
                let (d, row) = replica_decision(w, i);
                let queue = if i == 0 {
                    vec!["band".to_owned()]
                } else {
                    Vec::new()
                };
                j.record_queued(d, || row, queue, 0.0).await
            }));
        }
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(
            t.await
                .unwrap()
                .expect("every replica's decision is committed"),
        );
    }
    seqs.sort_unstable();
    let total = (writers * per) as i64;
    assert_eq!(seqs, (1..=total).collect::<Vec<i64>>());
    let l = loc.clone();
    let (v, entries) = tokio::task::spawn_blocking(move || {
        let rows = Filter {
            rows: true,
            ..Filter::default()
        };
        (verify(&l).unwrap(), read_window(&l, &rows).unwrap())
    })
    .await
    .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.entries, writers * per);
    let mut ids: Vec<&str> = entries
        .iter()
        .map(|e| e.decided.request_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), writers * per, "each decision once");
    // Interleaved by processes, the entries are still in time order.
    assert!(
        entries
            .windows(2)
            .all(|w| w[0].decided.time <= w[1].decided.time),
        "entries out of time order"
    );
    // Writer 0's first decision entered the review queue; every replica tries to decide it.
    let queued = entries
        .iter()
        .find(|e| e.decided.request_id == "replica-0-0")
        .unwrap();
    let mut tries = Vec::new();
    for (w, j) in journals.iter().enumerate() {
        let j = j.clone();
        let mut d = queued.decided.clone();
        d.request_id = format!("review-{w}");
        d.decision = "granted".into();
        d.reviewed = Some(riskscore_server::journal::Reviewed {
            entry: queued.seq,
            reviewer: format!("reviewer-{w}"),
            reason: None,
        });
        let row = queued.row.clone().unwrap_or_default();
        tries.push(tokio::spawn(async move { j.record_review(d, row).await }));
    }
    let mut decided = 0;
    for t in tries {
        match t.await.unwrap() {
            Ok(_) => decided += 1,
            Err(riskscore_server::journal::Failure::NotPending(m)) => {
                assert!(
                    m.contains("reviewed already") || m.contains("another review"),
                    "{m}"
                )
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        decided, 1,
        "one review decides the entry, whichever replica takes it"
    );
    let v = tokio::task::spawn_blocking(move || verify(&loc).unwrap())
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.entries, writers * per + 1);
}

/// Two replicas on one SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_sqlite_file_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let loc = riskscore_server::Location::parse(&dir.path().join("j.sqlite").to_string_lossy());
    replicas_keep_one_chain(loc, 2, 300).await;
}

/// Three replicas on the real PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_postgres_keep_one_chain() {
    let Some(loc) =
        tokio::task::spawn_blocking(|| crate::common::fresh_postgres("riskscore_replicas"))
            .await
            .unwrap()
    else {
        return;
    };
    replicas_keep_one_chain(loc, 3, 200).await;
}

/// Replicas started together open one new SQLite file at the same moment (`scripts/replicas`):
/// every one opens it, none gets "database is locked" from the switch to write-ahead logging
/// or the schema's creation.
#[test]
fn replicas_opening_a_new_sqlite_file_together_all_open() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..20 {
        let loc = riskscore_server::Location::parse(
            &dir.path()
                .join(format!("j{round}.sqlite"))
                .to_string_lossy(),
        );
        let start = std::sync::Arc::new(std::sync::Barrier::new(4));
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let (loc, start) = (loc.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    riskscore_server::Journal::open(&loc).map(|_| ())
                })
            })
            .collect();
        for o in opened {
            if let Err(e) = o.join().unwrap() {
                panic!("round {round}: {e}");
            }
        }
    }
}
