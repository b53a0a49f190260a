//! The journal's stores: SQLite (the embedded default; WAL, synchronous=FULL) or PostgreSQL,
//! their schemas and upgrades, appending chained entries and reading them back.

use std::borrow::Cow;

use rusqlite::OptionalExtension;

use super::{Decided, Entry, Filter, Location, GENESIS};
use crate::error::{Error, Result};

/// The head record: the last entry's sequence number and hash.
pub(super) type Head = Option<(i64, String)>;

/// A store of entries (one writer at a time).
pub(crate) enum Store {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, request_id TEXT NOT NULL, client TEXT NOT NULL,
  kind TEXT NOT NULL, model_version TEXT NOT NULL, probability REAL NOT NULL,
  decision TEXT NOT NULL, reasons TEXT NOT NULL, input_hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, features BLOB, review TEXT, notice TEXT,
  champion INTEGER, reviewed INTEGER, reviewer TEXT, review_reason TEXT);
CREATE TABLE IF NOT EXISTS journal_head (one INTEGER PRIMARY KEY CHECK (one = 1),
  seq INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (client TEXT NOT NULL, model_version TEXT NOT NULL,
  defaulted INTEGER NOT NULL, observed_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
  PRIMARY KEY (client, model_version));
CREATE TABLE IF NOT EXISTS reviews (entry INTEGER PRIMARY KEY, client TEXT NOT NULL,
  model_version TEXT NOT NULL, input_hash TEXT NOT NULL, queued_at TEXT NOT NULL,
  why TEXT NOT NULL, status TEXT NOT NULL, final_entry INTEGER);
CREATE INDEX IF NOT EXISTS reviews_status ON reviews (status, entry);
CREATE TABLE IF NOT EXISTS journal_rows (input_hash TEXT PRIMARY KEY, features BLOB NOT NULL);";

/// Each client's latest scoring decision's (`known` or `new`) model version, against which an
/// outcome is recorded. Written when a client's first decision, or a decision by another model version, is
/// committed; a client's next decisions by the same version only read it. It replaced an index
/// of every entry by client (one more page written per decision): a journal that had that
/// index gets this table filled from its entries and loses the index, in one transaction.
const CLIENTS_TABLE: &str = "journal_clients (client TEXT PRIMARY KEY, \
    model_version TEXT NOT NULL)";
/// [`CLIENTS_TABLE`]'s first filling, from a journal's entries (SQLite: the bare column of
/// `MAX` is that row's).
const CLIENTS_FILL_SQLITE: &str = "INSERT INTO journal_clients (client, model_version) \
    SELECT client, model_version FROM (SELECT client, model_version, MAX(seq) FROM journal WHERE kind IN ('known', 'new') \
    GROUP BY client)";
const CLIENTS_FILL_PG: &str = "INSERT INTO journal_clients (client, model_version) \
    SELECT DISTINCT ON (client) client, model_version FROM journal \
    WHERE kind IN ('known', 'new') ORDER BY client, seq DESC";
/// A client's latest scoring decision's model version.
const CLIENT_VERSION: &str = "SELECT model_version FROM journal_clients WHERE client = $1";
/// Records a client's latest scoring decision's model version (a new client, or a change).
const CLIENT_MOVE: &str = "INSERT INTO journal_clients (client, model_version) \
    VALUES ($1, $2) ON CONFLICT (client) DO UPDATE SET model_version = excluded.model_version";

/// Columns added since the first journals, with their SQLite types: a journal written before
/// them is upgraded in place (its old entries hold NULL).
const SQLITE_ADDED: [(&str, &str); 7] = [
    ("features", "BLOB"),
    ("review", "TEXT"),
    ("notice", "TEXT"),
    ("champion", "INTEGER"),
    ("reviewed", "INTEGER"),
    ("reviewer", "TEXT"),
    ("review_reason", "TEXT"),
];

const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
  seq BIGINT PRIMARY KEY, time TEXT NOT NULL, request_id TEXT NOT NULL, client TEXT NOT NULL,
  kind TEXT NOT NULL, model_version TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL,
  decision TEXT NOT NULL, reasons TEXT NOT NULL, input_hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, features BYTEA, review TEXT, notice TEXT,
  champion BIGINT, reviewed BIGINT, reviewer TEXT, review_reason TEXT);
