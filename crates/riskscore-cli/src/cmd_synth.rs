use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use riskscore_data::synth::{generate, SynthConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// 1.0 gives the row counts of the real Kaggle files (307,511 training applications).
    #[arg(long, default_value_t = 0.01)]
    scale: f64,
    /// The same seed and scale always give the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder (created if needed).
    #[arg(long, short)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let config = SynthConfig {
        scale: args.scale,
        seed: args.seed,
        out: args.out.clone(),
    };
    let last = std::sync::atomic::AtomicU64::new(0);
    let progress = |done: u64, total: u64| {
        let pct = done * 10 / total.max(1);
        if pct > last.swap(pct, std::sync::atomic::Ordering::Relaxed) {
            tracing::info!(applicants = done, of = total, "generating");
        }
    };
    let summary = generate(&config, &progress)?;
    for (table, rows) in &summary.rows {
        println!("{:<24} {rows:>12} rows", format!("{table}.csv"));
    }
    let train = summary.rows.first().map_or(0, |(_, n)| *n);
    println!(
        "TARGET = 1 for {} of {train} training applicants ({:.2} %); {:.1} s -> {}",
        summary.defaults,
        100.0 * summary.defaults as f64 / train.max(1) as f64,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
