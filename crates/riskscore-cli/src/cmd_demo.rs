//! `riskscore demo`: the whole flow on built-in synthetic data (or on a given folder), so that
//! a newcomer sees every stage run once: data, the exploratory report, features, training with
//! a short search and its report, the drift of the new applicants against the training sample,
//! then the scoring server on the model.

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
    /// Port of the server started at the end (the platform's $PORT).
    #[arg(long, env = "PORT", default_value_t = 8000)]
    port: u16,
    /// Stop after the reports, without starting the server.
    #[arg(long)]
    no_serve: bool,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    if let Some(dir) = &args.data {
        crate::table_args::must_exist(dir, "--data")?;
    }
    if !args.no_serve {
        // The port is tried before minutes of work, not found in use at their end.
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
        std::net::TcpListener::bind(addr).with_context(|| {
            format!(
                "port {}: cannot listen on {addr} (give another with --port, or --no-serve)",
                args.port
            )
        })?;
    }
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
    let eda = args.out.join("eda.html");
    println!("2. exploratory report -> {}", eda.display());
    let explored = riskscore_explore::explore_home_credit(&data, &|_, _, _| {})?;
    std::fs::write(&eda, riskscore_explore::report::render(&explored))
        .with_context(|| format!("writing {}", eda.display()))?;
    println!(
        "   {} tables, {} anomalies, default rate {:.2} %",
        explored.tables.len(),
        explored.anomalies.len(),
        100.0 * explored.target.as_ref().map_or(0.0, |t| t.rate)
    );
    let features = args.out.join("features.parquet");
    println!("3. features -> {}", features.display());
    let folder = Folder::new(&data)?;
    let (pipeline, rows, report) = FeaturePipeline::fit_home_credit_to_parquet(&folder, &features)?;
    let pipeline_path = pipeline_path_for(&features);
    pipeline.save(&pipeline_path)?;
    println!(
        "   {} applicants x {} features; pipeline {}; {} orphan-key note(s)",
        rows,
        pipeline.features.len(),
        pipeline_path.display(),
        report.orphans.len()
    );
    let model = args.out.join("model");
    println!(
        "4. training: class weights, 3 folds, {} search trials -> {}",
        args.trials,
        model.display()
    );
    let frame = riskscore_data::read::read_inferred(&features)?;
    // Short on purpose: ready in about two minutes on two cores. A real run compares the four
    // imbalance strategies, uses 5 folds, a smaller learning rate and the logistic baseline.
    let cfg = TrainConfig {
        folds: 3,
        imbalance: Some(riskscore_model::Strategy::ClassWeight),
        lgbm: riskscore_model::LgbmParams {
            learning_rate: 0.1,
            max_rounds: 300,
            early_stopping_rounds: 30,
            ..riskscore_model::LgbmParams::default()
        },
        trials: args.trials,
        time_budget: Some(std::time::Duration::from_secs(45)),
        bootstrap: 50,
        skip_baseline: true,
        ..TrainConfig::default()
    };
    let (_, s) = train_to_bundle(&frame, &pipeline, &cfg, &model)?;
    println!(
        "   CV AUC {:.4} ± {:.4}, threshold {:.4}, cost per client {:.4} (strategy {}, calibration {})",
        s.cv_auc, s.cv_auc_std, s.threshold, s.cost_per_client, s.strategy, s.calibration
    );
    println!("   training report: {}", s.report);
    let drift = args.out.join("drift.html");
    println!(
        "5. drift of the new applicants (application_test) against the training sample -> {}",
        drift.display()
    );
    let d = drift_of_new_applicants(&frame, &model)?;
    std::fs::write(
        &drift,
        riskscore_drift::report::render(
            &d,
            "the model's training sample",
            "application_test, scored by the model",
        ),
    )
    .with_context(|| format!("writing {}", drift.display()))?;
    println!(
        "   {} of {} columns drifted; data set drift {}",
        d.drifted,
        d.tested,
        if d.dataset_drift { "yes" } else { "no" }
    );
    let pack = args.out.join("pack");
    let mut inputs = crate::cmd_document::inputs(&model, "credit-default (demo)")?;
    inputs.drift = Some(serde_json::to_value(&d)?);
    let (doc, card) = riskscore_explain::document::write(&inputs, &pack)?;
    println!(
        "6. the model's documentation pack -> {}, {}",
        doc.display(),
        card.display()
    );
    println!(
        "reports ready in {:.1} s: {}, {}, {}, {}",
        started.elapsed().as_secs_f64(),
        eda.display(),
        s.report,
        drift.display(),
        doc.display()
    );
    if args.no_serve {
        return Ok(());
    }
    serve(&args, &data, &model)
}

/// The rows without a label (the new applicants), scored, against the bundle's training sample.
fn drift_of_new_applicants(
    frame: &polars::prelude::DataFrame,
    model: &std::path::Path,
) -> Result<riskscore_drift::DataDrift> {
    use polars::prelude::{col, IntoLazy};
    let bundle = riskscore_model::ModelBundle::load(model)?;
    let target = bundle.pipeline.target.clone();
    let new = frame
        .clone()
        .lazy()
        .filter(col(target.as_str()).is_null())
        .collect()?;
    if new.height() == 0 {
        anyhow::bail!("the data has no new applicants (rows without {target}) to compare");
    }
    let new = crate::cmd_drift::with_probability(&bundle, new)?;
    let reference = crate::cmd_drift::training_sample(model)?;
    Ok(riskscore_drift::drift_frames(
        &reference,
        &new,
        &[bundle.pipeline.id.clone(), target],
        "the model's training sample",
        "application_test",
    )?)
}

/// The scoring server on the model and the data, until Ctrl-C.
fn serve(args: &Args, data: &std::path::Path, model: &std::path::Path) -> Result<()> {
    use riskscore_server::{AppState, Journal, Location, Scorer, Settings};
    let journal = Journal::open(&Location::Sqlite(args.out.join("journal.sqlite")))?;
    let scorer = Scorer::load(model, data, 2)?;
    let some_client = scorer.population.ids.first().copied().unwrap_or_default();
    let state = AppState::new(scorer, journal, Settings::default());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let listener = runtime.block_on(riskscore_server::bind(addr))?;
    println!("7. serving on http://{addr}/ (Ctrl-C to stop)");
    println!("   dashboard:         http://{addr}/");
    println!("   API documentation: http://{addr}/docs");
    println!("   a score:           http://{addr}/v1/clients/{some_client}/score");
    println!("   drift of the scores journaled: http://{addr}/v1/drift?format=html");
    runtime.block_on(riskscore_server::serve(state, listener))?;
    Ok(())
}
