//! Integrity checks: unique primary keys, foreign keys that point at a parent row, frames with
//! the layout's columns and types.

use std::path::PathBuf;

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::schema::Table;

/// Fails when the table's primary key has duplicate values.
pub fn check_primary_key(table: Table, df: &DataFrame) -> Result<()> {
    let Some(key) = table.primary_key() else {
        return Ok(());
    };
    let context = format!("{table}.{key}");
    let column = df.column(key).map_err(Error::polars(context.clone()))?;
    let unique = column.n_unique().map_err(Error::polars(context.clone()))?;
    if unique == df.height() {
        return Ok(());
    }
    let first = df
        .clone()
        .lazy()
        .group_by([col(key)])
        .agg([len().alias("n")])
        .filter(col("n").gt(lit(1)))
        .sort([key], Default::default())
        .limit(1)
        .collect()
        .map_err(Error::polars(context))?
        .column(key)
        .ok()
        .and_then(|c| c.get(0).ok().map(|v| v.to_string()))
        .unwrap_or_else(|| "?".into());
    Err(Error::DuplicateKey {
        table: table.stem().into(),
        column: key.into(),
        count: df.height() - unique,
        first,
    })
}

/// Checks that an in-memory frame has the layout's columns with the layout's types.
pub fn check_frame(table: Table, df: &DataFrame) -> Result<()> {
    let path = PathBuf::from(format!("<{table} in memory>"));
    for (name, kind) in table.columns() {
        let Ok(column) = df.column(name) else {
            return Err(Error::MissingColumns {
                path,
                table: table.stem().into(),
                columns: vec![(*name).into()],
            });
        };
        if column.dtype() != &kind.dtype() && !column.dtype().is_null() {
            return Err(Error::BadColumnType {
                path,
                column: (*name).into(),
                found: column.dtype().to_string(),
                expected: kind.dtype().to_string(),
            });
        }
    }
    Ok(())
}
