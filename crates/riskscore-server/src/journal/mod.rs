//! The decision journal: every decision is committed before its answer leaves the server.
//!
//! Entries are hash-chained: each stores the hash of the one before, and its own hash covers
//! its fields and that link, so an edited entry breaks its hash and a removed one breaks the
//! chain (or the head record, for the last ones). One writer thread per process commits the
//! decisions waiting at that moment in one transaction (group commit): each request waits
//! for its own commit, and a burst costs one sync, not one per decision. The transaction holds
//! the journal's write lock while it reads the head and chains from it, so several processes
//! (replicas behind a load balancer) can write one journal and keep one chain.
//!
//! Each entry also keeps the feature row that was scored, bit for bit ([`encode_row`]: a
//! 2-bit code per value for the common 0, NaN and 1, the other values' bits after; a
//! Home Credit row of ~730 features takes about 2 KB instead of 5.8): the SHA-256 of its
//! little-endian f64 bits is the entry's `input_hash`, so the chain covers it too. A row is
//! stored once, in `journal_rows` under its input hash, however many decisions score it (a
//! known client's row is the same at every decision); the entry's own `features` column is
//! then an empty blob that says "in `journal_rows`". Entries written before that kept their
//! row in `features` and still do. Drift analysis reads the recent rows back
//! ([`read_window`]). Journals written before rows were stored are upgraded in place; their
//! old entries have no row.
//!
//! Stores: SQLite (the embedded default; WAL, synchronous=FULL) or PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Why the decision was sent to review at intake (a value outside the data the model was
    /// trained on); empty for most entries. Hashed only when present, so entries written
    /// before it keep their hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub review: Vec<String>,
    /// A refusal's adverse-action notice as sent: its reasons in the applicant's words, most
    /// important first (empty when none was sent). Hashed only when present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notice: Vec<String>,
    /// A challenger's shadow entry (kind `shadow`, not binding): the sequence number of the
    /// champion's entry it scored beside. Hashed only when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub champion: Option<i64>,
    /// A reviewer's final decision (kind `review`): the automated entry it decides, who
    /// decided and why. Hashed only when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed: Option<Reviewed>,
}

/// What a reviewer's entry adds: the automated entry it decides, the reviewer, the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reviewed {
    /// The sequence number of the automated entry.
    pub entry: i64,
    /// The reviewer's name (from the key that decided).
    pub reviewer: String,
    /// The reviewer's reason (required when the decision is overridden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: i64,
    #[serde(flatten)]
    pub decided: Decided,
    pub prev_hash: String,
    pub hash: String,
    /// The scored feature row as stored ([`encode_row`]), in the model's feature order (None
    /// for entries written before rows were stored; empty when the entry's row should be in
    /// `journal_rows` and is not).
    #[serde(skip)]
    pub row: Option<Vec<u8>>,
}

impl Entry {
    /// The scored feature row (None when not stored or unreadable).
    pub fn features(&self) -> Option<Vec<f64>> {
        self.row.as_deref().and_then(decode_row)
    }
}

/// SHA-256 of a feature row's little-endian f64 bits: the entry's `input_hash`.
pub fn input_hash(x: &[f64]) -> String {
    let mut h = Sha256::new();
    for v in x {
        h.update(v.to_bits().to_le_bytes());
    }
    hex(&h.finalize())
}

/// The version byte of [`encode_row`]'s format.
const ROW_FORMAT: u8 = 1;
/// The values with a short code (code = index + 0..=2; 3 is "bits follow").
const SHORT: [u64; 3] = [0, 0x7ff8_0000_0000_0000, 0x3ff0_0000_0000_0000];

/// A feature row as stored: the format byte, the value count (u32 LE), a 2-bit code per value
/// (+0.0, the canonical NaN, 1.0, or "bits follow"; four to a byte, low bits first), then the
/// little-endian bits of the other values in order. Exact for every value, NaN payloads too.
pub fn encode_row(x: &[f64]) -> Vec<u8> {
    let codes = x.len().div_ceil(4);
    let mut out = Vec::with_capacity(5 + codes + x.len() * 3);
    out.push(ROW_FORMAT);
    out.extend_from_slice(&(x.len() as u32).to_le_bytes());
    out.resize(5 + codes, 0);
    for (i, v) in x.iter().enumerate() {
        let bits = v.to_bits();
        let code = SHORT.iter().position(|s| *s == bits).unwrap_or(3) as u8;
        out[5 + i / 4] |= code << (2 * (i % 4));
        if code == 3 {
            out.extend_from_slice(&bits.to_le_bytes());
        }
    }
    out
}

