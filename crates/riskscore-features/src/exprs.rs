//! Expression helpers shared by the Home Credit and generic pipelines: one-hot columns and
//! pandas-compatible aggregations.

use polars::prelude::*;

/// A pandas aggregation, named as the kernel names it (`_MIN`, `_MEAN`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    Min,
    Max,
    Mean,
    Sum,
    /// Sample variance (ddof = 1), as pandas.
    Var,
    /// Number of rows in the group, missing values included.
    Size,
    /// Number of distinct non-missing values.
    Nunique,
}

impl Agg {
    pub fn suffix(self) -> &'static str {
        match self {
            Agg::Min => "MIN",
            Agg::Max => "MAX",
            Agg::Mean => "MEAN",
            Agg::Sum => "SUM",
            Agg::Var => "VAR",
            Agg::Size => "SIZE",
            Agg::Nunique => "NUNIQUE",
        }
    }
}

/// `1` where `column` equals `value`, else `0` (missing included), as pandas `get_dummies`.
pub fn dummy(column: &str, value: &str) -> Expr {
    col(column)
        .eq(lit(value))
        .fill_null(lit(false))
        .cast(DataType::Int32)
        .alias(dummy_name(column, value))
}

pub fn dummy_name(column: &str, value: &str) -> String {
    format!("{column}_{value}")
}
