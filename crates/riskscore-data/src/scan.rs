//! Streaming typed scans: a table's rows arrive in batches, in file order, with only the
//! columns asked for, so that a pipeline can aggregate a 27-million-row table without holding
//! it.
//!
//! The CSV path parses blocks of lines on every core and hands the batches over in order.
//! Numbers are parsed with `fast-float2`, ids as integers, categories as codes into a
//! dictionary per batch. A field that does not parse stops the scan; the file is then read
//! again by the `csv` crate to name the line, column and value (see [`crate::read`]).
//! Columns that are not asked for are split but not parsed.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::read::{check_columns, csv_header, diagnose_csv, line_at, ColumnSpec};
use crate::schema::{Kind, Table};

/// A missing id.
pub const MISSING_ID: i64 = i64::MIN;
/// A missing category.
pub const MISSING_CAT: u32 = u32::MAX;

/// The values of one column of a batch.
#[derive(Debug, Clone)]
pub enum Values {
    /// Integer keys; [`MISSING_ID`] when empty.
    Ids(Vec<i64>),
    /// Numbers; NaN when empty (pandas' missing value).
    Nums(Vec<f64>),
    /// Codes into the batch's dictionary of this column; [`MISSING_CAT`] when empty.
    Cats(Vec<u32>),
}

/// Consecutive rows of a table, with the columns asked for, in the order asked.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub rows: usize,
    pub columns: Vec<Values>,
    /// Per column: the value of each category code (empty for other columns).
    pub dictionaries: Vec<Vec<String>>,
}

impl Batch {
    /// Column `i` as ids; empty when it holds something else.
    pub fn ids(&self, i: usize) -> &[i64] {
        match self.columns.get(i) {
            Some(Values::Ids(v)) => v,
            _ => &[],
        }
    }

    /// Column `i` as numbers; empty when it holds something else.
    pub fn nums(&self, i: usize) -> &[f64] {
        match self.columns.get(i) {
            Some(Values::Nums(v)) => v,
            _ => &[],
        }
    }

    /// Column `i` as category codes with their dictionary.
    pub fn cats(&self, i: usize) -> (&[u32], &[String]) {
        match (self.columns.get(i), self.dictionaries.get(i)) {
            (Some(Values::Cats(v)), Some(d)) => (v, d),
            _ => (&[], &[]),
        }
    }

    /// The columns `names` of a typed frame (ids Int64, numbers Float64, categories String).
    pub fn from_frame(table: Table, df: &DataFrame, names: &[&str]) -> Result<Batch> {
        let context = |name: &str| format!("{table}.{name}");
        let mut batch = Batch {
            rows: df.height(),
            ..Batch::default()
        };
        for name in names {
            let kind = table.kind_of(name).unwrap_or(Kind::Num);
            let column = df
                .column(name)
                .map_err(Error::polars(context(name)))?
                .as_materialized_series()
                .cast(&kind.dtype())
                .map_err(Error::polars(context(name)))?;
            let (values, dictionary) = match kind {
                Kind::Id => {
                    let ca = column.i64().map_err(Error::polars(context(name)))?;
                    let v = ca.iter().map(|x| x.unwrap_or(MISSING_ID)).collect();
                    (Values::Ids(v), Vec::new())
                }
                Kind::Num => {
                    let ca = column.f64().map_err(Error::polars(context(name)))?;
                    let v = ca.iter().map(|x| x.unwrap_or(f64::NAN)).collect();
                    (Values::Nums(v), Vec::new())
                }
                Kind::Cat => {
                    let ca = column.str().map_err(Error::polars(context(name)))?;
                    let mut dictionary: Vec<String> = Vec::new();
                    let mut codes: HashMap<&str, u32> = HashMap::new();
                    let v = ca
                        .iter()
                        .map(|x| match x {
                            None => MISSING_CAT,
                            Some(s) => *codes.entry(s).or_insert_with(|| {
                                dictionary.push(s.to_owned());
                                (dictionary.len() - 1) as u32
                            }),
                        })
                        .collect();
                    (Values::Cats(v), dictionary)
                }
            };
            batch.columns.push(values);
            batch.dictionaries.push(dictionary);
        }
        Ok(batch)
    }
}

/// Bytes of CSV per parsed block.
const BLOCK_BYTES: usize = 4 << 20;

/// One column to parse: its position in the file's header and its kind.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    out: usize,
    kind: Kind,
}

