//! `riskscore validate`: the coverage check of a training run's estimates on held-out splits.

use std::path::PathBuf;

use anyhow::{Context, Result};

use riskscore_model::data::TrainingData;
use riskscore_model::input;
use riskscore_model::validate;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data, as for `train`: a feature matrix, a Home Credit folder or one table (with --id
    /// and --target).
    #[arg(long)]
    data: PathBuf,
    /// Random held-out splits, each trained with the settings below.
    #[arg(long, default_value_t = 20)]
    splits: usize,
    /// Share of the rows held out in each split (stratified; seeded by --seed and the split).
    #[arg(long, default_value_t = 0.25)]
    test_share: f64,
    /// Print every split and the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: crate::cmd_train::TrainOptions,
    #[command(flatten)]
    table: crate::table_args::TableArgs,
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.options.config(0)?;
    cfg.check()?;
    validate::check(args.splits, args.test_share)?;
    crate::table_args::must_exist(&args.data, "--data")?;
    let opts = args.table.options();
    let (pipeline, frame) = input::load(&args.data, &opts)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let (frame, pipeline, cfg) = riskscore_model::run::prepare(&frame, &pipeline, &cfg)?;
    let data =
        TrainingData::from_frame(&frame, &pipeline.id, &pipeline.target, &pipeline.features)?;
    let coverage = validate::run(&data, &cfg, args.splits, args.test_share)
        .with_context(|| format!("validating on {}", args.data.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&coverage)?);
        return Ok(());
    }
    println!("split  method  held-out cost  95 % prediction interval  estimated  held-out AUC  estimated AUC");
    for s in &coverage.splits {
        println!(
            "{:>5}  {:<6}  {:>13.4}  [{:.4}, {:.4}] {:<7}  {:>9.4}  {:>12.4}  {:>13.4}",
            s.split + 1,
            s.method,
            s.held_out_cost,
            s.cost_low,
            s.cost_high,
            if s.covered { "inside" } else { "OUTSIDE" },
            s.estimated_cost,
            s.held_out_auc,
            s.estimated_auc
        );
    }
    let n = coverage.splits.len();
    let inside = coverage.splits.iter().filter(|s| s.covered).count();
    println!(
        "cost coverage: {inside}/{n} splits ({:.0} %) inside the 95 % prediction interval (goal: at least 90 %)",
        100.0 * coverage.cost_coverage
    );
    println!(
        "AUC: estimated minus held out {:+.4} ± {:.4} (mean ± standard error; goal: within ±0.005); {:.0} % inside the AUC interval",
        coverage.mean_auc_gap,
        coverage.auc_gap_se,
        100.0 * coverage.auc_coverage
    );
    println!(
        "cost per client: estimated minus held out {:+.4} ± {:.4}",
        coverage.mean_cost_gap, coverage.cost_gap_se
    );
    Ok(())
}
