//! Reading tables from CSV or Parquet into typed polars frames.
//!
//! The fast path is polars' multi-threaded CSV reader with a fixed schema. When it fails, the file
//! is scanned again with the `csv` crate to name the exact line, column and value: users get
//! `bureau.csv:1234: column "DAYS_CREDIT": cannot parse "abc" as a number`, not a byte offset.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;
use polars_arrow::datatypes::ArrowDataType;

use crate::error::{brief, Error, Result};
use crate::schema::Kind;

/// What the reader expects of one column.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub kind: Kind,
}

/// Rows a CSV reader guesses column types from before reading the whole file.
const INFER_ROWS: usize = 10_000;

/// True when the path names a Parquet file.
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// True when the path names a CSV file: raw data, never a feature matrix, even with the
/// pipeline of a matrix built from it beside it (`features loans.csv --out loans.parquet`
/// writes `loans.pipeline.json`).
pub fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Whether polars can hold a column of a Parquet file's Arrow type (riskscore's build of it:
/// the integer widths, decimals, dates, times, durations, text and its dictionaries).
fn parquet_type_readable(dt: &ArrowDataType) -> bool {
    use ArrowDataType as A;
    match dt {
        A::Null
        | A::Boolean
        | A::Int8
        | A::Int16
        | A::Int32
        | A::Int64
        | A::UInt8
        | A::UInt16
        | A::UInt32
        | A::UInt64
        | A::Float32
        | A::Float64
        | A::Utf8
        | A::LargeUtf8
        | A::Utf8View
        | A::Binary
        | A::LargeBinary
        | A::BinaryView
        | A::Date32
        | A::Date64
        | A::Timestamp(..)
        | A::Time32(_)
        | A::Time64(_)
        | A::Duration(_)
        | A::Decimal(..) => true,
        A::Dictionary(_, values, _) => parquet_type_readable(values),
        _ => false,
    }
}

/// Refuses a Parquet file with a column of a type riskscore cannot read (a 16-bit float, a
/// 128-bit integer, a list or a struct), naming the column and its type, before polars reads
/// it (polars stops the process on some of them rather than returning an error).
pub fn check_parquet_types(path: &Path) -> Result<()> {
    let invalid = |message: String| Error::Invalid {
        path: path.to_owned(),
        message,
    };
    let mut file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let metadata = polars_parquet::read::read_metadata(&mut file)
        .map_err(|e| invalid(format!("not a readable Parquet file: {}", brief(&e))))?;
    let schema = polars_parquet::read::infer_schema(&metadata)
        .map_err(|e| invalid(format!("not a readable Parquet file: {}", brief(&e))))?;
    for (name, field) in schema.iter() {
        if !parquet_type_readable(&field.dtype) {
            return Err(invalid(format!(
                "column {name:?} has type {:?}, which riskscore does not read: write it as \
                 numbers (64-bit floats or integers) or as text",
                field.dtype
            )));
        }
    }
    Ok(())
}

/// Reads any CSV or Parquet table with the types the file gives (Parquet) or that the first
/// 10,000 rows suggest (CSV): for tables without a known layout (drift inputs, exploration).
pub fn read_inferred(path: &Path) -> Result<DataFrame> {
    let invalid = |message: String| Error::Invalid {
        path: path.to_owned(),
        message,
    };
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "parquet" => {
            check_parquet_types(path)?;
            let f = File::open(path).map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
            ParquetReader::new(f)
                .finish()
                .map_err(|e| invalid(format!("not a readable Parquet file: {}", brief(&e))))
        }
        "csv" => {
            let header = csv_header(path)?;
            crate::widths::check(path, header.len())?;
            let read = |rows: Option<usize>| {
                CsvReadOptions::default()
                    .with_has_header(true)
                    .with_infer_schema_length(rows)
                    .map_parse_options(|o| o.with_null_values(Some(pandas_missing())))
                    .try_into_reader_with_file_path(Some(path.to_owned()))
                    .and_then(|r| r.finish())
            };
            // Types are guessed from the first 10,000 rows; a column whose later rows do not
            // fit the guess (integers, then `1.5`) is read again with types from every row.
            let mut df = read(Some(INFER_ROWS))
                .or_else(|_| read(None))
                .map_err(|e| invalid(format!("not a readable CSV file: {}", brief(&e))))?;
            // The header's names without the spaces around them, as every reader names them.
            df.set_column_names(&header)
                .map_err(|e| invalid(format!("not a readable CSV file: {}", brief(&e))))?;
            for (column, first) in numbers_with_commas(&df) {
                tracing::warn!(
                    file = %path.display(),
                    column,
                    first = %first,
                    "{COMMA_NUMBERS}"
                );
            }
            Ok(df)
        }
        _ => Err(invalid("give a .csv or .parquet file".into())),
    }
}

