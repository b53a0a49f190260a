//! `riskscore register`: a tracked run's `model` artifact becomes a version of a registered
//! model in MLflow, with an alias (`champion` by default) that `serve --model models:/NAME@ALIAS`
//! loads.

use anyhow::{Context, Result};
use riskscore_tracking::rest::Rest;
use riskscore_tracking::{registry, Target};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The MLflow run whose `model` artifact is registered (printed by `riskscore train`).
    #[arg(long)]
    run_id: String,
    /// The registered model, created when missing.
    #[arg(long)]
    name: String,
    /// The alias pointed at the new version.
    #[arg(long, default_value = "champion")]
    alias: String,
    /// MLflow tracking server (http://host:port).
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    tracking_uri: String,
}

pub fn run(args: Args) -> Result<()> {
    let Target::Server(uri) = Target::parse(&args.tracking_uri)? else {
        anyhow::bail!(
            "the model registry needs an MLflow server (http:// or https://), not {:?}",
            args.tracking_uri
        );
    };
    let rest = Rest::new(&uri)?;
    let mv = registry::register(&rest, &args.name, &args.run_id, "model", Some(&args.alias))
        .with_context(|| format!("registering run {} as {:?}", args.run_id, args.name))?;
    println!(
        "registered models:/{}/{} (alias {:?}: models:/{}@{})",
        mv.name, mv.version, args.alias, mv.name, args.alias
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// The registered model.
    #[arg(long)]
    name: String,
    /// The version promoted (e.g. the challenger's).
    #[arg(long)]
    version: String,
    /// The alias moved to it.
    #[arg(long, default_value = "champion")]
    alias: String,
    /// MLflow tracking server (http://host:port).
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    tracking_uri: String,
}

/// `riskscore promote`: moves an alias (`champion`) to a version; a server started on
/// `models:/NAME@champion` serves it from its next start.
pub fn promote(args: PromoteArgs) -> Result<()> {
    let Target::Server(uri) = Target::parse(&args.tracking_uri)? else {
        anyhow::bail!(
            "the model registry needs an MLflow server (http:// or https://), not {:?}",
            args.tracking_uri
        );
    };
    let rest = Rest::new(&uri)?;
    let mv = registry::promote(&rest, &args.name, &args.version, &args.alias)
        .with_context(|| format!("promoting {:?} version {}", args.name, args.version))?;
    println!(
        "models:/{}@{} is now version {} (restart the servers on models:/{}@{} to serve it)",
        mv.name, args.alias, mv.version, mv.name, args.alias
    );
    Ok(())
}
