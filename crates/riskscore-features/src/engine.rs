//! One-pass aggregation of a table's rows per group (applicant, or loan for the monthly
//! balances), with pandas' arithmetic so that values match `groupby().agg()`:
//! Kahan-compensated sums for `sum` and `mean`, Welford's update for `var` (ddof = 1),
//! missing values (NaN) skipped, `sum` of no value 0, every other statistic of no value
//! missing. Rows are added in file order, as pandas adds them, so the results do not depend
//! on how the file was split into batches.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;

use crate::exprs::Agg;

/// A hasher for integer keys: one multiplication (Fibonacci hashing).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

pub(crate) type IdMap<V> = HashMap<i64, V, BuildHasherDefault<IdHasher>>;

/// No group: the row's key is unknown (an orphan) or its applicant is not kept.
pub(crate) const NO_GROUP: u32 = u32::MAX;

/// A slot of a dense [`KeyIndex`] that no key holds.
const EMPTY: u32 = u32::MAX - 1;

/// Integer keys to values below `u32::MAX - 1`: a table indexed by `key - min` when the keys
/// are dense (the Home Credit ids are: one lookup, no hashing, a few MB that stay in cache),
/// a hash map otherwise.
#[derive(Debug)]
pub(crate) enum KeyIndex {
    Dense { min: i64, slots: Vec<u32> },
    Hashed(IdMap<u32>),
}

impl KeyIndex {
    /// An empty index sized for `keys` (missing ids ignored).
    pub fn for_keys(keys: &[i64]) -> KeyIndex {
        let present = keys
            .iter()
            .copied()
            .filter(|&k| k != riskscore_data::scan::MISSING_ID);
        let (min, max) = present.fold((i64::MAX, i64::MIN), |(lo, hi), k| (lo.min(k), hi.max(k)));
        let span = (max as i128) - (min as i128) + 1;
        let limit = (4 * keys.len() as i128).clamp(1 << 16, 1 << 28);
        if min <= max && span <= limit {
            KeyIndex::Dense {
                min,
                slots: vec![EMPTY; span as usize],
            }
        } else {
            let mut map = IdMap::default();
            map.reserve(keys.len());
            KeyIndex::Hashed(map)
        }
    }

    /// Sets the value of `key`; returns the previous one.
    pub fn insert(&mut self, key: i64, value: u32) -> Option<u32> {
        match self {
            KeyIndex::Dense { min, slots } => {
                let slot = key
                    .checked_sub(*min)
                    .and_then(|i| slots.get_mut(i as usize))?;
                let old = std::mem::replace(slot, value);
                (old != EMPTY).then_some(old)
            }
            KeyIndex::Hashed(map) => map.insert(key, value),
        }
    }

    #[inline]
    pub fn get(&self, key: i64) -> Option<u32> {
        match self {
            KeyIndex::Dense { min, slots } => {
                let i = key.wrapping_sub(*min);
                match slots.get(usize::try_from(i).ok()?) {
                    Some(&v) if v != EMPTY => Some(v),
                    _ => None,
                }
            }
            KeyIndex::Hashed(map) => map.get(&key).copied(),
        }
    }
}

/// Which running statistics an input keeps.
#[derive(Debug, Clone, Copy, Default)]
struct Need {
    sum: bool,
    min: bool,
    max: bool,
    var: bool,
}

impl Need {
    fn of(aggs: &[Agg]) -> Need {
        let mut n = Need::default();
        for a in aggs {
            match a {
                Agg::Mean | Agg::Sum => n.sum = true,
                Agg::Min => n.min = true,
                Agg::Max => n.max = true,
                Agg::Var => n.var = true,
                Agg::Size | Agg::Nunique => {}
            }
        }
        n
    }

    /// Where statistic `agg` sits in an input's state (after the count: the compensated sum,
    /// min, max, then Welford's mean and M2), and how many values it needs.
    fn slot(self, agg: Agg) -> (usize, f64) {
        let after_sum = 1 + 2 * usize::from(self.sum);
        let after_min = after_sum + usize::from(self.min);
        let after_max = after_min + usize::from(self.max);
        match agg {
            Agg::Sum => (1, 0.0),
            Agg::Mean => (1, 1.0),
            Agg::Min => (after_sum, 1.0),
            Agg::Max => (after_min, 1.0),
            Agg::Var => (after_max + 1, 2.0),
            Agg::Size | Agg::Nunique => (0, 0.0),
        }
    }