/// The row of [`encode_row`]'s bytes (None when they are not in that format).
pub fn decode_row(bytes: &[u8]) -> Option<Vec<f64>> {
    let (&format, rest) = bytes.split_first()?;
    if format != ROW_FORMAT || rest.len() < 4 {
        return None;
    }
    let n = u32::from_le_bytes(rest[..4].try_into().ok()?) as usize;
    let codes = rest.get(4..4 + n.div_ceil(4))?;
    let mut literal = rest[4 + codes.len()..].chunks_exact(8);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let code = (codes[i / 4] >> (2 * (i % 4))) & 3;
        let bits = match SHORT.get(code as usize) {
            Some(b) => *b,
            None => u64::from_le_bytes(literal.next()?.try_into().ok()?),
        };
        out.push(f64::from_bits(bits));
    }
    // Every byte used: no trailing values.
    (literal.next().is_none() && literal.remainder().is_empty()).then_some(out)
}

/// The hash of an entry: its sequence number, fields and the previous hash: the SHA-256 of
/// [`hashed_body`].
pub fn entry_hash(seq: i64, d: &Decided, prev: &str) -> String {
    hex(&Sha256::digest(hashed_body(seq, d, prev)))
}

/// The JSON an entry's hash covers: an object of its fields, its sequence number and the
/// previous hash (`prev`), keys in sorted order, no spaces, as `serde_json` writes a
/// `Value` object; `review`, `notice`, `champion` and `reviewed` only when present (so
/// entries written before them keep their hashes). Written directly, without building the
/// `Value` (a dozen allocations per entry on the journal's writer thread).
pub fn hashed_body(seq: i64, d: &Decided, prev: &str) -> Vec<u8> {
    use serde_json::to_writer;
    let mut b = Vec::with_capacity(512);
    // Writing JSON into a Vec cannot fail: the results are Ok.
    let field = |b: &mut Vec<u8>, key: &str, first: bool| {
        b.extend_from_slice(if first { b"{\"" } else { b",\"" });
        b.extend_from_slice(key.as_bytes());
        b.extend_from_slice(b"\":");
    };
    if let Some(c) = d.champion {
        field(&mut b, "champion", true);
        let _ = to_writer(&mut b, &c);
    }
    let first = b.is_empty();
    field(&mut b, "client", first);
    let _ = to_writer(&mut b, &d.client);
    field(&mut b, "decision", false);
    let _ = to_writer(&mut b, &d.decision);
    field(&mut b, "input_hash", false);
    let _ = to_writer(&mut b, &d.input_hash);
    field(&mut b, "kind", false);
    let _ = to_writer(&mut b, &d.kind);
    field(&mut b, "model_version", false);
    let _ = to_writer(&mut b, &d.model_version);
    if !d.notice.is_empty() {
        field(&mut b, "notice", false);
        let _ = to_writer(&mut b, &d.notice);
    }
    field(&mut b, "prev", false);
    let _ = to_writer(&mut b, prev);
    field(&mut b, "probability", false);
    let _ = to_writer(&mut b, &d.probability);
    field(&mut b, "reasons", false);
    let _ = to_writer(&mut b, &d.reasons);
    field(&mut b, "request_id", false);
    let _ = to_writer(&mut b, &d.request_id);
    if !d.review.is_empty() {
        field(&mut b, "review", false);
        let _ = to_writer(&mut b, &d.review);
    }
    if let Some(r) = &d.reviewed {
        field(&mut b, "reviewed", false);
        b.extend_from_slice(b"{\"entry\":");
        let _ = to_writer(&mut b, &r.entry);
        b.extend_from_slice(b",\"reason\":");
        let _ = to_writer(&mut b, &r.reason);
        b.extend_from_slice(b",\"reviewer\":");
        let _ = to_writer(&mut b, &r.reviewer);
        b.push(b'}');
    }
    field(&mut b, "seq", false);
    let _ = to_writer(&mut b, &seq);
    field(&mut b, "time", false);
    let _ = to_writer(&mut b, &d.time);
    b.push(b'}');
    b
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
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

pub mod outcomes;
pub mod reviews;
mod store;
use store::Store;

/// Which entries to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// From this time on (RFC 3339 UTC as stored, see [`instant`]).
    pub since: Option<String>,
    /// Before this time.
    pub until: Option<String>,
    /// Only the most recent entries selected.
    pub last: Option<usize>,
    /// Only entries after this sequence number.
    pub after: Option<i64>,
    /// Only the first entries selected (when `last` is not set).
    pub first: Option<usize>,
    /// Only scores (`known` and `new`), not explanations.
    pub scores_only: bool,
    /// Read the feature rows too.
    pub rows: bool,
}

