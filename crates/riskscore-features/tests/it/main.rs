//! Integration tests of the feature pipeline, one binary with modules by area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod errors;
mod generic;
mod hand_checked;
mod parity;
mod sql;
mod train_serve;