ALTER TABLE journal ADD COLUMN IF NOT EXISTS features BYTEA;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS reviewed BIGINT;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS reviewer TEXT;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS review_reason TEXT;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS champion BIGINT;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS review TEXT;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS notice TEXT;
CREATE TABLE IF NOT EXISTS journal_head (one INTEGER PRIMARY KEY CHECK (one = 1),
  seq BIGINT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS journal_time ON journal (time);
CREATE TABLE IF NOT EXISTS outcomes (client TEXT NOT NULL, model_version TEXT NOT NULL,
  defaulted INTEGER NOT NULL, observed_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
  PRIMARY KEY (client, model_version));
CREATE TABLE IF NOT EXISTS reviews (entry BIGINT PRIMARY KEY, client TEXT NOT NULL,
  model_version TEXT NOT NULL, input_hash TEXT NOT NULL, queued_at TEXT NOT NULL,
  why TEXT NOT NULL, status TEXT NOT NULL, final_entry BIGINT);
CREATE INDEX IF NOT EXISTS reviews_status ON reviews (status, entry);
CREATE TABLE IF NOT EXISTS journal_rows (input_hash TEXT PRIMARY KEY, features BYTEA NOT NULL);";

/// Stores a row under its input hash unless it is there already.
const STORE_ROW: &str = "INSERT INTO journal_rows (input_hash, features) VALUES ($1, $2) \
    ON CONFLICT (input_hash) DO NOTHING";
/// An entry's row as read: its own `features`, or, when that is the empty blob that says so,
/// its row in `journal_rows` (the empty blob again when that row is missing).
const ROW_READ: &str = "CASE WHEN length(features) = 0 THEN COALESCE((SELECT r.features \
    FROM journal_rows r WHERE r.input_hash = journal.input_hash), features) ELSE features END";

/// Enters an entry in the review queue unless the same row of the same client and model is
/// pending there already.
const QUEUE: &str = "INSERT INTO reviews (entry, client, model_version, input_hash, queued_at, \
    why, status) SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), \
    CAST($5 AS TEXT), CAST($6 AS TEXT), 'pending' WHERE NOT EXISTS (SELECT 1 FROM reviews \
    WHERE client = $2 AND model_version = $3 AND input_hash = $4 AND status = 'pending')";
/// Closes a review with the reviewer's entry.
const CLOSE: &str =
    "UPDATE reviews SET status = 'decided', final_entry = $1 WHERE entry = $2 AND status = 'pending'";

/// Whether a PostgreSQL journal has its whole schema (then no DDL runs: an `ALTER TABLE`,
/// even one that changes nothing, would lock the table against the other replicas' writes).
const PG_COMPLETE: &str = "SELECT (SELECT COUNT(*) FROM information_schema.columns \
    WHERE table_schema = current_schema() AND table_name = 'journal') = 19 \
    AND to_regclass('journal_head') IS NOT NULL AND to_regclass('journal_time') IS NOT NULL \
    AND to_regclass('outcomes') IS NOT NULL AND to_regclass('journal_clients') IS NOT NULL \
    AND to_regclass('journal_client') IS NULL \
    AND to_regclass('reviews') IS NOT NULL AND to_regclass('reviews_status') IS NOT NULL \
    AND to_regclass('journal_rows') IS NOT NULL";

impl Store {
    pub(super) fn open(loc: &Location) -> Result<Self> {
        let fail = |e: &dyn std::fmt::Display| Error::Journal {
            location: loc.display(),
            message: e.to_string(),
        };
        match loc {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
                }
                let c = rusqlite::Connection::open(path).map_err(|e| fail(&e))?;
                // Another process's writer holds the lock: retry every half millisecond for
                // 5 s (SQLite's own busy timeout backs off to 100 ms sleeps, which made one
                // replica's commits wait that long behind the other's). Set before the first
                // statement: replicas opening a new file together wait for each other's schema.
                c.busy_handler(Some(retry_busy)).map_err(|e| fail(&e))?;
                // The switch to write-ahead logging can be refused busy without the handler
                // (another connection switching the same new file): tried again as it would.
                let mut tries = 0;
                loop {
                    match c.pragma_update(None, "journal_mode", "WAL") {
                        Err(rusqlite::Error::SqliteFailure(e, _))
                            if e.code == rusqlite::ErrorCode::DatabaseBusy && retry_busy(tries) =>
                        {
                            tries += 1
                        }
                        done => break done.map_err(|e| fail(&e))?,
                    }
                }
                c.pragma_update(None, "synchronous", "FULL")
                    .map_err(|e| fail(&e))?;
                // An older journal: add the new columns before the schema's index.
                for (column, kind) in SQLITE_ADDED {
                    let old: i64 = c
                        .query_row(
                            "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE name = 'journal') \
                             - (SELECT COUNT(*) FROM pragma_table_info('journal') \
                             WHERE name = ?1)",
                            [column],
                            |r| r.get(0),
                        )
                        .map_err(|e| fail(&e))?;
                    if old > 0 {
                        c.execute_batch(&format!("ALTER TABLE journal ADD COLUMN {column} {kind}"))
                            .map_err(|e| fail(&e))?;
                    }
                }
                sqlite_schema(&c).map_err(|e| fail(&e))?;
                sqlite_clients(&c).map_err(|e| fail(&e))?;
                Ok(Store::Sqlite(c))
            }
            Location::Postgres(url) => {
                let mut c =
                    postgres::Client::connect(url, postgres::NoTls).map_err(|e| fail(&e))?;
                let complete: bool = c.query_one(PG_COMPLETE, &[]).map_err(|e| fail(&e))?.get(0);
                if !complete {
                    // One process at a time creates or upgrades the schema: replicas starting
                    // together would race on CREATE TABLE IF NOT EXISTS.
                    let mut tx = c.transaction().map_err(|e| fail(&e))?;
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                        .map_err(|e| fail(&e))?;
                    tx.batch_execute(PG_SCHEMA).map_err(|e| fail(&e))?;
                    let new: bool = tx
                        .query_one("SELECT to_regclass('journal_clients') IS NULL", &[])
                        .map_err(|e| fail(&e))?
                        .get(0);
                    if new {
                        tx.batch_execute(&format!(
                            "CREATE TABLE {CLIENTS_TABLE}; {CLIENTS_FILL_PG}; \
                             DROP INDEX IF EXISTS journal_client"
                        ))
                        .map_err(|e| fail(&e))?;
                    }
                    tx.commit().map_err(|e| fail(&e))?;
                }
                Ok(Store::Postgres(Box::new(c)))
            }
        }
    }

    /// Copies a SQLite journal's write-ahead log into the database as far as readers allow,
    /// without blocking the writer (a passive checkpoint, from a connection of its own). The
    /// writer's commits still checkpoint every 1,000 pages (SQLite's default), which resets
    /// the log; most of its pages are copied by then, so that commit's checkpoint is short.
    /// Nothing on PostgreSQL.
    pub(super) fn checkpoint(&mut self) -> std::result::Result<(), String> {
        match self {
            Store::Sqlite(c) => c
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(|e| e.to_string()),
            Store::Postgres(_) => Ok(()),
        }
    }

    /// The last (seq, hash) of the chain.
    pub(super) fn head(&mut self) -> std::result::Result<(i64, String), String> {
        match self {
            Store::Sqlite(c) => sqlite_head(c),
            Store::Postgres(c) => pg_head(&mut **c),
        }
        .map(|(seq, hash, _)| (seq, hash))
    }

    /// Commits a batch after the journal's current head, in one transaction that holds the
    /// journal's write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped
    /// advisory lock) from reading the head to the commit, so any number of processes can
    /// append to one journal and the chain stays one. Inside the lock, a reviewer's decision
    /// whose entry is not pending (decided already, here or by another process, or twice in
    /// this batch) is left out with its reason; the others are chained from the head, written
    /// with their review-queue rows, and the head record moves. Returns each draft's sequence
    /// number or the reason it was left out; an error rolls everything back.
    pub(super) fn commit(
        &mut self,
        drafts: &[Draft<'_>],
    ) -> std::result::Result<Vec<Outcome>, String> {
        match self {
            Store::Sqlite(c) => {
                // BEGIN and COMMIT as cached statements (rusqlite's transaction parses them
                // at every commit); any error rolls back.
                let run = |sql: &str| -> std::result::Result<(), String> {
                    c.prepare_cached(sql)
                        .and_then(|mut st| st.execute([]))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                run("BEGIN IMMEDIATE")?;
                let written = (|| {
                    let head = sqlite_head(c)?;
                    let status = |entry: i64| -> std::result::Result<Option<String>, String> {
                        c.prepare_cached(STATUS)
                            .and_then(|mut st| st.query_row([entry], |r| r.get(0)).optional())
                            .map_err(|e| e.to_string())
                    };
                    let (chained, outcomes) = chain(drafts, head, status)?;
                    sqlite_write(c, drafts, &chained)?;
                    run("COMMIT")?;
                    Ok(outcomes)
                })();
                if written.is_err() && !c.is_autocommit() {
                    let _ = c.execute_batch("ROLLBACK");
                }
                written
            }
            Store::Postgres(c) => {
                // The lock by the simple protocol (one round trip); the head is read by the
                // next statement, whose snapshot is taken once the lock is held.
                let mut tx = c.transaction().map_err(|e| e.to_string())?;
                tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"))
                    .map_err(|e| e.to_string())?;
                let head = pg_head(&mut tx)?;
                let status = |entry: i64| -> std::result::Result<Option<String>, String> {
                    Ok(tx
                        .query(STATUS, &[&entry])
                        .map_err(|e| e.to_string())?
                        .first()
                        .map(|row| row.get(0)))
                };
                let (chained, outcomes) = chain(drafts, head, status)?;
                pg_write(&mut tx, drafts, &chained)?;
                tx.commit().map_err(|e| e.to_string())?;
                Ok(outcomes)
            }
        }
    }

    /// The entries `filter` selects, in order of their sequence numbers.
    pub(super) fn read(&mut self, filter: &Filter) -> std::result::Result<Vec<Entry>, String> {
        // Parameters are bound, never spliced: `time` bounds are text, the limit a number.
        let mut clauses = Vec::new();
        let mut args: Vec<String> = Vec::new();
        if let Some(t) = &filter.since {
            args.push(t.clone());
            clauses.push(format!("time >= ${}", args.len()));
        }
        if let Some(t) = &filter.until {
            args.push(t.clone());
            clauses.push(format!("time < ${}", args.len()));
        }
        if let Some(seq) = filter.after {
            clauses.push(format!("seq > {seq}"));
        }
        // A time-ordered SQLite journal has no `time` index: the window's bounds become
        // sequence numbers (the time clauses stay, and then cost nothing).
        if let Store::Sqlite(c) = self {
            if (filter.since.is_some() || filter.until.is_some())
                && sqlite_time_ordered(c).map_err(|e| e.to_string())?
            {
                if let Some(t) = &filter.since {
                    clauses.push(format!("seq >= {}", sqlite_seq_from(c, t)?));
                }
                if let Some(t) = &filter.until {
                    clauses.push(format!("seq < {}", sqlite_seq_from(c, t)?));
                }
            }
        }
        if filter.scores_only {
            clauses.push("kind IN ('known', 'new')".into());
        }
        let mut q = format!(
            "SELECT seq, time, request_id, client, kind, model_version, probability, decision, \
             reasons, input_hash, prev_hash, hash, review, notice, {}, champion, reviewed, reviewer, \
             review_reason FROM journal",
            if filter.rows { ROW_READ } else { "NULL" }
        );
        if !clauses.is_empty() {
            q += &format!(" WHERE {}", clauses.join(" AND "));
        }
        // The most recent `last` entries, put back in order below.
        match (filter.last, filter.first) {
            (Some(n), _) => q += &format!(" ORDER BY seq DESC LIMIT {n}"),
            (None, Some(n)) => q += &format!(" ORDER BY seq LIMIT {n}"),
            (None, None) => q += " ORDER BY seq",
        }
        let mut entries = match self {
            Store::Sqlite(c) => sqlite_rows(c, &q, rusqlite::params_from_iter(args.iter()), |r| {
                Ok(Entry {
                    seq: r.get(0)?,
                    decided: Decided {
                        time: r.get(1)?,
                        request_id: r.get(2)?,
                        client: r.get(3)?,
                        kind: r.get(4)?,
                        model_version: r.get(5)?,
                        probability: r.get(6)?,
                        decision: r.get(7)?,
                        reasons: parse_reasons(&r.get::<_, String>(8)?),
                        input_hash: r.get(9)?,
                        review: parse_review(r.get(12)?),
                        notice: parse_review(r.get(13)?),
                        champion: r.get(15)?,
                        reviewed: reviewed(r.get(16)?, r.get(17)?, r.get(18)?),
                    },
                    prev_hash: r.get(10)?,
                    hash: r.get(11)?,
                    row: r.get(14)?,
                })
            })?,
            Store::Postgres(c) => {
                // PostgreSQL types the NULL placeholder as text: cast it.
                let q = q.replace(" NULL, champion,", " NULL::BYTEA, champion,");
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> = args
                    .iter()
                    .map(|a| a as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                c.query(&q, &params)
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|r| Entry {
                        seq: r.get(0),
                        decided: Decided {
                            time: r.get(1),
                            request_id: r.get(2),
                            client: r.get(3),
                            kind: r.get(4),
                            model_version: r.get(5),
                            probability: r.get(6),
                            decision: r.get(7),
                            reasons: parse_reasons(&r.get::<_, String>(8)),
                            input_hash: r.get(9),
                            review: parse_review(r.get(12)),
                            notice: parse_review(r.get(13)),
                            champion: r.get(15),
                            reviewed: reviewed(r.get(16), r.get(17), r.get(18)),
                        },
                        prev_hash: r.get(10),
                        hash: r.get(11),
                        row: r.get(14),
                    })
                    .collect()
            }
        };
        if filter.last.is_some() {
            entries.reverse();
        }
        Ok(entries)
    }

    /// Records outcomes in one transaction, each against its client's latest decision's model
    /// version: new ones inserted, ones already recorded with the same value left as they are;
    /// nothing is written when a client has no decision or a recorded outcome differs.
    pub(super) fn record_outcomes(
        &mut self,
        outcomes: &[super::outcomes::Outcome],
        now: &str,
    ) -> std::result::Result<super::outcomes::Recorded, super::outcomes::Refused> {
        use super::outcomes::{Recorded, Refused};
        let latest = CLIENT_VERSION;
        let existing = "SELECT defaulted FROM outcomes WHERE client = $1 AND model_version = $2";
        let ins = "INSERT INTO outcomes (client, model_version, defaulted, observed_at, \
                   recorded_at) VALUES ($1, $2, $3, $4, $5)";
        let mut refused = Refused::default();
        let mut done = Recorded::default();
        let store = |e: &dyn std::fmt::Display| Refused {
            store: Some(e.to_string()),
            ..Refused::default()
        };
        match self {
            Store::Sqlite(c) => {
                let tx = c
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| store(&e))?;
                for (i, o) in outcomes.iter().enumerate() {
                    let client = o.client.to_string();
                    let version: Option<String> = tx
                        .query_row(latest, [&client], |r| r.get(0))
                        .optional()
                        .map_err(|e| store(&e))?;
                    let Some(version) = version else {
                        refused.unknown.push(i);
                        continue;
                    };
                    let had: Option<i64> = tx
                        .query_row(existing, [&client, &version], |r| r.get(0))
                        .optional()
                        .map_err(|e| store(&e))?;
                    match had {
                        Some(v) if v == i64::from(o.defaulted) => done.unchanged += 1,
                        Some(v) => refused.conflicts.push((i, v)),
                        None => {
                            tx.execute(
                                ins,
                                rusqlite::params![
                                    client,
                                    version,
                                    i64::from(o.defaulted),
                                    o.observed_at,
                                    now
                                ],
                            )
                            .map_err(|e| store(&e))?;
                            done.recorded += 1;
                        }
                    }
                }
                if !refused.is_empty() {
                    return Err(refused);
                }
                tx.commit().map_err(|e| store(&e))?;
            }
            Store::Postgres(c) => {
                let mut tx = c.transaction().map_err(|e| store(&e))?;
                for (i, o) in outcomes.iter().enumerate() {
                    let client = o.client.to_string();
                    let rows = tx.query(latest, &[&client]).map_err(|e| store(&e))?;
                    let Some(version) = rows.first().map(|r| r.get::<_, String>(0)) else {
                        refused.unknown.push(i);
                        continue;
                    };
                    let had = tx
                        .query(existing, &[&client, &version])
                        .map_err(|e| store(&e))?;
                    match had.first().map(|r| r.get::<_, i32>(0)) {
                        Some(v) if v == i32::from(o.defaulted) => done.unchanged += 1,
                        Some(v) => refused.conflicts.push((i, i64::from(v))),
                        None => {
                            tx.execute(
                                ins,
                                &[
                                    &client,
                                    &version,
                                    &i32::from(o.defaulted),
                                    &o.observed_at,
                                    &now,
                                ],
                            )
                            .map_err(|e| store(&e))?;
                            done.recorded += 1;
                        }
                    }
                }
                if !refused.is_empty() {
                    return Err(refused);
                }
                tx.commit().map_err(|e| store(&e))?;
            }
        }
        Ok(done)
    }

    /// Every recorded outcome.
    pub(super) fn read_outcomes(
        &mut self,
    ) -> std::result::Result<Vec<super::outcomes::Stored>, String> {
        use super::outcomes::Stored;
        let q = "SELECT client, model_version, defaulted, observed_at, recorded_at FROM outcomes \
                 ORDER BY recorded_at, client";
        match self {
            Store::Sqlite(c) => sqlite_rows(c, q, [], |r| {
                Ok(Stored {
                    client: r.get(0)?,
                    model_version: r.get(1)?,
                    defaulted: u8::from(r.get::<_, i64>(2)? == 1),
                    observed_at: r.get(3)?,
                    recorded_at: r.get(4)?,
                })
            }),
            Store::Postgres(c) => Ok(c
                .query(q, &[])
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| Stored {
                    client: r.get(0),
                    model_version: r.get(1),
                    defaulted: u8::from(r.get::<_, i32>(2) == 1),
                    observed_at: r.get(3),
                    recorded_at: r.get(4),
                })
                .collect()),
        }
    }

    /// Reviews with their automated and final entries (`entry`: that one only).
    pub(super) fn read_reviews(
        &mut self,
        status: super::reviews::Status,
        entry: Option<i64>,
        limit: usize,
    ) -> std::result::Result<Vec<super::reviews::Review>, String> {
        use super::reviews::{FinalDecision, Review, Status};
        let mut q = String::from(
            "SELECT r.entry, r.status, r.queued_at, r.why, a.client, a.kind, a.model_version, \
             a.probability, a.decision, a.reasons, a.review, f.seq, f.time, f.decision, \
             f.reviewer, f.review_reason FROM reviews r JOIN journal a ON a.seq = r.entry \
             LEFT JOIN journal f ON f.seq = r.final_entry",
        );
        // Only literals and integers are spliced.
        let mut clauses = Vec::new();
        match status {
            Status::Pending => clauses.push("r.status = 'pending'".to_owned()),
            Status::Decided => clauses.push("r.status = 'decided'".to_owned()),
            Status::All => {}
        }
        if let Some(e) = entry {
            clauses.push(format!("r.entry = {e}"));
        }
        if !clauses.is_empty() {
            q += &format!(" WHERE {}", clauses.join(" AND "));
        }
        let order = if status == Status::Pending {
            ""
        } else {
            " DESC"
        };
        q += &format!(" ORDER BY r.entry{order} LIMIT {limit}");
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            f64,
            String,
            String,
            Option<String>,
            (
                Option<i64>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            ),
        );
        let rows: Vec<Row> = match self {
            Store::Sqlite(c) => sqlite_rows(c, &q, [], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    (r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?, r.get(15)?),
                ))
            })?,
            Store::Postgres(c) => c
                .query(&q, &[])
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        r.get(1),
                        r.get(2),
                        r.get(3),
                        r.get(4),
                        r.get(5),
                        r.get(6),
                        r.get(7),
                        r.get(8),
                        r.get(9),
                        r.get(10),
                        (r.get(11), r.get(12), r.get(13), r.get(14), r.get(15)),
                    )
                })
                .collect(),
        };
        Ok(rows
            .into_iter()
            .map(
                |(
                    entry,
                    status,
                    queued_at,
                    why,
                    client,
                    kind,
                    model_version,
                    probability,
                    decision,
                    reasons,
                    intake,
                    f,
                )| {
                    let final_decision = match f {
                        (Some(seq), Some(time), Some(fd), reviewer, reason) => {
                            Some(FinalDecision {
                                entry: seq,
                                time,
                                overrides: fd != decision,
                                decision: fd,
                                reviewer: reviewer.unwrap_or_default(),
                                reason,
                            })
                        }
                        _ => None,
                    };
                    Review {
                        entry,
                        status,
                        queued_at,
                        why: parse_reasons(&why),
                        client,
                        kind,
                        model_version,
                        probability,
                        decision,
                        reasons: parse_reasons(&reasons),
                        reasons_in_words: Vec::new(),
                        intake: parse_review(intake),
                        final_decision,
                    }
                },
            )
            .collect())
    }

    /// Pending reviews and the oldest one's queue time.
    pub(super) fn pending_figures(
        &mut self,
    ) -> std::result::Result<(usize, Option<String>), String> {
        let q = "SELECT COUNT(*), MIN(queued_at) FROM reviews WHERE status = 'pending'";
        let (n, oldest): (i64, Option<String>) = match self {
            Store::Sqlite(c) => c
                .query_row(q, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| e.to_string())?,
            Store::Postgres(c) => {
                let r = c.query_one(q, &[]).map_err(|e| e.to_string())?;
                (r.get(0), r.get(1))
            }
        };
        Ok((usize::try_from(n).unwrap_or(0), oldest))
    }

    /// Decided reviews counted by reviewer, automated decision and final decision.
    pub(super) fn decided_figures(
        &mut self,
    ) -> std::result::Result<Vec<(String, String, String, usize)>, String> {
        let q = "SELECT f.reviewer, a.decision, f.decision, COUNT(*) FROM reviews r \
                 JOIN journal a ON a.seq = r.entry JOIN journal f ON f.seq = r.final_entry \
                 WHERE r.status = 'decided' GROUP BY f.reviewer, a.decision, f.decision";
        let rows: Vec<(Option<String>, String, String, i64)> = match self {
            Store::Sqlite(c) => sqlite_rows(c, q, [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?,
            Store::Postgres(c) => c
                .query(q, &[])
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect(),
        };
        Ok(rows
            .into_iter()
            .map(|(who, a, f, n)| {
                (
                    who.unwrap_or_default(),
                    a,
                    f,
                    usize::try_from(n).unwrap_or(0),
                )
            })
            .collect())
    }

    /// Every client of [`CLIENTS_TABLE`] with its recorded model version.
    pub(super) fn client_versions(&mut self) -> std::result::Result<Vec<(String, String)>, String> {
        let q = "SELECT client, model_version FROM journal_clients";
        match self {
            Store::Sqlite(c) => sqlite_rows(c, q, [], |r| Ok((r.get(0)?, r.get(1)?))),
            Store::Postgres(c) => Ok(c
                .query(q, &[])
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()),
        }
    }

    /// The head record.
    pub(super) fn head_record(&mut self) -> std::result::Result<Head, String> {
        let hq = "SELECT seq, hash FROM journal_head WHERE one = 1";
        match self {
            Store::Sqlite(c) => {
                let mut hs = c.prepare(hq).map_err(|e| e.to_string())?;
                let mut h = hs.query([]).map_err(|e| e.to_string())?;
                match h.next().map_err(|e| e.to_string())? {
                    Some(r) => Ok(Some((
                        r.get(0).map_err(|e| e.to_string())?,
                        r.get(1).map_err(|e| e.to_string())?,
                    ))),
                    None => Ok(None),
                }
            }
            Store::Postgres(c) => Ok(c
                .query(hq, &[])
                .map_err(|e| e.to_string())?
                .first()
                .map(|r| (r.get(0), r.get(1)))),
        }
    }
}

/// `PRAGMA user_version` of a SQLite journal whose entries are in time order (every entry
/// written by a writer that keeps them so, see [`chain`]): it has no `time` index, and a window
/// of time is found by bisection on the sequence numbers. A journal created before has version
/// 0 and keeps (or is given) the index, since its entries may be out of order by a few
/// milliseconds.
const TIME_ORDERED: i64 = 1;

/// Creates the schema's missing tables. A new journal is created in time order
/// ([`TIME_ORDERED`], in the transaction that creates its tables, so processes creating one
/// file together agree); an older one gets the `time` index if it has none.
fn sqlite_schema(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    let exists = || -> rusqlite::Result<bool> {
        c.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'journal'",
            [],
            |r| r.get(0),
        )
    };
    if !exists()? {
        c.execute_batch("BEGIN IMMEDIATE")?;
        let created = (|| {
            if !exists()? {
                c.execute_batch(SQLITE_SCHEMA)?;
                c.pragma_update(None, "user_version", TIME_ORDERED)?;
            }
            c.execute_batch("COMMIT")
        })();
        if created.is_err() && !c.is_autocommit() {
            let _ = c.execute_batch("ROLLBACK");
        }
        created?;
    }
    c.execute_batch(SQLITE_SCHEMA)?;
    if !sqlite_time_ordered(c)? {
        c.execute_batch("CREATE INDEX IF NOT EXISTS journal_time ON journal (time)")?;
    }
    Ok(())
}