type Reply = oneshot::Sender<Answer>;

/// The writer's answer to a decision: its sequence number or why not, and the decision's
/// fields and row handed back, so that they are freed by the thread that made them (freed on
/// the writer's thread, a batch's few hundred small allocations took the allocator's lock of
/// the request threads' memory, and made them wait on it).
struct Answer {
    outcome: std::result::Result<i64, Failure>,
    _spent: Spent,
}

/// What a decision's answer hands back (dropped by the request).
type Spent = (Decided, Row, Vec<String>);

/// Why a decision was not committed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The store failed (or the writer stopped).
    Store(String),
    /// A reviewer's decision on an entry that is not pending in the review queue (decided
    /// already, or never queued).
    NotPending(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Store(m) | Failure::NotPending(m) => f.write_str(m),
        }
    }
}

/// A decision on its way to the writer: the entry's fields, its row, why it enters the
/// review queue (empty: it does not), the share drawn for audit when it does not, and where
/// the sequence number goes.
struct Pending {
    decided: Decided,
    row: Row,
    queue: Vec<String>,
    audit: f64,
    reply: Reply,
}

impl Pending {
    /// Answers the request, handing its fields back.
    fn answer(self, outcome: std::result::Result<i64, Failure>) {
        let Pending {
            decided,
            row,
            queue,
            reply,
            ..
        } = self;
        let _ = reply.send(Answer {
            outcome,
            _spent: (decided, row, queue),
        });
    }
}

/// A decision's feature row: its values (encoded by the writer, and only when the row is not
/// stored yet), its bytes as stored, or nothing when it was stored when the decision was sent.
#[derive(Debug)]
enum Row {
    Values(Vec<f64>),
    Encoded(Vec<u8>),
    Stored,
}

impl Row {
    fn encoded(&self) -> Option<Vec<u8>> {
        match self {
            Row::Values(x) => Some(encode_row(x)),
            Row::Encoded(b) => Some(b.clone()),
            Row::Stored => None,
        }
    }
}

/// The input hashes whose rows this process has committed to `journal_rows`: their
/// decisions write no row again, and a request does not even hand its row to the writer.
/// Forgotten all at once past `STORED_AT_MOST` (each then costs one more insert that finds
/// its row there).
#[derive(Debug, Default)]
struct Stored(std::collections::HashSet<[u8; 32]>);

/// Input hashes remembered at most (32 bytes each, about 17 MB with the set's overhead).
const STORED_AT_MOST: usize = 1 << 19;

impl Stored {
    /// The 32 bytes of a hex input hash (None for anything else: such a row is always
    /// written).
    fn key(hash: &str) -> Option<[u8; 32]> {
        let b = hash.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            *o = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(out)
    }

    fn contains(&self, hash: &str) -> bool {
        Self::key(hash).is_some_and(|k| self.0.contains(&k))
    }

    fn insert(&mut self, hash: &str) {
        if let Some(k) = Self::key(hash) {
            if self.0.len() >= STORED_AT_MOST {
                self.0.clear();
            }
            self.0.insert(k);
        }
    }
}

/// The handle the server holds: sends decisions to the writer thread. Cloned by every
/// request (one reference count).
#[derive(Debug, Clone)]
pub struct Journal(Arc<Handle>);

#[derive(Debug)]
struct Handle {
    tx: mpsc::UnboundedSender<Pending>,
    store: Location,
    /// The rows stored, shared with the writer (which adds them once committed).
    stored: Arc<std::sync::Mutex<Stored>>,
    /// Dropped with the last handle: the checkpoint thread then stops.
    _alive: Arc<()>,
}

