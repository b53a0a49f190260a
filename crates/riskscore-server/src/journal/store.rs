//! The journal's stores: SQLite (the embedded default; WAL, synchronous=FULL) or PostgreSQL,
//! their schemas and upgrades, appending chained entries and reading them back.

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
  champion INTEGER);
CREATE TABLE IF NOT EXISTS journal_head (one INTEGER PRIMARY KEY CHECK (one = 1),
  seq INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS journal_time ON journal (time);
CREATE TABLE IF NOT EXISTS outcomes (client TEXT NOT NULL, model_version TEXT NOT NULL,
  defaulted INTEGER NOT NULL, observed_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
  PRIMARY KEY (client, model_version));
CREATE INDEX IF NOT EXISTS journal_client ON journal (client);";

/// Columns added since the first journals, with their SQLite types: a journal written before
/// them is upgraded in place (its old entries hold NULL).
const SQLITE_ADDED: [(&str, &str); 4] = [
    ("features", "BLOB"),
    ("review", "TEXT"),
    ("notice", "TEXT"),
    ("champion", "INTEGER"),
];

const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
  seq BIGINT PRIMARY KEY, time TEXT NOT NULL, request_id TEXT NOT NULL, client TEXT NOT NULL,
  kind TEXT NOT NULL, model_version TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL,
  decision TEXT NOT NULL, reasons TEXT NOT NULL, input_hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, features BYTEA, review TEXT, notice TEXT,
  champion BIGINT);
