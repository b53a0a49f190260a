//! Home Credit tables and generic single tables: the layout, typed reading from CSV or Parquet,
//! integrity checks, the column dictionary and a synthetic generator of full-size data.

pub mod clock;
pub mod dictionary;
pub mod error;
pub mod intake;
pub mod read;
pub mod scan;
pub mod schema;
mod schema_columns;
pub mod source;
pub mod synth;
pub mod usage;
pub mod validate;
pub mod widths;

pub use error::{Error, Result};
pub use schema::{Kind, Table};
pub use source::{Folder, InMemory, TableSource};
