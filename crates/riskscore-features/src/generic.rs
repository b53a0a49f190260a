//! Any lender's single table: a CSV or Parquet file with an id column and a 0/1 target column.
//! Numeric columns pass through as floats; text and boolean columns are one-hot encoded with a
//! vocabulary learned at fit time. Types are inferred and can be overridden.

use std::path::PathBuf;

use polars::prelude::*;
use riskscore_data::read::{csv_header, is_parquet, read_single_table, ColumnSpec};
use riskscore_data::Kind;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::exprs::dummy;
use crate::vocab::distinct_strings;

/// What a fitted generic pipeline remembers about the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericSpec {
    pub id: String,
    pub target: String,
    /// Whether the id column holds integers (else text).
    pub integer_id: bool,
    /// Numeric columns, in file order.
    pub numeric: Vec<String>,
    /// Categorical columns with their sorted vocabularies, in file order.
    pub categorical: Vec<(String, Vec<String>)>,
    /// Columns left out (too many categories), with the reason.
    pub ignored: Vec<(String, String)>,
    /// Model columns never missing in training: a new application must carry them (empty in
    /// pipelines fitted before the intake checked them).
    #[serde(default)]
    pub required: Vec<String>,
    /// The applicant's age (`--age`): fairness by age band, Regulation B's age rule and
    /// `--monotone-age` read it. None when the table names no age column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<crate::protect::AgeColumn>,
}

/// A single-table input and how to read it.
#[derive(Debug, Clone)]
pub struct GenericTable {
    pub path: PathBuf,
    pub id: String,
    pub target: String,
    /// Columns to treat as categorical whatever their inferred type.
    pub categorical: Vec<String>,
    /// Columns to treat as numeric whatever their inferred type.
    pub numeric: Vec<String>,
    /// A text column with more distinct values than this is left out unless forced categorical.
    pub max_categories: usize,
}

impl GenericTable {
    pub fn new(path: impl Into<PathBuf>, id: &str, target: &str) -> Self {
        GenericTable {
            path: path.into(),
            id: id.into(),
            target: target.into(),
            categorical: Vec::new(),
            numeric: Vec::new(),
            max_categories: 100,
        }
    }