/// Whether a SQLite journal's entries are in time order with no `time` index (see
/// [`TIME_ORDERED`]; a journal given the index by an older version is read through it).
fn sqlite_time_ordered(c: &rusqlite::Connection) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version) >= ?1 AND NOT EXISTS \
         (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'journal_time')",
        [TIME_ORDERED],
        |r| r.get(0),
    )
}

/// The first sequence number from which a time-ordered SQLite journal's entries are at or
/// after `t` (one past the last entry when none is), by bisection: about twenty lookups of
/// one entry for a million entries. Gaps in the sequence numbers (a damaged journal) are
/// stepped over.
fn sqlite_seq_from(c: &rusqlite::Connection, t: &str) -> std::result::Result<i64, String> {
    let (first, last): (Option<i64>, Option<i64>) = c
        .query_row("SELECT MIN(seq), MAX(seq) FROM journal", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(|e| e.to_string())?;
    let (Some(mut lo), Some(last)) = (first, last) else {
        return Ok(1);
    };
    // Entries before `lo` are earlier than `t`; entries from `hi` on are not.
    let mut hi = last + 1;
    let mut at = c
        .prepare_cached("SELECT seq, time FROM journal WHERE seq >= ?1 ORDER BY seq LIMIT 1")
        .map_err(|e| e.to_string())?;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let (seq, time): (i64, String) = at
            .query_row([mid], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| e.to_string())?;
        if time.as_str() < t {
            lo = seq + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Creates [`CLIENTS_TABLE`] in a SQLite journal that has none, filled from its entries, and
/// drops the index it replaces: in one transaction, so processes opening one journal together
/// do it once.
fn sqlite_clients(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    let have = || -> rusqlite::Result<bool> {
        c.query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' \
             AND name = 'journal_clients'",
            [],
            |r| r.get(0),
        )
    };
    // Most opens find it (no write lock taken); else again under the lock.
    if have()? {
        return Ok(());
    }
    c.execute_batch("BEGIN IMMEDIATE")?;
    let upgrade = || -> rusqlite::Result<()> {
        if !have()? {
            c.execute_batch(&format!(
                "CREATE TABLE {CLIENTS_TABLE}; {CLIENTS_FILL_SQLITE}; \
                 DROP INDEX IF EXISTS journal_client;"
            ))?;
        }
        Ok(())
    };
    match upgrade() {
        Ok(()) => c.execute_batch("COMMIT"),
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Every row `q` selects with `params`, each made by `row`, on SQLite; errors as text.
fn sqlite_rows<T>(
    c: &rusqlite::Connection,
    q: &str,
    params: impl rusqlite::Params,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> std::result::Result<Vec<T>, String> {
    let mut st = c.prepare(q).map_err(|e| e.to_string())?;
    let rows = st.query_map(params, row).map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())
}

/// SQLite's busy handler: true (try again) after a half-millisecond sleep, for 5 s in all.
fn retry_busy(attempts: i32) -> bool {
    if attempts >= 10_000 {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_micros(500));
    true
}

/// The PostgreSQL advisory lock key of the journal's writers (one journal per database schema).
const WRITE_LOCK: i64 = 0x7269_736b_6a72_6e6c; // "riskjrnl"
/// The key of the schema's creation and upgrades, so replicas starting together do not race.
const SCHEMA_LOCK: i64 = 0x7269_736b_7363_686d; // "riskschm"

/// A decision the writer commits: its fields, the feature row it scored when that row is to be
/// stored (None: stored already), why it enters the review queue (empty: it does not) and the
/// share of such decisions drawn for audit.
#[derive(Debug)]
pub(super) struct Draft<'a> {
    pub decided: &'a Decided,
    pub row: Option<&'a [u8]>,
    pub queue: &'a [String],
    pub audit: f64,
}

/// What became of a draft: its sequence number, or why a reviewer's decision was left out.
pub(super) type Outcome = std::result::Result<i64, String>;

/// A draft chained after the head: the entry as written (its time possibly moved up to the
/// previous entry's) and why it enters the review queue (the audit draw included).
struct Chained<'a> {
    seq: i64,
    prev_hash: String,
    hash: String,
    decided: Cow<'a, Decided>,
    queue: Cow<'a, [String]>,
}

/// The last entry: its sequence number, hash and time (0, [`GENESIS`] and none before the
/// first).
type Last = (i64, String, Option<String>);

/// Chains the drafts from `head`, leaving out a reviewer's decision whose entry `status` says
/// is not pending (or which this batch decides already). An entry's time is never earlier
/// than the entry before it: a decision stamped before one committed ahead of it (another
/// request, another replica) takes that entry's time, so a journal's entries are in time order
/// and a window of time is a range of sequence numbers. The audit draw is made on the time as
/// written.
fn chain<'a>(
    drafts: &'a [Draft<'a>],
    head: Last,
    mut status: impl FnMut(i64) -> std::result::Result<Option<String>, String>,
) -> std::result::Result<(Vec<Chained<'a>>, Vec<Outcome>), String> {
    let (mut seq, mut prev, mut last_time) = head;
    let mut closing = std::collections::HashSet::new();
    let mut chained = Vec::with_capacity(drafts.len());
    let mut outcomes = Vec::with_capacity(drafts.len());
    for d in drafts {
        if let Some(r) = &d.decided.reviewed {
            let refused = match status(r.entry)?.as_deref() {
                Some("pending") if closing.insert(r.entry) => None,
                Some("pending") => Some(format!(
                    "entry {} is being decided by another review",
                    r.entry
                )),
                Some(_) => Some(format!("entry {} has been reviewed already", r.entry)),
                None => Some(format!("entry {} is not in the review queue", r.entry)),
            };
            if let Some(why) = refused {
                outcomes.push(Err(why));
                continue;
            }
        }
        seq += 1;
        let decided = match &last_time {
            Some(t) if d.decided.time.as_str() < t.as_str() => {
                behind(&d.decided.time, t);
                Cow::Owned(Decided {
                    time: t.clone(),
                    ..d.decided.clone()
                })
            }
            _ => Cow::Borrowed(d.decided),
        };
        let queue = if d.queue.is_empty()
            && d.audit > 0.0
            && super::reviews::audit_draw(&decided.request_id, &decided.time, &decided.input_hash)
                < d.audit
        {
            Cow::Owned(vec![super::reviews::AUDIT.to_owned()])
        } else {
            Cow::Borrowed(d.queue)
        };
        let hash = super::entry_hash(seq, &decided, &prev);
        if last_time.as_deref() != Some(decided.time.as_str()) {
            last_time = Some(decided.time.clone());
        }
        chained.push(Chained {
            seq,
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
            decided,
            queue,
        });
        outcomes.push(Ok(seq));
    }
    Ok((chained, outcomes))
}

