use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use polars::prelude::{DataFrame, DataType};
use riskscore_scorecard::{bin_all, BinningOptions, Column, Values};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A labelled table (CSV or Parquet).
    #[arg(long)]
    data: PathBuf,
    /// Its target column: 1 for a defaulter, 0 for a good client.
    #[arg(long)]
    target: String,
    /// Columns not to bin (e.g. the id), comma-separated.
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// A numeric column's special value, binned apart (e.g. DAYS_EMPLOYED=365243); repeatable.
    #[arg(long)]
    special: Vec<String>,
    /// Where to write the binning tables (CSV: characteristic, bin, counts, event rate, WoE, IV).
    #[arg(long, short)]
    out: PathBuf,
}

/// One column read for binning.
enum Data {
    Numbers(Vec<f64>),
    Texts(Vec<Option<String>>),
}

pub fn run(args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.data, "--data")?;
    let special = special_codes(&args.special)?;
    let df = riskscore_data::read::read_plain(&args.data)?;
    let y = outcomes(&df, &args.target)?;
    let (mut names, mut data) = (Vec::new(), Vec::new());
    for c in df.columns() {
        let name = c.name().to_string();
        if name == args.target || args.exclude.contains(&name) {
            continue;
        }
        let d = if c.dtype().is_primitive_numeric() || c.dtype().is_bool() {
            let v = c.cast(&DataType::Float64)?;
            Data::Numbers(v.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        } else {
            let v = c.cast(&DataType::String)?;
            Data::Texts(v.str()?.iter().map(|v| v.map(str::to_owned)).collect())
        };
        names.push(name);
        data.push(d);
    }
    for (col, _) in &special {
        if !names.contains(col) {
            bail!("--special {col}: no such column in {}", args.data.display());
        }
    }
    let started = std::time::Instant::now();
    let texts: Vec<Vec<Option<&str>>> = data
        .iter()
        .map(|d| match d {
            Data::Texts(v) => v.iter().map(Option::as_deref).collect(),
            Data::Numbers(_) => Vec::new(),
        })
        .collect();
    let mut binnings = Vec::with_capacity(names.len());
    // One column at a time where its special values differ; the rest on every core.
    let columns: Vec<Column> = names
        .iter()
        .zip(&data)
        .zip(&texts)
        .map(|((name, d), t)| Column {
            name,
            values: match d {
                Data::Numbers(v) => Values::Numeric(v),
                Data::Texts(_) => Values::Categorical(t),
            },
        })
        .collect();
    let plain: Vec<Column> = columns
        .iter()
        .filter(|c| !special.iter().any(|(s, _)| s == c.name))
        .copied()
        .collect();
    binnings.extend(bin_all(&plain, &y, &BinningOptions::default())?);
    for c in columns
        .iter()
        .filter(|c| special.iter().any(|(s, _)| s == c.name))
    {
        let options = BinningOptions {
            special: special
                .iter()
                .filter(|(s, _)| s == c.name)
                .map(|(_, v)| *v)
                .collect(),
            ..Default::default()
        };
        binnings.extend(bin_all(std::slice::from_ref(c), &y, &options)?);
    }
    let seconds = started.elapsed().as_secs_f64();
    std::fs::write(&args.out, riskscore_scorecard::sql::binning_csv(&binnings))
        .with_context(|| format!("writing {}", args.out.display()))?;
    binnings.sort_by(|a, b| b.iv.total_cmp(&a.iv));
    println!(
        "{} columns of {} rows binned in {seconds:.2} s -> {}",
        binnings.len(),
        y.len(),
        args.out.display()
    );
    for b in binnings.iter().take(10) {
        println!("  IV {:.4}  {} ({} bins)", b.iv, b.name, b.n_bins());
    }
    Ok(())
}

/// `COL=VALUE` pairs.
fn special_codes(items: &[String]) -> Result<Vec<(String, f64)>> {
    items
        .iter()
        .map(|item| {
            let (col, value) = item
                .split_once('=')
                .with_context(|| format!("--special {item}: expected COLUMN=VALUE"))?;
            let v: f64 = value
                .trim()
                .parse()
                .with_context(|| format!("--special {item}: {value:?} is not a number"))?;
            Ok((col.to_owned(), v))
        })
        .collect()
}

/// The target as 0/1, every row labelled, both classes present (a weight of evidence needs
/// defaulters and non-defaulters).
fn outcomes(df: &DataFrame, target: &str) -> Result<Vec<u8>> {
    let y = labels(df, target)?;
    let defaulters = y.iter().filter(|&&v| v == 1).count();
    if defaulters == 0 || defaulters == y.len() {
        bail!(
            "--target {target}: every one of the {} rows is {}: binning needs both 0 and 1",
            y.len(),
            u8::from(defaulters > 0)
        );
    }
    Ok(y)
}

fn labels(df: &DataFrame, target: &str) -> Result<Vec<u8>> {
    let c = df
        .column(target)
        .with_context(|| format!("--target {target}: no such column"))?;
    let v = c
        .cast(&DataType::Float64)
        .with_context(|| format!("--target {target}: not numeric"))?;
    v.f64()?
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Some(0.0) => Ok(0),
            Some(1.0) => Ok(1),
            Some(x) => bail!("--target {target}: row {} has {x}, not 0 or 1", i + 1),
            None => bail!("--target {target}: row {} has no value", i + 1),
        })
        .collect()
}
