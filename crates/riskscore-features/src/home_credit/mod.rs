//! The feature set of the public kernel "LightGBM with Simple Features" (Aguiar, 2018) over the
//! seven Home Credit tables, with the names and values of `../shared/bench/fe_pandas.py`.
//!
//! Plan: each history table is scanned once, in batches (parsed on every core), and folded
//! row by row into running statistics per applicant (the `engine` module); no table is held
//! whole, one-hot columns are never materialised (a dummy's statistics come from counts per
//! category), the ACTIVE_/CLOSED_ and APPROVED_/REFUSED_ splits are kept in the same pass,
//! and the bureau balances are folded per loan first. Each table's features are handed to an
//! output as soon as they are final: in memory, or compressed Parquet pages.

use polars::prelude::*;
use riskscore_data::scan::{Batch, MISSING_CAT, MISSING_ID};
use riskscore_data::{Table, TableSource};

use crate::engine::{
    dummy_stat, float_column, max_of, min_of, sorted, CatTable, Dict, Distinct, KeyIndex, Stats,
    NO_GROUP,
};
use crate::error::{Error, Result};
use crate::exprs::Agg;
use crate::vocab::VocabMode;

mod application;
mod bureau;
mod monthly;
mod previous;
mod split;
pub mod sql;

use application::application;
use bureau::bureau;
use monthly::{credit_card, installments, pos_cash};
use previous::previous;
use split::{batch_inputs, input_positions, row_values, SplitTable};
pub use split::{value_of, Value};

const KEY: &str = "SK_ID_CURR";

pub use riskscore_data::schema::DAYS_MISSING_CODE;
/// Application flags factorized to integer codes instead of one-hot columns.
const BINARY_FLAGS: [&str; 3] = ["CODE_GENDER", "FLAG_OWN_CAR", "FLAG_OWN_REALTY"];

/// The prefixes of the features aggregated from the history tables (bureau and its balances,
/// previous applications, POS/cash, instalments, credit cards); every other feature comes from
/// the application row alone.
pub const HISTORY_PREFIXES: [&str; 9] = [
    "BURO_",
    "ACTIVE_",
    "CLOSED_",
    "PREV_",
    "APPROVED_",
    "REFUSED_",
    "POS_",
    "INSTAL_",
    "CC_",
];

/// Whether a feature is aggregated from the history tables (see [`HISTORY_PREFIXES`]).
pub fn from_history(feature: &str) -> bool {
    HISTORY_PREFIXES.iter().any(|p| feature.starts_with(p))
}

type Spec<'a> = &'a [(&'static str, &'static [Agg])];

use Agg::{Max, Mean, Min, Nunique, Size, Sum, Var};

const BUREAU_NUM: Spec = &[
    ("DAYS_CREDIT", &[Min, Max, Mean, Var]),
    ("DAYS_CREDIT_ENDDATE", &[Min, Max, Mean]),
    ("DAYS_CREDIT_UPDATE", &[Mean]),
    ("CREDIT_DAY_OVERDUE", &[Max, Mean]),
    ("AMT_CREDIT_MAX_OVERDUE", &[Mean]),
    ("AMT_CREDIT_SUM", &[Max, Mean, Sum]),
    ("AMT_CREDIT_SUM_DEBT", &[Max, Mean, Sum]),
    ("AMT_CREDIT_SUM_OVERDUE", &[Mean]),
    ("AMT_CREDIT_SUM_LIMIT", &[Mean, Sum]),
    ("AMT_ANNUITY", &[Max, Mean]),
    ("CNT_CREDIT_PROLONG", &[Sum]),
    ("MONTHS_BALANCE_MIN", &[Min]),
    ("MONTHS_BALANCE_MAX", &[Max]),
    ("MONTHS_BALANCE_SIZE", &[Mean, Sum]),
];

const PREV_NUM: Spec = &[
    ("AMT_ANNUITY", &[Min, Max, Mean]),
    ("AMT_APPLICATION", &[Min, Max, Mean]),
    ("AMT_CREDIT", &[Min, Max, Mean]),
    ("APP_CREDIT_PERC", &[Min, Max, Mean, Var]),
    ("AMT_DOWN_PAYMENT", &[Min, Max, Mean]),
    ("AMT_GOODS_PRICE", &[Min, Max, Mean]),
    ("HOUR_APPR_PROCESS_START", &[Min, Max, Mean]),
    ("RATE_DOWN_PAYMENT", &[Min, Max, Mean]),
    ("DAYS_DECISION", &[Min, Max, Mean]),
    ("CNT_PAYMENT", &[Mean, Sum]),
];

