//! The clients' feature rows, kept compactly: each value as an `f32` where rounding it leaves
//! every split of the model on the same side (so the model takes exactly the same decisions on
//! it), and the few others exactly, as `f64`, beside.
//!
//! A value `v` and its rounding `r` fall on the same side of every split unless a split point
//! lies between them: a value is kept exactly when `r != v` and a split point `t` of its feature
//! has `min(v, r) <= t <= max(v, r)` (closed, so that `<` and `<=` splits and equality with a
//! special value are all covered). The split points are the trees' thresholds (and LightGBM's
//! zero band where a split treats zero as missing) and a shipped scorecard's bin edges and
//! special values; a feature the model splits on by category keeps every value that `f32`
//! cannot hold exactly.

use riskscore_explain::forest::{Forest, ZERO};
use riskscore_scorecard::binning::Bins;
use riskscore_scorecard::Scorecard;

/// Where a feature's values must not move across.
#[derive(Debug, Clone, PartialEq)]
enum Cut {
    /// Sorted split points, and a filter of their `f32` roundings (see [`Filter`]).
    Points(Vec<f64>, Filter),
    /// Split by category: only values `f32` holds exactly may be rounded (that is, kept).
    Exact,
}

/// A bitmap of the `f32` roundings of a feature's split points, hashed: a quick "no" before the
/// search of the split points. Rounding to `f32` never decreases, so a split point `t` between
/// `v` and its rounding `r` rounds to `r` itself; when no split point rounds to `r` (its bit is
/// clear), none lies between. Zero's two signs count as one.
#[derive(Debug, Clone, PartialEq)]
struct Filter(Box<[u64; FILTER_BITS / 64]>);

const FILTER_BITS: usize = 4096;

impl Filter {
    fn of(points: &[f64]) -> Filter {
        let mut bits = Box::new([0u64; FILTER_BITS / 64]);
        for &t in points {
            let h = Filter::slot(t as f32);
            bits[h / 64] |= 1 << (h % 64);
        }
        Filter(bits)
    }

    #[inline]
    fn slot(r: f32) -> usize {
        let bits = if r == 0.0 { 0 } else { r.to_bits() };
        (bits.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS.trailing_zeros())) as usize
    }

    #[inline]
    fn may_hold(&self, r: f32) -> bool {
        let h = Filter::slot(r);
        self.0[h / 64] & (1 << (h % 64)) != 0
    }
}

/// The split points of every feature of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Cuts(Vec<Cut>);

impl Cuts {
    /// The split points of `forest` (and of `scorecard`, a scorecard bundle's own bins) over its
    /// `k` features.
    pub fn of(forest: &Forest, scorecard: Option<&Scorecard>, k: usize) -> Cuts {
        let mut points = vec![Vec::new(); k];
        let mut exact = vec![false; k];
        for tree in &forest.trees {
            for (n, &f) in tree.split_feature.iter().enumerate() {
                let Some(p) = points.get_mut(f) else {
                    continue;
                };
                let dt = tree.decision_type[n];
                if dt & 1 != 0 {
                    exact[f] = true;
                    continue;
                }
                p.push(tree.threshold[n]);
                if (dt >> 2) & 3 == 1 {
                    // Zero as missing: |v| <= kZeroThreshold takes the default side.
                    p.extend([-ZERO, ZERO]);
                }
            }
        }
        for c in scorecard.iter().flat_map(|s| &s.characteristics) {
            let Some(p) = points.get_mut(c.column) else {
                continue;
            };
            match &c.binning.bins {
                Bins::Numeric { splits, special } => {
                    p.extend(splits.iter().chain(special).copied());
                }
                Bins::Categorical { .. } => exact[c.column] = true,
            }
        }
        Cuts(
            points
                .into_iter()
                .zip(exact)
                .map(|(mut p, exact)| {
                    if exact {
                        return Cut::Exact;
                    }
                    p.retain(|t| !t.is_nan());
                    p.sort_unstable_by(f64::total_cmp);
                    p.dedup();
                    let filter = Filter::of(&p);
                    Cut::Points(p, filter)
                })
                .collect(),
        )
    }

