//! The dense matrix training works on: one row per labelled applicant, features as `f64` in
//! row-major order with missing values as NaN (what LightGBM and its Python package see).

use polars::prelude::*;

use crate::error::{Error, Result};

/// Labelled rows ready for training.
#[derive(Debug, Clone)]
pub struct TrainingData {
    pub ids: Vec<i64>,
    pub y: Vec<u8>,
    /// Row-major, `ids.len() * features.len()` values.
    pub x: Vec<f64>,
    pub features: Vec<String>,
}

impl TrainingData {
    /// Takes the rows of a feature frame whose target is known (rows without a target, such as
    /// `application_test`, are left out). The target must be 0 or 1; the id must be present.
    pub fn from_frame(df: &DataFrame, id: &str, target: &str, features: &[String]) -> Result<Self> {
        let ids = int_column(df, id)?;
        let targets = column_f64(df, target)?;
        let keep: Vec<usize> = (0..df.height()).filter(|&i| !targets[i].is_nan()).collect();
        if keep.is_empty() {
            return Err(Error::Data(format!(
                "no row has a value in the target column {target:?}"
            )));
        }
        let mut y = Vec::with_capacity(keep.len());
        for &i in &keep {
            let t = targets[i];
            if t != 0.0 && t != 1.0 {
                return Err(Error::Data(format!(
                    "{target} of {id} {} is {t}; the target must be 0 or 1",
                    ids[i].map_or("(missing)".to_string(), |v| v.to_string())
                )));
            }
            y.push(t as u8);
        }
        let mut out_ids = Vec::with_capacity(keep.len());
        for &i in &keep {
            out_ids.push(ids[i].ok_or_else(|| Error::Data(format!("row {} has no {id}", i + 1)))?);
        }
        let n = keep.len();
        let k = features.len();
        let mut x = vec![f64::NAN; n * k];
        for (j, name) in features.iter().enumerate() {
            let values = column_f64(df, name)?;
            for (r, &i) in keep.iter().enumerate() {
                x[r * k + j] = values[i];
            }
        }
        let data = TrainingData {
            ids: out_ids,
            y,
            x,
            features: features.to_vec(),
        };
        data.check_classes()?;
        Ok(data)
    }

    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    pub fn row(&self, i: usize) -> &[f64] {
        let k = self.n_features();
        &self.x[i * k..(i + 1) * k]
    }

    pub fn positives(&self) -> usize {
        self.y.iter().filter(|&&v| v == 1).count()
    }

    /// The rows `idx` as data of their own (ids, labels and features).
    pub fn subset(&self, idx: &[usize]) -> TrainingData {
        let (x, y) = self.take(idx);
        TrainingData {
            ids: idx.iter().map(|&i| self.ids[i]).collect(),
            y,
            x,
            features: self.features.clone(),
        }
    }

    /// The rows `idx` as a new row-major block with their labels. To read many rows without a
    /// copy of them all, see [`in_chunks`].
    pub fn take(&self, idx: &[usize]) -> (Vec<f64>, Vec<u8>) {
        let k = self.n_features();
        let mut x = Vec::with_capacity(idx.len() * k);
        let mut y = Vec::with_capacity(idx.len());
        for &i in idx {
            x.extend_from_slice(self.row(i));
            y.push(self.y[i]);
        }
        (x, y)
    }

    fn check_classes(&self) -> Result<()> {
        let pos = self.positives();
        if pos == 0 || pos == self.rows() {
            return Err(Error::Data(format!(
                "the target has a single class ({} rows, {pos} positive); training needs both",
                self.rows()
            )));
        }
        Ok(())
    }
}

/// The ids and row-major feature values of every row of a frame (target not needed).
pub fn matrix(df: &DataFrame, id: &str, features: &[String]) -> Result<(Vec<i64>, Vec<f64>)> {
    let ids = int_column(df, id)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| Error::Data(format!("row {} has no {id}", i + 1))))
        .collect::<Result<Vec<i64>>>()?;
    let k = features.len();
    let mut x = vec![f64::NAN; ids.len() * k];
    for (j, name) in features.iter().enumerate() {
        let values = column_f64(df, name)?;
        for (r, v) in values.into_iter().enumerate() {
            x[r * k + j] = v;
        }
    }
    Ok((ids, x))
}

fn int_column(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    let col = df
        .column(name)
        .map_err(|_| Error::Data(format!("no column {name:?}")))?;
    // Text is cast to null where it is not an integer: name the first such id, not a "missing"
    // one.
    if let Ok(text) = col.str() {
        if let Some((row, v)) = text.iter().enumerate().find_map(|(i, v)| {
            v.filter(|v| v.trim().parse::<i64>().is_err())
                .map(|v| (i, v))
        }) {
            return Err(Error::Data(format!(
                "column {name:?} holds ids that are not integers (row {}: `{v}`): training, \
                 scoring, the API and the journal key clients by integer ids; give another column \
                 as the id, or number the rows",
                row + 1
            )));
        }
    }
    let cast = col
        .cast(&DataType::Int64)
        .map_err(|_| Error::Data(format!("column {name:?} is not an integer id")))?;
    let ca = cast
        .i64()
        .map_err(Error::polars(format!("column {name}")))?;
    Ok(ca.iter().collect())
}

/// A numeric column as `f64`, nulls as NaN.
pub fn column_f64(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    column_f64_into(df, name, &mut out)?;
    Ok(out)
}

/// [`column_f64`] into `out` (cleared first, its allocation reused).
pub fn column_f64_into(df: &DataFrame, name: &str, out: &mut Vec<f64>) -> Result<()> {
    let col = df
        .column(name)
        .map_err(|_| Error::Data(format!("no column {name:?}")))?;
    if !col.dtype().is_primitive_numeric() && !col.dtype().is_bool() && !col.dtype().is_null() {
        return Err(Error::Data(format!(
            "column {name:?} has type {}, not a number",
            col.dtype()
        )));
    }
    let cast = col
        .cast(&DataType::Float64)
        .map_err(Error::polars(format!("column {name}")))?;
    let ca = cast
        .f64()
        .map_err(Error::polars(format!("column {name}")))?;
    out.clear();
    out.reserve(ca.len());
    for array in ca.downcast_iter() {
        let values = array.values().as_slice();
        match array.validity().filter(|valid| valid.unset_bits() > 0) {
            None => out.extend_from_slice(values),
            Some(valid) => {
                out.extend(
                    values
                        .iter()
                        .zip(valid.iter())
                        .map(|(&v, ok)| if ok { v } else { f64::NAN }),
                )
            }
        }
    }
    Ok(())
}

/// Rows gathered per call by [`in_chunks`]: a bounded buffer (4,096 rows of 725 features is
/// 24 MB) instead of a copy of every row read.
pub const CHUNK_ROWS: usize = 4096;

/// Calls `f` on the rows `idx` of row-major `x` (`k` features a row), `chunk_rows` at a time:
/// each chunk's indices and its rows gathered, in order, into one reused buffer.
pub fn in_chunks(
    x: &[f64],
    k: usize,
    idx: &[usize],
    chunk_rows: usize,
    mut f: impl FnMut(&[usize], &[f64]) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::with_capacity(chunk_rows.min(idx.len()) * k);
    for chunk in idx.chunks(chunk_rows.max(1)) {
        buf.clear();
        for &i in chunk {
            buf.extend_from_slice(&x[i * k..(i + 1) * k]);
        }
        f(chunk, &buf)?;
    }
    Ok(())
}