    fn width(self) -> usize {
        1 + 2 * usize::from(self.sum)
            + usize::from(self.min)
            + usize::from(self.max)
            + 2 * usize::from(self.var)
    }
}

#[derive(Debug, Clone)]
struct Input {
    need: Need,
    offset: usize,
    width: usize,
}

/// Running statistics of numeric inputs per group, row-major (a group's state is contiguous).
///
/// A group's state sits at the group's index, or, for [`Stats::compact`] statistics, at an
/// index given in order of first appearance (few groups with rows, few states). Rows are
/// added by state index ([`Stats::enter`] gives it); results are read by group.
#[derive(Debug)]
pub(crate) struct Stats {
    inputs: Vec<Input>,
    width: usize,
    state: Vec<f64>,
    /// Rows per state, missing values included.
    rows: Vec<u32>,
    /// A state's initial values.
    empty: Vec<f64>,
    /// For compact statistics: the state index of each group ([`NO_GROUP`]: none yet).
    index: Option<Vec<u32>>,
}

impl Stats {
    /// `specs[i]` lists the statistics wanted of input `i`.
    #[cfg(test)]
    pub fn new(groups: usize, specs: &[&[Agg]]) -> Stats {
        Stats::with_buffer(groups, specs, Vec::new())
    }

    /// [`Stats::new`], the state kept in `buffer` (emptied first): memory already in use is
    /// not faulted in again.
    pub fn with_buffer(groups: usize, specs: &[&[Agg]], buffer: Vec<f64>) -> Stats {
        let mut inputs = Vec::with_capacity(specs.len());
        let mut width = 0;
        for aggs in specs {
            let need = Need::of(aggs);
            inputs.push(Input {
                need,
                offset: width,
                width: need.width(),
            });
            width += need.width();
        }
        // A group's initial state: counts and sums 0, minimum and maximum missing.
        let mut empty = vec![0.0; width];
        for input in &inputs {
            let mut k = input.offset + 1 + 2 * usize::from(input.need.sum);
            if input.need.min {
                empty[k] = f64::NAN;
                k += 1;
            }
            if input.need.max {
                empty[k] = f64::NAN;
            }
        }
        let mut state = buffer;
        state.clear();
        state.reserve(groups * width);
        for _ in 0..groups {
            state.extend_from_slice(&empty);
        }
        Stats {
            inputs,
            width,
            state,
            rows: vec![0; groups],
            empty,
            index: None,
        }
    }

    /// Statistics of `groups` groups whose states are made as groups appear (see
    /// [`Stats::enter`]); `buffer` should have room for all of them (memory not touched is
    /// not used).
    pub fn compact(groups: usize, specs: &[&[Agg]], buffer: Vec<f64>) -> Stats {
        let mut stats = Stats::with_buffer(0, specs, buffer);
        stats.index = Some(vec![NO_GROUP; groups]);
        stats
    }

    /// The state index of group `g` (made when it is new), [`NO_GROUP`] for [`NO_GROUP`].
    #[inline]
    pub fn enter(&mut self, g: u32) -> u32 {
        let Some(index) = &mut self.index else {
            return g;
        };
        let Some(slot) = index.get_mut(g as usize) else {
            return NO_GROUP;
        };
        if *slot == NO_GROUP {
            *slot = self.rows.len() as u32;
            self.rows.push(0);
            self.state.extend_from_slice(&self.empty);
        }
        *slot
    }

    /// How many states there are.
    pub fn states(&self) -> usize {
        self.rows.len()
    }

    /// The state index of group `g`, if it has one.
    #[inline]
    pub fn state_of(&self, g: usize) -> Option<usize> {
        match &self.index {
            None => (g < self.rows.len()).then_some(g),
            Some(index) => index
                .get(g)
                .filter(|&&s| s != NO_GROUP)
                .map(|&s| s as usize),
        }
    }

    /// The number of values of the state of `groups` groups (the buffer [`Stats::with_buffer`]
    /// fills).
    pub fn state_len(groups: usize, specs: &[&[Agg]]) -> usize {
        groups
            * specs
                .iter()
                .map(|aggs| Need::of(aggs).width())
                .sum::<usize>()
    }

