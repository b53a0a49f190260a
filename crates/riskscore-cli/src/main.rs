//! The `riskscore` binary: argument handling, logging set-up and printing. The work is done by
//! the library crates.

mod cmd_bench_explain;
mod cmd_binning;
mod cmd_demo;
mod cmd_document;
mod cmd_drift;
mod cmd_explain;
mod cmd_explore;
mod cmd_fairness;
mod cmd_features;
mod cmd_journal;
mod cmd_monitor;
mod cmd_predict;
mod cmd_recourse;
mod cmd_register;
mod cmd_serve;
mod cmd_synth;
mod cmd_train;
mod cmd_validate;
mod table_args;
mod tracking;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Credit-default scoring: features, training, explanations, serving and drift in one binary.
#[derive(Debug, Parser)]
#[command(name = "riskscore", version, about)]
struct Cli {
    /// More log output (-v: debug, -vv: trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Benchmark: CBPE (estimated performance) on CSV files, as `scripts/cbpe_oracle.py` prints it.
    #[command(hide = true)]
    BenchCbpe(cmd_monitor::BenchArgs),
    /// Benchmark: TreeSHAP against LightGBM's pred_contrib on the same model and rows.
    BenchExplain(cmd_bench_explain::Args),
    /// Run the whole flow on built-in synthetic data (or --data DIR).
    Demo(cmd_demo::Args),
    /// The model's documentation pack: an HTML document for validators (purpose, data, method,
    /// performance, fairness, limitations, monitoring, approvals) and model_card.json.
    Document(cmd_document::Args),
    /// Data drift between a reference and a current data set (Evidently's tests, PSI).
    Drift(cmd_drift::Args),
    /// Exploratory report of raw data: missing values, anomalies, class balance, default rates,
    /// information values.
    Explore(cmd_explore::Args),
    /// Explain decisions with exact SHAP values: one client's reasons, or a whole portfolio.
    Explain(cmd_explain::Args),
    /// Fairness of a model's decisions on labelled data: by protected attribute and age band,
    /// with fairlearn's disparity measures, and Regulation B's age rule.
    Fairness(cmd_fairness::Args),
    /// Check the decision journal's hash chain.
    Journal(cmd_journal::Args),
    /// The served model's estimated (CBPE) and realized performance from its journal.
    Monitor(cmd_monitor::MonitorArgs),
    /// Outcomes as they mature: `outcomes import FILE.csv --journal LOC`.
    Outcomes(cmd_monitor::OutcomesArgs),
    /// Build the feature matrix of a Home Credit folder or of a single CSV/Parquet table.
    Features(cmd_features::Args),
    /// Optimal binning of every column of a labelled CSV (optbinning's defaults): the WoE and
    /// IV tables, the characteristics by information value.
    Binning(cmd_binning::Args),
    /// Score raw data with a model bundle (probability, decision, review flag per client).
    Predict(cmd_predict::Args),
    /// What refused applicants could change to be granted: the cheapest changes to at most K
    /// fields of the action set, searched exactly on the model's trees.
    Recourse(cmd_recourse::Args),
    /// Move a registered model's alias (`champion`) to a version: promote the challenger.
    Promote(cmd_register::PromoteArgs),
    /// Register a tracked run's model in the MLflow model registry and set an alias.
    Register(cmd_register::Args),
    /// Serve the scoring API (clients, scores, explanations, new applications, journal).
    Serve(cmd_serve::Args),
    /// Generate synthetic data in the Home Credit layout.
    Synth(cmd_synth::Args),
    /// Train LightGBM with cross-validation, a cost-based threshold and a search; write a model bundle.
    Train(Box<cmd_train::Args>),
    /// Check a training run's estimates on repeated held-out splits: coverage of the cost's 95 % prediction interval, AUC gap.
    Validate(Box<cmd_validate::Args>),
}

/// jemalloc for Rust's allocations (LightGBM's C++ keeps the system's): glibc's allocator raises
/// its mmap threshold as large buffers are freed, then keeps the pipeline's freed column buffers
/// in its arenas. `serve` from a full-size folder peaked at 2.2 GB with it, 1.9 GB with jemalloc,
/// in the same time; the scoring API 2-4 % faster; `features` 2-4 % more CPU (system time:
/// jemalloc gives pages back) for 3 % less memory (docs/performance.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::BenchCbpe(args) => cmd_monitor::bench(args),
        Command::BenchExplain(args) => cmd_bench_explain::run(args),
        Command::Demo(args) => cmd_demo::run(args),
        Command::Document(args) => cmd_document::run(args),
        Command::Drift(args) => cmd_drift::run(args),
        Command::Explain(args) => cmd_explain::run(args),
        Command::Explore(args) => cmd_explore::run(args),
        Command::Fairness(args) => cmd_fairness::run(args),
        Command::Features(args) => cmd_features::run(args),
        Command::Journal(args) => cmd_journal::run(args),
        Command::Monitor(args) => cmd_monitor::monitor(args),
        Command::Outcomes(args) => cmd_monitor::outcomes(args),
        Command::Binning(args) => cmd_binning::run(args),
        Command::Predict(args) => cmd_predict::run(args),
        Command::Recourse(args) => cmd_recourse::run(args),
        Command::Promote(args) => cmd_register::promote(args),
        Command::Register(args) => cmd_register::run(args),
        Command::Serve(args) => cmd_serve::run(args),
        Command::Synth(args) => cmd_synth::run(args),
        Command::Validate(args) => cmd_validate::run(*args),
        Command::Train(args) => cmd_train::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if cli.verbose > 0 {
                eprintln!("error: {err:#}\n\n{err:?}");
            } else {
                eprintln!("error: {}", brief(&err));
            }
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The error's chain in one line: each cause's first line, a library's own error (polars,
/// whose message carries its query plan) left to the cause that names the file and column,
/// a cause already said by the one before it left out. `-v` prints everything.
fn brief(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        if cause.downcast_ref::<polars::error::PolarsError>().is_some() {
            continue;
        }
        let line = riskscore_data::error::one_line(&cause.to_string());
        if line.is_empty() || parts.last().is_some_and(|p| p.contains(&line)) {
            continue;
        }
        parts.push(line);
    }
    parts.join(": ")
}

/// 1 for bad input or configuration, 2 for an internal failure.
fn exit_code(err: &anyhow::Error) -> u8 {
    let internal = err.chain().any(|e| {
        matches!(
            e.downcast_ref::<riskscore_features::Error>(),
            Some(riskscore_features::Error::Polars { .. })
        ) || e
            .downcast_ref::<riskscore_model::Error>()
            .is_some_and(|m| !m.is_input())
            || e.downcast_ref::<riskscore_server::Error>()
                .is_some_and(|s| !s.is_input())
            || matches!(
                e.downcast_ref::<riskscore_explore::Error>(),
                Some(riskscore_explore::Error::Internal(_))
            )
    });
    if internal {
        2
    } else {
        1
    }
}

/// Colour codes only for a terminal, and never when `NO_COLOR` is set to anything but an
/// empty string (no-color.org): a log redirected to a file stays plain text.
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .init();
}

#[cfg(test)]
mod tests {
    use super::colour;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }
}