/// Scans the columns `names` of a CSV file of `table`, calling `sink` with each batch in file
/// order. The header must hold every column of the layout.
pub fn scan_csv(
    path: &Path,
    table: Table,
    names: &[&str],
    sink: &mut dyn FnMut(&Batch) -> Result<()>,
) -> Result<()> {
    let specs: Vec<ColumnSpec> = table
        .columns()
        .iter()
        .map(|(n, k)| ColumnSpec {
            name: (*n).to_owned(),
            kind: *k,
        })
        .collect();
    let header = csv_header(path)?;
    let extra = check_columns(path, table.stem(), &header, &specs)?;
    if !extra.is_empty() {
        tracing::warn!(file = %path.display(), columns = ?extra, "ignoring unexpected columns");
    }
    let mut slots: Vec<Option<Wanted>> = vec![None; header.len()];
    for (out, name) in names.iter().enumerate() {
        let Some(i) = header.iter().position(|h| h == name) else {
            return Err(Error::MissingColumns {
                path: path.to_owned(),
                table: table.stem().into(),
                columns: vec![(*name).into()],
            });
        };
        let kind = table.kind_of(name).unwrap_or(Kind::Num);
        slots[i] = Some(Wanted { out, kind });
    }
    let layout = Layout {
        slots,
        width: names.len(),
    };
    let failed = run_blocks(path, &layout, sink)?;
    match failed {
        None => Ok(()),
        Some(offset) => match diagnose_csv(path, &header, &specs)? {
            Some(e) => Err(e),
            None => Err(Error::BadLine {
                path: path.to_owned(),
                line: line_at(path, offset)?,
                message: "cannot read the records from this line on (a quoted field spanning \
                          lines is not supported)"
                    .into(),
            }),
        },
    }
}

#[derive(Debug)]
struct Layout {
    /// Per field of the file: where its values go, if asked for.
    slots: Vec<Option<Wanted>>,
    width: usize,
}

/// A block of whole lines: its rank and the byte offset of its first line in the file.
type Block = (usize, u64, Vec<u8>);

/// Reads, parses (on every core) and sinks the blocks in order. Returns the byte offset of a
/// block that did not parse, if any.
fn run_blocks(
    path: &Path,
    layout: &Layout,
    sink: &mut dyn FnMut(&Batch) -> Result<()>,
) -> Result<Option<u64>> {
    let mut file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (work_tx, work_rx) = sync_channel::<Block>(workers);
    // Shared by the parsing threads only: when they all stop, the reader's next send fails.
    let work_rx = Arc::new(Mutex::new(work_rx));
    type Parsed = (usize, u64, Option<Batch>);
    let (done_tx, done_rx) = sync_channel::<Parsed>(workers);
    // Batches already sunk and blocks already parsed, whose buffers are filled again (no new
    // pages to fault in).
    let pool: Mutex<Vec<Batch>> = Mutex::new(Vec::new());
    let buffers: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let buffers = &buffers;
        let reader = scope.spawn(move || read_blocks(&mut file, &work_tx, buffers));
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let work_rx = Arc::clone(&work_rx);
            let pool = &pool;
            scope.spawn(move || loop {
                let next = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((index, offset, bytes)) = next else {
                    return;
                };
                let recycled = pool.lock().ok().and_then(|mut p| p.pop());
                let batch = parse_block(&bytes, layout, recycled);
                if let Ok(mut b) = buffers.lock() {
                    b.push(bytes);
                }
                if done_tx.send((index, offset, batch)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        drop(work_rx);
        let outcome = sink_in_order(&done_rx, sink, &pool);
        drop(done_rx);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the reading thread stopped")));
        let failed = outcome?;
        read.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(failed)
    })
}

fn sink_in_order(
    done: &Receiver<(usize, u64, Option<Batch>)>,
    sink: &mut dyn FnMut(&Batch) -> Result<()>,
    pool: &Mutex<Vec<Batch>>,
) -> Result<Option<u64>> {
    let mut waiting: std::collections::BTreeMap<usize, (u64, Option<Batch>)> = Default::default();
    let mut next = 0;
    for (index, line, batch) in done.iter() {
        waiting.insert(index, (line, batch));
        while let Some((line, batch)) = waiting.remove(&next) {
            match batch {
                Some(batch) => {
                    sink(&batch)?;
                    if let Ok(mut p) = pool.lock() {
                        p.push(batch);
                    }
                }
                None => return Ok(Some(line)),
            }
            next += 1;
        }
    }
    Ok(None)
}

/// Sends the file after its header line in blocks of whole lines, in buffers given back by
/// the parsers when there are.
fn read_blocks(
    file: &mut File,
    work: &std::sync::mpsc::SyncSender<Block>,
    buffers: &Mutex<Vec<Vec<u8>>>,
) -> std::io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut header_done = false;
    let mut index = 0;
    let mut offset: u64 = 0;
    loop {
        let mut buf = buffers
            .lock()
            .ok()
            .and_then(|mut b| b.pop())
            .unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&carry);
        let start = buf.len();
        buf.resize(start + BLOCK_BYTES, 0);
        let mut filled = start;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let eof = filled < buf.len();
        buf.truncate(filled);
        if !header_done {
            match memchr::memchr(b'\n', &buf) {
                Some(i) => {
                    buf.drain(..=i);
                    offset += i as u64 + 1;
                    header_done = true;
                }
                None if eof => return Ok(()),
                None => {
                    carry = buf;
                    continue;
                }
            }
        }
        carry.clear();
        if !eof {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => {
                    carry.extend_from_slice(&buf[i + 1..]);
                    buf.truncate(i + 1);
                }
                None => {
                    carry = buf;
                    continue;
                }
            }
        }
        if !buf.is_empty() {
            let len = buf.len() as u64;
            if work.send((index, offset, buf)).is_err() {
                return Ok(());
            }
            index += 1;
            offset += len;
        }
        if eof {
            return Ok(());
        }
    }
}