/// True for a date or a time of day as files write them: `2024-03-15`, `2024/03/15`,
/// `15/03/2024`, `15.03.2024`, each optionally followed by a time (`T09:30`, ` 09:30:00.000`,
/// with a zone `Z` or `+01:00`), or a time alone (`09:30:00`).
pub fn date_like(text: &str) -> bool {
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None if text.contains(':') => return time_like(text),
        None => (text, None),
    };
    let Some(sep) = date.chars().find(|c| ['-', '/', '.'].contains(c)) else {
        return false;
    };
    let parts: Vec<&str> = date.split(sep).collect();
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    let shaped = parts.len() == 3
        && ((digits(parts[0], 4..=4) && digits(parts[1], 1..=2) && digits(parts[2], 1..=2))
            || (digits(parts[0], 1..=2) && digits(parts[1], 1..=2) && digits(parts[2], 4..=4)));
    shaped && time.is_none_or(time_like)
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff`, then optionally `Z` or an offset (`+01:00`).
fn time_like(text: &str) -> bool {
    let clock = text
        .trim_end_matches('Z')
        .split(['+', '-'])
        .next()
        .unwrap_or("");
    let mut parts = clock.split(':');
    let two =
        |p: Option<&str>| p.is_some_and(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    let (h, m) = (parts.next(), parts.next());
    let seconds = parts.next().is_none_or(|s| {
        let (whole, fraction) = s.split_once('.').unwrap_or((s, "0"));
        two(Some(whole)) && fraction.bytes().all(|b| b.is_ascii_digit())
    });
    two(h) && two(m) && seconds && parts.next().is_none()
}

/// The first value of a text column every value of which is a date or a time ([`date_like`]),
/// if there is one.
pub fn written_as_dates(c: &Column) -> Option<String> {
    every_value(c, date_like)
}

/// The first value of a text column every value of which (spaces around ignored) passes `test`:
/// `None` for a column of another type, without values, or with a value that fails it.
fn every_value(c: &Column, test: fn(&str) -> bool) -> Option<String> {
    let text = c.str().ok()?;
    let mut first = None;
    for v in text.iter().flatten().map(str::trim) {
        if !test(v) {
            return None;
        }
        first.get_or_insert(v);
    }
    first.map(str::to_owned)
}

/// The values pandas' `read_csv` reads as missing by default (R's `write.csv` writes `NA`,
/// databases `NULL`, spreadsheets `#N/A`): a single table (and `explore`, `drift`, `binning`,
/// which compare with pandas-based peers) reads them as missing too, not as a category `NA`
/// that also turns a column of numbers into text.
pub const PANDAS_MISSING: [&str; 18] = [
    "-1.#IND", "1.#QNAN", "1.#IND", "-1.#QNAN", "#N/A N/A", "#N/A", "N/A", "n/a", "NA", "<NA>",
    "#NA", "NULL", "null", "NaN", "-NaN", "nan", "-nan", "None",
];

/// [`PANDAS_MISSING`] as polars' CSV readers take it.
pub fn pandas_missing() -> NullValues {
    null_values(&PANDAS_MISSING)
}

/// Missing-value markers as polars' CSV readers take them.
fn null_values(markers: &[&str]) -> NullValues {
    NullValues::AllColumns(markers.iter().map(|v| (*v).into()).collect())
}

/// What a column of numbers written with commas is read as, and what to do about it.
pub const COMMA_NUMBERS: &str = "numbers written with commas (a decimal comma or thousands \
     separators) are read as text, each value a category: export the table with plain numbers \
     (`.` as the decimal point, no separators)";