ALTER TABLE journal ADD COLUMN IF NOT EXISTS features BYTEA;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS champion BIGINT;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS review TEXT;
ALTER TABLE journal ADD COLUMN IF NOT EXISTS notice TEXT;
CREATE TABLE IF NOT EXISTS journal_head (one INTEGER PRIMARY KEY CHECK (one = 1),
  seq BIGINT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS journal_time ON journal (time);
CREATE TABLE IF NOT EXISTS outcomes (client TEXT NOT NULL, model_version TEXT NOT NULL,
  defaulted INTEGER NOT NULL, observed_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
  PRIMARY KEY (client, model_version));
CREATE INDEX IF NOT EXISTS journal_client ON journal (client);";

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
                c.pragma_update(None, "journal_mode", "WAL")
                    .map_err(|e| fail(&e))?;
                c.pragma_update(None, "synchronous", "FULL")
                    .map_err(|e| fail(&e))?;
                c.busy_timeout(std::time::Duration::from_secs(5))
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
                c.execute_batch(SQLITE_SCHEMA).map_err(|e| fail(&e))?;
                Ok(Store::Sqlite(c))
            }
            Location::Postgres(url) => {
                let mut c =
                    postgres::Client::connect(url, postgres::NoTls).map_err(|e| fail(&e))?;
                c.batch_execute(PG_SCHEMA).map_err(|e| fail(&e))?;
                Ok(Store::Postgres(Box::new(c)))
            }
        }
    }

    /// The last (seq, hash) of the chain.
    pub(super) fn head(&mut self) -> std::result::Result<(i64, String), String> {
        let q = "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1";
        match self {
            Store::Sqlite(c) => {
                let mut st = c.prepare(q).map_err(|e| e.to_string())?;
                let mut rows = st.query([]).map_err(|e| e.to_string())?;
                match rows.next().map_err(|e| e.to_string())? {
                    Some(r) => Ok((
                        r.get(0).map_err(|e| e.to_string())?,
                        r.get(1).map_err(|e| e.to_string())?,
                    )),
                    None => Ok((0, GENESIS.to_owned())),
                }
            }
            Store::Postgres(c) => {
                let rows = c.query(q, &[]).map_err(|e| e.to_string())?;
                Ok(match rows.first() {
                    Some(r) => (r.get(0), r.get(1)),
                    None => (0, GENESIS.to_owned()),
                })
            }
        }
    }

    /// Appends entries (already chained) and moves the head, in one transaction.
    pub(super) fn append(&mut self, entries: &[Entry]) -> std::result::Result<(), String> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let ins = "INSERT INTO journal (seq, time, request_id, client, kind, model_version, \
                   probability, decision, reasons, input_hash, prev_hash, hash, features, review, \
                   notice, champion) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
        let head = "INSERT INTO journal_head (one, seq, hash) VALUES (1, $1, $2) \
                    ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";
        match self {
            Store::Sqlite(c) => {
                let tx = c.transaction().map_err(|e| e.to_string())?;
                {
                    let mut st = tx.prepare_cached(ins).map_err(|e| e.to_string())?;
                    for e in entries {
                        let d = &e.decided;
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
                            e.row,
                            review_text(&d.review),
                            review_text(&d.notice),
                            d.champion
                        ])
                        .map_err(|e| e.to_string())?;
                    }
                    tx.execute(head, rusqlite::params![last.seq, last.hash])
                        .map_err(|e| e.to_string())?;
                }
                tx.commit().map_err(|e| e.to_string())
            }
            Store::Postgres(c) => {
                let mut tx = c.transaction().map_err(|e| e.to_string())?;
                let st = tx.prepare(ins).map_err(|e| e.to_string())?;
                for e in entries {
                    let d = &e.decided;
                    tx.execute(
                        &st,
                        &[
                            &e.seq,
                            &d.time,
                            &d.request_id,
                            &d.client,
                            &d.kind,
                            &d.model_version,
                            &d.probability,
                            &d.decision,
                            &reasons_text(&d.reasons),
                            &d.input_hash,
                            &e.prev_hash,
                            &e.hash,
                            &e.row,
                            &review_text(&d.review),
                            &review_text(&d.notice),
                            &d.champion,
                        ],
                    )
                    .map_err(|e| e.to_string())?;
                }
                tx.execute(head, &[&last.seq, &last.hash])
                    .map_err(|e| e.to_string())?;
                tx.commit().map_err(|e| e.to_string())
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
        if filter.scores_only {
            clauses.push("kind IN ('known', 'new')".into());
        }
        let mut q = format!(
            "SELECT seq, time, request_id, client, kind, model_version, probability, decision, \
             reasons, input_hash, prev_hash, hash, review, notice, {}, champion FROM journal",
            if filter.rows { "features" } else { "NULL" }
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
            Store::Sqlite(c) => {
                let mut st = c.prepare(&q).map_err(|e| e.to_string())?;
                let rows = st
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| {
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
                            },
                            prev_hash: r.get(10)?,
                            hash: r.get(11)?,
                            row: r.get(14)?,
                        })
                    })
                    .map_err(|e| e.to_string())?;
                rows.collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?
            }
            Store::Postgres(c) => {
                // PostgreSQL types the NULL placeholder as text: cast it.
                let q = q.replace(" NULL, champion FROM", " NULL::BYTEA, champion FROM");
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
        let latest = "SELECT model_version FROM journal WHERE client = $1 \
                      AND kind IN ('known', 'new') ORDER BY seq DESC LIMIT 1";
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
                let tx = c.transaction().map_err(|e| store(&e))?;
                for (i, o) in outcomes.iter().enumerate() {
                    let client = o.client.to_string();
                    let version: Option<String> = tx
                        .query_row(latest, [&client], |r| r.get(0))
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })
                        .map_err(|e| store(&e))?;
                    let Some(version) = version else {
                        refused.unknown.push(i);
                        continue;
                    };
                    let had: Option<i64> = tx
                        .query_row(existing, [&client, &version], |r| r.get(0))
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })
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
            Store::Sqlite(c) => {
                let mut st = c.prepare(q).map_err(|e| e.to_string())?;
                let rows = st
                    .query_map([], |r| {
                        Ok(Stored {
                            client: r.get(0)?,
                            model_version: r.get(1)?,
                            defaulted: u8::from(r.get::<_, i64>(2)? == 1),
                            observed_at: r.get(3)?,
                            recorded_at: r.get(4)?,
                        })
                    })
                    .map_err(|e| e.to_string())?;
                rows.collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())
            }
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