impl Journal {
    /// Opens (or creates) the store and starts the writer thread.
    pub fn open(loc: &Location) -> Result<Self> {
        let store = Store::open(loc)?;
        let alive = Arc::new(());
        if let Location::Sqlite(_) = loc {
            let mut checkpoints = Store::open(loc)?;
            let handles = Arc::downgrade(&alive);
            std::thread::Builder::new()
                .name("journal-checkpoint".into())
                .spawn(move || {
                    // Until the last handle of the journal is dropped.
                    while handles.strong_count() > 0 {
                        std::thread::sleep(CHECKPOINT_EVERY);
                        if let Err(message) = checkpoints.checkpoint() {
                            tracing::debug!(%message, "journal checkpoint failed");
                        }
                    }
                })
                .map_err(|e| Error::Journal {
                    location: loc.display(),
                    message: e.to_string(),
                })?;
        }
        let (tx, rx) = mpsc::unbounded_channel::<Pending>();
        let (writer_loc, name) = (loc.clone(), loc.display());
        let stored = Arc::new(std::sync::Mutex::new(Stored::default()));
        let writer_stored = stored.clone();
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_batches(store, &writer_loc, rx, &writer_stored))
            .map_err(|e| Error::Journal {
                location: name,
                message: e.to_string(),
            })?;
        Ok(Journal(Arc::new(Handle {
            tx,
            store: loc.clone(),
            stored,
            _alive: alive,
        })))
    }

    /// For messages: the SQLite path, or the PostgreSQL address without its password.
    pub fn location(&self) -> String {
        self.0.store.display()
    }

    /// Where the journal lives (readers open their own connection).
    pub fn store(&self) -> &Location {
        &self.0.store
    }

    /// Commits a decision with the feature row it scored (whose hash must be the decision's
    /// `input_hash`); returns its sequence number once it is durable.
    pub async fn record(&self, d: Decided, features: &[f64]) -> Result<i64> {
        self.record_queued(d, || features.to_vec(), Vec::new(), 0.0)
            .await
    }

    /// [`Journal::record`] with the row made by `features` only when it is not stored yet
    /// (its hash must be the decision's `input_hash`), the entry entering the review queue in
    /// the same transaction when `queue` (why) is not empty, unless the same row of the same
    /// client and model is pending there already. When `queue` is empty, a share `audit` of
    /// such decisions is queued for audit, drawn from the entry as committed
    /// ([`reviews::audit_draw`]).
    pub async fn record_queued(
        &self,
        d: Decided,
        features: impl FnOnce() -> Vec<f64>,
        queue: Vec<String>,
        audit: f64,
    ) -> Result<i64> {
        let stored = self
            .0
            .stored
            .lock()
            .is_ok_and(|s| s.contains(&d.input_hash));
        let row = if stored {
            Row::Stored
        } else {
            Row::Values(features())
        };
        self.send(d, row, queue, audit)
            .await
            .map_err(|f| Error::Journal {
                location: self.location(),
                message: f.to_string(),
            })
    }

    /// Commits a reviewer's decision (`d.reviewed` set) with the automated entry's stored row,
    /// and closes that entry's review in the same transaction; refused (`NotPending`) when the
    /// entry is not pending in the queue, so an entry is decided once.
    pub async fn record_review(
        &self,
        d: Decided,
        row: Vec<u8>,
    ) -> std::result::Result<i64, Failure> {
        if d.reviewed.is_none() {
            return Err(Failure::Store(
                "a review entry names the entry it decides".into(),
            ));
        }
        self.send(d, Row::Encoded(row), Vec::new(), 0.0).await
    }

    async fn send(
        &self,
        decided: Decided,
        row: Row,
        queue: Vec<String>,
        audit: f64,
    ) -> std::result::Result<i64, Failure> {
        let (reply, wait) = oneshot::channel();
        let stopped = || Failure::Store("the journal writer has stopped".into());
        self.0
            .tx
            .send(Pending {
                decided,
                row,
                queue,
                audit,
                reply,
            })
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?.outcome
    }

    /// Whether the writer thread is alive.
    pub fn is_alive(&self) -> bool {
        !self.0.tx.is_closed()
    }
}

/// How often the SQLite journal's write-ahead log is checkpointed, off the writer's commits.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Commit attempts of one batch before its decisions are answered with the error.
const ATTEMPTS: u32 = 5;

