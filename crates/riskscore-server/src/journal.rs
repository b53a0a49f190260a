//! The decision journal: every decision is committed before its answer leaves the server.
//!
//! Entries are hash-chained: each stores the hash of the one before, and its own hash covers
//! its fields and that link, so an edited entry breaks its hash and a removed one breaks the
//! chain (or the head record, for the last ones). One writer thread owns the store and commits
//! the decisions waiting at that moment in one transaction (group commit): each request waits
//! for its own commit, and a burst costs one sync, not one per decision.
//!
//! Stores: SQLite (the embedded default; WAL, synchronous=FULL) or PostgreSQL.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

/// Decisions committed together at most.
const GROUP: usize = 256;
/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a decision records (the store adds the sequence number and the chain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    /// UTC, RFC 3339.
    pub time: String,
    pub request_id: String,
    /// The client id, or its keyed pseudonym when a journal key is set.
    pub client: String,
    /// `known` (a client of the data), `new` (a posted application) or `explanation`.
    pub kind: String,
    pub model_version: String,
    pub probability: f64,
    pub decision: String,
    /// Principal reasons (feature names), most important first.
    pub reasons: Vec<String>,
    /// SHA-256 of the feature row that was scored.
    pub input_hash: String,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: i64,
    #[serde(flatten)]
    pub decided: Decided,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry: its sequence number, fields and the previous hash.
pub fn entry_hash(seq: i64, d: &Decided, prev: &str) -> String {
    let body = serde_json::json!({
        "seq": seq, "time": d.time, "request_id": d.request_id, "client": d.client,
        "kind": d.kind, "model_version": d.model_version, "probability": d.probability,
        "decision": d.decision, "reasons": d.reasons, "input_hash": d.input_hash, "prev": prev,
    });
    hex(&Sha256::digest(body.to_string().as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// HMAC-SHA-256 (RFC 2104), for the keyed pseudonyms of client ids.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let mut h = Sha256::new();
    h.update(&inner);
    h.update(msg);
    let ih = h.finalize();
    let mut h = Sha256::new();
    h.update(&outer);
    h.update(ih);
    hex(&h.finalize())
}

/// Where the journal lives.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// `postgres://...` / `postgresql://...`, else a SQLite file path.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_owned())
        } else {
            Location::Sqlite(PathBuf::from(s))
        }
    }

    /// For messages: the path, or the PostgreSQL address without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => redact(url),
        }
    }
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = &url[s + 3..at];
            let user = user.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The head record: the last entry's sequence number and hash.
type Head = Option<(i64, String)>;

/// A store of entries (one writer at a time).
enum Store {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, request_id TEXT NOT NULL, client TEXT NOT NULL,
  kind TEXT NOT NULL, model_version TEXT NOT NULL, probability REAL NOT NULL,
  decision TEXT NOT NULL, reasons TEXT NOT NULL, input_hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal_head (one INTEGER PRIMARY KEY CHECK (one = 1),
  seq INTEGER NOT NULL, hash TEXT NOT NULL);";

const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (
  seq BIGINT PRIMARY KEY, time TEXT NOT NULL, request_id TEXT NOT NULL, client TEXT NOT NULL,
  kind TEXT NOT NULL, model_version TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL,
  decision TEXT NOT NULL, reasons TEXT NOT NULL, input_hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal_head (one INTEGER PRIMARY KEY CHECK (one = 1),
  seq BIGINT NOT NULL, hash TEXT NOT NULL);";

impl Store {
    fn open(loc: &Location) -> Result<Self> {
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
    fn head(&mut self) -> std::result::Result<(i64, String), String> {
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
    fn append(&mut self, entries: &[Entry]) -> std::result::Result<(), String> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let ins = "INSERT INTO journal (seq, time, request_id, client, kind, model_version, \
                   probability, decision, reasons, input_hash, prev_hash, hash) VALUES \
                   ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
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
                            e.hash
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

    /// Every entry in order, and the head record.
    fn read_all(&mut self) -> std::result::Result<(Vec<Entry>, Head), String> {
        let q = "SELECT seq, time, request_id, client, kind, model_version, probability, \
                 decision, reasons, input_hash, prev_hash, hash FROM journal ORDER BY seq";
        let hq = "SELECT seq, hash FROM journal_head WHERE one = 1";
        match self {
            Store::Sqlite(c) => {
                let mut st = c.prepare(q).map_err(|e| e.to_string())?;
                let rows = st
                    .query_map([], |r| {
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
                            },
                            prev_hash: r.get(10)?,
                            hash: r.get(11)?,
                        })
                    })
                    .map_err(|e| e.to_string())?;
                let entries = rows
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                let mut hs = c.prepare(hq).map_err(|e| e.to_string())?;
                let mut h = hs.query([]).map_err(|e| e.to_string())?;
                let head = match h.next().map_err(|e| e.to_string())? {
                    Some(r) => Some((
                        r.get(0).map_err(|e| e.to_string())?,
                        r.get(1).map_err(|e| e.to_string())?,
                    )),
                    None => None,
                };
                Ok((entries, head))
            }
            Store::Postgres(c) => {
                let entries = c
                    .query(q, &[])
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
                        },
                        prev_hash: r.get(10),
                        hash: r.get(11),
                    })
                    .collect();
                let head = c
                    .query(hq, &[])
                    .map_err(|e| e.to_string())?
                    .first()
                    .map(|r| (r.get(0), r.get(1)));
                Ok((entries, head))
            }
        }
    }
}

