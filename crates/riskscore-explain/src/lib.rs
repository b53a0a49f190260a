//! Explanations of LightGBM models, in words: per client and global, recourse and the model's
//! documents. The trees and their exact TreeSHAP values come from `riskscore-shap`, re-exported
//! here as `forest` and `shap`.

pub mod client;
pub mod document;
pub mod global;
pub mod recourse;
pub mod wording;

pub use riskscore_shap::{forest, shap, Explainer, Forest, Lane, Packed, Tree};

/// What can go wrong reading a model or explaining with it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The trees and their SHAP values (`riskscore-shap`): a malformed tree, a row of the
    /// wrong width.
    #[error(transparent)]
    Shap(#[from] riskscore_shap::Error),
    #[error("LightGBM model: {0}")]
    Model(String),
    #[error("unknown client {0}: no such id in the data")]
    UnknownClient(i64),
    #[error("action set {0}")]
    Actions(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