/// The writer thread: commits the decisions waiting at each moment in one transaction (group
/// commit), chained from the journal's head as read inside that transaction, so that other
/// processes writing the same journal (replicas) keep one chain. A failed commit is retried
/// with a new connection (another writer holding SQLite's lock past the busy timeout, a
/// PostgreSQL server restarted); each decision is answered only after its entry is committed.
/// A row goes to `journal_rows` with the first decision on it (as far as this process knows:
/// another process may have stored it already, and the insert then leaves it).
fn write_batches(
    mut store: Store,
    loc: &Location,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    stored: &std::sync::Mutex<Stored>,
) {
    let name = loc.display();
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let mut in_batch = std::collections::HashSet::new();
        let new: Vec<bool> = {
            // A poisoned lock only loses what it remembers: rows are then written again.
            let known = stored.lock().ok();
            batch
                .iter()
                .map(|p| {
                    let hash = p.decided.input_hash.as_str();
                    !matches!(p.row, Row::Stored)
                        && !known.as_ref().is_some_and(|k| k.contains(hash))
                        && in_batch.insert(hash)
                })
                .collect()
        };
        let rows: Vec<Option<Vec<u8>>> = batch
            .iter()
            .zip(new)
            .map(|(p, new)| if new { p.row.encoded() } else { None })
            .collect();
        let drafts: Vec<store::Draft<'_>> = batch
            .iter()
            .zip(&rows)
            .map(|(p, row)| store::Draft {
                decided: &p.decided,
                row: row.as_deref(),
                queue: &p.queue,
                audit: p.audit,
            })
            .collect();
        let mut attempt = 1;
        let result = loop {
            match store.commit(&drafts) {
                Ok(outcomes) => break Ok(outcomes),
                Err(message) if attempt < ATTEMPTS => {
                    tracing::warn!(journal = %name, %message, attempt, "journal commit failed; retrying");
                    std::thread::sleep(std::time::Duration::from_millis(50 << attempt));
                    attempt += 1;
                    if let Ok(fresh) = Store::open(loc) {
                        store = fresh;
                    }
                }
                Err(message) => break Err(message),
            }
        };
        drop(drafts);
        match result {
            Ok(outcomes) => {
                if let Ok(mut known) = stored.lock() {
                    for (p, row) in batch.iter().zip(&rows) {
                        if row.is_some() {
                            known.insert(&p.decided.input_hash);
                        }
                    }
                }
                for (item, outcome) in batch.into_iter().zip(outcomes) {
                    item.answer(outcome.map_err(Failure::NotPending));
                }
            }
            Err(message) => {
                tracing::error!(journal = %name, %message, "journal write failed");
                for item in batch {
                    item.answer(Err(Failure::Store(message.clone())));
                }
            }
        }
    }
}

/// What `journal verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub entries: usize,
    pub ok: bool,
    pub problems: Vec<String>,
}

/// Entries read at a time by `verify`.
const PAGE: usize = 10_000;

/// Checks the whole chain: contiguous sequence numbers from 1, each entry's hash, each link,
/// each stored feature row against its input hash, and the head record (which catches removed
/// last entries); then each client's model version recorded for outcomes against its latest
/// scoring decision's. Reads the journal a page at a time.
pub fn verify(loc: &Location) -> Result<Verdict> {
    if let Location::Sqlite(p) = loc {
        if !p.is_file() {
            return Err(Error::Journal {
                location: loc.display(),
                message: "no such journal file".into(),
            });
        }
    }
    let fail = |message| Error::Journal {
        location: loc.display(),
        message,
    };
    let mut store = Store::open(loc)?;
    let head = store.head_record().map_err(fail)?;
    let mut check = ChainCheck::default();
    let mut after = None;
    loop {
        let page = store
            .read(&Filter {
                after,
                first: Some(PAGE),
                rows: true,
                ..Filter::default()
            })
            .map_err(fail)?;
        for e in &page {
            check.feed(e);
        }
        match page.last() {
            Some(e) if page.len() == PAGE => after = Some(e.seq),
            _ => break,
        }
    }
    let recorded = store.client_versions().map_err(fail)?;
    let latest = std::mem::take(&mut check.versions);
    let mut verdict = check.finish(head.as_ref());
    verdict.problems.extend(version_problems(latest, recorded));
    verdict.ok = verdict.problems.is_empty();
    Ok(verdict)
}