/// True for a number written with commas: digits and commas, at least one comma, a digit at
/// each end, an optional minus sign (`2500,50`, `1,200,000`, `-3,5`).
pub fn comma_number(text: &str) -> bool {
    let d = text.strip_prefix('-').unwrap_or(text).as_bytes();
    d.contains(&b',')
        && d.iter().all(|b| b.is_ascii_digit() || *b == b',')
        && d.first().is_some_and(u8::is_ascii_digit)
        && d.last().is_some_and(u8::is_ascii_digit)
}

/// The first value of a text column every value of which is a number written with commas
/// ([`comma_number`], spaces around ignored): `None` for any other column.
pub fn written_with_commas(c: &Column) -> Option<String> {
    every_value(c, comma_number)
}

/// The text columns of numbers written with commas, each with its first value.
pub fn numbers_with_commas(df: &DataFrame) -> Vec<(String, String)> {
    df.columns()
        .iter()
        .filter_map(|c| Some((c.name().to_string(), written_with_commas(c)?)))
        .collect()
}

/// Reads the header line of a CSV file (a UTF-8 byte-order mark is dropped).
pub fn csv_header(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::new(file));
    let headers = reader.byte_headers().map_err(|e| csv_error(path, e))?;
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(Error::Empty {
            path: path.to_owned(),
        });
    }
    let mut names = Vec::with_capacity(headers.len());
    for (i, raw) in headers.iter().enumerate() {
        let raw = if i == 0 {
            raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
        } else {
            raw
        };
        let name = std::str::from_utf8(raw).map_err(|_| Error::BadLine {
            path: path.to_owned(),
            line: 1,
            message: format!("column {} of the header is not valid UTF-8", i + 1),
        })?;
        let name = name.trim().to_owned();
        if names.contains(&name) {
            return Err(Error::DuplicateColumn {
                path: path.to_owned(),
                column: name,
            });
        }
        names.push(name);
    }
    // One field holding the separators of another dialect: say so, not "no column id".
    if let [only] = names.as_slice() {
        if let Some(sep) = [';', '\t', '|'].into_iter().find(|&c| only.contains(c)) {
            let shown = if sep == '\t' {
                "a tab".to_owned()
            } else {
                format!("`{sep}`")
            };
            return Err(Error::Invalid {
                path: path.to_owned(),
                message: format!(
                    "the header is one field ({only:?}): its names look separated by {shown}; \
                     riskscore reads comma-separated files (export with `,` between fields and \
                     `.` as the decimal point)"
                ),
            });
        }
    }
    Ok(names)
}

/// Checks that every expected column is present. Returns the columns of the file that are not
/// expected (the caller decides whether to warn).
pub fn check_columns(
    path: &Path,
    table: &str,
    present: &[String],
    expected: &[ColumnSpec],
) -> Result<Vec<String>> {
    let missing: Vec<String> = expected
        .iter()
        .filter(|c| !present.contains(&c.name))
        .map(|c| c.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingColumns {
            path: path.to_owned(),
            table: table.to_owned(),
            columns: missing,
        });
    }
    Ok(present
        .iter()
        .filter(|p| !expected.iter().any(|c| &c.name == *p))
        .cloned()
        .collect())
}

/// Reads the expected columns of a CSV or Parquet file, typed, in the order of `expected`.
/// Columns of the file that are not expected are skipped with a warning. A CSV record with
/// more or fewer fields than the header is refused, naming its line.
pub fn read_typed(path: &Path, table: &str, expected: &[ColumnSpec]) -> Result<DataFrame> {
    read_typed_checking(path, table, expected, true, &[], &[])
}

/// A single table's columns, as [`read_typed`] reads them, but for two things: the columns in
/// `left_out`, which the caller knows and does not use (those its pipeline left out, with their
/// reason, when it was fitted), are skipped without a warning, and pandas' missing-value markers
/// ([`PANDAS_MISSING`]) are missing values.
pub fn read_single_table(
    path: &Path,
    expected: &[ColumnSpec],
    left_out: &[String],
) -> Result<DataFrame> {
    read_typed_checking(path, "input", expected, true, left_out, &PANDAS_MISSING)
}

/// [`read_single_table`] on a second read of a file ([`read_typed_again`]'s).
pub fn read_single_table_again(path: &Path, expected: &[ColumnSpec]) -> Result<DataFrame> {
    read_typed_checking(path, "input", expected, false, &[], &PANDAS_MISSING)
}

