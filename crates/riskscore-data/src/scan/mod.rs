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
        Some(offset) => match diagnose_csv(path, &header, &specs, &[])? {
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

mod codes;
mod fields;
mod parse;
#[cfg(test)]
mod tests;

use parse::parse_block;
