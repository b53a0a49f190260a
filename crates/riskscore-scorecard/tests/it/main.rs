//! The scorecard's integration tests: the binning against optbinning, the SQL export in SQLite
//! and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod binning;
mod sql;
