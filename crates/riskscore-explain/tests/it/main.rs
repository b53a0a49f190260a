//! The explainer on hand-built trees (exact Shapley values by enumeration) and on a trained
//! bundle (additivity, reason codes, the Python oracles).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bundle;
mod packed;
mod shap;

/// A linear congruential generator: reproducible random numbers for the tests.
struct Lcg(u64);

impl Lcg {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: usize) -> usize {
        (self.next() * n as f64) as usize % n
    }
}