/// A decision stamped more than this before the entry ahead of it is a clock behind another
/// writer's (a replica whose clock is off), not two requests finishing out of order.
const BEHIND_AT_MOST: f64 = 1.0;

/// How far (seconds) a decision stamped at `stamped` is behind the journal's last entry at
/// `last`, when that is more than [`BEHIND_AT_MOST`].
fn clock_behind(stamped: &str, last: &str) -> Option<f64> {
    super::reviews::seconds_between(stamped, last).filter(|s| *s > BEHIND_AT_MOST)
}

/// Says so, at most once a minute, when a decision was stamped more than [`BEHIND_AT_MOST`]
/// before the journal's last entry: its entries then take that entry's time until this clock
/// catches up, so the clocks of the processes writing one journal should be synchronised.
fn behind(stamped: &str, last: &str) {
    static SAID: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let Some(seconds) = clock_behind(stamped, last) else {
        return;
    };
    if let Ok(mut said) = SAID.lock() {
        if said.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
            *said = Some(std::time::Instant::now());
            tracing::warn!(
                seconds,
                "a decision was stamped {seconds:.3} s before the journal's last entry (another \
                 process's clock is ahead of this one?): entries take the last entry's time, \
                 so the journal stays in time order; synchronise the clocks of the processes \
                 writing this journal"
            );
        }
    }
}

