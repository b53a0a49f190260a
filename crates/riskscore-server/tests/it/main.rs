//! The scoring service through `router(state)` (no socket) and its journal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod common;
mod journal;
mod monitor;
mod notice;
mod openapi;
mod recourse;
mod reviews;
mod rows;
