//! Training: LightGBM through `lightgbm3` with stratified cross-validation, class-imbalance
//! strategies, a business-cost threshold, calibration, hyperparameter search, and the model
//! bundle that scoring, explanations and drift checks load.

pub mod bundle;
pub mod calibration;
pub mod cbpe;
pub mod challenger;
pub mod config;
pub mod cost;
pub mod cv;
pub mod data;
pub mod error;
pub mod estimate;
pub mod fairness;
pub mod folds;
pub mod imbalance;
pub mod input;
pub mod lgbm;
pub mod logistic;
pub mod metrics;
pub mod predict;
pub mod profile;
pub mod prune;
pub mod report;
pub mod run;
pub mod search;
pub mod train;
pub mod validate;

pub use bundle::{Decision, ModelBundle};
pub use config::{CalibrationChoice, TrainConfig};
pub use cost::CostMatrix;
pub use data::TrainingData;
pub use error::{Error, Result};
pub use imbalance::Strategy;
pub use lgbm::LgbmParams;
pub use train::{train, TrainSummary, Trained};
