use std::path::PathBuf;

use anyhow::{Context, Result};
use riskscore_model::predict::{score_path, write_csv};
use riskscore_model::{Decision, ModelBundle};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model bundle directory written by `riskscore train`.
    #[arg(long, env = "RISKSCORE_MODEL")]
    model: PathBuf,
    /// Raw data in the training layout: a Home Credit folder or a single CSV/Parquet table.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the scores (CSV: id, probability_raw, probability, decision, review).
    #[arg(long, short)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let bundle = ModelBundle::load(&args.model)?;
    let scores = score_path(&bundle, &args.data)
        .with_context(|| format!("scoring {}", args.data.display()))?;
    write_csv(&scores, &bundle.pipeline.id, &args.out)?;
    let refused = scores
        .iter()
        .filter(|s| s.decision == Decision::Refused)
        .count();
    println!(
        "{} clients scored, {refused} refused (threshold {:.4}) -> {}",
        scores.len(),
        bundle.manifest.threshold,
        args.out.display()
    );
    Ok(())
}