/// As [`read_typed`], for a file this process has already read whole through [`read_typed`]
/// or the feature pipeline's scanner, which checked every record's width and warned of the
/// columns it did not expect: neither is done again (a second read of some of its columns, such
/// as the clients' raw fields without the target, is not a file with unexpected columns).
pub fn read_typed_again(path: &Path, table: &str, expected: &[ColumnSpec]) -> Result<DataFrame> {
    read_typed_checking(path, table, expected, false, &[], &[])
}

/// [`read_typed`] on the `first` read of a file, [`read_typed_again`] on a later one.
fn read_typed_checking(
    path: &Path,
    table: &str,
    expected: &[ColumnSpec],
    first: bool,
    left_out: &[String],
    missing: &[&str],
) -> Result<DataFrame> {
    if is_parquet(path) {
        return read_parquet_typed(path, table, expected, first, left_out);
    }
    let header = csv_header(path)?;
    if first {
        crate::widths::check(path, header.len())?;
    }
    let mut extra = check_columns(path, table, &header, expected)?;
    extra.retain(|c| !left_out.contains(c));
    if first && !extra.is_empty() {
        tracing::warn!(file = %path.display(), columns = ?extra, "ignoring unexpected columns");
    }
    let schema: Schema = header
        .iter()
        .map(|name| {
            let dtype = expected
                .iter()
                .find(|c| &c.name == name)
                .map_or(DataType::String, |c| c.kind.dtype());
            Field::new(name.as_str().into(), dtype)
        })
        .collect();
    let selection: Vec<Expr> = expected.iter().map(|c| col(c.name.as_str())).collect();
    let nulls = (!missing.is_empty()).then(|| null_values(missing));
    let result = LazyCsvReader::new(PlRefPath::from(path_str(path)?))
        .with_has_header(true)
        .with_schema(Some(Arc::new(schema)))
        .with_raise_if_empty(true)
        .with_null_values(nulls)
        .finish()
        .and_then(|lf| lf.select(selection).collect());
    match result {
        Ok(df) => Ok(df),
        Err(err) => Err(diagnose_csv(path, &header, expected, missing)?
            .unwrap_or_else(|| Error::polars(path.display().to_string())(err))),
    }
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| Error::Invalid {
        path: path.to_owned(),
        message: "the path is not valid UTF-8".into(),
    })
}

fn read_parquet_typed(
    path: &Path,
    table: &str,
    expected: &[ColumnSpec],
    first: bool,
    left_out: &[String],
) -> Result<DataFrame> {
    check_parquet_types(path)?;
    let context = path.display().to_string();
    let mut lf = LazyFrame::scan_parquet(PlRefPath::from(path_str(path)?), Default::default())
        .map_err(Error::polars(context.clone()))?;
    let schema = lf
        .collect_schema()
        .map_err(Error::polars(context.clone()))?;
    let present: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let mut extra = check_columns(path, table, &present, expected)?;
    extra.retain(|c| !left_out.contains(c));
    if first && !extra.is_empty() {
        tracing::warn!(file = %path.display(), columns = ?extra, "ignoring unexpected columns");
    }
    for spec in expected {
        let Some(found) = schema.get(spec.name.as_str()) else {
            continue;
        };
        let ok = match spec.kind {
            // pandas writes a `category` column as a dictionary (read as a categorical), a
            // boolean as a boolean and dates as dates: each read as its text.
            Kind::Cat => {
                matches!(found, DataType::String | DataType::Null | DataType::Boolean)
                    || read_as_text(found)
            }
            Kind::Id => found.is_integer() || found.is_null(),
            Kind::Num => {
                found.is_primitive_numeric()
                    || found.is_bool()
                    || found.is_null()
                    || matches!(found, DataType::Duration(_))
                    || found.is_decimal()
            }
        };
        if !ok {
            return Err(Error::BadColumnType {
                path: path.to_owned(),
                column: spec.name.clone(),
                found: found.to_string(),
                expected: spec.kind.dtype().to_string(),
            });
        }
    }
    let selection: Vec<Expr> = expected
        .iter()
        .map(|c| {
            let column = col(c.name.as_str());
            match (c.kind, schema.get(c.name.as_str())) {
                (Kind::Num, Some(DataType::Duration(unit))) => days(column, *unit),
                _ => column.strict_cast(c.kind.dtype()),
            }
        })
        .collect();
    lf.select(selection)
        .collect()
        .map_err(Error::polars(context))
}

