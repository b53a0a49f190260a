//! Integration tests of training, the bundle and the Python oracles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bundle;
mod cbpe;
mod common;
mod estimate;
mod fairness;
mod oracle;
mod train;
