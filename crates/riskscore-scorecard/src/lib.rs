//! The scorecard challenger: optbinning's optimal binning of each characteristic (pre-binning,
//! optimisation under an automatic monotonic trend, weight of evidence and information value),
//! a logistic regression on the weights of evidence, points scaled by PDO, reason codes, and the
//! scorecard's export as SQL and as a points table.

pub mod binning;
pub mod forest;
pub mod optimize;
pub mod prebin;

pub use binning::{BinRow, Binning, BinningError, BinningOptions, Bins};
pub use optimize::Trend;
pub use prebin::Prebinning;
pub mod scorecard;
pub mod sql;

pub use scorecard::{
    bin_all, Characteristic, Column, Scaling, Scorecard, ScorecardError, ScorecardOptions, Scored,
    Values,
};