    /// The state's buffer, for another use.
    pub fn into_buffer(self) -> Vec<f64> {
        self.state
    }

    /// Reads group `g`'s state, one value per cache line, and returns a meaningless number.
    /// Called a few rows ahead of the update (the rows of a table come in no particular
    /// order), it starts the memory loads early: a prefetch without unsafe code.
    #[inline]
    pub fn touch(&self, s: u32) -> u64 {
        let base = s as usize * self.width;
        let mut x = 0;
        let mut k = 0;
        while k < self.width {
            x ^= self.state.get(base + k).map_or(0, |v| v.to_bits());
            k += 8;
        }
        x
    }

    /// [`Stats::touch`] of group `g`'s state, if it has one.
    #[inline]
    pub fn touch_group(&self, g: u32) -> u64 {
        self.state_of(g as usize)
            .map_or(0, |s| self.touch(s as u32))
    }

    /// Counts a row of state `s` (see [`Stats::enter`]).
    #[inline]
    pub fn row(&mut self, s: u32) {
        self.rows[s as usize] += 1;
    }

    /// Adds value `v` of input `i` to state `s` (NaN is skipped).
    #[inline]
    pub fn add(&mut self, s: u32, i: usize, v: f64) {
        if v.is_nan() {
            return;
        }
        let base = s as usize * self.width;
        let Some(input) = self.inputs.get(i) else {
            return;
        };
        let Some(s) = self
            .state
            .get_mut(base + input.offset..base + input.offset + input.width)
        else {
            return;
        };
        update(s, input.need, v);
    }

    /// Adds one row's values of every input (in input order) to state `s`.
    #[inline]
    pub fn add_all(&mut self, s: u32, values: &[f64]) {
        let base = s as usize * self.width;
        let Some(group) = self.state.get_mut(base..base + self.width) else {
            return;
        };
        for (input, &v) in self.inputs.iter().zip(values) {
            if v.is_nan() {
                continue;
            }
            if let Some(s) = group.get_mut(input.offset..input.offset + input.width) {
                update(s, input.need, v);
            }
        }
    }

    /// Rows of group `g`.
    pub fn rows(&self, g: usize) -> u32 {
        self.state_of(g).map_or(0, |s| self.rows[s])
    }

    pub fn groups(&self) -> usize {
        self.index.as_ref().map_or(self.rows.len(), Vec::len)
    }

    /// The statistics `wanted` (input, statistic) for every group, in one pass over the state,
    /// written into `buffers` (one per statistic, emptied first).
    pub fn columns(&self, wanted: &[(usize, Agg)], buffers: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
        let plan: Vec<(usize, usize, f64, Agg)> = wanted
            .iter()
            .map(|&(i, agg)| {
                let input = &self.inputs[i];
                let (slot, least) = input.need.slot(agg);
                (input.offset, slot, least, agg)
            })
            .collect();
        let mut out = buffers;
        let groups = self.groups();
        for column in &mut out {
            column.clear();
            column.reserve(groups);
        }
        for g in 0..groups {
            let (state, rows) = match self.state_of(g) {
                Some(s) => (
                    &self.state[s * self.width..(s + 1) * self.width],
                    self.rows[s],
                ),
                None => (&self.empty[..], 0),
            };
            for (column, &(offset, slot, least, agg)) in out.iter_mut().zip(&plan) {
                column.push(finish(&state[offset..], slot, least, agg, rows));
            }
        }
        out
    }

    /// Statistic `agg` of input `i` for group `g` (see [`Stats::columns`]).
    #[cfg(test)]
    pub fn value(&self, g: usize, i: usize, agg: Agg) -> f64 {
        let input = &self.inputs[i];
        let (slot, least) = input.need.slot(agg);
        match self.state_of(g) {
            Some(s) => finish(
                &self.state[s * self.width + input.offset..],
                slot,
                least,
                agg,
                self.rows[s],
            ),
            None => f64::NAN,
        }
    }
}

