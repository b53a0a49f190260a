//! `riskscore demo`: the whole flow on built-in synthetic data (or on a given folder), so that
//! a newcomer sees every stage run once.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use riskscore_data::synth::{generate, SynthConfig};
use riskscore_data::Folder;
use riskscore_features::{pipeline_path_for, FeaturePipeline};
use riskscore_model::run::train_to_bundle;
use riskscore_model::TrainConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use this Home Credit folder instead of generating synthetic data.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where to write everything.
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
    /// Hyperparameter search trials (a short search by default).
    #[arg(long, default_value_t = 3)]
    trials: usize,
    /// Size of the synthetic data (1.0 = the real Kaggle row counts).
    #[arg(long, default_value_t = 0.02)]
    scale: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let data = match &args.data {
        Some(dir) => dir.clone(),
        None => {
            let dir = args.out.join("data");
            println!(
                "1. synthetic data (scale {}, seed {}) -> {}",
                args.scale,
                args.seed,
                dir.display()
            );
            let config = SynthConfig {
                scale: args.scale,
                seed: args.seed,
                out: dir.clone(),
            };
            let summary = generate(&config, &|_, _| {})?;
            let total: u64 = summary.rows.iter().map(|(_, n)| n).sum();
            println!("   {total} rows in 8 files, {} defaults", summary.defaults);
            dir
        }
    };
    let features = args.out.join("features.parquet");
    println!("2. features -> {}", features.display());
    let folder = Folder::new(&data)?;
    let (pipeline, matrix, report) = FeaturePipeline::fit_home_credit_lazy(&folder)?;
    matrix.write_parquet(&features)?;
    let pipeline_path = pipeline_path_for(&features);
    pipeline.save(&pipeline_path)?;
    println!(
        "   {} applicants x {} features; pipeline {}; {} orphan-key note(s)",
        matrix.rows(),
        pipeline.features.len(),
        pipeline_path.display(),
        report.orphans.len()
    );
    let model = args.out.join("model");
    println!(
        "3. training: 4 imbalance strategies compared, {} search trials -> {}",
        args.trials,
        model.display()
    );
    let frame = matrix.collect()?;
    let cfg = TrainConfig {
        trials: args.trials,
        time_budget: Some(std::time::Duration::from_secs(90)),
        ..TrainConfig::default()
    };
    let (_, s) = train_to_bundle(&frame, &pipeline, &cfg, &model)?;
    println!(
        "   CV AUC {:.4} ± {:.4}, threshold {:.4}, cost per client {:.4} (strategy {}, calibration {})",
        s.cv_auc, s.cv_auc_std, s.threshold, s.cost_per_client, s.strategy, s.calibration
    );
    println!("   training report: {}", s.report);
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
