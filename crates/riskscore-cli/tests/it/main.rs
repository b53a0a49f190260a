//! The `riskscore` binary as a user runs it, in one test binary: its commands and errors
//! (`cli`), the dashboard in a real browser, drift against Evidently, MLflow tracking against a
//! real server, every command on the real sample, and `serve` on a socket (schemathesis
//! included).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod age;
mod cli;
mod common;
mod dashboard;
mod document;
mod drift;
mod mlflow;
mod real_data;
mod recourse;
mod replicas;
mod scorecard;
mod serve;
mod spark;