fn reasons_text(r: &[String]) -> String {
    serde_json::to_string(r).unwrap_or_else(|_| "[]".into())
}

fn parse_reasons(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|_| vec![format!("<unreadable: {s}>")])
}

type Reply = oneshot::Sender<std::result::Result<i64, String>>;

/// The handle the server holds: sends decisions to the writer thread.
#[derive(Debug, Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<(Decided, Reply)>,
    location: String,
}

impl Journal {
    /// Opens (or creates) the store and starts the writer thread.
    pub fn open(loc: &Location) -> Result<Self> {
        let mut store = Store::open(loc)?;
        let (mut seq, mut prev) = store.head().map_err(|message| Error::Journal {
            location: loc.display(),
            message,
        })?;
        let (tx, mut rx) = mpsc::unbounded_channel::<(Decided, Reply)>();
        let location = loc.display();
        let name = location.clone();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < GROUP {
                        match rx.try_recv() {
                            Ok(item) => batch.push(item),
                            Err(_) => break,
                        }
                    }
                    let (mut s, mut p) = (seq, prev.clone());
                    let entries: Vec<Entry> = batch
                        .iter()
                        .map(|(d, _)| {
                            s += 1;
                            let hash = entry_hash(s, d, &p);
                            Entry {
                                seq: s,
                                decided: d.clone(),
                                prev_hash: std::mem::replace(&mut p, hash.clone()),
                                hash,
                            }
                        })
                        .collect();
                    match store.append(&entries) {
                        Ok(()) => {
                            seq = s;
                            prev = p;
                            for ((_, reply), e) in batch.into_iter().zip(&entries) {
                                let _ = reply.send(Ok(e.seq));
                            }
                        }
                        Err(message) => {
                            tracing::error!(journal = %name, %message, "journal write failed");
                            for (_, reply) in batch {
                                let _ = reply.send(Err(message.clone()));
                            }
                        }
                    }
                }
            })
            .map_err(|e| Error::Journal {
                location: loc.display(),
                message: e.to_string(),
            })?;
        Ok(Journal { tx, location })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// Commits a decision; returns its sequence number once it is durable.
    pub async fn record(&self, d: Decided) -> Result<i64> {
        let (reply, wait) = oneshot::channel();
        let fail = |message: String| Error::Journal {
            location: self.location.clone(),
            message,
        };
        self.tx
            .send((d, reply))
            .map_err(|_| fail("the journal writer has stopped".into()))?;
        wait.await
            .map_err(|_| fail("the journal writer has stopped".into()))?
            .map_err(fail)
    }

    /// Whether the writer thread is alive.
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }
}

/// What `journal verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub entries: usize,
    pub ok: bool,
    pub problems: Vec<String>,
}

