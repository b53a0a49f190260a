//! The Home Credit clients' applications, every column, for a what-if or a recourse search one
//! client at a time. From CSV files the server keeps where each client's record starts and
//! reads it again when asked (every record is read and checked once at start, so a bad value
//! stops the start as before); holding every column of every client took about 600 MB at full
//! size. A file changed since the start is an error, not another client's fields. Parquet
//! files are read into memory as before.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use polars::prelude::{Column, DataFrame};
use riskscore_data::{Folder, Kind, Table};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Where the clients' applications are.
#[derive(Debug)]
pub enum Applications {
    /// CSV files: each client's record is read when asked.
    Files(Records),
    /// Every column of every client, in the clients' order (Parquet files, a single table).
    Frame(DataFrame),
}

/// The clients' records in the application files.
#[derive(Debug)]
pub struct Records {
    files: Vec<RecordFile>,
    /// Per client (the server's order): the file's index in the top byte, the record's byte
    /// offset below; [`ABSENT`] when no file has the client.
    at: Vec<u64>,
}

/// A client in none of the files.
const ABSENT: u64 = u64::MAX;
/// Bits of a record's byte offset.
const OFFSET_BITS: u32 = 56;

#[derive(Debug)]
struct RecordFile {
    path: PathBuf,
    /// Length and modification time at start: a file that changed is not read.
    len: u64,
    modified: Option<SystemTime>,
    /// The output's columns: name, kind and position in the file's records.
    columns: Vec<(&'static str, Kind, usize)>,
}

/// Whether the folder's application files are CSV (Parquet files are read into memory).
pub fn csv_files(folder: &Folder) -> bool {
    [Table::ApplicationTrain, Table::ApplicationTest]
        .iter()
        .filter_map(|t| folder.path_of(*t))
        .all(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
}

impl Records {
    /// [`Records::scan`] then [`Scanned::align`] (the tests'; the server runs the scan beside
    /// the scoring, before the clients' order is known).
    #[cfg(test)]
    pub fn index(folder: &Folder, ids: &[i64], shown: &[&str]) -> Result<(Self, DataFrame)> {
        Records::scan(folder, shown)?.align(ids)
    }

    /// Reads every record of the folder's application files once (each value checked against
    /// the layout): where each record starts, its client, and the columns `shown`.
    pub fn scan(folder: &Folder, shown: &[&str]) -> Result<Scanned> {
        let mut files = Vec::new();
        // Per record (of every file, in order): where it starts, and the shown columns.
        let mut starts: Vec<u64> = Vec::new();
        let mut record_of: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
        // Each shown column is an application column: its values are taken as it is read.
        let mut values: Vec<Shown> = shown
            .iter()
            .map(|name| {
                Table::ApplicationTest
                    .columns()
                    .iter()
                    .find(|c| c.0 == *name)
                    .map(|c| Shown::new(c.1))
                    .ok_or_else(|| Error::Input(format!("no application column {name}")))
            })
            .collect::<Result<_>>()?;
        for table in [Table::ApplicationTrain, Table::ApplicationTest] {
            let Some(path) = folder.path_of(table) else {
                continue;
            };
            let n = files.len() as u64;
            let meta = std::fs::metadata(&path).map_err(|e| io(&path, e))?;
            let mut reader =
                csv_reader(std::fs::File::open(&path).map_err(|e| io(&path, e))?, true);
            let header = reader
                .byte_headers()
                .map_err(|e| bad(&path, e.to_string()))?
                .clone();
            let columns = Table::ApplicationTest
                .columns()
                .iter()
                .map(|&(name, kind)| {
                    header
                        .iter()
                        .position(|h| strip_bom(h) == name.as_bytes())
                        .map(|at| (name, kind, at))
                        .ok_or_else(|| bad(&path, format!("no column {name}")))
                })
                .collect::<Result<Vec<_>>>()?;
            let file = RecordFile {
                path: path.clone(),
                len: meta.len(),
                modified: meta.modified().ok(),
                columns,
            };
            let id_at = file
                .columns
                .iter()
                .find(|c| c.0 == "SK_ID_CURR")
                .map(|c| c.2)
                .ok_or_else(|| bad(&path, "no column SK_ID_CURR".into()))?;
            // Per output column: the shown column it is, if it is one.
            let shown_as: Vec<Option<usize>> = file
                .columns
                .iter()
                .map(|c| shown.iter().position(|name| *name == c.0))
                .collect();
            let mut record = csv::ByteRecord::new();
            loop {
                let (start, line) = (reader.position().byte(), reader.position().line());
                let more = reader
                    .read_byte_record(&mut record)
                    .map_err(|e| bad(&path, e.to_string()))?;
                if !more {
                    break;
                }
                if start >= 1 << OFFSET_BITS {
                    return Err(bad(&path, "the file is too large".into()));
                }
                let mut id = None;
                for (&(name, kind, at), shown) in file.columns.iter().zip(&shown_as) {
                    let value = parse(record.get(at).unwrap_or_default(), kind)
                        .map_err(|m| bad(&path, format!("line {line}, column {name}: {m}")))?;
                    if at == id_at {
                        if let Field::Int(v) = value {
                            id = Some(v);
                        }
                    }
                    if let Some(v) = shown.and_then(|k| values.get_mut(k)) {
                        v.push(value);
                    }
                }
                if let Some(id) = id {
                    record_of.entry(id).or_insert(starts.len());
                }
                starts.push(n << OFFSET_BITS | start);
            }
            files.push(file);
        }
        Ok(Scanned {
            files,
            starts,
            record_of,
            shown: shown.iter().map(|s| (*s).to_owned()).zip(values).collect(),
        })
    }

    /// Client `i`'s application as JSON fields (the layout's types: the id an integer, numbers
    /// as numbers, null when empty or not finite, categories as text).
    pub fn fields(&self, i: usize, id: i64) -> Result<Map<String, Value>> {
        let at = self.at.get(i).copied().unwrap_or(ABSENT);
        let Some(file) = self
            .files
            .get((at >> OFFSET_BITS) as usize)
            .filter(|_| at != ABSENT)
        else {
            return Err(Error::Input(format!(
                "no application of client {id} in the data"
            )));
        };
        let path = &file.path;
        let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
        if meta.len() != file.len || meta.modified().ok() != file.modified {
            return Err(bad(
                path,
                "the file changed since the server started: restart it to read the new data".into(),
            ));
        }
        let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
        f.seek(SeekFrom::Start(at & ((1 << OFFSET_BITS) - 1)))
            .map_err(|e| io(path, e))?;
        let mut record = csv::ByteRecord::new();
        let found = csv_reader(f.take(1 << 20), false)
            .read_byte_record(&mut record)
            .map_err(|e| bad(path, e.to_string()))?;
        if !found {
            return Err(bad(path, format!("no record of client {id} where it was")));
        }
        let mut fields = Map::new();
        for &(name, kind, at) in &file.columns {
            let value = parse(record.get(at).unwrap_or_default(), kind)
                .map_err(|m| bad(path, format!("client {id}, column {name}: {m}")))?;
            fields.insert(name.to_owned(), value.json());
        }
        if fields.get("SK_ID_CURR").and_then(Value::as_i64) != Some(id) {
            return Err(bad(path, format!("the record read is not client {id}'s")));
        }
        Ok(fields)
    }
}

/// The application files read once, before the clients' order is known.
#[derive(Debug)]
pub struct Scanned {
    files: Vec<RecordFile>,
    /// Per record, in the files' order: the file's index and where the record starts.
    starts: Vec<u64>,
    /// The record of each client (its first).
    record_of: std::collections::HashMap<i64, usize>,
    shown: Vec<(String, Shown)>,
}

impl Scanned {
    /// Where the records of `ids` start, and the shown columns aligned on `ids` (the id
    /// first, then the shown columns, typed by the layout; missing for a client in no file).
    pub fn align(self, ids: &[i64]) -> Result<(Records, DataFrame)> {
        let Scanned {
            files,
            starts,
            record_of,
            shown,
        } = self;
        let records: Vec<Option<usize>> = ids.iter().map(|id| record_of.get(id).copied()).collect();
        let at = records
            .iter()
            .map(|r| r.map_or(ABSENT, |r| starts[r]))
            .collect();
        let mut columns = vec![Column::new("SK_ID_CURR".into(), ids.to_vec())];
        for (name, v) in shown {
            columns.push(v.gather(&name, &records));
        }
        let info = DataFrame::new_infer_height(columns).map_err(|e| Error::Polars {
            context: "client information".into(),
            source: e,
        })?;
        Ok((Records { files, at }, info))
    }
}

/// One shown column's values, one per record, typed by the layout (checked before).
#[derive(Debug)]
enum Shown {
    Int(Vec<Option<i64>>),
    Num(Vec<Option<f64>>),
    /// Codes into the distinct texts (`u32::MAX`: missing).
    Text {
        codes: Vec<u32>,
        texts: Vec<String>,
        index: std::collections::HashMap<String, u32>,
    },
}

impl Shown {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Id => Shown::Int(Vec::new()),
            Kind::Num => Shown::Num(Vec::new()),
            Kind::Cat => Shown::Text {
                codes: Vec::new(),
                texts: Vec::new(),
                index: Default::default(),
            },
        }
    }

