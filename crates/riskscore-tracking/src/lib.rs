//! Experiment tracking in MLflow: a REST client of a real MLflow tracking server (runs, nested
//! runs, params, metric histories, tags, artifacts through the server's proxy, the model
//! registry), the same content in MLflow's file layout when there is no server, and the model
//! in MLflow's LightGBM flavour layout so that Python MLflow loads it.

pub mod error;
pub mod file;
pub mod mlmodel;
pub mod registry;
pub mod rest;
pub mod store;
pub mod tracker;
pub mod training;
mod util;

pub use error::{Error, Result};
pub use store::{Metric, RunInfo, Status};
pub use tracker::{RunKey, Target, Tracker};
pub use util::now_ms;
