//! The kit's single table and configurations (crate riskscore-testkit), and this crate's
//! shorthands over them.

use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use riskscore_features::FeaturePipeline;
use riskscore_model::input;
use riskscore_model::TrainConfig;

pub use riskscore_testkit::loans::{options, write as write_table};
pub use riskscore_testkit::{script, search_config as quick_config, Bundle as Run};

pub fn load(path: &Path) -> (FeaturePipeline, DataFrame) {
    input::load(path, &options()).unwrap()
}

/// The single table of `rows` applicants (seed 7) trained with `cfg`.
pub fn train_quick(rows: usize, cfg: &TrainConfig) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = write_table(dir.path(), rows, 7);
    riskscore_testkit::train(dir, path, &options(), cfg)
}

/// The Python interpreter with lightgbm (RISKSCORE_PYTHON), if configured.
pub fn python() -> Option<PathBuf> {
    riskscore_testkit::oracle("RISKSCORE_PYTHON", "a python with lightgbm")
}