/// Where the recorded model versions of clients (`recorded`) differ from their latest
/// scoring decisions' (`latest`), in client order.
fn version_problems(
    mut latest: std::collections::HashMap<String, String>,
    recorded: Vec<(String, String)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (client, version) in recorded {
        match latest.remove(&client) {
            Some(v) if v == version => {}
            Some(v) => problems.push((
                client.clone(),
                format!(
                    "client {client}: recorded for outcomes with model version {version}, \
                     its latest decision's is {v} (edited?)"
                ),
            )),
            None => problems.push((
                client.clone(),
                format!("client {client}: recorded for outcomes without a decision (edited?)"),
            )),
        }
    }
    problems.extend(latest.into_iter().map(|(client, v)| {
        let p = format!(
            "client {client}: its latest decision (model version {v}) is not recorded for \
             outcomes (removed?)"
        );
        (client, p)
    }));
    problems.sort();
    problems.into_iter().map(|(_, p)| p).collect()
}

/// The chain checks of `verify`, on entries in memory.
pub fn check_chain(entries: &[Entry], head: Option<&(i64, String)>) -> Verdict {
    let mut check = ChainCheck::default();
    for e in entries {
        check.feed(e);
    }
    check.finish(head)
}

/// The chain checks, fed one entry at a time in order.
#[derive(Debug)]
struct ChainCheck {
    problems: Vec<String>,
    /// Each client's latest scoring decision's model version.
    versions: std::collections::HashMap<String, String>,
    prev: String,
    expected_seq: i64,
    entries: usize,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck {
            problems: Vec::new(),
            versions: Default::default(),
            prev: GENESIS.to_owned(),
            expected_seq: 1,
            entries: 0,
        }
    }
}