    /// Infers each column's kind from the first 10,000 rows, then applies the overrides.
    fn infer_specs(&self) -> Result<(Vec<ColumnSpec>, bool)> {
        let path = self.path.to_str().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: the path is not valid UTF-8",
                self.path.display()
            ))
        })?;
        let context = self.path.display().to_string();
        let parquet = is_parquet(&self.path);
        let mut lf = if parquet {
            riskscore_data::read::check_parquet_types(&self.path)?;
            LazyFrame::scan_parquet(PlRefPath::from(path), Default::default())
        } else {
            csv_header(&self.path)?;
            LazyCsvReader::new(PlRefPath::from(path))
                .with_has_header(true)
                .with_infer_schema_length(Some(10_000))
                .with_null_values(Some(riskscore_data::read::pandas_missing()))
                .finish()
        }
        .map_err(Error::polars(context.clone()))?;
        let schema = lf.collect_schema().map_err(Error::polars(context))?;
        // Names as the reader reads them: spaces around a CSV header's names dropped
        // (`id, target` names `target`), as `csv_header` drops them.
        let columns: Vec<(String, &DataType)> = schema
            .iter()
            .map(|(n, d)| {
                (
                    if parquet {
                        n.to_string()
                    } else {
                        n.trim().to_owned()
                    },
                    d,
                )
            })
            .collect();
        let names = || columns.iter().map(|(n, _)| n.as_str());
        let dtype_of = |wanted: &str| columns.iter().find(|(n, _)| n == wanted).map(|(_, d)| *d);
        for wanted in self.categorical.iter().chain(&self.numeric) {
            if dtype_of(wanted).is_none() {
                return Err(self.missing(wanted, names()));
            }
        }
        let id_dtype = dtype_of(&self.id).ok_or_else(|| self.missing(&self.id, names()))?;
        let integer_id = id_dtype.is_integer();
        let mut specs = Vec::new();
        for (name, dtype) in columns.iter().map(|(n, d)| (n.clone(), *d)) {
            let kind = if name == self.id {
                if integer_id {
                    Kind::Id
                } else {
                    Kind::Cat
                }
            } else if name == self.target {
                target_kind(&self.path)
            } else if self.categorical.contains(&name) {
                Kind::Cat
            } else if self.numeric.contains(&name)
                || dtype.is_primitive_numeric()
                || matches!(dtype, DataType::Duration(_))
                || dtype.is_decimal()
                || dtype.is_null()
            {
                Kind::Num
            } else {
                Kind::Cat
            };
            specs.push(ColumnSpec { name, kind });
        }
        Ok((specs, integer_id))
    }

    /// Columns of numbers that polars' type inference read as text because some are written
    /// `inf`, `-inf` or `NaN` (as pandas writes the non-finite floats, e.g. a ratio over a zero
    /// income) or with spaces around them (`1, -0.25`): read as numbers, as pandas reads them,
    /// instead of as categories (or left out for having too many). A column every value of
    /// which converts to a number is one; a column forced with --categorical stays as it is.
    fn numbers_read_as_text(&self, specs: &mut [ColumnSpec], df: &mut DataFrame) -> Result<()> {
        for s in specs.iter_mut().filter(|s| {
            s.kind == Kind::Cat
                && s.name != self.id
                && s.name != self.target
                && !self.categorical.contains(&s.name)
        }) {
            let text = df.column(&s.name).map_err(Error::polars(s.name.as_str()))?;
            // Text only: a column of booleans stays a category.
            if text.dtype() != &DataType::String || text.null_count() == text.len() {
                continue;
            }
            // Spaces around a number (`1, -0.25`) are no part of it, as pandas reads it.
            let trimmed: StringChunked = text
                .str()
                .map_err(Error::polars(s.name.as_str()))?
                .iter()
                .map(|v| v.map(str::trim))
                .collect();
            let numbers = trimmed
                .with_name(s.name.as_str().into())
                .into_column()
                .cast(&DataType::Float64)
                .map_err(Error::polars(s.name.as_str()))?;
            if numbers.null_count() != text.null_count() {
                if let Some(first) = riskscore_data::read::written_with_commas(text) {
                    return Err(Error::Column {
                        column: s.name.clone(),
                        message: format!(
                            "its values look like numbers written with commas (`{first}`: a \
                             decimal comma or thousands separators): export the table with plain \
                             numbers (`.` as the decimal point, no separators), or give \
                             --categorical {} if they are categories",
                            s.name
                        ),
                    });
                }
                continue;
            }
            tracing::info!(column = %s.name, "numbers written with inf or NaN: read as numbers");
            s.kind = Kind::Num;
            df.with_column(numbers)
                .map_err(Error::polars(s.name.as_str()))?;
        }
        Ok(())
    }

    /// `column` is not among the file's `names`: said, with the name it was probably meant
    /// for (`TARGET` for `target`, ` target` written with a space after the comma).
    fn missing<'n>(&self, column: &str, names: impl IntoIterator<Item = &'n str>) -> Error {
        let near = names
            .into_iter()
            .find(|n| n.trim().eq_ignore_ascii_case(column.trim()));
        let hint = near.map_or(String::new(), |n| {
            format!("; the header has {n:?} (names must match exactly)")
        });
        Error::Column {
            column: column.into(),
            message: format!("not found in {}{hint}", self.path.display()),
        }
    }

    /// Learns the spec (kinds and vocabularies) and returns it with the feature matrix.
    pub fn fit(&self) -> Result<(GenericSpec, DataFrame)> {
        let (mut specs, integer_id) = self.infer_specs()?;
        if !specs.iter().any(|s| s.name == self.target) {
            return Err(self.missing(&self.target, specs.iter().map(|s| s.name.as_str())));
        }
        // A column without a name (pandas' index, written without `index=False`) is a row
        // number, not a feature: left out with its reason (LightGBM cannot name it either).
        let unnamed: Vec<String> = specs
            .iter()
            .filter(|s| s.name.trim().is_empty())
            .map(|s| s.name.clone())
            .collect();
        specs.retain(|s| !unnamed.contains(&s.name));
        let mut df = read_single_table(&self.path, &specs, &unnamed)?;
        if df.height() == 0 {
            return Err(Error::Pipeline {
                path: self.path.display().to_string(),
                message: "no rows below the header: nothing to fit the features on".into(),
            });
        }
        self.numbers_read_as_text(&mut specs, &mut df)?;
        target_numbers(&mut df, &self.target)?;
        check_target(&df, &self.target, true)?;
        check_unique_ids(&df, &self.id, &self.path)?;
        let mut spec = GenericSpec {
            id: self.id.clone(),
            target: self.target.clone(),
            integer_id,
            numeric: Vec::new(),
            categorical: Vec::new(),
            ignored: Vec::new(),
            required: Vec::new(),
            age: None,
        };
        for name in unnamed {
            let why = "no name in the header (a row number, such as pandas' index written \
                       without index=False)"
                .to_owned();
            tracing::warn!(column = ?name, reason = %why, "column left out");
            spec.ignored.push((name, why));
        }
        for s in specs
            .iter()
            .filter(|s| s.name != self.id && s.name != self.target)
        {
            match s.kind {
                Kind::Cat => {
                    let column = df.column(&s.name).map_err(Error::polars(s.name.as_str()))?;
                    let dates = riskscore_data::read::written_as_dates(column);
                    if let (Some(first), false) = (dates, self.categorical.contains(&s.name)) {
                        let why = format!(
                            "dates or times (`{first}`): a date is neither a number nor a \
                             category to the model; derive a duration from it (e.g. days before \
                             the application) to use it"
                        );
                        tracing::warn!(column = %s.name, reason = %why, "column left out");
                        spec.ignored.push((s.name.clone(), why));
                        continue;
                    }
                    let values = distinct_strings(&df, &s.name)?;
                    if values.len() > self.max_categories && !self.categorical.contains(&s.name) {
                        let why = format!(
                            "{} distinct values (more than {}); force it with --categorical",
                            values.len(),
                            self.max_categories
                        );
                        tracing::warn!(column = %s.name, reason = %why, "column left out");
                        spec.ignored.push((s.name.clone(), why));
                    } else {
                        spec.categorical.push((s.name.clone(), values));
                    }
                }
                _ => spec.numeric.push(s.name.clone()),
            }
        }
        let used = std::iter::once(&spec.id)
            .chain(&spec.numeric)
            .chain(spec.categorical.iter().map(|(n, _)| n));
        spec.required = used
            .filter(|n| df.column(n).is_ok_and(|c| c.null_count() == 0))
            .cloned()
            .collect();
        let out = apply(&spec, df)?;
        Ok((spec, out))
    }

    /// Applies a fitted spec; the target column may be absent (new applications).
    pub fn transform(&self, spec: &GenericSpec) -> Result<DataFrame> {
        let header = if is_parquet(&self.path) {
            None
        } else {
            Some(csv_header(&self.path)?)
        };
        let has_target = header.as_ref().is_none_or(|h| h.contains(&spec.target));
        let mut specs = vec![ColumnSpec {
            name: spec.id.clone(),
            kind: if spec.integer_id { Kind::Id } else { Kind::Cat },
        }];
        if has_target {
            specs.push(ColumnSpec {
                name: spec.target.clone(),
                kind: target_kind(&self.path),
            });
        }
        specs.extend(spec.numeric.iter().map(|n| ColumnSpec {
            name: n.clone(),
            kind: Kind::Num,
        }));
        specs.extend(spec.categorical.iter().map(|(n, _)| ColumnSpec {
            name: n.clone(),
            kind: Kind::Cat,
        }));
        // The columns left out at fitting are known, not unexpected.
        let left_out: Vec<String> = spec.ignored.iter().map(|(c, _)| c.clone()).collect();
        let mut df = read_single_table(&self.path, &specs, &left_out)?;
        if has_target {
            target_numbers(&mut df, &spec.target)?;
            check_target(&df, &spec.target, false)?;
        }
        for (column, rows, first) in unseen(spec, &df)? {
            tracing::warn!(
                file = %self.path.display(),
                column,
                rows,
                first = %first,
                "{}",
                crate::vocab::UNSEEN
            );
        }
        transform_frame(spec, df)
    }
}