/// [`read_inferred`], its column types made plain (a `category` column as its text, a
/// duration as days, a decimal as a float, a date or a time as its text): the table `explore`
/// and `binning` analyse. A column without a name in the header (pandas' index written without
/// `index=False`, R's row names) is a row number: left out with a warning, as training leaves
/// it out (its information value would be the row order's).
pub fn read_plain(path: &Path) -> Result<DataFrame> {
    let df = read_inferred(path)?;
    let unnamed: Vec<PlSmallStr> = df
        .get_column_names()
        .into_iter()
        .filter(|n| n.trim().is_empty())
        .cloned()
        .collect();
    for _ in &unnamed {
        tracing::warn!(
            file = %path.display(),
            "a column without a name in the header left out (a row number, such as pandas' \
             index written without index=False)"
        );
    }
    plain_types(df.drop_many(unnamed), &path.display().to_string())
}

/// A table of pandas' own column types made plain for the analyses that know numbers and text
/// (`explore`, `binning`): a `category` column (a Parquet dictionary) as its text, a duration
/// as a number of days, a decimal as a float, a date or a time as its text. Other columns as
/// they are.
fn plain_types(df: DataFrame, context: &str) -> Result<DataFrame> {
    let selection: Vec<Expr> = df
        .columns()
        .iter()
        .map(|c| {
            let column = col(c.name().clone());
            match c.dtype() {
                DataType::Duration(unit) => days(column, *unit),
                d if read_as_text(d) => column.strict_cast(DataType::String),
                d if d.is_decimal() => column.strict_cast(DataType::Float64),
                _ => column,
            }
        })
        .collect();
    df.lazy()
        .select(selection)
        .collect()
        .map_err(Error::polars(context.to_owned()))
}

/// The types pandas writes to Parquet that riskscore reads as their text: a `category` column
/// (a dictionary, read as a categorical), dates, times.
fn read_as_text(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Categorical(..)
            | DataType::Enum(..)
            | DataType::Date
            | DataType::Datetime(..)
            | DataType::Time
    )
}

/// A duration column (pandas' `timedelta`, a loan's term) as a number of days.
fn days(column: Expr, unit: TimeUnit) -> Expr {
    let per_day = 86_400.0
        * match unit {
            TimeUnit::Nanoseconds => 1e9,
            TimeUnit::Microseconds => 1e6,
            TimeUnit::Milliseconds => 1e3,
        };
    column
        .strict_cast(DataType::Int64)
        .strict_cast(DataType::Float64)
        / lit(per_day)
}

/// Scans a CSV file that polars refused and returns the first precise problem found.
pub(crate) fn diagnose_csv(
    path: &Path,
    header: &[String],
    expected: &[ColumnSpec],
    missing: &[&str],
) -> Result<Option<Error>> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let kinds: Vec<Option<Kind>> = header
        .iter()
        .map(|h| expected.iter().find(|c| &c.name == h).map(|c| c.kind))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(BufReader::new(file));
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Ok(Some(csv_error(path, e))),
        }
        for (i, field) in record.iter().enumerate() {
            let Some(kind) = kinds.get(i).copied().flatten() else {
                continue;
            };
            let marker = missing.iter().any(|m| m.as_bytes() == field);
            if let Some(expected) = bad_field(field, kind).filter(|_| !marker) {
                return Ok(Some(Error::BadValue {
                    path: path.to_owned(),
                    line: line_of(path, record.position()),
                    column: header[i].clone(),
                    value: String::from_utf8_lossy(field).into_owned(),
                    expected,
                }));
            }
        }
    }
}

/// The line number (1-based) of byte `offset` of a file.
pub(crate) fn line_at(path: &Path, offset: u64) -> Result<u64> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(offset).read_to_end(&mut bytes))
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(memchr::memchr_iter(b'\n', &bytes).count() as u64 + 1)
}

/// The line (1-based) of a record. After a CRLF line end the `csv` crate starts the next
/// record at the `\n` (its line count is then one short), so the newlines are counted up to
/// and including the record's first byte: a record never starts with a `\n` of its own.
fn line_of(path: &Path, pos: Option<&csv::Position>) -> u64 {
    pos.map_or(0, |p| line_at(path, p.byte() + 1).unwrap_or(p.line()))
}