const POS_NUM: Spec = &[
    ("MONTHS_BALANCE", &[Max, Mean, Size]),
    ("SK_DPD", &[Max, Mean]),
    ("SK_DPD_DEF", &[Max, Mean]),
];

const INSTAL_NUM: Spec = &[
    ("NUM_INSTALMENT_VERSION", &[Nunique]),
    ("DPD", &[Max, Mean, Sum]),
    ("DBD", &[Max, Mean, Sum]),
    ("PAYMENT_PERC", &[Max, Mean, Sum, Var]),
    ("PAYMENT_DIFF", &[Max, Mean, Sum, Var]),
    ("AMT_INSTALMENT", &[Max, Mean, Sum]),
    ("AMT_PAYMENT", &[Min, Max, Mean, Sum]),
    ("DAYS_ENTRY_PAYMENT", &[Max, Mean, Sum]),
];

const CC_AGGS: &[Agg] = &[Min, Max, Mean, Sum, Var];

/// A split table's category and the two values that split its rows.
type SplitBy = (&'static str, [&'static str; 2]);
/// The prefixes of a split table's features: all rows, then each split.
type SplitPrefixes = (&'static str, [&'static str; 2]);

const BUREAU_SPLIT: SplitBy = ("CREDIT_ACTIVE", ["Active", "Closed"]);
const BUREAU_PREFIXES: SplitPrefixes = ("BURO_", ["ACTIVE_", "CLOSED_"]);
const PREV_SPLIT: SplitBy = ("NAME_CONTRACT_STATUS", ["Approved", "Refused"]);
const PREV_PREFIXES: SplitPrefixes = ("PREV_", ["APPROVED_", "REFUSED_"]);

/// The balances folded per bureau loan (from bureau_balance) before the loans are aggregated:
/// the first and last month and the number of months, among [`BUREAU_NUM`]'s inputs.
const BUREAU_BALANCE_INPUTS: [&str; 3] = [
    "MONTHS_BALANCE_MIN",
    "MONTHS_BALANCE_MAX",
    "MONTHS_BALANCE_SIZE",
];

/// The POS/cash balances' features: prefix and the statistics of its one-hot columns.
const POS_PREFIX: &str = "POS_";
const POS_DUMMY_AGGS: &[Agg] = &[Mean];
const INSTAL_PREFIX: &str = "INSTAL_";
const CC_PREFIX: &str = "CC_";

/// Feature columns computed together from one set of running statistics.
const COLUMNS_AT_ONCE: usize = 16;

/// Where finished feature columns go, in output order, and where the buffers of the running
/// statistics and of the float columns come from (an output that writes columns away can
/// give their buffers back: memory that needs no new pages).
pub(crate) trait Out {
    fn push(&mut self, column: Column) -> Result<()>;

    /// A Float64 column, NaN where missing.
    fn push_floats(&mut self, name: &str, values: Vec<f64>) -> Result<()> {
        self.push(float_column(name, values))
    }

    /// An empty buffer with room for `len` values.
    fn buffer(&mut self, len: usize) -> Vec<f64> {
        Vec::with_capacity(len)
    }

    /// A buffer no longer used.
    fn recycle(&mut self, _buffer: Vec<f64>) {}

    /// See [`crate::ColumnSink::lean`].
    fn lean(&self) -> bool {
        false
    }

    /// How many rows of history `table` each applicant has, in output row order (told once
    /// the table is folded and its running statistics given back, whether or not the source
    /// has it).
    fn history_rows(&mut self, _table: Table, _rows: Vec<u32>) {}
}

/// Running statistics whose state comes from `out`'s buffers (see [`Out::recycle`]).
fn stats_in(out: &mut dyn Out, groups: usize, specs: &[&[Agg]]) -> Stats {
    Stats::with_buffer(groups, specs, out.buffer(Stats::state_len(groups, specs)))
}

/// The statistics `wanted` of `stats` per group, in buffers from `out`.
fn columns_of(out: &mut dyn Out, stats: &Stats, wanted: &[(usize, Agg)]) -> Vec<Vec<f64>> {
    let buffers = wanted.iter().map(|_| out.buffer(stats.groups())).collect();
    stats.columns(wanted, buffers)
}

impl Out for Vec<Column> {
    fn push(&mut self, column: Column) -> Result<()> {
        Vec::push(self, column);
        Ok(())
    }
}