/// Hashes a u64 fingerprint with one multiplication.
#[derive(Debug, Clone, Copy, Default)]
struct Spread(u64);

impl std::hash::Hasher for Spread {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 31)
    }
}

/// A category value's length and its first and last eight bytes (zero-padded): equal keys
/// mean equal values up to 16 bytes, longer values are also compared in full.
#[inline]
fn key_of(field: &[u8]) -> (u64, u64, usize) {
    let n = field.len();
    let mut head = [0u8; 8];
    let mut tail = [0u8; 8];
    if n >= 8 {
        head.copy_from_slice(&field[..8]);
        tail.copy_from_slice(&field[n - 8..]);
    } else {
        head[..n].copy_from_slice(field);
    }
    (u64::from_le_bytes(head), u64::from_le_bytes(tail), n)
}

/// A hash of a key (the map's hasher then spreads it).
#[inline]
fn fingerprint((head, tail, n): (u64, u64, usize)) -> u64 {
    head ^ tail.rotate_left(29) ^ ((n as u64) << 56)
}

/// The categories of a column within one block: value to code, in order of appearance.
struct Codes {
    /// Fingerprint to code; values whose fingerprint is taken by another value go to `others`.
    map: HashMap<u64, u32, std::hash::BuildHasherDefault<Spread>>,
    others: HashMap<Vec<u8>, u32>,
    values: Vec<String>,
    keys: Vec<(u64, u64, usize)>,
    /// The code of the previous field: runs of one value are common.
    last: Option<u32>,
    /// A code per fingerprint's top bits, checked against the key (a column has few values:
    /// most lookups end here, without hashing).
    recent: [u32; RECENT],
}

const RECENT: usize = 64;

impl Default for Codes {
    fn default() -> Codes {
        Codes {
            map: HashMap::default(),
            others: HashMap::new(),
            values: Vec::new(),
            keys: Vec::new(),
            last: None,
            recent: [u32::MAX; RECENT],
        }
    }
}

impl Codes {
    /// Whether value `code` is `field` (whose key is `key`).
    #[inline]
    fn is(&self, code: u32, key: (u64, u64, usize), field: &[u8]) -> bool {
        self.keys[code as usize] == key
            && (key.2 <= 16 || self.values[code as usize].as_bytes() == field)
    }

    #[inline]
    fn code(&mut self, field: &[u8]) -> Option<u32> {
        self.code_keyed(field, key_of(field))
    }

    /// The code of `bytes[start..end]`, its key read from the block's words where there are
    /// sixteen bytes left (no copy).
    #[inline]
    fn code_at(&mut self, bytes: &[u8], start: usize, end: usize) -> Option<u32> {
        let field = bytes.get(start..end)?;
        let n = end - start;
        let key = match (word_at(bytes, start), n) {
            (Some(head), 1..=7) => (head & ((1u64 << (8 * n)) - 1), 0, n),
            (Some(head), 8) => (head, head, n),
            (Some(head), 9..=16) => match word_at(bytes, end - 8) {
                Some(tail) => (head, tail, n),
                None => key_of(field),
            },
            _ => key_of(field),
        };
        self.code_keyed(field, key)
    }