/// The categorical columns holding values the fitted spec never saw: the column, how many rows,
/// and the first such value. Each counts as none of the known values (its one-hot columns 0).
pub fn unseen(spec: &GenericSpec, df: &DataFrame) -> Result<Vec<(String, usize, String)>> {
    let mut out = Vec::new();
    for (column, values) in &spec.categorical {
        let Ok(c) = df.column(column) else { continue };
        let text = c.cast(&DataType::String).map_err(Error::polars(column))?;
        let known: std::collections::HashSet<&str> = values.iter().map(String::as_str).collect();
        let mut rows = 0;
        let mut first = None;
        for v in text.str().map_err(Error::polars(column))?.iter().flatten() {
            if !known.contains(v) {
                rows += 1;
                first.get_or_insert_with(|| v.to_owned());
            }
        }
        if let Some(first) = first {
            out.push((column.clone(), rows, first));
        }
    }
    Ok(out)
}

/// Applies a fitted spec to rows already in memory (a new application): the id, numeric
/// columns as Float64 and categorical ones as strings; the target may be absent.
pub fn transform_frame(spec: &GenericSpec, mut df: DataFrame) -> Result<DataFrame> {
    if df.column(&spec.target).is_err() {
        df.with_column(Column::full_null(
            spec.target.as_str().into(),
            df.height(),
            &DataType::Float64,
        ))
        .map_err(Error::polars("target"))?;
    }
    apply(spec, df)
}

