//! Drift between two tables: Evidently's column type inference on the reference, each column's
//! values, and the columns tested in parallel (they are independent).

use polars::prelude::{DataFrame, DataType, Series};

use crate::detect::{column_drift, dataset_drift, label, ColumnData, ColumnDrift, DataDrift, Kind};

/// What stops a comparison, naming the table and the column.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{current}: no column {column:?} (the reference {reference} has it)")]
    MissingColumn {
        current: String,
        reference: String,
        column: String,
    },
    #[error("{table}: column {column:?} is not numeric like the reference's ({message})")]
    NotNumeric {
        table: String,
        column: String,
        message: String,
    },
    #[error("{table}: no rows: there is nothing to compare")]
    NoRows { table: String },
    #[error("{table}: column {column:?}: {message}")]
    Column {
        table: String,
        column: String,
        message: String,
    },
}

/// Evidently's `infer_column_type`, on the reference column: floats are numerical; integers
/// categorical with at most 10 distinct values (numerical when they have missing values, which
/// pandas reads as floats); strings categorical unless more than half are distinct (text, not
/// tested); booleans and categoricals categorical.
pub fn kind_of(s: &Series) -> Option<Kind> {
    let dt = s.dtype();
    if dt.is_float() {
        return Some(Kind::Numerical);
    }
    if dt.is_integer() {
        if s.null_count() > 0 {
            return Some(Kind::Numerical);
        }
        let distinct = s.n_unique().unwrap_or(usize::MAX);
        return Some(if distinct <= 10 {
            Kind::Categorical
        } else {
            Kind::Numerical
        });
    }
    if matches!(dt, DataType::String) {
        let count = s.len() - s.null_count();
        let distinct = s.drop_nulls().n_unique().unwrap_or(0);
        return (distinct as f64 <= count as f64 * 0.5).then_some(Kind::Categorical);
    }
    // pandas' `category` columns (a Parquet dictionary): categorical whatever their count, as
    // Evidently infers them. Dates and durations are not tested (Evidently: datetime, unknown).
    if matches!(
        dt,
        DataType::Boolean | DataType::Categorical(..) | DataType::Enum(..)
    ) {
        return Some(Kind::Categorical);
    }
    None
}

/// A numeric column written as integers in one table and as floats in the other (`-303` and
/// `-303.0`) is a float column in both, so numerical whatever Evidently's rule for integers
/// would say of the reference alone.
fn written_as_floats(r: &Series, c: &Series) -> bool {
    let (a, b) = (r.dtype(), c.dtype());
    (a.is_integer() && b.is_float()) || (a.is_float() && b.is_integer())
}

