//! Writing a wide feature matrix without holding it: each column is encoded and compressed to
//! Parquet pages as soon as it is final; the pages' bytes wait in an anonymous temporary file
//! (the page cache, not this process's memory) and the file (one row group) is written at the
//! end, when every column name is known.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::*;
use polars_parquet::parquet::compression::Compression;
use polars_parquet::parquet::metadata::Descriptor;
use polars_parquet::parquet::page::{DataPageHeader, DataPageHeaderV1, FormatEncoding};
use polars_parquet::parquet::schema::types::PrimitiveType;
use polars_parquet::parquet::statistics::ParquetStatistics;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, compress, to_parquet_type, CompressedDataPage, CompressedPage,
    CompressionOptions, DynIter, DynStreamingIterator, Encoding, FallibleStreamingIterator,
    ParquetType, StatisticsOptions, Version, WriteOptions,
};

use crate::error::{Error, Result};
use crate::home_credit::Out;

/// Columns waiting to be encoded together (one per core).
const ENCODE_TOGETHER: usize = 16;

/// The most memory kept in buffers given back (see [`Out::recycle`]): more than the running
/// statistics of the largest table and a batch of columns.
const KEEP_BYTES: usize = 1 << 30;

/// A column waiting to be encoded.
#[derive(Debug)]
enum Waiting {
    Column(Column),
    /// A Float64 column, NaN where missing, in a buffer to recycle.
    Floats(PlSmallStr, Vec<f64>),
}

impl Waiting {
    fn name(&self) -> &str {
        match self {
            Waiting::Column(c) => c.name(),
            Waiting::Floats(name, _) => name,
        }
    }

    fn len(&self) -> usize {
        match self {
            Waiting::Column(c) => c.len(),
            Waiting::Floats(_, v) => v.len(),
        }
    }
}

/// Reusable buffers of one encoding thread.
#[derive(Debug, Default)]
struct Scratch {
    plain: Vec<u8>,
    compressed: Vec<u8>,
}

/// Compressed Parquet pages of the columns pushed so far.
#[derive(Debug)]
pub(crate) struct PageSink {
    fields: Vec<Field>,
    /// Per column its pages, their bytes taken out into `spill`.
    pages: Vec<Vec<CompressedPage>>,
    /// Per column and page: where its bytes are in `spill`.
    places: Vec<Vec<(u64, usize)>>,
    spill: std::fs::File,
    /// Bytes written to `spill` (pages are written at offsets taken from it).
    spilled: AtomicU64,
    /// CPU seconds spent encoding, compressing and spilling.
    encoding_cpu: f64,
    waiting: Vec<Waiting>,
    rows: Option<usize>,
    options: WriteOptions,
    /// The Parquet type of a Float64 column.
    float_type: PrimitiveType,
    /// Buffers given back, for [`Out::buffer`].
    free: Vec<Vec<f64>>,
    scratch: Vec<Scratch>,
}

impl PageSink {
    pub fn new() -> Result<PageSink> {
        let field = Field::new("x".into(), DataType::Float64).to_arrow(CompatLevel::newest());
        let float_type = match to_parquet_type(&field).map_err(Error::polars("a float column"))? {
            ParquetType::PrimitiveType(t) => t,
            ParquetType::GroupType { .. } => {
                return Err(Error::Invalid(
                    "a float column is not a primitive type".into(),
                ))
            }
        };
        Ok(PageSink {
            fields: Vec::new(),
            pages: Vec::new(),
            places: Vec::new(),
            spill: tempfile::tempfile().map_err(|e| spill_error(&e))?,
            spilled: AtomicU64::new(0),
            encoding_cpu: 0.0,
            waiting: Vec::new(),
            rows: None,
            float_type,
            free: Vec::new(),
            scratch: Vec::new(),
            options: WriteOptions {
                // One row group: minimum and maximum could not skip any part of the file.
                statistics: StatisticsOptions {
                    min_value: false,
                    max_value: false,
                    ..StatisticsOptions::default()
                },
                version: Version::V1,
                // Snappy, as pandas writes: a third of the bytes for no more CPU (measured at
                // scale 1.0: uncompressed 1.41 GB / 4.8 s, LZ4 469 MB / 4.2 s, Snappy 465 MB /
                // 4.2 s to encode and hold the pages).
                compression: CompressionOptions::Snappy,
                data_page_size: None,
            },
        })
    }

    fn flush(&mut self) -> Result<()> {
        let before = riskscore_data::usage::cpu_seconds().unwrap_or(0.0);
        let result = self.encode_waiting();
        self.encoding_cpu += riskscore_data::usage::cpu_seconds().unwrap_or(0.0) - before;
        result
    }