/// A statistic from an input's running state `s` (`slot` and `least` from [`Need::slot`]) for a
/// group of `rows` rows: NaN with no row (left join) or fewer values than the statistic needs.
#[inline]
fn finish(s: &[f64], slot: usize, least: f64, agg: Agg, rows: u32) -> f64 {
    let n = s[0];
    if rows == 0 || n < least {
        return f64::NAN;
    }
    match agg {
        Agg::Mean => s[slot] / n,
        Agg::Var => s[slot] / (n - 1.0),
        Agg::Size => f64::from(rows),
        Agg::Nunique => f64::NAN, // kept by `Distinct`, not here
        Agg::Sum | Agg::Min | Agg::Max => s[slot],
    }
}

/// The smaller of a running minimum and `v`, pandas' way: a missing value is skipped, a
/// missing minimum (no value yet) replaced.
#[inline(always)]
pub(crate) fn min_of(min: f64, v: f64) -> f64 {
    if v < min || min.is_nan() {
        v
    } else {
        min
    }
}

/// See [`min_of`].
#[inline(always)]
pub(crate) fn max_of(max: f64, v: f64) -> f64 {
    if v > max || max.is_nan() {
        v
    } else {
        max
    }
}

/// One value into an input's running statistics `s` (see [`Stats`]); `v` is not NaN.
#[inline(always)]
fn update(s: &mut [f64], need: Need, v: f64) {
    s[0] += 1.0;
    let n = s[0];
    let mut k = 1;
    if need.sum {
        // pandas' group_sum / group_mean: Kahan summation.
        let y = v - s[2];
        let t = s[1] + y;
        let c = t - s[1] - y;
        s[2] = if c.is_nan() { 0.0 } else { c };
        s[1] = t;
        k += 2;
    }
    if need.min {
        s[k] = min_of(s[k], v);
        k += 1;
    }
    if need.max {
        s[k] = max_of(s[k], v);
        k += 1;
    }
    if need.var {
        // pandas' group_var: Welford's update.
        let old = s[k];
        s[k] += (v - old) / n;
        s[k + 1] += (v - s[k]) * (v - old);
    }
}

/// Category values across batches: each batch's dictionary mapped to table-wide codes, in
/// order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct Dict {
    codes: HashMap<String, u32>,
    pub values: Vec<String>,
}

impl Dict {
    /// The table-wide codes of a batch's dictionary.
    pub fn remap(&mut self, dictionary: &[String]) -> Vec<u32> {
        dictionary
            .iter()
            .map(|v| {
                if let Some(&c) = self.codes.get(v) {
                    return c;
                }
                let c = self.values.len() as u32;
                self.values.push(v.clone());
                self.codes.insert(v.clone(), c);
                c
            })
            .collect()
    }

    pub fn code(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }
}

/// Sorted distinct values (pandas' dummy order: code points, which UTF-8 bytes sort as).
pub(crate) fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort_unstable();
    values
}

/// Row counts per group of every value of a table's categorical columns, group-major: one
/// row's counts sit together, so counting a row's sixteen categories (previous applications)
/// touches one or two cache lines, not sixteen arrays. Each column has a slot for missing
/// values and room for its values, grown when a new value needs it.
#[derive(Debug)]
pub(crate) struct CatTable {
    groups: usize,
    dicts: Vec<Dict>,
    /// Per column: its first slot (missing values), then `caps[c]` value slots.
    offsets: Vec<usize>,
    caps: Vec<usize>,
    width: usize,
    counts: Vec<u32>,
}

impl CatTable {
    pub fn new(groups: usize, columns: usize) -> CatTable {
        let mut t = CatTable {
            groups,
            dicts: (0..columns).map(|_| Dict::default()).collect(),
            offsets: Vec::new(),
            caps: vec![0; columns],
            width: 0,
            counts: Vec::new(),
        };
        t.relayout(&vec![0; columns]);
        t
    }

    /// Moves the counts to a layout with `caps` value slots per column.
    fn relayout(&mut self, caps: &[usize]) {
        let mut offsets = Vec::with_capacity(caps.len());
        let mut width = 0;
        for cap in caps {
            offsets.push(width);
            width += 1 + cap;
        }
        let mut counts = vec![0u32; self.groups * width];
        if self.width > 0 {
            for g in 0..self.groups {
                for ((&old_at, &new_at), &cap) in self.offsets.iter().zip(&offsets).zip(&self.caps)
                {
                    let (from, to) = (g * self.width + old_at, g * width + new_at);
                    counts[to..=to + cap].copy_from_slice(&self.counts[from..=from + cap]);
                }
            }
        }
        self.offsets = offsets;
        self.caps = caps.to_vec();
        self.width = width;
        self.counts = counts;
    }