/// Why a raw CSV field does not fit its column kind, if it does not.
fn bad_field(field: &[u8], kind: Kind) -> Option<&'static str> {
    let Ok(text) = std::str::from_utf8(field) else {
        return Some("UTF-8 text");
    };
    if text.is_empty() {
        return None;
    }
    match kind {
        Kind::Cat => None,
        Kind::Id => text.parse::<i64>().is_err().then_some("an integer id"),
        Kind::Num => text.parse::<f64>().is_err().then_some("a number"),
    }
}

fn csv_error(path: &Path, err: csv::Error) -> Error {
    let line = line_of(path, err.position());
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("found {len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => format!("field {} is not valid UTF-8", err.field() + 1),
        _ => err.to_string(),
    };
    Error::BadLine {
        path: path.to_owned(),
        line,
        message,
    }
}

/// Finds `stem.csv` or `stem.parquet` in a folder.
pub fn find_table_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["csv", "parquet", "CSV", "PARQUET"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .find(|p| p.is_file())
}

/// Reads bytes of a whole small file (used for dictionaries and fixtures).
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table read for `explore`, `drift` or `binning` is named as every reader names it: no
    /// spaces around the names, no byte-order mark; pandas' missing-value markers are missing.
    #[test]
    fn an_inferred_table_is_named_as_every_reader_names_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "\u{feff}id, target ,x\n1, 0,NA\n2, 1,2.5\n").expect("write");
        let df = read_inferred(&path).expect("read");
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["id", "target", "x"]);
        let x: Vec<Option<f64>> = df
            .column("x")
            .expect("x")
            .f64()
            .expect("f64")
            .iter()
            .collect();
        assert_eq!(x, [None, Some(2.5)]);
    }

    /// pandas' index written without `index=False` is not analysed as a column.
    #[test]
    fn a_plain_table_leaves_out_a_column_without_a_name() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, ",id,target\n0,10,0\n1,11,1\n2,12,0\n").expect("write");
        let df = read_plain(&path).expect("read");
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["id", "target"]);
        assert_eq!(df.height(), 3);
    }

    #[test]
    fn dates_and_times_as_files_write_them() {
        for d in [
            "2024-03-15",
            "2024/3/5",
            "15/03/2024",
            "15.03.2024",
            "2024-03-15T09:30",
            "2024-03-15 09:30:00.000000",
            "2024-03-15T09:30:00Z",
            "2024-03-15T09:30:00-05:00",
            "09:30:00",
        ] {
            assert!(date_like(d), "{d}");
        }
        for not in [
            "",
            "2024",
            "20240315",
            "15-03",
            "A-B-C",
            "1,200",
            "2024-03-15 noon",
            "Tuesday",
            "9:30",
            "12:30:61.x",
            "1.5.2",
            "2024-03-15T",
        ] {
            assert!(!date_like(not), "{not}");
        }
    }

    #[test]
    fn numbers_written_with_commas() {
        for n in ["2500,50", "1,200,000", "-3,5"] {
            assert!(comma_number(n), "{n}");
        }
        for not in ["2500", "2500.50", ",5", "5,", "a,b", "1,2a", "-", ""] {
            assert!(!comma_number(not), "{not}");
        }
    }

    fn header_of(text: &str) -> Result<Vec<String>> {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).expect("write");
        csv_header(&path)
    }

    /// A file exported with `;` (a European spreadsheet's CSV) or tabs is named as such, not
    /// read as one column; a one-column file is a one-column file.
    #[test]
    fn a_header_of_another_dialect_is_named() {
        for (text, shown) in [
            ("id;target;x\n1;0;2,5\n", "`;`"),
            ("id\ttarget\tx\n1\t0\t2.5\n", "a tab"),
            ("id|target|x\n1|0|2.5\n", "`|`"),
        ] {
            let err = header_of(text).expect_err(text).to_string();
            assert!(
                err.contains("the header is one field")
                    && err.contains(&format!("look separated by {shown}")),
                "{err}"
            );
        }
        assert_eq!(header_of("id\n1\n").expect("one column"), ["id"]);
        assert_eq!(
            header_of("\"a;b\",c\n1,2\n").expect("a name with ; among others"),
            ["a;b", "c"]
        );
    }
}