/// Progress and integrity notes collected while building.
#[derive(Debug, Default, Clone)]
pub struct BuildReport {
    /// (table, foreign key, number of rows whose key has no parent row)
    pub orphans: Vec<(String, String, usize)>,
}

impl BuildReport {
    fn orphans(&mut self, table: Table, column: &str, n: usize) {
        if n > 0 {
            tracing::warn!(
                table = table.stem(),
                key = column,
                rows = n,
                "rows whose key has no parent row"
            );
            self.orphans.push((table.stem().into(), column.into(), n));
        }
    }
}

/// Builds the feature matrix: one row per applicant (train then test rows, every one of them:
/// the kernel's drop of CODE_GENDER = 'XNA' rows is not done), with `SK_ID_CURR`, `TARGET` and the features, pushed to `out`
/// table by table. Returns the number of rows.
pub(crate) fn build(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<usize> {
    let apps = application(source, vocab, out)?;
    bureau(source, vocab, &apps, report, out)?;
    let prev_ids = previous(source, vocab, &apps, report, out)?;
    pos_cash(source, vocab, &apps, &prev_ids, report, out)?;
    installments(source, &apps, &prev_ids, report, out)?;
    credit_card(source, vocab, &apps, &prev_ids, report, out)?;
    Ok(apps.kept)
}

/// The applicants: every application id and its output row.
#[derive(Debug)]
struct Applicants {
    row: KeyIndex,
    kept: usize,
}

/// Counts history rows per group while remembering the last key (rows of one applicant or loan
/// are often consecutive).
#[derive(Debug)]
struct Lookup<'a> {
    map: &'a KeyIndex,
    last: Option<(i64, Option<u32>)>,
    orphans: usize,
}

impl<'a> Lookup<'a> {
    fn new(map: &'a KeyIndex) -> Self {
        Lookup {
            map,
            last: None,
            orphans: 0,
        }
    }

    /// The group of `id`, [`NO_GROUP`] for a row to skip; orphans are counted.
    #[inline]
    fn get(&mut self, id: i64) -> u32 {
        let found = match self.last {
            Some((last, found)) if last == id => found,
            _ => {
                let found = if id == MISSING_ID {
                    None
                } else {
                    self.map.get(id)
                };
                self.last = Some((id, found));
                found
            }
        };
        match found {
            Some(g) => g,
            None => {
                self.orphans += 1;
                NO_GROUP
            }
        }
    }
}

/// Rows ahead whose state is touched before their update (see [`Stats::touch`]).
const AHEAD: usize = 8;

/// Touches the state of the group `AHEAD` rows after `r` in every `stats`.
#[inline]
fn touch_ahead(groups: &[u32], r: usize, stats: &[&Stats], sink: &mut u64) {
    if let Some(&g) = groups.get(r + AHEAD) {
        if g != NO_GROUP {
            for s in stats {
                *sink ^= s.touch_group(g);
            }
        }
    }
}

/// A primary key's values, checked for duplicates (the error names the smallest one).
fn unique_keys(table: Table, column: &str, ids: &[i64]) -> Result<KeyIndex> {
    let mut map = KeyIndex::for_keys(ids);
    let mut duplicates = 0;
    let mut first: Option<i64> = None;
    for (i, &id) in ids.iter().enumerate() {
        if id != MISSING_ID && map.insert(id, i as u32).is_some() {
            duplicates += 1;
            first = Some(first.map_or(id, |f: i64| f.min(id)));
        }
    }
    match first {
        None => Ok(map),
        Some(first) => Err(riskscore_data::Error::DuplicateKey {
            table: table.stem().into(),
            column: column.into(),
            count: duplicates,
            first: first.to_string(),
        }
        .into()),
    }
}

/// Scans `names` of `table`; `false` when an optional table is absent.
fn scan(
    source: &dyn TableSource,
    table: Table,
    names: &[&str],
    mut sink: impl FnMut(&Batch),
) -> Result<bool> {
    Ok(source.scan(table, names, &mut |batch| {
        sink(batch);
        Ok(())
    })?)
}

/// A table's features are made: progress on a folder, a debug line for tables in memory (a
/// posted application: six lines at every request otherwise).
fn log_part(source: &dyn TableSource, what: &str, applicants: usize, columns: usize) {
    if source.reports_progress() {
        tracing::info!(
            applicants,
            columns,
            cpu = riskscore_data::usage::cpu_label(),
            memory = riskscore_data::usage::memory_label(),
            "{what} features"
        );
    } else {
        tracing::debug!(applicants, columns, "{what} features");
    }
}

