//! Synthetic data in the Home Credit layout, at any scale (1.0 gives the real row counts).
//!
//! Each column's marginal comes from a profile of the public sample (`profile.rs`: quantiles,
//! category frequencies, missing rates). Values are drawn through a Gaussian copula: every
//! applicant has two latent risks, `z_app` (seen by the application columns, loaded by their
//! rank correlation with TARGET in the sample) and `z_hist` (seen only by the history tables:
//! overdue bureau credit, late instalments, days past due, refused applications). The default
//! flag depends on both, so a model that reads the history tables beats one that reads the
//! application alone. Every applicant has its own random stream: the output depends on the seed
//! and the scale only, not on the number of threads.

mod csvout;
mod people;
mod profile;
pub mod rng;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::schema::Table;

pub use rng::{phi, sigmoid, Rng};

/// The real row counts of the Kaggle files (scale 1.0).
pub const TRAIN_ROWS: u64 = 307_511;
pub const TEST_ROWS: u64 = 48_744;
/// The share of defaults in application_train.
pub const DEFAULT_RATE: f64 = 0.0807;

/// A column's marginal distribution in the sample.
#[derive(Debug)]
pub(crate) enum Dist {
    /// 33 quantiles (0, 1/32, ..., 1) of a continuous column.
    Quantiles(&'static [f64]),
    /// A few distinct values with their frequencies.
    Discrete(&'static [(f64, f64)]),
    /// Categories with frequencies, ordered from the lowest to the highest default rate.
    Categories(&'static [(&'static str, f64)]),
}

#[derive(Debug)]
pub(crate) struct ColumnProfile {
    pub name: &'static str,
    pub missing: f64,
    /// 0: written as an integer; otherwise the most decimals written.
    pub decimals: u8,
    /// Rank correlation with TARGET in the sample.
    pub rho: f64,
    pub dist: Dist,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub scale: f64,
    pub seed: u64,
    pub out: PathBuf,
}

/// Row counts written per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynthSummary {
    pub rows: Vec<(Table, u64)>,
    pub defaults: u64,
}

impl SynthConfig {
    pub fn applicants(&self) -> (u64, u64) {
        let train = ((TRAIN_ROWS as f64 * self.scale).round() as u64).max(20);
        let test = ((TEST_ROWS as f64 * self.scale).round() as u64).max(1);
        (train, test)
    }
}

/// Output buffers of one chunk of applicants, one per table, in `Table::ALL` order.
type Chunk = [Vec<u8>; 8];

const CHUNK: usize = 2048;

/// Writes the seven tables (eight files) as CSV into `config.out`, reporting progress through
/// `progress(applicants done, applicants total)`.
pub fn generate(
    config: &SynthConfig,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SynthSummary> {
    if !(config.scale > 0.0 && config.scale <= 100.0) {
        return Err(Error::Invalid {
            path: config.out.clone(),
            message: format!("scale must be in (0, 100], got {}", config.scale),
        });
    }
    std::fs::create_dir_all(&config.out).map_err(|source| Error::Io {
        path: config.out.clone(),
        source,
    })?;
    let (train, test) = config.applicants();
    let plan = people::Plan::new(config.seed, train, test);
    let mut writers = open_writers(&config.out)?;
    let n_chunks = plan.len().div_ceil(CHUNK);
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let mut summary = SynthSummary::default();
    let mut counts = [0u64; 8];
    let written = std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<(usize, Chunk, people::Tally)>(threads * 2);
        for _ in 0..threads {
            let tx = tx.clone();
            let (plan, next) = (&plan, &next);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n_chunks {
                    break;
                }
                let range = i * CHUNK..((i + 1) * CHUNK).min(plan.len());
                let (chunk, tally) = plan.chunk(range);
                if tx.send((i, chunk, tally)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut expected = 0;
        for (i, chunk, tally) in rx {
            pending.insert(i, (chunk, tally));
            while let Some((chunk, tally)) = pending.remove(&expected) {
                for ((path, w), buf) in writers.iter_mut().zip(chunk.iter()) {
                    w.write_all(buf).map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                }
                for (c, n) in counts.iter_mut().zip(tally.rows) {
                    *c += n;
                }
                summary.defaults += tally.defaults;
                expected += 1;
                progress((expected * CHUNK).min(plan.len()) as u64, plan.len() as u64);
            }
        }
        Ok(())
    });
    written?;
    for (path, w) in &mut writers {
        w.flush().map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
    }
    summary.rows = Table::ALL.iter().copied().zip(counts).collect();
    Ok(summary)
}

fn open_writers(dir: &Path) -> Result<Vec<(PathBuf, BufWriter<File>)>> {
    Table::ALL
        .iter()
        .map(|t| {
            let path = dir.join(format!("{}.csv", t.stem()));
            let file = File::create(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let header: Vec<&str> = t.columns().iter().map(|(n, _)| *n).collect();
            w.write_all(header.join(",").as_bytes())
                .and_then(|_| w.write_all(b"\n"))
                .map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
            Ok((path, w))
        })
        .collect()
}
