//! Writing a wide feature matrix without holding it: each column is encoded and compressed to
//! Parquet pages as soon as it is final; the pages' bytes wait in an anonymous temporary file
//! (the page cache, not this process's memory) and the file (one row group) is written at the
//! end, when every column name is known.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use polars::prelude::*;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, compress, to_parquet_type, CompressedPage, CompressionOptions, Encoding,
    StatisticsOptions, Version, WriteOptions,
};

use crate::error::{Error, Result};
use crate::home_credit::Out;

/// Columns waiting to be encoded together (one per core).
const ENCODE_TOGETHER: usize = 16;

/// Compressed Parquet pages of the columns pushed so far.
#[derive(Debug)]
pub(crate) struct PageSink {
    fields: Vec<Field>,
    /// Per column its pages, their bytes taken out into `spill`.
    pages: Vec<Vec<CompressedPage>>,
    /// Per column and page: where its bytes are in `spill`.
    places: Vec<Vec<(u64, usize)>>,
    spill: Option<std::fs::File>,
    spilled: u64,
    /// CPU seconds spent encoding, compressing and spilling.
    encoding_cpu: f64,
    waiting: Vec<Column>,
    rows: Option<usize>,
    options: WriteOptions,
}

impl PageSink {
    pub fn new() -> PageSink {
        PageSink {
            fields: Vec::new(),
            pages: Vec::new(),
            places: Vec::new(),
            spill: None,
            spilled: 0,
            encoding_cpu: 0.0,
            waiting: Vec::new(),
            rows: None,
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
        }
    }

    fn flush(&mut self) -> Result<()> {
        let before = riskscore_data::usage::cpu_seconds().unwrap_or(0.0);
        let result = self.encode_waiting();
        self.encoding_cpu += riskscore_data::usage::cpu_seconds().unwrap_or(0.0) - before;
        result
    }

    fn encode_waiting(&mut self) -> Result<()> {
        let columns = std::mem::take(&mut self.waiting);
        let options = self.options;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let per = columns.len().div_ceil(workers).max(1);
        let encoded: Vec<PolarsResult<Vec<CompressedPage>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = columns
                .chunks(per)
                .map(|chunk| {
                    scope
                        .spawn(move || chunk.iter().map(|c| encode(c, options)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(PolarsError::ComputeError("encoding stopped".into()))]
                    })
                })
                .collect()
        });
        if encoded.len() != columns.len() {
            return Err(Error::Invalid("encoding a column stopped".into()));
        }
        for (column, pages) in columns.iter().zip(encoded) {
            let mut pages = pages.map_err(Error::polars(format!("encoding {}", column.name())))?;
            let mut places = Vec::with_capacity(pages.len());
            for page in &mut pages {
                places.push(self.spill_page(page)?);
            }
            self.fields.push(column.field().into_owned());
            self.pages.push(pages);
            self.places.push(places);
        }
        Ok(())
    }

    fn spill_file(&mut self) -> Result<&mut std::fs::File> {
        if self.spill.is_none() {
            self.spill = Some(tempfile::tempfile().map_err(|e| spill_error(&e))?);
        }
        self.spill
            .as_mut()
            .ok_or_else(|| Error::Invalid("no spill file".into()))
    }

    /// Moves a page's bytes to the end of the spill file; returns where they are.
    fn spill_page(&mut self, page: &mut CompressedPage) -> Result<(u64, usize)> {
        let Some(buffer) = page_buffer(page) else {
            return Ok(KEPT);
        };
        let bytes = std::mem::replace(buffer, CowBuffer::Owned(Vec::new()));
        let at = self.spilled;
        self.spill_file()?
            .write_all(&bytes)
            .map_err(|e| spill_error(&e))?;
        self.spilled += bytes.len() as u64;
        Ok((at, bytes.len()))
    }

    /// Puts the spilled bytes back into a column's pages.
    fn restore(&mut self, column: usize) -> Result<Vec<CompressedPage>> {
        let mut pages = std::mem::take(&mut self.pages[column]);
        let places = std::mem::take(&mut self.places[column]);
        let file = self.spill_file()?;
        for (page, (at, len)) in pages.iter_mut().zip(places) {
            let Some(buffer) = page_buffer(page) else {
                continue;
            };
            if (at, len) == KEPT {
                continue;
            }
            let mut bytes = vec![0; len];
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_exact(&mut bytes))
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
        let pages: Vec<Vec<CompressedPage>> = order
            .iter()
            .map(|&i| self.restore(i))
            .collect::<Result<_>>()?;
        let file = std::fs::File::create(path).map_err(|e| Error::Pipeline {
            path: context.clone(),
            message: e.to_string(),
        })?;
        let rows = self.rows.unwrap_or(0);
        let mut writer = ParquetWriter::new(std::io::BufWriter::new(file))
            .with_compression(ParquetCompression::Snappy)
            .batched(&schema)
            .map_err(Error::polars(context.clone()))?;
        if rows > 0 {
            writer
                .write_row_group(rows as u64, &pages)
                .map_err(Error::polars(context.clone()))?;
        }
        writer.finish().map_err(Error::polars(context))?;
        tracing::debug!(
            cpu = format!("{:.1}", self.encoding_cpu),
            bytes = self.spilled,
            "encoded and compressed the columns"
        );
        Ok(rows)
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

impl Out for PageSink {
    fn push(&mut self, column: Column) -> Result<()> {
        match self.rows {
            None => self.rows = Some(column.len()),
            Some(n) if n != column.len() => {
                return Err(Error::Invalid(format!(
                    "column {} has {} rows, the others {n}",
                    column.name(),
                    column.len()
                )))
            }
            Some(_) => {}
        }
        self.waiting.push(column);
        if self.waiting.len() >= ENCODE_TOGETHER {
            self.flush()?;
        }
        Ok(())
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