/// Pushes `{prefix}{name}_{AGG}` for every input of `spec` (statistics of `stats`).
fn push_spec(
    out: &mut dyn Out,
    stats: &Stats,
    spec: Spec,
    prefix: &str,
    first: usize,
) -> Result<usize> {
    let mut names = Vec::new();
    let mut wanted = Vec::new();
    for (i, (name, aggs)) in spec.iter().enumerate() {
        for agg in aggs.iter() {
            names.push(format!("{prefix}{name}_{}", agg.suffix()));
            wanted.push((first + i, *agg));
        }
    }
    // A few columns at a time: all of a table's at once would double its memory.
    for (names, wanted) in names
        .chunks(COLUMNS_AT_ONCE)
        .zip(wanted.chunks(COLUMNS_AT_ONCE))
    {
        for (name, values) in names.iter().zip(columns_of(out, stats, wanted)) {
            out.push_floats(name, values)?;
        }
    }
    Ok(names.len())
}

/// Pushes the statistics `aggs` of the one-hot columns of categorical column `c` (its
/// vocabulary values, then `_nan`), per group with `rows` rows. None when the vocabulary is
/// empty.
#[allow(clippy::too_many_arguments)]
fn push_dummies(
    out: &mut dyn Out,
    column: &str,
    values: &[String],
    cats: &CatTable,
    c: usize,
    rows: &Stats,
    aggs: &[Agg],
    prefix: &str,
) -> Result<usize> {
    if values.is_empty() {
        return Ok(0); // pandas reads an all-empty column as numbers: no one-hot columns
    }
    let names = values
        .iter()
        .map(|v| (crate::exprs::dummy_name(column, v), cats.slot_of(c, v)))
        .chain([(format!("{column}_nan"), Some(cats.missing_slot(c)))]);
    let wanted: Vec<(String, Option<usize>, Agg)> = names
        .flat_map(|(dummy, slot)| {
            aggs.iter()
                .map(move |agg| (format!("{prefix}{dummy}_{}", agg.suffix()), slot, *agg))
        })
        .collect();
    // A few columns at a time, every group's counts read once per block: a group's counts of
    // one categorical column sit together (one or two cache lines), where a column at a time
    // would read a whole line per group for each of its dummies.
    for block in wanted.chunks(COLUMNS_AT_ONCE) {
        let mut columns: Vec<Vec<f64>> = block.iter().map(|_| out.buffer(rows.groups())).collect();
        for g in 0..rows.groups() {
            match rows.state_of(g) {
                Some(state) if rows.rows(g) > 0 => {
                    let (counts, n) = (cats.row(state), rows.rows(g));
                    for ((_, slot, agg), values) in block.iter().zip(&mut columns) {
                        values.push(dummy_stat(slot.map_or(0, |s| counts[s]), n, *agg));
                    }
                }
                _ => {
                    for values in &mut columns {
                        values.push(f64::NAN);
                    }
                }
            }
        }
        for ((name, _, _), values) in block.iter().zip(columns) {
            out.push_floats(name, values)?;
        }
    }
    Ok(wanted.len())
}

/// Remaps a batch's category column to table-wide codes.
fn table_codes(cats: &mut CatTable, c: usize, batch: &Batch, i: usize) -> Vec<u32> {
    let (codes, dict) = batch.cats(i);
    let map = cats.remap(c, dict);
    codes
        .iter()
        .map(|&c| {
            if c == MISSING_CAT {
                MISSING_CAT
            } else {
                map[c as usize]
            }
        })
        .collect()
}

/// The split of each row of a batch (ACTIVE_/CLOSED_, APPROVED_/REFUSED_): 1 or 2 where its
/// category (batch column `column`) is `values[0]` or `values[1]` and that value is
/// `admitted`, 0 otherwise; `None` when the table has no such column.
fn split_rows(
    b: &Batch,
    column: Option<usize>,
    values: [&str; 2],
    admitted: [bool; 2],
) -> Option<Vec<u8>> {
    let (codes, dict) = b.cats(column?);
    let of: Vec<u8> = dict
        .iter()
        .map(|v| {
            values
                .iter()
                .zip(admitted)
                .position(|(s, ok)| ok && s == v)
                .map_or(0, |p| p as u8 + 1)
        })
        .collect();
    Some(
        codes
            .iter()
            .map(|&c| of.get(c as usize).copied().unwrap_or(0))
            .collect(),
    )
}

