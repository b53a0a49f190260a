//! `riskscore train`'s tracking options and signal handling; the tracking itself is
//! [`riskscore_tracking::training`].

use std::path::PathBuf;

use anyhow::Result;
use riskscore_tracking::training::Session;
use riskscore_tracking::{Status, Target};

/// The tracking options shared by `train` and `register`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrackingArgs {
    /// MLflow tracking server (http://host:port). Without it, runs go to --local-runs.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub tracking_uri: Option<String>,
    /// MLflow experiment, created when missing.
    #[arg(long, env = "MLFLOW_EXPERIMENT_NAME", default_value = "riskscore")]
    pub experiment: String,
    /// The local run directory (MLflow's file layout): where runs go without a tracking server,
    /// and where they are kept if the server fails.
    #[arg(long, env = "RISKSCORE_LOCAL_RUNS", default_value = "mlruns")]
    pub local_runs: PathBuf,
}

impl TrackingArgs {
    pub fn target(&self) -> Result<Target> {
        Ok(
            match self.tracking_uri.as_deref().filter(|u| !u.is_empty()) {
                Some(uri) => Target::parse(uri)?,
                None => Target::Dir(self.local_runs.clone()),
            },
        )
    }
}

/// The MLflow server of MLFLOW_TRACKING_URI, for an option that reads from it (`option` names
/// it in the error when the variable is not set).
pub fn server_from_env(option: &str) -> Result<riskscore_tracking::rest::Rest> {
    use anyhow::Context;
    let uri = std::env::var("MLFLOW_TRACKING_URI")
        .ok()
        .filter(|u| !u.is_empty())
        .with_context(|| format!("{option} needs MLFLOW_TRACKING_URI (the MLflow server)"))?;
    Ok(riskscore_tracking::rest::Rest::new(&uri)?)
}

/// The git commit riskscore was built from, when known.
pub fn git_commit() -> Option<&'static str> {
    option_env!("RISKSCORE_GIT_COMMIT").filter(|c| !c.is_empty())
}

/// Ends the open runs FAILED and exits 130 on Ctrl-C or SIGTERM. The handlers are in place
/// when this returns.
#[cfg(unix)]
pub fn end_on_signal(session: &Session) {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!("no signal handler for the tracking runs: {e}");
            return;
        }
    };
    let streams = {
        let _in_runtime = rt.enter();
        signal(SignalKind::interrupt()).and_then(|i| Ok((i, signal(SignalKind::terminate())?)))
    };
    let (mut interrupt, mut terminate) = match streams {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("no signal handler for the tracking runs: {e}");
            return;
        }
    };
    let session = session.clone();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let which = rt.block_on(async {
                tokio::select! {
                    _ = interrupt.recv() => "interrupt",
                    _ = terminate.recv() => "terminate",
                }
            });
            eprintln!("riskscore train: {which} signal; marking the MLflow runs FAILED");
            if let Err(e) = session.end_open(Status::Failed) {
                eprintln!("error: ending the runs: {e}");
            }
            std::process::exit(130);
        });
    if let Err(e) = spawned {
        tracing::warn!("no signal handler for the tracking runs: {e}");
    }
}

/// Signals end the process without marking the runs (no Unix signals here).
#[cfg(not(unix))]
pub fn end_on_signal(session: &Session) {}
