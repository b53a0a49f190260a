//! What a tracking store does: the MLflow server ([`crate::rest::RestStore`]) and the local run
//! directory ([`crate::file::FileStore`]) both implement it.

use std::path::Path;

use crate::error::Result;

/// A metric value at a step (a fold, a boosting round, a trial).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub step: i64,
    pub timestamp: i64,
}

impl Metric {
    pub fn new(key: impl Into<String>, value: f64, step: i64) -> Metric {
        Metric {
            key: key.into(),
            value,
            step,
            timestamp: crate::util::now_ms(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Finished,
    Failed,
    Killed,
}

impl Status {
    /// MLflow's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Finished => "FINISHED",
            Status::Failed => "FAILED",
            Status::Killed => "KILLED",
        }
    }

    /// MLflow's file store number for it (RunStatus).
    pub fn number(self) -> u8 {
        match self {
            Status::Finished => 3,
            Status::Failed => 4,
            Status::Killed => 5,
        }
    }
}

/// A run as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    pub artifact_uri: String,
}

/// A new run.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub experiment_id: &'a str,
    pub name: &'a str,
    pub start_ms: i64,
    pub user: &'a str,
    pub tags: &'a [(String, String)],
}

pub trait Store: std::fmt::Debug + Send {
    /// Where the runs go, for messages: the server's URL or the directory.
    fn describe(&self) -> String;
    /// The id of the experiment called `name`, created when missing.
    fn experiment(&mut self, name: &str) -> Result<String>;
    fn create_run(&mut self, run: NewRun) -> Result<RunInfo>;
    fn log_batch(
        &mut self,
        run: &RunInfo,
        metrics: &[Metric],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<()>;
    /// Stores the file `src` as the artifact `rel` (a '/'-separated path) of the run.
    fn upload(&mut self, run: &RunInfo, rel: &str, src: &Path) -> Result<()>;
    fn end_run(&mut self, run: &RunInfo, status: Status, end_ms: i64) -> Result<()>;
    /// A link to the run for messages.
    fn run_link(&self, run: &RunInfo) -> String;
    /// The server's client, for a store on an MLflow server.
    fn rest(&self) -> Option<&crate::rest::Rest> {
        None
    }
}
