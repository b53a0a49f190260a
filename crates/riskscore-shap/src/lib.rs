//! LightGBM's text model parsed into trees, and exact TreeSHAP values (log-odds) computed with
//! per-leaf precomputed weights, which is O(leaves x depth) per tree and row instead of the
//! O(leaves x depth^2) of the recursive algorithm, and for one row at a time in
//! O(nodes x depth) with no tables (`linear.rs`). A crate of its own, below the model crate,
//! so that training (the fairness report's age rule) and the explanations share one TreeSHAP.

pub mod forest;
mod linear;
pub mod shap;

pub use forest::{Forest, Lane, Packed, Tree};
pub use shap::Explainer;

/// What can go wrong reading a model or explaining a row.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("LightGBM model, tree {tree}: {message}")]
    Tree { tree: usize, message: String },
    #[error("LightGBM model: {0}")]
    Model(String),
    #[error("row has {got} values, the model {expected} features")]
    Width { got: usize, expected: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