/// A column's values for a test of `kind` (missing values as NaN or None).
pub fn values(s: &Series, kind: Kind, table: &str) -> Result<ColumnData, FrameError> {
    let name = s.name().to_string();
    let other = |e: polars::error::PolarsError| FrameError::Column {
        table: table.to_owned(),
        column: name.clone(),
        message: e.to_string(),
    };
    let as_f64 = || -> Result<Vec<f64>, FrameError> {
        let not_numeric = |message: String| FrameError::NotNumeric {
            table: table.to_owned(),
            column: name.clone(),
            message,
        };
        let f = s
            .cast(&DataType::Float64)
            .map_err(|e| not_numeric(e.to_string()))?;
        // Text that is not a number would become a missing value: named instead.
        if f.null_count() > s.null_count() {
            let strings = s.cast(&DataType::String).map_err(other)?;
            let text = strings.str().map_err(other)?;
            let floats = f.f64().map_err(other)?;
            let first = text
                .iter()
                .zip(floats.iter())
                .enumerate()
                .find_map(|(i, (t, v))| t.filter(|_| v.is_none()).map(|t| (i, t.to_owned())));
            if let Some((row, value)) = first {
                return Err(not_numeric(format!("data row {} has {value:?}", row + 1)));
            }
        }
        Ok(f.f64()
            .map_err(other)?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    match (kind, s.dtype()) {
        (Kind::Numerical, _) => Ok(ColumnData::Numeric(as_f64()?)),
        (Kind::Categorical, dt) if dt.is_primitive_numeric() => {
            // Integers (or numbers) as categories: labelled like the numeric path.
            let v = as_f64()?;
            Ok(ColumnData::Category(
                v.into_iter()
                    .map(|x| x.is_finite().then(|| label(x)))
                    .collect(),
            ))
        }
        (Kind::Categorical, _) => {
            let t = s.cast(&DataType::String).map_err(other)?;
            Ok(ColumnData::Category(
                t.str()
                    .map_err(other)?
                    .iter()
                    .map(|v| v.map(str::to_owned))
                    .collect(),
            ))
        }
    }
}

/// Tests every column of the reference but `exclude` against the current table (which must
/// have them all; neither may be empty), on all cores; `reference_name` and `current_name` name the tables in errors.
pub fn drift_frames(
    reference: &DataFrame,
    current: &DataFrame,
    exclude: &[String],
    reference_name: &str,
    current_name: &str,
) -> Result<DataDrift, FrameError> {
    // An empty table would leave every column untested and the verdict "no drift".
    for (frame, table) in [(reference, reference_name), (current, current_name)] {
        if frame.height() == 0 {
            return Err(FrameError::NoRows {
                table: table.to_owned(),
            });
        }
    }
    let names: Vec<String> = reference
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !exclude.contains(n))
        .collect();
    if let Some(column) = names.iter().find(|n| current.column(n).is_err()) {
        return Err(FrameError::MissingColumn {
            current: current_name.to_owned(),
            reference: reference_name.to_owned(),
            column: column.clone(),
        });
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = names.len().div_ceil(threads).max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = names.len();
    let results: Vec<Result<Vec<ColumnDrift>, FrameError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                let done = &done;
                scope.spawn(move || -> Result<Vec<ColumnDrift>, FrameError> {
                    let mut out = Vec::with_capacity(part.len());
                    for name in part {
                        // Both columns exist: checked above.
                        let (Ok(r), Ok(c)) = (reference.column(name), current.column(name))
                        else {
                            continue;
                        };
                        let (r, c) = (r.as_materialized_series(), c.as_materialized_series());
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if n.is_multiple_of(100) {
                            tracing::info!(done = n, of = total, "columns tested");
                        }
                        let kind = if written_as_floats(r, c) {
                            Some(Kind::Numerical)
                        } else {
                            kind_of(r)
                        };
                        let Some(kind) = kind else {
                            tracing::info!(column = name.as_str(), dtype = %r.dtype(), "not tested (text or unsupported type)");
                            continue;
                        };
                        let rv = values(r, kind, reference_name)?;
                        let cv = values(c, kind, current_name)?;
                        out.push(column_drift(name, kind, &rv, &cv));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(FrameError::Column {
                        table: current_name.to_owned(),
                        column: String::new(),
                        message: "a drift worker failed".into(),
                    })
                })
            })
            .collect()
    });
    let mut columns: Vec<ColumnDrift> = Vec::with_capacity(names.len());
    for r in results {
        columns.extend(r?);
    }
    Ok(dataset_drift(columns, reference.height(), current.height()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Column;

    /// Issue 27: a column of five codes written `1` in the reference and `1.0` in the current
    /// table is tested as numbers (KS), not as categories of the integers.
    #[test]
    fn integers_against_floats_are_numbers() {
        let codes: Vec<i64> = (0..200).map(|i| i % 5).collect();
        let floats: Vec<f64> = codes.iter().map(|&v| v as f64).collect();
        let r = DataFrame::new_infer_height(vec![Column::new("c".into(), codes.clone())]).unwrap();
        let c = DataFrame::new_infer_height(vec![Column::new("c".into(), floats)]).unwrap();
        let d = drift_frames(&r, &c, &[], "reference", "current").unwrap();
        assert_eq!(d.columns[0].kind, Kind::Numerical);
        assert!(!d.columns[0].drifted);
        let same = DataFrame::new_infer_height(vec![Column::new("c".into(), codes)]).unwrap();
        let d = drift_frames(&r, &same, &[], "reference", "current").unwrap();
        assert_eq!(
            d.columns[0].kind,
            Kind::Categorical,
            "Evidently's rule for integers alone"
        );
    }

    /// Text that is not a number in a column the reference has as numbers is named, not read
    /// as missing values.
    #[test]
    fn text_in_a_numeric_column_is_named() {
        let r = DataFrame::new_infer_height(vec![Column::new("x".into(), vec![1.5, 2.5, 3.5])])
            .unwrap();
        let c = DataFrame::new_infer_height(vec![Column::new(
            "x".into(),
            vec![Some("2.5"), None, Some("abc")],
        )])
        .unwrap();
        let err = drift_frames(&r, &c, &[], "ref.csv", "cur.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"cur.csv: column "x" is not numeric like the reference's (data row 3 has "abc")"#
        );
        let c = DataFrame::new_infer_height(vec![Column::new(
            "x".into(),
            vec![Some("2.5"), None, Some("1e3")],
        )])
        .unwrap();
        assert!(drift_frames(&r, &c, &[], "ref.csv", "cur.csv").is_ok());
    }

    /// An empty table is refused by name: its columns would all go untested and the verdict
    /// read "no drift".
    #[test]
    fn an_empty_table_is_refused() {
        let frame = |n: i64| {
            DataFrame::new_infer_height(vec![Column::new("x".into(), (0..n).collect::<Vec<_>>())])
                .unwrap()
        };
        let err = drift_frames(&frame(50), &frame(0), &[], "ref.csv", "cur.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cur.csv: no rows: there is nothing to compare"
        );
        let err = drift_frames(&frame(0), &frame(50), &[], "ref.csv", "cur.csv").unwrap_err();
        assert_eq!(
            err.to_string(),
            "ref.csv: no rows: there is nothing to compare"
        );
        assert!(drift_frames(&frame(50), &frame(1), &[], "ref.csv", "cur.csv").is_ok());
    }
}