impl ChainCheck {
    fn feed(&mut self, e: &Entry) {
        let problems = &mut self.problems;
        if e.seq != self.expected_seq {
            problems.push(format!(
                "entry {}: expected sequence number {} (entries removed?)",
                e.seq, self.expected_seq
            ));
        }
        if e.prev_hash != self.prev {
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
        if e.row.as_ref().is_some_and(|r| r.is_empty()) {
            problems.push(format!(
                "entry {}: its feature row is missing from journal_rows (removed?)",
                e.seq
            ));
        } else if e.row.is_some()
            && e.features().map(|x| input_hash(&x)).as_deref() != Some(&e.decided.input_hash)
        {
            problems.push(format!(
                "entry {}: its stored feature row does not match its input hash (edited?)",
                e.seq
            ));
        }
        if store::scores(&e.decided) {
            self.versions
                .insert(e.decided.client.clone(), e.decided.model_version.clone());
        }
        self.prev = e.hash.clone();
        self.expected_seq = e.seq + 1;
        self.entries += 1;
    }

    fn finish(mut self, head: Option<&(i64, String)>) -> Verdict {
        let last = (self.entries > 0).then(|| (self.expected_seq - 1, self.prev.clone()));
        match (head, last) {
            (Some((hs, hh)), Some((ls, lh))) if (*hs, hh.as_str()) != (ls, lh.as_str()) => {
                self.problems.push(format!(
                    "the head records entry {hs} but the last entry is {ls} (entries removed at the end?)"
                ));
            }
            (Some((hs, _)), None) => self.problems.push(format!(
                "the head records entry {hs} but the journal is empty (entries removed?)"
            )),
            (None, Some((ls, _))) => self
                .problems
                .push(format!("entries up to {ls} but no head record")),
            _ => {}
        }
        Verdict {
            entries: self.entries,
            ok: self.problems.is_empty(),
            problems: self.problems,
        }
    }
}

/// The journal's head as its store holds it now: the last entry's sequence number (0 when
/// empty), whichever process wrote it.
pub fn head(loc: &Location) -> Result<i64> {
    let mut store = Store::open(loc)?;
    store
        .head()
        .map(|(seq, _)| seq)
        .map_err(|message| Error::Journal {
            location: loc.display(),
            message,
        })
}

/// Reads every entry, without the feature rows (for tests and audits).
pub fn read_entries(loc: &Location) -> Result<Vec<Entry>> {
    read_window(loc, &Filter::default())
}

/// Reads the entries `filter` selects (a time window, the most recent ones, with their rows).
pub fn read_window(loc: &Location, filter: &Filter) -> Result<Vec<Entry>> {
    let mut store = Store::open(loc)?;
    store.read(filter).map_err(|message| Error::Journal {
        location: loc.display(),
        message,
    })
}

/// A time bound for [`Filter`], as the journal stores times (`YYYY-MM-DDTHH:MM:SS.mmmZ`, which
/// sort as text): a date (`2026-11-28`, midnight UTC), an RFC 3339 time in UTC (`Z` or
/// `+00:00`, seconds and fraction optional), or a span before now (`90m`, `24h`, `7d`).
pub fn instant(text: &str) -> std::result::Result<String, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "`{text}` is not a time: give a date (2026-11-28), a UTC time \
             (2026-11-28T14:30:00Z) or a span before now (90m, 24h, 7d)"
        )
    };
    if let Some(unit) = t.chars().last().filter(|c| matches!(c, 'm' | 'h' | 'd')) {
        let n: u64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
        let secs = n.saturating_mul(match unit {
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        });
        let then = std::time::SystemTime::now()
            .checked_sub(std::time::Duration::from_secs(secs))
            .unwrap_or(std::time::UNIX_EPOCH);
        return Ok(stamp(riskscore_data::clock::Utc::at(then)));
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (date, time) = match t.split_once(['T', 't', ' ']) {
        Some((d, rest)) => (d, Some(rest)),
        None => (t, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, mo, d] = parts[..] else {
        return Err(bad());
    };
    if !(digits(y, 4) && digits(mo, 2) && digits(d, 2)) {
        return Err(bad());
    }
    let (mo_n, d_n): (u32, u32) = (
        mo.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&mo_n) || !(1..=31).contains(&d_n) {
        return Err(bad());
    }
    let Some(time) = time else {
        return Ok(format!("{date}T00:00:00.000Z"));
    };
    let clock = time
        .strip_suffix(['Z', 'z'])
        .or_else(|| time.strip_suffix("+00:00"))
        .ok_or_else(|| format!("`{text}`: give the time in UTC (ending in Z or +00:00)"))?;
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (a, f),
        Some(_) => return Err(bad()),
        None => (clock, ""),
    };
    let f: Vec<&str> = hms.split(':').collect();
    let (h, mi, s) = match f[..] {
        [h, mi] => (h, mi, "00"),
        [h, mi, s] => (h, mi, s),
        _ => return Err(bad()),
    };
    if !(digits(h, 2) && digits(mi, 2) && digits(s, 2)) || h > "23" || mi > "59" || s > "60" {
        return Err(bad());
    }
    let ms: String = frac.chars().chain("000".chars()).take(3).collect();
    Ok(format!("{date}T{h}:{mi}:{s}.{ms}Z"))
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
    stamp(riskscore_data::clock::Utc::now())
}