    /// Adds a record's field, read as this column's kind.
    fn push(&mut self, value: Field<'_>) {
        match (self, value) {
            (Shown::Int(v), Field::Int(x)) => v.push(Some(x)),
            (Shown::Num(v), Field::Num(x)) => v.push(Some(x)),
            (Shown::Int(v), _) => v.push(None),
            (Shown::Num(v), _) => v.push(None),
            (
                Shown::Text {
                    codes,
                    texts,
                    index,
                },
                value,
            ) => codes.push(match value {
                Field::Text(t) => match index.get(t) {
                    Some(&c) => c,
                    None => {
                        let c = texts.len() as u32;
                        texts.push(t.to_owned());
                        index.insert(t.to_owned(), c);
                        c
                    }
                },
                _ => u32::MAX,
            }),
        }
    }

    /// The values of `records` (none: missing), as a column.
    fn gather(self, name: &str, records: &[Option<usize>]) -> Column {
        fn take<T: Clone>(v: &[Option<T>], records: &[Option<usize>]) -> Vec<Option<T>> {
            records
                .iter()
                .map(|r| r.and_then(|r| v.get(r).cloned().flatten()))
                .collect()
        }
        match self {
            Shown::Int(v) => Column::new(name.into(), take(&v, records)),
            Shown::Num(v) => Column::new(name.into(), take(&v, records)),
            Shown::Text { codes, texts, .. } => {
                let values: Vec<Option<&str>> = records
                    .iter()
                    .map(|r| {
                        r.and_then(|r| codes.get(r))
                            .and_then(|&c| texts.get(c as usize))
                            .map(String::as_str)
                    })
                    .collect();
                Column::new(name.into(), values)
            }
        }
    }
}