    #[inline]
    fn code_keyed(&mut self, field: &[u8], key: (u64, u64, usize)) -> Option<u32> {
        if let Some(last) = self.last {
            if self.is(last, key, field) {
                return Some(last);
            }
        }
        let print = fingerprint(key);
        let slot = (print.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
        let recent = self.recent[slot];
        if recent != u32::MAX && self.is(recent, key, field) {
            self.last = Some(recent);
            return Some(recent);
        }
        let code = match self.map.get(&print) {
            Some(&code) if self.is(code, key, field) => code,
            Some(_) => match self.others.get(field) {
                Some(&code) => code,
                None => {
                    let code = self.add(field, key)?;
                    self.others.insert(field.to_vec(), code);
                    code
                }
            },
            None => {
                let code = self.add(field, key)?;
                self.map.insert(print, code);
                code
            }
        };
        self.recent[slot] = code;
        self.last = Some(code);
        Some(code)
    }

    /// A new value (it must be UTF-8).
    fn add(&mut self, field: &[u8], key: (u64, u64, usize)) -> Option<u32> {
        let text = std::str::from_utf8(field).ok()?;
        self.values.push(text.to_owned());
        self.keys.push(key);
        Some(self.values.len() as u32 - 1)
    }
}

/// What to do with a field of the file: skip it or append it to the k-th column of its type.
#[derive(Debug, Clone, Copy)]
enum Action {
    Skip,
    Num(usize),
    Id(usize),
    Cat(usize),
}

/// Parses a block of whole lines; `None` when a line does not fit (the caller diagnoses).
///
/// One pass with a cursor: a number or id asked for is parsed as its digits are met, a field
/// not asked for is skipped to its comma, a quoted field is read to its closing quote.
fn parse_block(bytes: &[u8], layout: &Layout, recycled: Option<Batch>) -> Option<Batch> {
    let rows_hint = bytes.len() / 32 + 1;
    let mut old: Vec<Option<Values>> = recycled
        .map(|b| b.columns.into_iter().map(Some).collect())
        .unwrap_or_default();
    let mut reuse = |out: usize| old.get_mut(out).and_then(Option::take);
    let mut nums: Vec<Vec<f64>> = Vec::new();
    let mut ids: Vec<Vec<i64>> = Vec::new();
    let mut cats: Vec<(Vec<u32>, Codes)> = Vec::new();
    // Per output column: its type and index among the columns of that type.
    let mut outputs: Vec<Action> = vec![Action::Skip; layout.width];
    let mut actions: Vec<Action> = Vec::with_capacity(layout.slots.len());
    for slot in &layout.slots {
        let action = match slot {
            None => Action::Skip,
            Some(w) => {
                let reused = reuse(w.out);
                let action = match w.kind {
                    Kind::Num => {
                        let v = match reused {
                            Some(Values::Nums(v)) => Some(v),
                            _ => None,
                        };
                        nums.push(emptied(v, rows_hint));
                        Action::Num(nums.len() - 1)
                    }
                    Kind::Id => {
                        let v = match reused {
                            Some(Values::Ids(v)) => Some(v),
                            _ => None,
                        };
                        ids.push(emptied(v, rows_hint));
                        Action::Id(ids.len() - 1)
                    }
                    Kind::Cat => {
                        let v = match reused {
                            Some(Values::Cats(v)) => Some(v),
                            _ => None,
                        };
                        cats.push((emptied(v, rows_hint), Codes::default()));
                        Action::Cat(cats.len() - 1)
                    }
                };
                outputs[w.out] = action;
                action
            }
        };
        actions.push(action);
    }
    let last = actions.len().checked_sub(1)?;
    let mut rows = 0;
    let mut pos = 0;
    let mut unquoted: Vec<u8> = Vec::new();
    while pos < bytes.len() {
        match &bytes[pos..] {
            [b'\n', ..] => {
                pos += 1; // an empty line
                continue;
            }
            [b'\r', b'\n', ..] => {
                pos += 2;
                continue;
            }
            _ => {}
        }
        for (f, action) in actions.iter().enumerate() {
            // Where the field ends and the byte there.
            let fast = match *action {
                Action::Num(k) => number_at(bytes, pos).map(|(x, end, stop)| {
                    nums[k].push(x);
                    (end, stop)
                }),
                Action::Id(k) => id_at(bytes, pos).map(|(x, end, stop)| {
                    ids[k].push(x);
                    (end, stop)
                }),
                Action::Skip => skip_at(bytes, pos),
                Action::Cat(k) => match skip_at(bytes, pos) {
                    Some((end, stop)) if end > pos => {
                        let (v, codes) = &mut cats[k];
                        v.push(codes.code_at(bytes, pos, end)?);
                        Some((end, stop))
                    }
                    _ => None,
                },
            };
            let (end, stop) = match fast {
                Some(found) => found,
                None => {
                    let (field, end) = field_at(bytes, pos, &mut unquoted)?;
                    let field = if field.is_empty() && end > pos {
                        &unquoted[..]
                    } else {
                        &bytes[field]
                    };
                    match *action {
                        Action::Skip => {}
                        Action::Num(k) => nums[k].push(parse_number(field)?),
                        Action::Id(k) => ids[k].push(parse_id(field)?),
                        Action::Cat(k) => {
                            let (v, codes) = &mut cats[k];
                            v.push(if field.is_empty() {
                                MISSING_CAT
                            } else {
                                codes.code(field)?
                            });
                        }
                    }
                    (end, stop_at(bytes, end))
                }
            };
            pos = end + 1;
            if f < last {
                if stop != u16::from(b',') {
                    return None;
                }
            } else if stop == u16::from(b'\r') && bytes.get(pos) == Some(&b'\n') {
                pos += 1;
            } else if stop == END_OF_BLOCK {
                pos = end;
            } else if stop != u16::from(b'\n') {
                return None;
            }
        }
        rows += 1;
    }
    let mut nums: Vec<Option<Vec<f64>>> = nums.into_iter().map(Some).collect();
    let mut ids: Vec<Option<Vec<i64>>> = ids.into_iter().map(Some).collect();
    let mut cats: Vec<Option<(Vec<u32>, Codes)>> = cats.into_iter().map(Some).collect();
    let mut batch = Batch {
        rows,
        ..Batch::default()
    };
    for action in outputs {
        let (values, dictionary) = match action {
            Action::Num(k) => (Values::Nums(nums[k].take()?), Vec::new()),
            Action::Id(k) => (Values::Ids(ids[k].take()?), Vec::new()),
            Action::Cat(k) => {
                let (v, codes) = cats[k].take()?;
                (Values::Cats(v), codes.values)
            }
            Action::Skip => (Values::Nums(Vec::new()), Vec::new()),
        };
        batch.columns.push(values);
        batch.dictionaries.push(dictionary);
    }
    Some(batch)
}

// Eight bytes at a time (SWAR): the length of a run of digits and its value are computed
// without a branch per digit, where mispredicted loop exits cost most of the parsing time.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `pos`, if there are sixteen left (room for a second read).
#[inline]
fn word_at(bytes: &[u8], pos: usize) -> Option<u64> {
    let chunk = bytes.get(pos..pos + 16)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(&chunk[..8]);
    Some(u64::from_le_bytes(word))
}

/// How many of the word's bytes, from the first, are ASCII digits.
#[inline]
fn digit_run(word: u64) -> u32 {
    let x = word ^ (ONES * u64::from(b'0'));
    // A byte of x above 9 gets its high bit set (carries only disturb bytes after it).
    let non_digit = (x.wrapping_add(ONES * 0x76) | x) & HIGHS;
    non_digit.trailing_zeros() / 8
}

/// The value of the first `k` (< 8) digits of the word.
#[inline]
fn digits_value(word: u64, k: u32) -> u64 {
    if k == 0 {
        return 0;
    }
    // Digit values, the first `k` moved to the top so that the rest become leading zeros.
    let mut v = (word & (ONES * 0x0f)) << (8 * (8 - k));
    v = (v * 10 + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    v = (v * 100 + (v >> 16)) & 0x0000_ffff_0000_ffff;
    (v * 10000 + (v >> 32)) & 0xffff_ffff
}

/// See [`number_at_scalar`]; eight bytes at a time, the scalar code near the end of a block
/// and for long numbers. The byte after the field is taken from the words read, not loaded
/// again: the next field's reading waits for fewer loads.
#[inline]
fn number_at(bytes: &[u8], pos: usize) -> Option<(f64, usize, u16)> {
    let (Some(first), Some(after_sign)) = (word_at(bytes, pos), word_at(bytes, pos + 1)) else {
        return number_at_scalar(bytes, pos);
    };
    let negative = first as u8 == b'-';
    let word = if negative { after_sign } else { first };
    let p = pos + usize::from(negative);
    let k = digit_run(word);
    if k == 8 {
        return number_at_scalar(bytes, pos);
    }
    let mut mantissa = digits_value(word, k);
    let mut end = p + k as usize;
    let mut decimals = 0;
    let mut stop = (word >> (8 * k)) as u8;
    if stop == b'.' {
        let Some(word) = word_at(bytes, end + 1) else {
            return number_at_scalar(bytes, pos);
        };
        let f = digit_run(word);
        if f == 8 || k + f == 0 {
            return number_at_scalar(bytes, pos);
        }
        let fraction = digits_value(word, f);
        end += 1 + f as usize;
        stop = (word >> (8 * f)) as u8;
        // "-1086.0": an integer, no division.
        if fraction != 0 {
            mantissa = mantissa * POW10_INT[f as usize] + fraction;
            decimals = f as usize;
        }
    } else if k == 0 {
        // Empty, or not a plain number.
        return if !negative && ends(u16::from(stop)) {
            Some((f64::NAN, end, u16::from(stop)))
        } else {
            number_at_scalar(bytes, pos)
        };
    }
    if !ends(u16::from(stop)) {
        return None;
    }
    Some((decimal(mantissa, decimals, negative), end, u16::from(stop)))
}

/// See [`id_at_scalar`]; eight bytes at a time.
#[inline]
fn id_at(bytes: &[u8], pos: usize) -> Option<(i64, usize, u16)> {
    let Some(word) = word_at(bytes, pos) else {
        return id_at_scalar(bytes, pos);
    };
    let k = digit_run(word);
    if k == 0 || k == 8 {
        return id_at_scalar(bytes, pos);
    }
    let stop = u16::from((word >> (8 * k)) as u8);
    if !ends(stop) {
        return None;
    }
    Some((digits_value(word, k) as i64, pos + k as usize, stop))
}

/// See [`skip_at_scalar`]; eight bytes at a time. Always inlined: as a call, its result
/// goes through memory on the way to the next field.
///
/// The bytes that end a field and the quote are all below `-`: the bytes below it are found
/// with three operations, then told apart by value (a space or a `+` is stepped over).
#[inline(always)]
fn skip_at(bytes: &[u8], mut pos: usize) -> Option<(usize, u16)> {
    const ENDS: u64 = 1 << b',' | 1 << b'\n' | 1 << b'\r' | 1 << b'"';
    while let Some(word) = word_at(bytes, pos) {
        // Bytes below `-` (ASCII): the first is exact, later ones may be false (borrows),
        // which the value check skips.
        let mut low = word.wrapping_sub(ONES * u64::from(b'-')) & !word & HIGHS;
        while low != 0 {
            let k = low.trailing_zeros() / 8;
            let stop = (word >> (8 * k)) as u8;
            if ENDS.checked_shr(u32::from(stop)).unwrap_or(0) & 1 == 1 {
                return (stop != b'"').then_some((pos + k as usize, u16::from(stop)));
            }
            low &= low - 1;
        }
        pos += 8;
    }
    skip_at_scalar(bytes, pos)
}

/// Exact powers of ten as integers.
const POW10_INT: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// A recycled buffer emptied, or a new one.
fn emptied<T>(v: Option<Vec<T>>, capacity: usize) -> Vec<T> {
    let mut v = v.unwrap_or_else(|| Vec::with_capacity(capacity));
    v.clear();
    v
}

/// Skips an unquoted field starting at `pos`: where it ends and the byte there (see
/// [`stop_at`]); `None` for a quoted one (read by `field_at`).
#[inline]
fn skip_at_scalar(bytes: &[u8], pos: usize) -> Option<(usize, u16)> {
    let mut end = pos;
    while let Some(&b) = bytes.get(end) {
        match b {
            b',' | b'\n' | b'\r' => return Some((end, u16::from(b))),
            b'"' => return None,
            _ => end += 1,
        }
    }
    Some((end, END_OF_BLOCK))
}

/// The byte after a field, [`END_OF_BLOCK`] at the end.
const END_OF_BLOCK: u16 = 256;

/// The byte at `end` as a [`stop_at`] value.
#[inline]
fn stop_at(bytes: &[u8], end: usize) -> u16 {
    bytes.get(end).map_or(END_OF_BLOCK, |&b| u16::from(b))
}

/// Whether the byte after a field ends it.
#[inline]
fn ends(stop: u16) -> bool {
    const COMMA: u16 = b',' as u16;
    const NEWLINE: u16 = b'\n' as u16;
    const RETURN: u16 = b'\r' as u16;
    matches!(stop, END_OF_BLOCK | COMMA | NEWLINE | RETURN)
}

/// The plain number (`-123`, `4567.25`, empty) starting at `pos` and the position after it;
/// `None` for anything else (read again by the general path). At most 15 digits: they are an
/// exact integer, and one division by an exact power of ten rounds correctly (Clinger).
#[inline]
fn number_at_scalar(bytes: &[u8], pos: usize) -> Option<(f64, usize, u16)> {
    let negative = bytes.get(pos) == Some(&b'-');
    let (mut mantissa, mut count, mut end) = digits_scalar(bytes, pos + usize::from(negative), 0);
    let mut decimals = 0;
    if bytes.get(end) == Some(&b'.') {
        let whole = count;
        (mantissa, count, end) = digits_scalar(bytes, end + 1, mantissa);
        count += whole;
        decimals = count - whole;
    }
    let stop = stop_at(bytes, end);
    if !ends(stop) {
        return None;
    }
    if count == 0 {
        return (end == pos).then_some((f64::NAN, end, stop));
    }
    if count > 15 {
        return None;
    }
    Some((decimal(mantissa, decimals, negative), end, stop))
}

/// The plain integer id (or empty) starting at `pos` and the position after it.
#[inline]
fn id_at_scalar(bytes: &[u8], pos: usize) -> Option<(i64, usize, u16)> {
    let negative = bytes.get(pos) == Some(&b'-');
    let (v, count, end) = digits_scalar(bytes, pos + usize::from(negative), 0);
    let stop = stop_at(bytes, end);
    if !ends(stop) || count > 18 {
        return None;
    }
    if count == 0 {
        return (end == pos).then_some((MISSING_ID, end, stop));
    }
    // At most 18 digits: no overflow.
    let v = v as i64;
    Some((if negative { -v } else { v }, end, stop))
}

/// The digits from `pos` on, one at a time, appended to `value`: the value, how many digits
/// and where they end.
#[inline]
fn digits_scalar(bytes: &[u8], mut pos: usize, mut value: u64) -> (u64, usize, usize) {
    let mut count = 0;
    while let Some(&b) = bytes.get(pos) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(d));
        count += 1;
        pos += 1;
    }
    (value, count, pos)
}