/// An instant as the journal writes it.
fn stamp(t: riskscore_data::clock::Utc) -> String {
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
            review: Vec::new(),
            notice: Vec::new(),
            champion: None,
            reviewed: None,
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
                    row: None,
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

    /// The body as the hash has always covered it: a `serde_json::Value` object written out.
    fn value_body(seq: i64, d: &Decided, prev: &str) -> String {
        let mut body = serde_json::json!({
            "seq": seq, "time": d.time, "request_id": d.request_id, "client": d.client,
            "kind": d.kind, "model_version": d.model_version, "probability": d.probability,
            "decision": d.decision, "reasons": d.reasons, "input_hash": d.input_hash, "prev": prev,
        });
        if !d.review.is_empty() {
            body["review"] = serde_json::json!(d.review);
        }
        if !d.notice.is_empty() {
            body["notice"] = serde_json::json!(d.notice);
        }
        if let Some(seq) = d.champion {
            body["champion"] = serde_json::json!(seq);
        }
        if let Some(r) = &d.reviewed {
            body["reviewed"] = serde_json::json!({
                "entry": r.entry, "reviewer": r.reviewer, "reason": r.reason,
            });
        }
        body.to_string()
    }

    /// The body written directly is the `Value` object's, byte for byte, with and without
    /// every optional field, escapes, odd numbers (NaN, negative zero, tiny and huge) and
    /// empty strings, so every hash of every journal stays the same.
    #[test]
    fn the_hashed_body_is_the_value_objects() {
        let odd = [
            0.0,
            -0.0,
            1.0,
            0.1 + 0.2,
            1e-300,
            5e-324,
            1e300,
            f64::NAN,
            f64::INFINITY,
            123_456_789.0,
        ];
        let texts = [
            "",
            "plain",
            "quote \" back \\ slash",
            "tab\tnew\nline \u{1}",
            "é ☃ 😀",
        ];
        let mut n = 0;
        for (k, p) in odd.iter().enumerate() {
            for (j, t) in texts.iter().enumerate() {
                for optional in 0..16u8 {
                    let mut d = decided(k as u32);
                    d.probability = *p;
                    d.client = (*t).to_owned();
                    d.request_id = format!("{t}{j}");
                    d.reasons = texts[..j].iter().map(|s| s.to_string()).collect();
                    if optional & 1 != 0 {
                        d.review = vec![(*t).to_owned(), "intake".into()];
                    }
                    if optional & 2 != 0 {
                        d.notice = vec!["Your income".into(), (*t).to_owned()];
                    }
                    if optional & 4 != 0 {
                        d.champion = Some(-(k as i64) * 1_000_000_007);
                    }
                    if optional & 8 != 0 {
                        d.reviewed = Some(Reviewed {
                            entry: k as i64,
                            reviewer: (*t).to_owned(),
                            reason: (j % 2 == 0).then(|| format!("because {t}")),
                        });
                    }
                    let seq = i64::MAX - k as i64;
                    let prev = format!("{t}{GENESIS}");
                    let direct = hashed_body(seq, &d, &prev);
                    assert_eq!(
                        String::from_utf8(direct).unwrap(),
                        value_body(seq, &d, &prev),
                        "{d:?}"
                    );
                    n += 1;
                }
            }
        }
        assert_eq!(n, 800);
        assert_eq!(hex(&[0, 1, 0xab, 0xff]), "0001abff");
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
    fn times_are_read_as_the_journal_writes_them() {
        assert_eq!(instant("2026-11-28").unwrap(), "2026-11-28T00:00:00.000Z");
        assert_eq!(
            instant("2026-11-28T14:30Z").unwrap(),
            "2026-11-28T14:30:00.000Z"
        );
        assert_eq!(
            instant("2026-11-28T14:30:05.25+00:00").unwrap(),
            "2026-11-28T14:30:05.250Z"
        );
        assert_eq!(
            instant("2026-11-28T14:30:05.123456Z").unwrap(),
            "2026-11-28T14:30:05.123Z"
        );
        let day_ago = instant("1d").unwrap();
        let now = now_rfc3339();
        assert!(
            day_ago < now && day_ago.len() == now.len(),
            "{day_ago} {now}"
        );
        assert!(instant("25h").unwrap() < day_ago);
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-28T25:00Z",
            "2026-11-28T10:00+01:00",
            "28/11/2026",
            "-3d",
            "",
        ] {
            assert!(instant(bad).is_err(), "{bad}");
        }
        assert!(instant("2026-11-28T10:00+01:00")
            .unwrap_err()
            .contains("UTC"));
    }

    #[test]
    fn rows_round_trip_bit_for_bit() {
        let x = [0.0, -0.0, f64::NAN, 1e-300, -7.5, f64::INFINITY];
        let weird_nan = f64::from_bits(0x7ff8_0000_0000_0001);
        let x = [x.as_slice(), &[1.0, weird_nan, 0.0, 2.5]].concat();
        let stored = encode_row(&x);
        // 10 values: 5 bytes of header, 3 of codes, 6 values' bits (-0.0, 1e-300, -7.5, inf,
        // the other NaN, 2.5).
        assert_eq!(stored.len(), 5 + 3 + 6 * 8);
        let back = decode_row(&stored).unwrap();
        assert_eq!(back.len(), x.len());
        assert!(x.iter().zip(&back).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(input_hash(&back), input_hash(&x));
        assert_eq!(decode_row(&encode_row(&[])).unwrap(), Vec::<f64>::new());
        // Truncated, too long, or another format: unreadable.
        assert!(decode_row(&stored[..stored.len() - 1]).is_none());
        assert!(decode_row(&[stored.as_slice(), &[0; 8]].concat()).is_none());
        assert!(decode_row(&[&[2u8], &stored[1..]].concat()).is_none());
        assert!(decode_row(&[]).is_none());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://rs:secret@127.0.0.1:5432/j"),
            "postgres://rs:***@127.0.0.1:5432/j"
        );
    }
}