/// Checks the whole chain: contiguous sequence numbers from 1, each entry's hash, each link,
/// and the head record (which catches removed last entries).
pub fn verify(loc: &Location) -> Result<Verdict> {
    if let Location::Sqlite(p) = loc {
        if !p.is_file() {
            return Err(Error::Journal {
                location: loc.display(),
                message: "no such journal file".into(),
            });
        }
    }
    let mut store = Store::open(loc)?;
    let (entries, head) = store.read_all().map_err(|message| Error::Journal {
        location: loc.display(),
        message,
    })?;
    Ok(check_chain(&entries, head.as_ref()))
}

/// The chain checks of `verify`, on entries in memory.
pub fn check_chain(entries: &[Entry], head: Option<&(i64, String)>) -> Verdict {
    let mut problems = Vec::new();
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    for e in entries {
        if e.seq != expected_seq {
            problems.push(format!(
                "entry {}: expected sequence number {expected_seq} (entries removed?)",
                e.seq
            ));
        }
        if e.prev_hash != prev {
            problems.push(format!(
                "entry {}: its link does not match the previous entry's hash",
                e.seq
            ));
        }
        if entry_hash(e.seq, &e.decided, &e.prev_hash) != e.hash {
            problems.push(format!(
                "entry {}: its content does not match its hash (edited?)",
                e.seq
            ));
        }
        prev = e.hash.clone();
        expected_seq = e.seq + 1;
    }
    let last = entries.last().map(|e| (e.seq, e.hash.clone()));
    match (head, last) {
        (Some((hs, hh)), Some((ls, lh))) if (*hs, hh.as_str()) != (ls, lh.as_str()) => {
            problems.push(format!(
                "the head records entry {hs} but the last entry is {ls} (entries removed at the end?)"
            ));
        }
        (Some((hs, _)), None) => problems.push(format!(
            "the head records entry {hs} but the journal is empty (entries removed?)"
        )),
        (None, Some((ls, _))) => problems.push(format!("entries up to {ls} but no head record")),
        _ => {}
    }
    Verdict {
        entries: entries.len(),
        ok: problems.is_empty(),
        problems,
    }
}

/// Reads every entry (for tests and `GET /v1/drift`-like readers).
pub fn read_entries(loc: &Location) -> Result<Vec<Entry>> {
    let mut store = Store::open(loc)?;
    store
        .read_all()
        .map(|(e, _)| e)
        .map_err(|message| Error::Journal {
            location: loc.display(),
            message,
        })
}

/// The SQLite file of a location, if it is one.
pub fn sqlite_path(loc: &Location) -> Option<&Path> {
    match loc {
        Location::Sqlite(p) => Some(p),
        Location::Postgres(_) => None,
    }
}

/// Now in UTC as RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    let t = riskscore_data::clock::Utc::now();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.micros / 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(i: u32) -> Decided {
        Decided {
            time: "2026-11-28T10:00:00.000Z".into(),
            request_id: format!("r{i}"),
            client: format!("{}", 100_000 + i),
            kind: "known".into(),
            model_version: "m".into(),
            probability: 0.1 * f64::from(i),
            decision: "granted".into(),
            reasons: vec!["EXT_SOURCE_3".into()],
            input_hash: "h".into(),
        }
    }

    fn chain(n: u32) -> Vec<Entry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|i| {
                let d = decided(i);
                let hash = entry_hash(i64::from(i), &d, &prev);
                let e = Entry {
                    seq: i64::from(i),
                    decided: d,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn chain_detects_edits_and_removals() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        assert!(check_chain(&c, Some(&head)).ok);
        let mut edited = c.clone();
        edited[2].decided.probability = 0.99;
        let v = check_chain(&edited, Some(&head));
        assert_eq!(
            v.problems,
            ["entry 3: its content does not match its hash (edited?)"]
        );
        let mut removed = c.clone();
        removed.remove(1);
        assert!(!check_chain(&removed, Some(&head)).ok);
        // Removing the last entry keeps a valid chain; the head record catches it.
        let shorter = &c[..4];
        assert!(!check_chain(shorter, Some(&head)).ok);
    }

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://rs:secret@127.0.0.1:5432/j"),
            "postgres://rs:***@127.0.0.1:5432/j"
        );
    }
}