/// `mantissa / 10^decimals`, negated if `negative`: with at most 15 digits the mantissa is an
/// exact double and one division by an exact power of ten rounds correctly (Clinger).
#[inline]
fn decimal(mantissa: u64, decimals: usize, negative: bool) -> f64 {
    let m = mantissa as i64 as f64;
    let v = if decimals == 0 {
        m
    } else {
        m / POW10[decimals]
    };
    if negative {
        -v
    } else {
        v
    }
}

/// Any field starting at `pos`: the range of its bytes and the position after it. A quoted
/// field is unescaped into `unquoted` and given as an empty range (its text is there).
fn field_at(
    bytes: &[u8],
    pos: usize,
    unquoted: &mut Vec<u8>,
) -> Option<(std::ops::Range<usize>, usize)> {
    if bytes.get(pos) != Some(&b'"') {
        let mut end = pos;
        while let Some(&b) = bytes.get(end) {
            match b {
                b',' | b'\n' | b'\r' => break,
                b'"' => return None,
                _ => end += 1,
            }
        }
        return Some((pos..end, end));
    }
    unquoted.clear();
    let mut i = pos + 1;
    loop {
        let q = i + memchr::memchr(b'"', &bytes[i..])?;
        unquoted.extend_from_slice(&bytes[i..q]);
        if bytes.get(q + 1) == Some(&b'"') {
            unquoted.push(b'"');
            i = q + 2;
        } else {
            return Some((pos..pos, q + 1));
        }
    }
}