/// The journal's insert up to `VALUES`: the SQLite writer binds one row to it, the
/// PostgreSQL writer the batch's rows.
macro_rules! insert_head {
    () => {
        "INSERT INTO journal (seq, time, request_id, client, kind, model_version, probability, \
         decision, reasons, input_hash, prev_hash, hash, features, review, notice, champion, \
         reviewed, reviewer, review_reason) VALUES"
    };
}
const INSERT_HEAD: &str = insert_head!();
/// The journal's columns, as many as the insert binds.
const COLUMNS: usize = 19;
const INSERT: &str = concat!(
    insert_head!(),
    " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
);
const MOVE_HEAD: &str = "INSERT INTO journal_head (one, seq, hash) VALUES (1, $1, $2) \
    ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";
const LAST: &str = "SELECT seq, hash, time FROM journal ORDER BY seq DESC LIMIT 1";
/// A review's status (no row: the entry was never queued).
const STATUS: &str = "SELECT status FROM reviews WHERE entry = $1";

fn sqlite_head(c: &rusqlite::Connection) -> std::result::Result<Last, String> {
    Ok(c.prepare_cached(LAST)
        .map_err(|e| e.to_string())?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, Some(r.get(2)?))))
        .optional()
        .map_err(|e| e.to_string())?
        .unwrap_or((0, GENESIS.to_owned(), None)))
}

