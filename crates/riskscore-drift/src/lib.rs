//! Data drift between a reference and a current data set, with the statistics and defaults of
//! Evidently's `DataDriftPreset` (0.7.23), plus the population stability index.
//!
//! What Evidently does by default, read in its source (`legacy/calculations/stattests/
//! registry.py::_get_default_stattest`, `core/datasets.py::infer_column_type`,
//! `legacy/calculations/data_drift.py::get_one_column_drift`):
//!
//! - column type: float columns are numerical; integer columns are categorical when they have
//!   at most 10 distinct values, else numerical; strings are categorical (text when more than
//!   half the values are distinct: not tested here); booleans are categorical;
//! - missing and infinite values are dropped first; a column left empty is an error in
//!   Evidently and a "not tested" row here;
//! - with at most 1,000 reference rows ("small"): numerical columns with more than 5 distinct
//!   values (reference and current together) get the two-sample Kolmogorov-Smirnov test, the
//!   others and categorical columns the chi-square test, or the Z-test for proportions when
//!   there are at most 2 distinct values; drift when the p-value is below 0.05 (KS: at most);
//!   the KS p-value is SciPy's `ks_2samp(method="auto")`: the exact sum when neither sample
//!   exceeds 10,000 values, else `kstwo.sf` (see `stats::kolmogn_sf`);
//! - with more reference rows: numerical columns with more than 5 distinct values get the
//!   Wasserstein distance divided by the reference's standard deviation (at least 0.001), the
//!   others and categorical columns the Jensen-Shannon distance (natural log) between the
//!   shares of each value, or of Sturges histogram bins over both sets for numerical columns
//!   with more than 20 distinct reference values; drift when the distance is at least 0.1;
//! - the data set drifts when at least half the tested columns drift.

pub mod detect;
pub mod frame;
pub mod report;
pub mod stats;

pub use detect::{column_drift, dataset_drift, ColumnData, ColumnDrift, DataDrift, Kind};
pub use frame::{drift_frames, FrameError};