    fn encode_waiting(&mut self) -> Result<()> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let columns = std::mem::take(&mut self.waiting);
        let options = self.options;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let per = columns.len().div_ceil(workers).max(1);
        let chunks = columns.len().div_ceil(per);
        self.scratch
            .resize_with(chunks.max(self.scratch.len()), Scratch::default);
        let (spill, spilled, float_type) = (&self.spill, &self.spilled, &self.float_type);
        type Encoded = Result<(Vec<CompressedPage>, Vec<(u64, usize)>)>;
        let encoded: Vec<Encoded> = std::thread::scope(|scope| {
            let handles: Vec<_> = columns
                .chunks(per)
                .zip(self.scratch.iter_mut())
                .map(|(chunk, scratch)| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|c| match c {
                                Waiting::Column(c) => encode(c, options)
                                    .map_err(Error::polars(format!("encoding {}", c.name())))
                                    .and_then(|mut pages| {
                                        let places = pages
                                            .iter_mut()
                                            .map(|p| spill_page(spill, spilled, p))
                                            .collect::<Result<_>>()?;
                                        Ok((pages, places))
                                    }),
                                Waiting::Floats(name, values) => {
                                    let page = encode_floats(values, float_type, scratch)
                                        .map_err(Error::polars(format!("encoding {name}")))?;
                                    let place = spill_bytes(spill, spilled, &scratch.compressed)?;
                                    Ok((vec![page], vec![place]))
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| vec![Err(Error::Invalid("encoding stopped".into()))])
                })
                .collect()
        });
        if encoded.len() != columns.len() {
            return Err(Error::Invalid("encoding a column stopped".into()));
        }
        for (column, result) in columns.into_iter().zip(encoded) {
            let (pages, places) = result?;
            match column {
                Waiting::Column(c) => self.fields.push(c.field().into_owned()),
                Waiting::Floats(name, values) => {
                    self.fields.push(Field::new(name, DataType::Float64));
                    self.recycle(values);
                }
            }
            self.pages.push(pages);
            self.places.push(places);
        }
        Ok(())
    }

    /// Puts the spilled bytes back into a column's pages.
    fn restore(&mut self, column: usize) -> Result<Vec<CompressedPage>> {
        let mut pages = std::mem::take(&mut self.pages[column]);
        let places = std::mem::take(&mut self.places[column]);
        let file = &self.spill;
        for (page, (at, len)) in pages.iter_mut().zip(places) {
            let Some(buffer) = page_buffer(page) else {
                continue;
            };
            if (at, len) == KEPT {
                continue;
            }
            let mut bytes = vec![0; len];
            file.read_exact_at(&mut bytes, at)
                .map_err(|e| spill_error(&e))?;
            *buffer = CowBuffer::Owned(bytes);
        }
        Ok(pages)
    }

    /// The names of the columns pushed.
    pub fn names(&mut self) -> Result<Vec<String>> {
        self.flush()?;
        Ok(self.fields.iter().map(|f| f.name().to_string()).collect())
    }

    /// Writes the file with the columns `select` (all when `None`), in that order.
    pub fn write(mut self, path: &Path, select: Option<&[String]>) -> Result<usize> {
        self.flush()?;
        self.free = Vec::new();
        let context = path.display().to_string();
        let order: Vec<usize> = match select {
            None => (0..self.fields.len()).collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    self.fields
                        .iter()
                        .position(|f| f.name().as_str() == n)
                        .ok_or_else(|| Error::Pipeline {
                            path: context.clone(),
                            message: format!("the data gives no column {n}"),
                        })
                })
                .collect::<Result<_>>()?,
        };
        let schema: Schema = order.iter().map(|&i| self.fields[i].clone()).collect();
        let file = std::fs::File::create(path).map_err(|e| Error::Pipeline {
            path: context.clone(),
            message: e.to_string(),
        })?;
        let rows = self.rows.unwrap_or(0);
        let writer = ParquetWriter::new(std::io::BufWriter::new(file))
            .with_compression(ParquetCompression::Snappy)
            .batched(&schema)
            .map_err(Error::polars(context.clone()))?;
        if rows > 0 {
            // One column's pages read back at a time, as the writer asks for them.
            let columns = order.iter().map(|&i| {
                let pages = self
                    .restore(i)
                    .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
                Ok(DynStreamingIterator::new(Restored {
                    pages: pages.into_iter(),
                    current: None,
                }))
            });
            writer
                .get_writer()
                .lock()
                .map_err(|_| Error::Invalid("the Parquet writer stopped".into()))?
                .write(rows as u64, DynIter::new(columns))
                .map_err(Error::polars(context.clone()))?;
        }
        writer.finish().map_err(Error::polars(context))?;
        tracing::debug!(
            cpu = format!("{:.1}", self.encoding_cpu),
            bytes = self.spilled.load(Ordering::Relaxed),
            "encoded and compressed the columns"
        );
        Ok(rows)
    }
}

