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

    /// Aggregates `input` (named `name`) into `{prefix}{name}_{SUFFIX}`.
    pub fn apply(self, input: Expr, prefix: &str, name: &str) -> Expr {
        let out = match self {
            Agg::Min => input.min(),
            Agg::Max => input.max(),
            Agg::Mean => input.mean(),
            Agg::Sum => input.sum(),
            Agg::Var => input.var(1),
            Agg::Size => len(),
            Agg::Nunique => input.drop_nulls().n_unique(),
        };
        out.alias(format!("{prefix}{name}_{}", self.suffix()))
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

/// `1` where `column` is missing: the `_nan` column of `get_dummies(dummy_na=True)`.
pub fn dummy_nan(column: &str) -> Expr {
    col(column)
        .is_null()
        .cast(DataType::Int32)
        .alias(dummy_name(column, "nan"))
}

pub fn dummy_name(column: &str, value: &str) -> String {
    format!("{column}_{value}")
}

/// `a / b` as pandas computes it: IEEE division, and NaN (0/0) counted as missing.
pub fn ratio(a: Expr, b: Expr) -> Expr {
    let q = a.cast(DataType::Float64) / b.cast(DataType::Float64);
    q.fill_nan(lit(NULL).cast(DataType::Float64))
}

/// Left join on one key that keeps the left frame's row order.
pub fn left_join(left: LazyFrame, right: LazyFrame, key: &str) -> LazyFrame {
    let args = JoinArgs {
        maintain_order: MaintainOrderJoin::Left,
        ..JoinArgs::new(JoinType::Left)
    };
    left.join(right, [col(key)], [col(key)], args)
}

/// `1` where the encoded `column` holds vocabulary index `code` (see [`encode_categories`]).
pub fn dummy_code(column: &str, code: usize, name: &str) -> Expr {
    col(column)
        .eq(lit(code as i32))
        .fill_null(lit(false))
        .cast(DataType::Int32)
        .alias(name)
}

/// Replaces each categorical string column by its index in the vocabulary (Int32): null when
/// missing, -1 when present but not in the vocabulary. One hash join per column on a small
/// vocabulary table, instead of one string comparison per row and category: the side tables
/// have millions of rows and up to 150 one-hot columns.
pub fn encode_categories(df: DataFrame, columns: &[(&str, &[String])]) -> PolarsResult<DataFrame> {
    let names: Vec<Expr> = df
        .get_column_names()
        .into_iter()
        .map(|n| col(n.clone()))
        .collect();
    let mut lf = df.lazy();
    for (column, values) in columns {
        let code = format!("{column}__code");
        let codes: Vec<i32> = (0..values.len() as i32).collect();
        let table = DataFrame::new_infer_height(vec![
            Column::new((*column).into(), *values),
            Column::new(code.as_str().into(), codes),
        ])?;
        lf = lf
            .join(
                table.lazy(),
                [col(*column)],
                [col(*column)],
                JoinArgs::new(JoinType::Left),
            )
            .with_column(
                when(col(*column).is_not_null().and(col(code.as_str()).is_null()))
                    .then(lit(-1i32))
                    .otherwise(col(code.as_str()))
                    .alias(*column),
            );
    }
    lf.select(names).collect()
}
