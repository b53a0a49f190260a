//! Integration tests of the feature pipeline, one binary with modules by area.

mod common;
mod errors;
mod generic;
mod hand_checked;
mod parity;
mod train_serve;
