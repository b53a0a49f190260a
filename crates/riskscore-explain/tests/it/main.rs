//! The explainer on hand-built trees (exact Shapley values by enumeration) and on a trained
//! bundle (additivity, reason codes, the Python oracles).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bundle;
mod packed;
mod shap;