/// The feature matrix: id, target, numeric columns, then one-hot columns.
fn apply(spec: &GenericSpec, df: DataFrame) -> Result<DataFrame> {
    let mut select = vec![col(spec.id.as_str()), col(spec.target.as_str())];
    select.extend(spec.numeric.iter().map(|n| col(n.as_str())));
    for (column, values) in &spec.categorical {
        select.extend(values.iter().map(|v| dummy(column, v)));
    }
    df.lazy()
        .select(select)
        .collect()
        .map_err(Error::polars("generic features"))
}

/// One row per client: a model is trained, scored and served by id, so an id written twice
/// (two applications of one client, or a join gone wrong) is refused, naming the first ones.
fn check_unique_ids(df: &DataFrame, id: &str, path: &std::path::Path) -> Result<()> {
    let column = df.column(id).map_err(Error::polars(id))?;
    let text = column.cast(&DataType::String).map_err(Error::polars(id))?;
    let mut seen = std::collections::HashSet::with_capacity(df.height());
    let mut twice: Vec<String> = Vec::new();
    let mut count = 0usize;
    for v in text.str().map_err(Error::polars(id))?.iter() {
        let v = v.unwrap_or("<missing>");
        if !seen.insert(v) {
            count += 1;
            if twice.len() < 5 && !twice.iter().any(|t| t == v) {
                twice.push(v.to_owned());
            }
        }
    }
    if count == 0 {
        return Ok(());
    }
    Err(Error::Column {
        column: id.into(),
        message: format!(
            "{count} row(s) of {} repeat an id (first: {}); one row per client is needed to \
             score and serve by id",
            path.display(),
            twice.join(", ")
        ),
    })
}

/// How the target column is read: from a CSV as text, so that a target written `True`/`False`
/// (pandas' booleans) is read as 1/0 as `explore` and `binning` read it, by [`target_numbers`];
/// from Parquet as a number (booleans cast to 1/0).
fn target_kind(path: &std::path::Path) -> Kind {
    if is_parquet(path) {
        Kind::Num
    } else {
        Kind::Cat
    }
}

/// A target read as text becomes numbers: `True`/`False` (any case) 1/0, numbers as written,
/// empty fields missing; any other value is refused with its data row.
fn target_numbers(df: &mut DataFrame, target: &str) -> Result<()> {
    let column = df.column(target).map_err(Error::polars(target))?;
    let Ok(text) = column.str() else {
        return Ok(());
    };
    let values = text
        .iter()
        .enumerate()
        .map(|(row, v)| {
            let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            if v.eq_ignore_ascii_case("true") {
                Ok(Some(1.0))
            } else if v.eq_ignore_ascii_case("false") {
                Ok(Some(0.0))
            } else {
                v.parse::<f64>().map(Some).map_err(|_| Error::Column {
                    column: target.into(),
                    message: format!(
                        "the target must be 0 or 1 (or True/False); data row {} has `{v}`",
                        row + 1
                    ),
                })
            }
        })
        .collect::<Result<Float64Chunked>>()?;
    df.with_column(values.with_name(target.into()).into_column())
        .map_err(Error::polars(target))?;
    Ok(())
}

/// The target must be 0 or 1 (missing allowed only for unlabelled rows outside fitting).
fn check_target(df: &DataFrame, target: &str, fitting: bool) -> Result<()> {
    let column = df.column(target).map_err(Error::polars(target))?;
    let values = column.f64().map_err(Error::polars(target))?;
    let bad = values.iter().enumerate().find(|(_, v)| match v {
        Some(x) => *x != 0.0 && *x != 1.0,
        None => fitting,
    });
    if let Some((row, value)) = bad {
        let shown = value.map_or("a missing value".to_string(), |v| v.to_string());
        return Err(Error::Column {
            column: target.into(),
            message: format!(
                "the target must be 0 or 1; data row {} has {shown}",
                row + 1
            ),
        });
    }
    Ok(())
}