/// A column's pages, handed to the writer one by one.
struct Restored {
    pages: std::vec::IntoIter<CompressedPage>,
    current: Option<CompressedPage>,
}

impl FallibleStreamingIterator for Restored {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> PolarsResult<()> {
        self.current = self.pages.next();
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}

fn encode(column: &Column, options: WriteOptions) -> PolarsResult<Vec<CompressedPage>> {
    let series = column.as_materialized_series().rechunk();
    let field = series.field().to_arrow(CompatLevel::newest());
    let array = series.to_arrow(0, CompatLevel::newest());
    // Plain values: dictionary encoding hashes every column to save ~3 % of the file
    // (measured at scale 1.0: 450 vs 465 MB, for 4 s of CPU).
    let encodings = vec![Encoding::Plain];
    let type_ = to_parquet_type(&field)?;
    let mut out = Vec::new();
    for pages in array_to_columns(&array, type_, options, &encodings)? {
        for page in pages {
            out.push(compress(page?, Vec::new(), options.compression)?);
        }
    }
    Ok(out)
}

/// A Float64 column (NaN: missing) as one Parquet V1 data page: the definition levels
/// bit-packed behind their length, the values present in plain encoding, compressed with
/// Snappy into `scratch.compressed`. The page returned has no bytes (they are in the scratch).
fn encode_floats(
    values: &[f64],
    float_type: &PrimitiveType,
    scratch: &mut Scratch,
) -> PolarsResult<CompressedPage> {
    let plain = &mut scratch.plain;
    plain.clear();
    let groups = values.len().div_ceil(8);
    let mut run = Vec::with_capacity(10);
    let mut header = ((groups as u64) << 1) | 1; // a bit-packed run of `groups` eights
    loop {
        let byte = (header & 0x7f) as u8;
        header >>= 7;
        if header == 0 {
            run.push(byte);
            break;
        }
        run.push(byte | 0x80);
    }
    let levels = run.len() + groups;
    plain.reserve(4 + levels + 8 * values.len());
    plain.extend_from_slice(&(levels as u32).to_le_bytes());
    plain.extend_from_slice(&run);
    let eights = values.chunks_exact(8);
    let rest = eights.remainder();
    plain.extend(eights.map(|eight| {
        let mut byte = 0u8;
        for (i, v) in eight.iter().enumerate() {
            byte |= u8::from(!v.is_nan()) << i;
        }
        byte
    }));
    if !rest.is_empty() {
        let mut byte = 0u8;
        for (i, v) in rest.iter().enumerate() {
            byte |= u8::from(!v.is_nan()) << i;
        }
        plain.push(byte);
    }
    // Every value written, the cursor moved past the present ones only (no branch per value).
    let start = plain.len();
    plain.resize(start + 8 * values.len(), 0);
    let mut at = start;
    for v in values {
        plain[at..at + 8].copy_from_slice(&v.to_le_bytes());
        at += 8 * usize::from(!v.is_nan());
    }
    plain.truncate(at);
    let nulls = (values.len() - (at - start) / 8) as i64;
    scratch.compressed.clear();
    polars_parquet::parquet::compression::compress(
        CompressionOptions::Snappy,
        plain,
        &mut scratch.compressed,
    )?;
    let header = DataPageHeader::V1(DataPageHeaderV1 {
        num_values: values.len() as i32,
        encoding: FormatEncoding::PLAIN,
        definition_level_encoding: FormatEncoding::RLE,
        repetition_level_encoding: FormatEncoding::RLE,
        // The null count only, as the other columns' pages (see `PageSink::new`).
        statistics: Some(ParquetStatistics {
            max: None,
            min: None,
            null_count: Some(nulls),
            distinct_count: None,
            max_value: None,
            min_value: None,
            is_max_value_exact: None,
            is_min_value_exact: None,
        }),
    });
    let descriptor = Descriptor {
        primitive_type: float_type.clone(),
        max_def_level: 0,
        max_rep_level: 0,
    };
    Ok(CompressedPage::Data(CompressedDataPage::new(
        header,
        CowBuffer::Owned(Vec::new()),
        Compression::Snappy,
        plain.len(),
        descriptor,
        values.len(),
    )))
}

/// Writes `bytes` at the end of the spill file; returns where they are.
fn spill_bytes(spill: &std::fs::File, spilled: &AtomicU64, bytes: &[u8]) -> Result<(u64, usize)> {
    let at = spilled.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    spill.write_all_at(bytes, at).map_err(|e| spill_error(&e))?;
    Ok((at, bytes.len()))
}

/// Moves a page's bytes to the spill file; returns where they are.
fn spill_page(
    spill: &std::fs::File,
    spilled: &AtomicU64,
    page: &mut CompressedPage,
) -> Result<(u64, usize)> {
    let Some(buffer) = page_buffer(page) else {
        return Ok(KEPT);
    };
    let bytes = std::mem::replace(buffer, CowBuffer::Owned(Vec::new()));
    spill_bytes(spill, spilled, &bytes)
}

impl PageSink {
    fn check_rows(&mut self, name: &str, len: usize) -> Result<()> {
        match self.rows {
            None => self.rows = Some(len),
            Some(n) if n != len => {
                return Err(Error::Invalid(format!(
                    "column {name} has {len} rows, the others {n}"
                )))
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn wait(&mut self, column: Waiting) -> Result<()> {
        self.check_rows(column.name(), column.len())?;
        self.waiting.push(column);
        if self.waiting.len() >= ENCODE_TOGETHER {
            self.flush()?;
        }
        Ok(())
    }
}

impl Out for PageSink {
    fn push(&mut self, column: Column) -> Result<()> {
        self.wait(Waiting::Column(column))
    }

    fn push_floats(&mut self, name: &str, values: Vec<f64>) -> Result<()> {
        self.wait(Waiting::Floats(name.into(), values))
    }

    /// The smallest buffer given back that holds `len` values.
    fn buffer(&mut self, len: usize) -> Vec<f64> {
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, v)| v.capacity() >= len)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let mut v = self.free.swap_remove(i);
                v.clear();
                v
            }
            None => Vec::with_capacity(len),
        }
    }

