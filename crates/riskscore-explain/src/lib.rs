//! Explanations of LightGBM models: the text model parsed into trees, and exact TreeSHAP values
//! (log-odds) computed with per-leaf precomputed weights, which is O(leaves x depth) per tree
//! and row instead of the O(leaves x depth^2) of the recursive algorithm, and for one row at a
//! time in O(nodes x depth) with no tables (`linear.rs`).

pub mod client;
pub mod document;
pub mod forest;
pub mod global;
mod linear;
pub mod recourse;
pub mod shap;
pub mod wording;

pub use forest::{Forest, Lane, Packed, Tree};
pub use shap::Explainer;

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