    /// Makes room for `groups` groups (the states of compact [`Stats`]).
    pub fn grow(&mut self, groups: usize) {
        if groups > self.groups {
            self.groups = groups;
            self.counts.resize(groups * self.width, 0);
        }
    }

    /// The table-wide codes of a batch's dictionary of column `c`. Call [`CatTable::fit`]
    /// before counting.
    pub fn remap(&mut self, c: usize, dictionary: &[String]) -> Vec<u32> {
        self.dicts[c].remap(dictionary)
    }

    /// Makes room for every value seen (one move of the counts for all columns that grew).
    pub fn fit(&mut self) {
        if self
            .dicts
            .iter()
            .zip(&self.caps)
            .any(|(d, &cap)| d.values.len() > cap)
        {
            let caps: Vec<usize> = self
                .dicts
                .iter()
                .zip(&self.caps)
                .map(|(d, &cap)| {
                    if d.values.len() > cap {
                        d.values.len() + 2
                    } else {
                        cap
                    }
                })
                .collect();
            self.relayout(&caps);
        }
    }

    /// Counts value `code` (table-wide, or [`riskscore_data::scan::MISSING_CAT`]) of column `c`
    /// for group `g`.
    #[inline]
    pub fn add(&mut self, g: u32, c: usize, code: u32) {
        let slot = if code == riskscore_data::scan::MISSING_CAT {
            0
        } else {
            1 + code as usize
        };
        if let Some(n) = self
            .counts
            .get_mut(g as usize * self.width + self.offsets[c] + slot)
        {
            *n += 1;
        }
    }

    /// The sorted distinct values seen in column `c`.
    pub fn seen(&self, c: usize) -> Vec<String> {
        sorted(self.dicts[c].values.clone())
    }

    /// The slot of `value` in column `c`; `None` when it never appeared.
    pub fn slot_of(&self, c: usize, value: &str) -> Option<usize> {
        self.dicts[c]
            .code(value)
            .map(|k| self.offsets[c] + 1 + k as usize)
    }

    /// The slot of missing values in column `c`.
    pub fn missing_slot(&self, c: usize) -> usize {
        self.offsets[c]
    }

    /// The counts of group `g` (the state index of compact [`Stats`]), indexed by slot.
    #[inline]
    pub fn row(&self, g: usize) -> &[u32] {
        &self.counts[g * self.width..(g + 1) * self.width]
    }
}

/// Statistic `agg` of a 0/1 column with `k` ones in `n` rows (n > 0).
pub(crate) fn dummy_stat(k: u32, n: u32, agg: Agg) -> f64 {
    let (k, n) = (f64::from(k), f64::from(n));
    match agg {
        Agg::Min => f64::from(u8::from(k == n)),
        Agg::Max => f64::from(u8::from(k > 0.0)),
        Agg::Sum => k,
        Agg::Mean => k / n,
        // The exact sample variance; pandas' Welford update can differ in the last bits.
        Agg::Var if n > 1.0 => k * (n - k) / (n * (n - 1.0)),
        Agg::Size => n,
        _ => f64::NAN,
    }
}

/// A Float64 column from values where NaN means missing.
pub(crate) fn float_column(name: &str, values: Vec<f64>) -> Column {
    let validity = values
        .iter()
        .any(|v| v.is_nan())
        .then(|| values.iter().map(|v| !v.is_nan()).collect::<Bitmap>());
    Float64Chunked::from_vec_validity(name.into(), values, validity).into_column()
}

/// Distinct non-missing values per group, for `nunique`: small non-negative integers in a
/// bit set, others in a list sorted at the end.
#[derive(Debug)]
pub(crate) struct Distinct {
    bits: Vec<u64>,
    others: Vec<(u32, u64)>,
}

impl Distinct {
    pub fn new(groups: usize) -> Distinct {
        Distinct {
            bits: vec![0; groups],
            others: Vec::new(),
        }
    }