/// The running statistics of every row of a table and of the rows of each of its two splits.
#[derive(Debug)]
struct Splits {
    all: Stats,
    parts: [Stats; 2],
}

impl Splits {
    /// For a lean output ([`Out::lean`]) the splits' statistics are compact (a state per
    /// applicant with rows in the split): half the applicants have a refused previous
    /// application, and the three full tables of previous_application's statistics set the
    /// server's peak from a folder. Compact states cost about 2 % more CPU.
    fn new(out: &mut dyn Out, groups: usize, specs: &[&[Agg]]) -> Splits {
        let lean = out.lean();
        let mut part = || {
            let buffer = out.buffer(Stats::state_len(groups, specs));
            if lean {
                Stats::compact(groups, specs, buffer)
            } else {
                Stats::with_buffer(groups, specs, buffer)
            }
        };
        let parts = [part(), part()];
        Splits {
            all: stats_in(out, groups, specs),
            parts,
        }
    }

    /// Counts a row of group `g` in split `s` (0: in no split); returns the row's state in its
    /// split ([`NO_GROUP`]: none), for [`Splits::add_at`].
    #[inline]
    fn row(&mut self, g: u32, s: u8) -> u32 {
        self.all.row(g);
        match self.parts.get_mut(usize::from(s).wrapping_sub(1)) {
            Some(part) => {
                let state = part.enter(g);
                part.row(state);
                state
            }
            None => NO_GROUP,
        }
    }

    /// [`Splits::add`] with the row's state in its split (from [`Splits::row`]).
    #[inline]
    fn add_at(&mut self, g: u32, s: u8, state: u32, i: usize, v: f64) {
        self.all.add(g, i, v);
        if let Some(part) = self.parts.get_mut(usize::from(s).wrapping_sub(1)) {
            part.add(state, i, v);
        }
    }

    /// Adds value `v` of input `i` for group `g` in split `s` (after the row's [`Splits::row`]).
    #[inline]
    fn add(&mut self, g: u32, s: u8, i: usize, v: f64) {
        // A group without a state in the split adds nothing there (as to [`NO_GROUP`]).
        let state = self
            .parts
            .get(usize::from(s).wrapping_sub(1))
            .and_then(|part| part.state_of(g as usize))
            .map_or(NO_GROUP, |state| state as u32);
        self.add_at(g, s, state, i, v);
    }

    fn each(&self) -> [&Stats; 3] {
        [&self.all, &self.parts[0], &self.parts[1]]
    }
}

/// The parent loan of a monthly history row, checked against previous_application.
#[derive(Debug)]
struct PrevCheck<'a> {
    prev: &'a KeyIndex,
    last: i64,
    orphans: usize,
}

impl<'a> PrevCheck<'a> {
    fn new(prev: &'a KeyIndex) -> Self {
        PrevCheck {
            prev,
            last: MISSING_ID,
            orphans: 0,
        }
    }

    #[inline]
    fn check(&mut self, id: i64) {
        if id != MISSING_ID && id == self.last {
            return;
        }
        if id == MISSING_ID || self.prev.get(id).is_none() {
            self.orphans += 1;
        } else {
            self.last = id;
        }
    }
}

/// The applicant of each row of a monthly table (SK_ID_CURR, SK_ID_PREV), orphans counted.
fn monthly_groups(
    curr: &[i64],
    loan: &[i64],
    lookup: &mut Lookup,
    parent: &mut PrevCheck,
) -> Vec<u32> {
    curr.iter()
        .zip(loan)
        .map(|(&c, &l)| {
            parent.check(l);
            lookup.get(c)
        })
        .collect()
}

/// Where a column the code reads by name stands among the columns read: an error (never
/// column 0) when it is not there.
fn position_of<'a>(mut names: impl Iterator<Item = &'a str>, name: &str) -> Result<usize> {
    names.position(|n| n == name).ok_or_else(|| Error::Column {
        column: name.into(),
        message: "not among the columns read for the features".into(),
    })
}

/// Pushes `{prefix}COUNT`: rows per applicant, missing when none.
fn push_count(out: &mut dyn Out, stats: &Stats, prefix: &str) -> Result<()> {
    let counts: Int64Chunked = (0..stats.groups())
        .map(|g| {
            let r = stats.rows(g);
            (r > 0).then_some(i64::from(r))
        })
        .collect();
    out.push(
        counts
            .with_name(format!("{prefix}COUNT").into())
            .into_column(),
    )
}