/// A CSV reader as the tables are read: comma-separated, double quotes, one record per line.
fn csv_reader<R: Read>(from: R, header: bool) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(header)
        .buffer_capacity(64 * 1024)
        .from_reader(from)
}

fn strip_bom(h: &[u8]) -> &[u8] {
    h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h)
}

/// A record's field read as its column's kind (the text borrowed from the record).
#[derive(Debug, Clone, Copy)]
enum Field<'a> {
    Missing,
    Int(i64),
    Num(f64),
    Text(&'a str),
}

impl Field<'_> {
    /// As JSON: a number not finite is missing.
    fn json(self) -> Value {
        match self {
            Field::Missing => Value::Null,
            Field::Int(v) => Value::from(v),
            Field::Num(v) => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
            Field::Text(t) => Value::String(t.to_owned()),
        }
    }
}

/// A field as the layout reads it: empty is missing; an id an integer, a number a double, a
/// category text.
fn parse(raw: &[u8], kind: Kind) -> std::result::Result<Field<'_>, String> {
    if raw.is_empty() {
        return Ok(Field::Missing);
    }
    let text = std::str::from_utf8(raw).map_err(|_| "not valid UTF-8".to_owned())?;
    match kind {
        Kind::Id => text
            .parse::<i64>()
            .map(Field::Int)
            .map_err(|_| format!("`{text}` is not an integer")),
        Kind::Num => text
            .parse::<f64>()
            .map(Field::Num)
            .map_err(|_| format!("`{text}` is not a number")),
        Kind::Cat => Ok(Field::Text(text)),
    }
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        context: path.display().to_string(),
        source: e,
    }
}

fn bad(path: &Path, message: String) -> Error {
    Error::Data(riskscore_data::Error::Invalid {
        path: path.to_owned(),
        message,
    })
}