    fn recycle(&mut self, buffer: Vec<f64>) {
        let kept: usize = self.free.iter().map(|v| v.capacity() * 8).sum();
        if kept + buffer.capacity() * 8 <= KEEP_BYTES {
            self.free.push(buffer);
        }
    }
}

/// The bytes of a data page (dictionary pages, which plain encoding does not make, stay).
fn page_buffer(page: &mut CompressedPage) -> Option<&mut CowBuffer> {
    match page {
        CompressedPage::Data(p) => Some(p.slice_mut()),
        CompressedPage::Dict(_) => None,
    }
}

/// The place of a page that was not spilled.
const KEPT: (u64, usize) = (u64::MAX, 0);

fn spill_error(e: &std::io::Error) -> Error {
    Error::Pipeline {
        path: "a temporary file".into(),
        message: format!("cannot hold the encoded columns: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_pages_read_back_with_their_missing_values() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("out.parquet");
        // Lengths around the eight-value groups of the definition levels; missing values
        // first, last, everywhere and nowhere.
        let rows = 19;
        let columns: Vec<(&str, Vec<f64>)> = vec![
            (
                "some",
                (0..rows)
                    .map(|i| if i % 3 == 0 { f64::NAN } else { i as f64 / 7.0 })
                    .collect(),
            ),
            ("none", vec![f64::NAN; rows]),
            ("all", (0..rows).map(|i| -(i as f64) * 1e300).collect()),
            (
                "last",
                (0..rows)
                    .map(|i| if i + 1 == rows { f64::NAN } else { 0.5 })
                    .collect(),
            ),
        ];
        let mut sink = PageSink::new().expect("sink");
        sink.push(Column::new(
            "id".into(),
            (0..rows as i32).collect::<Vec<_>>(),
        ))
        .expect("push");
        for (name, values) in &columns {
            let mut buffer = sink.buffer(rows);
            buffer.extend_from_slice(values);
            sink.push_floats(name, buffer).expect("push");
        }
        assert_eq!(sink.write(&path, None).expect("write"), rows);
        let df = ParquetReader::new(std::fs::File::open(&path).expect("open"))
            .finish()
            .expect("read");
        assert_eq!(df.width(), 5);
        for (name, values) in &columns {
            let got: Vec<Option<f64>> = df
                .column(name)
                .expect("column")
                .f64()
                .expect("floats")
                .iter()
                .collect();
            let want: Vec<Option<f64>> =
                values.iter().map(|v| (!v.is_nan()).then_some(*v)).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn buffers_given_back_are_handed_out_again() {
        let mut sink = PageSink::new().expect("sink");
        sink.recycle(Vec::with_capacity(1000));
        sink.recycle(Vec::with_capacity(100));
        // The smallest that fits, then the other, then a new one.
        let first = sink.buffer(50);
        let second = sink.buffer(50);
        assert_eq!((first.capacity(), second.capacity()), (100, 1000));
        assert!(sink.buffer(2000).capacity() >= 2000);
    }
}