    /// Whether feature `j`'s value `v` may be kept as `v as f32`.
    #[inline]
    pub fn rounds(&self, j: usize, v: f64) -> bool {
        let f = v as f32;
        let r = f64::from(f);
        if r.to_bits() == v.to_bits() || (v.is_nan() && r.is_nan()) {
            return true;
        }
        match &self.0[j] {
            Cut::Exact => false,
            Cut::Points(_, filter) if !filter.may_hold(f) => true,
            Cut::Points(p, _) => {
                let (lo, hi) = if v < r { (v, r) } else { (r, v) };
                let i = p.partition_point(|t| *t < lo);
                !(i < p.len() && p[i] <= hi)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Row-major feature rows: `f32` values, and the values kept exactly.
#[derive(Debug, Default)]
pub struct Rows {
    n: usize,
    k: usize,
    values: Vec<f32>,
    /// `(r * k + j, value)` of the values kept exactly, sorted.
    exact: Vec<(u64, f64)>,
}

impl Rows {
    pub fn n_rows(&self) -> usize {
        self.n
    }

    pub fn n_features(&self) -> usize {
        self.k
    }

    /// How many values are kept exactly.
    pub fn n_exact(&self) -> usize {
        self.exact.len()
    }

    /// Bytes held by the rows.
    pub fn bytes(&self) -> usize {
        self.values.len() * 4 + self.exact.len() * 16
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> Vec<f64> {
        let k = self.k;
        let mut out: Vec<f64> = self.values[r * k..(r + 1) * k]
            .iter()
            .map(|v| f64::from(*v))
            .collect();
        let start = (r * k) as u64;
        let from = self.exact.partition_point(|(i, _)| *i < start);
        for &(i, v) in self.exact[from..]
            .iter()
            .take_while(|(i, _)| *i < start + k as u64)
        {
            out[(i - start) as usize] = v;
        }
        out
    }

    /// Rows `start..start + m` as their floats, row-major (each converts to the row's value,
    /// but for the values kept exactly: see [`Rows::with_exact`]).
    pub fn floats(&self, start: usize, m: usize) -> &[f32] {
        &self.values[start * self.k..(start + m) * self.k]
    }

    /// The rows among `start..start + m` that have a value kept exactly, counted from `start`,
    /// ascending.
    pub fn with_exact(&self, start: usize, m: usize) -> Vec<usize> {
        let (from, to) = ((start * self.k) as u64, ((start + m) * self.k) as u64);
        let i = self.exact.partition_point(|(i, _)| *i < from);
        let mut rows: Vec<usize> = self.exact[i..]
            .iter()
            .take_while(|(i, _)| *i < to)
            .map(|(i, _)| *i as usize / self.k - start)
            .collect();
        rows.dedup();
        rows
    }

    /// Feature `j` of row `r`.
    pub fn value(&self, r: usize, j: usize) -> f64 {
        let i = (r * self.k + j) as u64;
        match self.exact.binary_search_by_key(&i, |(i, _)| *i) {
            Ok(at) => self.exact[at].1,
            Err(_) => f64::from(self.values[r * self.k + j]),
        }
    }

    /// Feature `j` of every row.
    pub fn column(&self, j: usize) -> Vec<f64> {
        (0..self.n).map(|r| self.value(r, j)).collect()
    }
}

/// Rows per block of [`RowsBuilder`]: a block is 16,384 rows of every feature (47.5 MB for 725
/// features), column by column until [`RowsBuilder::finish`] turns it row by row.
const BLOCK: usize = 16_384;

/// Rows and features [`RowsBuilder::finish`] transposes together (a tile stays in cache).
const TILE: usize = 32;

/// Fills [`Rows`] a batch of columns at a time. The values are held block by block, each block
/// column by column (a column's values of a block side by side), so that memory is taken as
/// columns arrive: the buffer is allocated zeroed and untouched (the system gives it pages as
/// they are written), and a column touches only its own pages. [`RowsBuilder::finish`] then
/// turns each block row by row, in place, with one block of scratch.
#[derive(Debug)]
pub struct RowsBuilder {
    rows: Rows,
    cuts: Cuts,
    filled: Vec<bool>,
    block: usize,
}

impl RowsBuilder {
    /// `n` rows of the `cuts.len()` features, every value missing until its column is set.
    pub fn new(n: usize, cuts: Cuts) -> RowsBuilder {
        RowsBuilder::with_block(n, cuts, BLOCK)
    }

    fn with_block(n: usize, cuts: Cuts, block: usize) -> RowsBuilder {
        let k = cuts.len();
        RowsBuilder {
            rows: Rows {
                n,
                k,
                values: vec![0.0; n * k],
                exact: Vec::new(),
            },
            cuts,
            filled: vec![false; k],
            block: block.max(1),
        }
    }

    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows.n
    }

    /// Sets the columns `batch` (feature index, its `n` values), split over `threads` threads
    /// by blocks of rows; an error names a column of another length or an index beyond the
    /// features.
    pub fn set(&mut self, batch: &[(usize, &[f64])], threads: usize) -> Result<(), String> {
        let (n, k) = (self.rows.n, self.rows.k);
        for (j, column) in batch {
            if *j >= k || column.len() != n {
                return Err(format!(
                    "feature column {j} has {} values for {n} rows of {k} features",
                    column.len()
                ));
            }
            self.filled[*j] = true;
        }
        if n == 0 || k == 0 {
            return Ok(());
        }
        let block = self.block;
        let per = self.blocks_per_thread(threads);
        let cuts = &self.cuts;
        let found: Vec<Vec<(u64, f64)>> = std::thread::scope(|s| {
            let parts: Vec<_> = self
                .rows
                .values
                .chunks_mut(per * block * k)
                .enumerate()
                .map(|(part, values)| {
                    s.spawn(move || {
                        let mut exact = Vec::new();
                        for (b, segment) in values.chunks_mut(block * k).enumerate() {
                            let r0 = (part * per + b) * block;
                            let m = segment.len() / k;
                            for &(j, column) in batch {
                                let to = &mut segment[j * m..(j + 1) * m];
                                for (dr, (&v, to)) in
                                    column[r0..r0 + m].iter().zip(to.iter_mut()).enumerate()
                                {
                                    *to = v as f32;
                                    if !cuts.rounds(j, v) {
                                        exact.push((((r0 + dr) * k + j) as u64, v));
                                    }
                                }
                            }
                        }
                        exact
                    })
                })
                .collect();
            parts
                .into_iter()
                .map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        for part in found {
            self.rows.exact.extend(part);
        }
        Ok(())
    }

    /// Blocks of rows each of `threads` threads takes (the last thread fewer).
    fn blocks_per_thread(&self, threads: usize) -> usize {
        self.rows
            .n
            .div_ceil(self.block)
            .div_ceil(threads.max(1))
            .max(1)
    }

    /// The features no column was set for.
    pub fn missing(&self) -> Vec<usize> {
        (0..self.filled.len())
            .filter(|j| !self.filled[*j])
            .collect()
    }

    /// The rows, each block turned row by row (a feature no column was set for is missing),
    /// the blocks split over `threads` threads (each with a block of scratch).
    pub fn finish(mut self, threads: usize) -> Rows {
        let (n, k, block) = (self.rows.n, self.rows.k, self.block);
        if n > 0 && k > 0 {
            let per = self.blocks_per_thread(threads);
            let filled = &self.filled;
            std::thread::scope(|s| {
                for part in self.rows.values.chunks_mut(per * block * k) {
                    s.spawn(move || turn_blocks(part, k, block, filled));
                }
            });
        }
        self.rows.exact.sort_unstable_by_key(|(i, _)| *i);
        self.rows.exact.shrink_to_fit();
        self.rows
    }
}

/// Turns each block of `block` rows of `values` from column by column to row by row, in place
/// (one block of scratch); the features not `filled` are made missing.
fn turn_blocks(values: &mut [f32], k: usize, block: usize, filled: &[bool]) {
    let mut scratch = Vec::new();
    for segment in values.chunks_mut(block * k) {
        let m = segment.len() / k;
        // Every value of the scratch is written below: only its length changes (the last
        // block may be shorter), it is not cleared from block to block.
        scratch.resize(segment.len(), 0.0);
        // Column-major (j * m + r) to row-major (r * k + j), a tile at a time.
        for r0 in (0..m).step_by(TILE) {
            for j0 in (0..k).step_by(TILE) {
                for j in j0..(j0 + TILE).min(k) {
                    let from = &segment[j * m..(j + 1) * m];
                    for r in r0..(r0 + TILE).min(m) {
                        scratch[r * k + j] = from[r];
                    }
                }
            }
        }
        segment.copy_from_slice(&scratch);
        for (j, _) in filled.iter().enumerate().filter(|(_, f)| !**f) {
            for r in 0..m {
                segment[r * k + j] = f32::NAN;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(points: Vec<Vec<f64>>) -> Cuts {
        Cuts(
            points
                .into_iter()
                .map(|p| {
                    let filter = Filter::of(&p);
                    Cut::Points(p, filter)
                })
                .collect(),
        )
    }

    #[test]
    fn the_filter_answers_as_the_split_points_do() {
        // Values near many split points, among them zero's two signs, the zero band, the
        // roundings themselves and values beyond f32's range: the filtered answer is the one a
        // scan of every split point gives.
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut points: Vec<f64> = (0..300).map(|_| next() * 8.0 - 4.0).collect();
        points.extend([0.0, -ZERO, ZERO, 1e300, -1e300, f64::from(0.1f32)]);
        points.sort_unstable_by(f64::total_cmp);
        let c = cuts(vec![points.clone()]);
        let mut values: Vec<f64> = (0..200_000).map(|_| next() * 8.0 - 4.0).collect();
        for &t in &points {
            let r = f64::from(t as f32);
            values.extend([t, r, t + (r - t) / 2.0, -t, t * (1.0 + 1e-12)]);
        }
        values.extend([-1e-50, 1e-50, -0.0, 0.0, 1e-36, -1e-36, 1e39, -1e39, 0.1]);
        let mut kept = 0;
        for v in values {
            let r = f64::from(v as f32);
            let (lo, hi) = if v < r { (v, r) } else { (r, v) };
            let want = r.to_bits() == v.to_bits() || !points.iter().any(|t| lo <= *t && *t <= hi);
            assert_eq!(c.rounds(0, v), want, "{v:e}");
            kept += usize::from(!want);
        }
        assert!(kept > 300, "only {kept} values kept exactly");
    }

    #[test]
    fn a_value_is_kept_exactly_only_when_a_split_lies_between_it_and_its_rounding() {
        let v = 0.1_f64;
        let r = f64::from(v as f32);
        assert!(r > v);
        let mid = v + (r - v) / 2.0;
        let c = cuts(vec![vec![mid], vec![r], vec![v], vec![0.5], vec![]]);
        assert!(!c.rounds(0, v), "a split between the two");
        assert!(!c.rounds(1, v), "a split at the rounding");
        assert!(!c.rounds(2, v), "a split at the value itself");
        assert!(c.rounds(3, v), "a split far away");
        assert!(c.rounds(4, v), "no split");
        assert!(c.rounds(0, 0.25), "exact in f32");
        assert!(c.rounds(0, f64::NAN));
        let exact = Cuts(vec![Cut::Exact]);
        assert!(exact.rounds(0, 3.0));
        assert!(!exact.rounds(0, 0.1));
    }

    #[test]
    fn rows_give_back_every_value_on_the_same_side_of_every_split() {
        let (n, k) = (1000, 3);
        let col = |j: usize| -> Vec<f64> {
            (0..n)
                .map(|r| {
                    if r % 97 == 0 {
                        f64::NAN
                    } else {
                        (r as f64 * 0.001_3 + j as f64).sqrt()
                    }
                })
                .collect()
        };
        let cols: Vec<Vec<f64>> = (0..k).map(col).collect();
        // Split points at some of the values themselves, the hardest case.
        let points: Vec<Vec<f64>> = cols
            .iter()
            .map(|c| {
                c.iter()
                    .step_by(7)
                    .copied()
                    .filter(|v| !v.is_nan())
                    .collect()
            })
            .collect();
        let c = cuts(points.clone());
        // One block, blocks of 64 rows, and blocks of 7 (the last one short), set over 3
        // threads, turned row by row on one thread and on three.
        for (block, threads) in [(BLOCK, 3), (64, 1), (64, 3), (7, 1), (7, 3)] {
            let mut b = RowsBuilder::with_block(n, c.clone(), block);
            b.set(&[(2, &cols[2]), (0, &cols[0])], 3).unwrap();
            assert!(b.set(&[(3, &cols[0])], 1).is_err());
            assert!(b.set(&[(1, &cols[1][1..])], 1).is_err());
            assert_eq!(b.missing(), vec![1]);
            b.set(&[(1, &cols[1])], 1).unwrap();
            let rows = b.finish(threads);
            assert!(rows.n_exact() > 0 && rows.n_exact() < n * k);
            for r in 0..n {
                let row = rows.row(r);
                for (j, (col, splits)) in cols.iter().zip(&points).enumerate() {
                    let (v, got) = (col[r], row[j]);
                    assert_eq!(got.to_bits(), rows.value(r, j).to_bits());
                    if v.is_nan() {
                        assert!(got.is_nan());
                        continue;
                    }
                    assert_eq!(
                        got as f32, v as f32,
                        "block {block}/{threads}, row {r}, feature {j}"
                    );
                    for t in splits {
                        assert_eq!(v <= *t, got <= *t, "row {r} feature {j} split {t}");
                        assert_eq!(v < *t, got < *t, "row {r} feature {j} split {t}");
                    }
                }
            }
            assert_eq!(rows.column(1)[5], rows.value(5, 1));
        }
    }

    #[test]
    fn a_feature_never_set_is_missing() {
        let mut b = RowsBuilder::with_block(10, cuts(vec![vec![], vec![]]), 4);
        b.set(&[(1, &[2.0; 10])], 2).unwrap();
        let rows = b.finish(2);
        for r in 0..10 {
            assert!(rows.value(r, 0).is_nan());
            assert_eq!(rows.value(r, 1), 2.0);
        }
    }
}
