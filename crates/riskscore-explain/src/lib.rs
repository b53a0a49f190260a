//! Explanations of LightGBM models, in words: per client and global, recourse and the model's
//! documents. The trees and their exact TreeSHAP values come from `riskscore-shap`, re-exported
//! here as `forest` and `shap`.

pub mod client;
pub mod document;
pub mod global;
pub mod recourse;
pub mod wording;

pub use riskscore_shap::{forest, shap, Explainer, Forest, Lane, Packed, Tree};

/// What can go wrong reading a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("LightGBM model, tree {tree}: {message}")]
    Tree { tree: usize, message: String },
    #[error("LightGBM model: {0}")]
    Model(String),
    #[error("unknown client {0}: no such id in the data")]
    UnknownClient(i64),
    #[error("action set {0}")]
    Actions(String),
    #[error("row has {got} values, the model {expected} features")]
    Width { got: usize, expected: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<riskscore_shap::Error> for Error {
    fn from(e: riskscore_shap::Error) -> Self {
        match e {
            riskscore_shap::Error::Tree { tree, message } => Error::Tree { tree, message },
            riskscore_shap::Error::Model(m) => Error::Model(m),
            riskscore_shap::Error::Width { got, expected } => Error::Width { got, expected },
        }
    }
}