/// Exact powers of ten (all below 2^53).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

#[inline]
fn parse_number(field: &[u8]) -> Option<f64> {
    if field.is_empty() {
        return Some(f64::NAN);
    }
    // Fast path for the common "-123" and "4567.25": at most 15 digits, so the digits are an
    // exact integer and one division by an exact power of ten rounds correctly (Clinger).
    let (negative, digits) = match field {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, field),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut decimals = 0;
    let mut dot = false;
    let mut simple = !digits.is_empty() && digits.len() <= 16;
    if simple {
        for &b in digits {
            let d = b.wrapping_sub(b'0');
            if d <= 9 {
                mantissa = mantissa * 10 + u64::from(d);
                count += 1;
                decimals += usize::from(dot);
            } else if b == b'.' && !dot {
                dot = true;
            } else {
                simple = false;
                break;
            }
        }
    }
    if simple && count > 0 && count <= 15 {
        return Some(decimal(mantissa, decimals, negative));
    }
    slow_number(field)
}

#[cold]
fn slow_number(field: &[u8]) -> Option<f64> {
    match fast_float2::parse::<f64, _>(field) {
        Ok(v) => Some(v),
        Err(_) => std::str::from_utf8(field).ok()?.parse().ok(),
    }
}

fn parse_id(field: &[u8]) -> Option<i64> {
    if field.is_empty() {
        return Some(MISSING_ID);
    }
    let (negative, digits) = match field.first() {
        Some(b'-') => (true, &field[1..]),
        Some(b'+') => (false, &field[1..]),
        _ => (false, field),
    };
    if digits.is_empty() || digits.len() > 18 {
        return std::str::from_utf8(field).ok()?.parse().ok();
    }
    let mut v: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(kinds: &[Option<Kind>]) -> Layout {
        let mut out = 0;
        let slots = kinds
            .iter()
            .map(|k| {
                k.map(|kind| {
                    out += 1;
                    Wanted { out: out - 1, kind }
                })
            })
            .collect();
        Layout { slots, width: out }
    }

    #[test]
    fn quoted_fields_empty_fields_and_crlf() {
        let l = layout(&[Some(Kind::Id), None, Some(Kind::Cat), Some(Kind::Num)]);
        let text = b"1,x,\"Spouse, partner\",2.5\r\n2,\"a\"\"b\",,\n3,,\"say \"\"hi\"\"\",\"\"\n";
        let b = parse_block(text, &l, None).expect("parses");
        assert_eq!(b.rows, 3);
        assert_eq!(b.ids(0), [1, 2, 3]);
        let (codes, dict) = b.cats(1);
        assert_eq!(codes, [0, MISSING_CAT, 1]);
        assert_eq!(dict, ["Spouse, partner", "say \"hi\""]);
        let n = b.nums(2);
        assert_eq!(n[0], 2.5);
        assert!(n[1].is_nan() && n[2].is_nan());
    }

    #[test]
    fn numbers_parse_as_the_standard_library_does() {
        for text in [
            "0",
            "-0",
            "1",
            "-1234",
            "135000.0",
            "24700.5",
            "0.1",
            "-0.000123",
            "1.5e3",
            "1e-7",
            "123456789012345",
            "1234567890123456789",
            "0.30000000000000004",
            "9007199254740993",
            ".5",
            "5.",
            "nan",
            "inf",
            "-inf",
            "2.2250738585072014e-308",
        ] {
            let want: f64 = text.parse().expect(text);
            let got = parse_number(text.as_bytes()).expect(text);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{text}: {got} vs {want}"
            );
            // The cursor's fast path agrees, or declines.
            let line = format!("{text},");
            if let Some((fast, end, _)) = number_at(line.as_bytes(), 0) {
                assert_eq!(end, text.len(), "{text}");
                assert!(
                    fast.to_bits() == want.to_bits() || (fast.is_nan() && want.is_nan()),
                    "{text}: {fast} vs {want}"
                );
            }
        }
        for bad in ["-", ".", "1.2.3", "1-2", "abc", "1,5", " 1"] {
            assert!(parse_number(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn eight_bytes_at_a_time_agrees_with_byte_by_byte() {
        // Fields of every shape the fast path meets, each followed by each terminator and by
        // enough bytes for the eight-byte reads (and, last, by too few).
        let mut fields: Vec<String> = [
            "",
            "-",
            ".",
            "-.",
            "0",
            "-0",
            "7",
            "12345678",
            "123456789",
            "1234567",
            "-1234567",
            "0.5",
            "5.",
            ".5",
            "-.5",
            "12.3456789",
            "1234567.1234567",
            "99999999.9",
            "1e5",
            "1.5e3",
            "nan",
            "inf",
            "12a",
            "1.2.3",
            "--1",
            "007",
            "0.00000001",
            "1086.0",
            "-1086.0",
            "0.0",
            "-0.0",
            "100",
            "1.000",
            "10.10",
            "7002.470",
            "123456789012.50",
            "12345678901234.5",
            "123456789012345.0",
            "\"3\"",
            "1,2",
            "4\r\n",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut seed: u64 = 42;
        for _ in 0..2000 {
            let mut f = String::new();
            for _ in 0..(seed % 14) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                f.push(b"0123456789.-x, +(\"\r\n"[(seed >> 33) as usize % 20] as char);
            }
            fields.push(f);
        }
        for field in &fields {
            for tail in [
                ",0000000000000000",
                "\n0000000000000000",
                "\r\n000000000000000",
                "",
            ] {
                let line = format!("{field}{tail}");
                let b = line.as_bytes();
                let same = |x: Option<(f64, usize, u16)>, y: Option<(f64, usize, u16)>| match (x, y)
                {
                    (Some((a, i, s)), Some((c, j, t))) => {
                        i == j
                            && s == t
                            && (a.to_bits() == c.to_bits() || (a.is_nan() && c.is_nan()))
                    }
                    (None, None) => true,
                    _ => false,
                };
                assert!(
                    same(number_at(b, 0), number_at_scalar(b, 0)),
                    "number {line:?}: {:?} vs {:?}",
                    number_at(b, 0),
                    number_at_scalar(b, 0)
                );
                assert_eq!(id_at(b, 0), id_at_scalar(b, 0), "id {line:?}");
                assert_eq!(skip_at(b, 0), skip_at_scalar(b, 0), "skip {line:?}");
            }
        }
    }

    #[test]
    fn last_line_without_newline_and_empty_lines() {
        let l = layout(&[Some(Kind::Id), Some(Kind::Num)]);
        let b = parse_block(b"1,2\n\n3,\r\n4,5", &l, None).expect("parses");
        assert_eq!(b.ids(0), [1, 3, 4]);
        let b = parse_block(b"1,\"2\"\n3,\"4\"", &l, None).expect("parses");
        assert_eq!(b.nums(1), [2.0, 4.0]);
    }

    #[test]
    fn short_category_values_are_told_apart_by_their_keys() {
        let mut codes = Codes::default();
        let values: [&[u8]; 7] = [b"C", b"X", b"0", b"C ", b"Active", b"Activ", b"Signed"];
        let got: Vec<u32> = values
            .iter()
            .chain(values.iter())
            .map(|v| codes.code(v).expect("utf-8"))
            .collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn keys_read_in_the_block_are_the_keys_of_the_values() {
        // Values of every length up to 20, read in place (words of the block) and copied.
        let values: Vec<String> = (1..=20)
            .flat_map(|n| {
                ["abcdefghijklmnopqrst", "ABCDEFGHIJKLMNOPQRST"].map(|v| v[..n].to_string())
            })
            .collect();
        let text = values.join(",") + ",";
        let bytes = text.as_bytes();
        let (mut in_place, mut copied) = (Codes::default(), Codes::default());
        for _ in 0..2 {
            let mut start = 0;
            for v in &values {
                let end = start + v.len();
                assert_eq!(
                    in_place.code_at(bytes, start, end),
                    copied.code(v.as_bytes()),
                    "{v}"
                );
                start = end + 1;
            }
        }
        assert_eq!(in_place.values, values);
    }

    #[test]
    fn category_codes_survive_fingerprint_collisions() {
        let mut codes = Codes::default();
        // Same length, first and last eight bytes: one fingerprint, two values.
        let a = b"ABCDEFGH-one-IJKLMNOP".to_vec();
        let b = b"ABCDEFGH-two-IJKLMNOP".to_vec();
        assert_eq!(fingerprint(key_of(&a)), fingerprint(key_of(&b)));
        let got: Vec<u32> = [&a, &b, &a, &b, &b]
            .iter()
            .map(|v| codes.code(v).expect("utf-8"))
            .collect();
        assert_eq!(got, [0, 1, 0, 1, 1]);
        assert_eq!(
            codes.values,
            ["ABCDEFGH-one-IJKLMNOP", "ABCDEFGH-two-IJKLMNOP"]
        );
        assert!(codes.code(b"\xE1x").is_none());
    }

    #[test]
    fn bad_values_and_ragged_lines_are_refused() {
        let l = layout(&[Some(Kind::Id), Some(Kind::Num)]);
        assert!(parse_block(b"1,2\n2,x\n", &l, None).is_none());
        assert!(parse_block(b"1,2\n2,3,4\n", &l, None).is_none());
        assert!(parse_block(b"1.5,2\n", &l, None).is_none());
        assert!(parse_block(b"1,\"2\n", &l, None).is_none());
        let ok = parse_block(b"-7,1e3\n+8,-0.25\n", &l, None).expect("parses");
        assert_eq!(ok.ids(0), [-7, 8]);
        assert_eq!(ok.nums(1), [1000.0, -0.25]);
    }
}