fn pg_head(c: &mut impl postgres::GenericClient) -> std::result::Result<Last, String> {
    Ok(
        match c.query(LAST, &[]).map_err(|e| e.to_string())?.first() {
            Some(r) => (r.get(0), r.get(1), Some(r.get(2))),
            None => (0, GENESIS.to_owned(), None),
        },
    )
}

/// Whether an entry is a scoring decision (`known` or `new`), the decisions
/// [`CLIENTS_TABLE`] follows.
pub(super) fn scores(d: &Decided) -> bool {
    matches!(d.kind.as_str(), "known" | "new")
}

/// An entry's `features` when its row is in `journal_rows`.
const IN_ROWS: &[u8] = &[];

/// Writes the batch: every draft's row to be stored (a reviewer's decision left out too: its
/// row is stored whatever the review's fate, so the writer may count it as stored), then the
/// chained entries with their review-queue rows, then the head.
fn sqlite_write(
    tx: &rusqlite::Connection,
    drafts: &[Draft<'_>],
    chained: &[Chained<'_>],
) -> std::result::Result<(), String> {
    let mut rows = tx.prepare_cached(STORE_ROW).map_err(|e| e.to_string())?;
    for d in drafts {
        if let Some(row) = d.row {
            rows.execute(rusqlite::params![d.decided.input_hash, row])
                .map_err(|e| e.to_string())?;
        }
    }
    let Some(last) = chained.last() else {
        return Ok(());
    };
    let mut st = tx.prepare_cached(INSERT).map_err(|e| e.to_string())?;
    for e in chained {
        let d = &*e.decided;
        let r = d.reviewed.as_ref();
        st.execute(rusqlite::params![
            e.seq,
            d.time,
            d.request_id,
            d.client,
            d.kind,
            d.model_version,
            d.probability,
            d.decision,
            reasons_text(&d.reasons),
            d.input_hash,
            e.prev_hash,
            e.hash,
            IN_ROWS,
            review_text(&d.review),
            review_text(&d.notice),
            d.champion,
            r.map(|r| r.entry),
            r.map(|r| r.reviewer.as_str()),
            r.and_then(|r| r.reason.as_deref()),
        ])
        .map_err(|e| e.to_string())?;
        if !e.queue.is_empty() {
            tx.prepare_cached(QUEUE)
                .and_then(|mut st| {
                    st.execute(rusqlite::params![
                        e.seq,
                        d.client,
                        d.model_version,
                        d.input_hash,
                        d.time,
                        reasons_text(&e.queue)
                    ])
                })
                .map_err(|e| e.to_string())?;
        }
        if let Some(r) = r {
            tx.prepare_cached(CLOSE)
                .and_then(|mut st| st.execute(rusqlite::params![e.seq, r.entry]))
                .map_err(|e| e.to_string())?;
        }
        if scores(d) {
            let mut version = tx
                .prepare_cached(CLIENT_VERSION)
                .map_err(|e| e.to_string())?;
            let had: Option<String> = version
                .query_row([&d.client], |r| r.get(0))
                .optional()
                .map_err(|e| e.to_string())?;
            if had.as_deref() != Some(d.model_version.as_str()) {
                tx.prepare_cached(CLIENT_MOVE)
                    .map_err(|e| e.to_string())?
                    .execute(rusqlite::params![d.client, d.model_version])
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    tx.prepare_cached(MOVE_HEAD)
        .map_err(|e| e.to_string())?
        .execute(rusqlite::params![last.seq, last.hash])
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// [`sqlite_write`] on PostgreSQL.
fn pg_write(
    tx: &mut postgres::Transaction<'_>,
    drafts: &[Draft<'_>],
    chained: &[Chained<'_>],
) -> std::result::Result<(), String> {
    for d in drafts {
        if let Some(row) = d.row {
            tx.execute(STORE_ROW, &[&d.decided.input_hash, &row])
                .map_err(|e| e.to_string())?;
        }
    }
    let Some(last) = chained.last() else {
        return Ok(());
    };
    // One statement for the batch's entries: one per entry cost two round trips each (one
    // replica journaled 1,694 decisions per second here that way, about 2,500 this way).
    /// What an entry binds besides its fields: the texts and the review's columns.
    struct Owned {
        reasons: String,
        review: Option<String>,
        notice: Option<String>,
        reviewed: Option<i64>,
        reviewer: Option<String>,
        reason: Option<String>,
    }
    let owned: Vec<Owned> = chained
        .iter()
        .map(|e| {
            let d = &*e.decided;
            let r = d.reviewed.as_ref();
            Owned {
                reasons: reasons_text(&d.reasons),
                review: review_text(&d.review),
                notice: review_text(&d.notice),
                reviewed: r.map(|r| r.entry),
                reviewer: r.map(|r| r.reviewer.clone()),
                reason: r.and_then(|r| r.reason.clone()),
            }
        })
        .collect();
    let mut sql = String::from(INSERT_HEAD);
    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> =
        Vec::with_capacity(chained.len() * COLUMNS);
    for (k, (e, o)) in chained.iter().zip(&owned).enumerate() {
        let d = &*e.decided;
        let first = k * COLUMNS;
        sql.push_str(if k == 0 { " (" } else { ", (" });
        sql.push_str(
            &(1..=COLUMNS)
                .map(|j| format!("${}", first + j))
                .collect::<Vec<_>>()
                .join(", "),
        );
        sql.push(')');
        params.extend_from_slice(&[
            &e.seq,
            &d.time,
            &d.request_id,
            &d.client,
            &d.kind,
            &d.model_version,
            &d.probability,
            &d.decision,
            &o.reasons,
            &d.input_hash,
            &e.prev_hash,
            &e.hash,
            &IN_ROWS,
            &o.review,
            &o.notice,
            &d.champion,
            &o.reviewed,
            &o.reviewer,
            &o.reason,
        ]);
    }
    tx.execute(sql.as_str(), &params)
        .map_err(|e| e.to_string())?;
    for e in chained {
        let d = &*e.decided;
        if !e.queue.is_empty() {
            tx.execute(
                QUEUE,
                &[
                    &e.seq,
                    &d.client,
                    &d.model_version,
                    &d.input_hash,
                    &d.time,
                    &reasons_text(&e.queue),
                ],
            )
            .map_err(|e| e.to_string())?;
        }
        if let Some(r) = &d.reviewed {
            tx.execute(CLOSE, &[&e.seq, &r.entry])
                .map_err(|e| e.to_string())?;
        }
    }
    // The batch's scoring decisions against the clients' recorded versions, in one query;
    // each client moved at most once, to its last decision's version here when that changes.
    let scored: Vec<&Chained<'_>> = chained.iter().filter(|e| scores(&e.decided)).collect();
    if !scored.is_empty() {
        let clients: Vec<&str> = scored.iter().map(|e| e.decided.client.as_str()).collect();
        let mut version: std::collections::HashMap<String, String> = tx
            .query(
                "SELECT client, model_version FROM journal_clients WHERE client = ANY($1)",
                &[&clients],
            )
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut moves: std::collections::HashMap<&str, &str> = Default::default();
        for e in &scored {
            let d = &*e.decided;
            if version.get(&d.client).map(String::as_str) != Some(d.model_version.as_str()) {
                version.insert(d.client.clone(), d.model_version.clone());
                moves.insert(&d.client, &d.model_version);
            }
        }
        for (client, model) in moves {
            tx.execute(CLIENT_MOVE, &[&client, &model])
                .map_err(|e| e.to_string())?;
        }
    }
    tx.execute(MOVE_HEAD, &[&last.seq, &last.hash])
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn reviewed(
    entry: Option<i64>,
    reviewer: Option<String>,
    reason: Option<String>,
) -> Option<super::Reviewed> {
    Some(super::Reviewed {
        entry: entry?,
        reviewer: reviewer.unwrap_or_default(),
        reason,
    })
}

fn reasons_text(r: &[String]) -> String {
    serde_json::to_string(r).unwrap_or_else(|_| "[]".into())
}

fn parse_reasons(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|_| vec![format!("<unreadable: {s}>")])
}

/// The review reasons (or a notice's reasons) as stored: NULL when there are none.
fn review_text(r: &[String]) -> Option<String> {
    (!r.is_empty()).then(|| reasons_text(r))
}

fn parse_review(s: Option<String>) -> Vec<String> {
    s.map(|s| parse_reasons(&s)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests finishing out of order are not a clock behind; a second and more is, across a
    /// minute or a day too.
    #[test]
    fn a_clock_behind_is_told_from_requests_out_of_order() {
        let at = |s: &str| format!("2026-12-05T{s}Z");
        assert_eq!(clock_behind(&at("10:00:00.000"), &at("10:00:00.004")), None);
        assert_eq!(clock_behind(&at("10:00:00.000"), &at("10:00:01.000")), None);
        assert_eq!(
            clock_behind(&at("10:00:59.500"), &at("10:01:01.000")),
            Some(1.5)
        );
        assert_eq!(
            clock_behind("2026-12-04T23:59:59.000Z", &at("00:00:02.000")),
            Some(3.0)
        );
        assert_eq!(clock_behind("not a time", &at("10:00:00.000")), None);
    }
}
