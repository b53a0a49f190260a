//! What `train` accepts: a feature matrix written by `riskscore features` (Parquet with its
//! `X.pipeline.json` beside it), a Home Credit folder, or one CSV/Parquet table with an id and a
//! target column. Raw inputs go through a freshly fitted feature pipeline.

use std::path::Path;

use polars::prelude::*;
use riskscore_data::Folder;
use riskscore_features::{pipeline_path_for, FeaturePipeline, GenericTable};

use crate::error::{Error, Result};

/// Options for a single raw table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub id: Option<String>,
    pub target: Option<String>,
    pub categorical: Vec<String>,
    pub numeric: Vec<String>,
    pub max_categories: Option<usize>,
    /// Protected attributes; None keeps the layout's default (or the fitted pipeline's).
    pub protected: Option<Vec<String>>,
    /// A single table's age column (`--age`); None keeps the fitted pipeline's.
    pub age: Option<String>,
}

/// Loads or builds the feature matrix and the pipeline that produced it, with the protected
/// attributes and the age column asked for. Every age must be one in the age column's unit.
pub fn load(path: &Path, opts: &TableOptions) -> Result<(FeaturePipeline, DataFrame)> {
    let (mut pipeline, df) = load_as_fitted(path, opts)?;
    if let Some(age) = &opts.age {
        pipeline.set_age(age.trim())?;
    }
    match (pipeline.age_column(), &pipeline.layout) {
        (Some(age), riskscore_features::Layout::Generic(_)) => {
            pipeline.check_ages(&df)?;
            tracing::info!(
                age,
                unit = pipeline.age_unit().map_or("", |u| u.words()),
                "age column: fairness by age band and Regulation B's age rule"
            );
        }
        (None, riskscore_features::Layout::Generic(spec)) => {
            if let Some(like) = spec.numeric.iter().find(|n| looks_like_age(n)) {
                tracing::info!(
                    column = %like,
                    "if {like:?} is the applicant's age in years, name it with --age: fairness is \
                     then measured by age band, with Regulation B's age rule (and --monotone-age)"
                );
            }
        }
        _ => {}
    }
    if let Some(protected) = &opts.protected {
        pipeline.protect(protected)?;
    }
    if !pipeline.protected.is_empty() {
        tracing::info!(
            protected = %pipeline.protected.join(", "),
            features = %pipeline.audit.join(", "),
            "protected attributes kept out of the model"
        );
    }
    Ok((pipeline, df))
}

/// Whether a column's name has the word "age" in it (`age`, `Age (years)`, `client_age`).
fn looks_like_age(name: &str) -> bool {
    name.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("age"))
}

fn load_as_fitted(path: &Path, opts: &TableOptions) -> Result<(FeaturePipeline, DataFrame)> {
    if path.is_dir() && parquet_parts(path).is_none() {
        let folder = Folder::new(path).map_err(riskscore_features::Error::from)?;
        tracing::info!(dir = %path.display(), "building Home Credit features");
        let (pipeline, df, _) = FeaturePipeline::fit_home_credit(&folder)?;
        return Ok((pipeline, df));
    }
    if !is_feature_file(path) {
        return Err(Error::Data(format!(
            "{}: no such file or folder",
            path.display()
        )));
    }
    let pipeline_path = pipeline_path_for(path);
    if pipeline_path.is_file() && opts.id.is_none() && !riskscore_data::read::is_csv(path) {
        let pipeline = FeaturePipeline::load(&pipeline_path)?;
        let df = read_parquet(path)?;
        return Ok((pipeline, df));
    }
    let (Some(id), Some(target)) = (&opts.id, &opts.target) else {
        return Err(Error::Data(format!(
            "{} is a single table without a fitted pipeline beside it ({}): give --id and --target",
            path.display(),
            pipeline_path.display()
        )));
    };
    let mut table = GenericTable::new(path, id, target);
    table.categorical = opts.categorical.clone();
    table.numeric = opts.numeric.clone();
    if let Some(m) = opts.max_categories {
        table.max_categories = m;
    }
    Ok(FeaturePipeline::fit_generic(&table)?)
}

/// The part files of a folder that holds a Parquet data set, as Spark writes one
/// (`part-*.parquet` beside `_SUCCESS`; `features --engine spark`), in name order; `None` for
/// anything else (a Home Credit folder among them).
pub fn parquet_parts(dir: &Path) -> Option<Vec<std::path::PathBuf>> {
    if !dir.is_dir() || riskscore_data::source::holds_applications(dir) {
        return None;
    }
    let mut parts: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.ends_with(".parquet") && !n.starts_with('.') && !n.starts_with('_')
                })
        })
        .collect();
    parts.sort();
    (!parts.is_empty()).then_some(parts)
}

/// A single file, or a folder of Parquet part files (see [`parquet_parts`]).
pub fn is_feature_file(path: &Path) -> bool {
    path.is_file() || parquet_parts(path).is_some()
}

/// Reads a feature matrix written as Parquet: one file, or a folder of part files read in
/// name order (see [`parquet_parts`]).
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    if let Some(parts) = parquet_parts(path) {
        let mut frames = parts.iter().map(|p| read_parquet_file(p));
        let mut df = frames.next().unwrap_or_else(|| Ok(DataFrame::empty()))?;
        for next in frames {
            df.vstack_mut(&next?).map_err(|e| {
                Error::Data(format!(
                    "{}: its part files do not share their columns: {}",
                    path.display(),
                    riskscore_data::error::brief(&e)
                ))
            })?;
        }
        return Ok(df);
    }
    read_parquet_file(path)
}

fn read_parquet_file(path: &Path) -> Result<DataFrame> {
    riskscore_data::read::check_parquet_types(path)
        .map_err(|e| Error::Data(format!("not a readable Parquet feature matrix: {e}")))?;
    let file = std::fs::File::open(path).map_err(Error::io(path))?;
    ParquetReader::new(file).finish().map_err(|e| {
        Error::Data(format!(
            "{}: not a readable Parquet feature matrix: {}",
            path.display(),
            riskscore_data::error::brief(&e)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spark's part files are a data set; a folder of Home Credit tables in Parquet is not,
    /// whichever application table it holds (new applicants alone have no application_train).
    #[test]
    fn part_files_but_not_home_credit_tables() {
        let dir = tempfile::tempdir().unwrap();
        let touch = |name: &str| std::fs::write(dir.path().join(name), b"").unwrap();
        touch("part-00001.parquet");
        touch("part-00000.parquet");
        touch("_SUCCESS");
        let parts = parquet_parts(dir.path()).unwrap();
        let names: Vec<_> = parts.iter().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["part-00000.parquet", "part-00001.parquet"]);
        for table in ["application_test.parquet", "application_train.parquet"] {
            let tables = tempfile::tempdir().unwrap();
            std::fs::write(tables.path().join(table), b"").unwrap();
            std::fs::write(tables.path().join("bureau.parquet"), b"").unwrap();
            assert!(parquet_parts(tables.path()).is_none(), "{table}");
        }
        let is_csv = riskscore_data::read::is_csv;
        assert!(is_csv(Path::new("loans.CSV")) && !is_csv(Path::new("loans.parquet")));
    }
}