    #[inline]
    pub fn add(&mut self, g: u32, v: f64) {
        if v.is_nan() {
            return;
        }
        if (0.0..64.0).contains(&v) && v.fract() == 0.0 {
            self.bits[g as usize] |= 1u64 << (v as u32);
        } else {
            // -0.0 and 0.0 are one value, as in pandas.
            let v = if v == 0.0 { 0.0 } else { v };
            self.others.push((g, v.to_bits()));
        }
    }

    /// Distinct counts per group.
    pub fn counts(mut self) -> Vec<u32> {
        let mut out: Vec<u32> = self.bits.iter().map(|b| b.count_ones()).collect();
        self.others.sort_unstable();
        self.others.dedup();
        for (g, _) in self.others {
            out[g as usize] += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_follow_pandas() {
        let mut s = Stats::new(3, &[&[Agg::Min, Agg::Max, Agg::Mean, Agg::Sum, Agg::Var]]);
        for v in [1.0, f64::NAN, 3.0, 8.0] {
            s.row(0);
            s.add(0, 0, v);
        }
        s.row(1);
        s.add(1, 0, f64::NAN);
        let v = |g, a| s.value(g, 0, a);
        assert_eq!(
            (v(0, Agg::Min), v(0, Agg::Max), v(0, Agg::Sum)),
            (1.0, 8.0, 12.0)
        );
        assert_eq!(v(0, Agg::Mean), 4.0);
        assert_eq!(v(0, Agg::Var), 13.0); // (9 + 1 + 16) / 2
        assert_eq!(v(1, Agg::Sum), 0.0); // no value: 0, as pandas sums
        assert!(v(1, Agg::Mean).is_nan() && v(1, Agg::Min).is_nan() && v(1, Agg::Var).is_nan());
        assert!(v(2, Agg::Sum).is_nan()); // no row: missing (left join)
    }

    #[test]
    fn compact_statistics_read_as_dense_ones() {
        let specs: &[&[Agg]] = &[&[Agg::Min, Agg::Mean, Agg::Var], &[Agg::Sum, Agg::Max]];
        let mut dense = Stats::new(5, specs);
        let mut compact = Stats::compact(5, specs, Vec::new());
        // Groups 3, 0 and 3 again; groups 1, 2 and 4 never appear.
        for (g, a, b) in [
            (3, 1.0, 2.0),
            (0, f64::NAN, 5.0),
            (3, 4.0, f64::NAN),
            (3, 7.0, 1.0),
        ] {
            let s = compact.enter(g);
            for (stats, s) in [(&mut dense, g), (&mut compact, s)] {
                stats.row(s);
                stats.add_all(s, &[a, b]);
            }
        }
        assert_eq!((compact.states(), compact.groups()), (2, 5));
        assert_eq!(compact.state_of(3), Some(0));
        assert_eq!(compact.state_of(4), None);
        let wanted: Vec<(usize, Agg)> = specs
            .iter()
            .enumerate()
            .flat_map(|(i, aggs)| aggs.iter().map(move |a| (i, *a)))
            .collect();
        let bits = |s: &Stats| -> Vec<Vec<u64>> {
            let empty = wanted.iter().map(|_| Vec::new()).collect();
            s.columns(&wanted, empty)
                .iter()
                .map(|c| c.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(&compact), bits(&dense));
        assert_eq!(compact.value(3, 0, Agg::Var), 9.0);
        assert_eq!(
            (0..5).map(|g| compact.rows(g)).collect::<Vec<_>>(),
            [1, 0, 0, 3, 0]
        );
    }

    #[test]
    fn kahan_sum_keeps_small_terms() {
        let mut s = Stats::new(1, &[&[Agg::Sum]]);
        for v in [1e16, 1.0, 1.0, 1.0, 1.0] {
            s.row(0);
            s.add(0, 0, v);
        }
        assert_eq!(s.value(0, 0, Agg::Sum), 1e16 + 4.0);
    }

    #[test]
    fn distinct_counts_small_and_other_values() {
        let mut d = Distinct::new(2);
        for v in [1.0, 1.0, 2.0, 100.0, 100.0, 0.5, f64::NAN] {
            d.add(0, v);
        }
        d.add(1, -0.0);
        d.add(1, 0.0);
        assert_eq!(d.counts(), [4, 1]);
    }
}
