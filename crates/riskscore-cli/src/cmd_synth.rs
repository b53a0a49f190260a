use std::path::PathBuf;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// 1.0 gives the row counts of the real Kaggle files (307,511 training applications).
    #[arg(long, default_value_t = 0.01)]
    scale: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder (created if needed).
    #[arg(long, short)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let _ = args;
    anyhow::bail!("not yet")
}
