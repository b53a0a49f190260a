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
use crate::error::Result;
use crate::exprs::Agg;
use crate::vocab::VocabMode;

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
    /// Application rows dropped because CODE_GENDER is 'XNA' (as the kernel does).
    pub dropped_xna: usize,
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

/// Builds the feature matrix: one row per applicant (train then test rows, minus the
/// CODE_GENDER = 'XNA' rows), with `SK_ID_CURR`, `TARGET` and the features, pushed to `out`
/// table by table. Returns the number of rows.
pub(crate) fn build(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<usize> {
    let apps = application(source, vocab, report, out)?;
    bureau(source, vocab, &apps, report, out)?;
    let prev_ids = previous(source, vocab, &apps, report, out)?;
    pos_cash(source, vocab, &apps, &prev_ids, report, out)?;
    installments(source, &apps, &prev_ids, report, out)?;
    credit_card(source, vocab, &apps, &prev_ids, report, out)?;
    Ok(apps.kept)
}

/// The applicants: every application id (the XNA rows the kernel drops included, so that
/// their history rows are not orphans) and its output row.
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
                *sink ^= s.touch(g);
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

fn log_part(what: &str, applicants: usize, columns: usize) {
    tracing::info!(
        applicants,
        columns,
        cpu = riskscore_data::usage::cpu_label(),
        memory = riskscore_data::usage::memory_label(),
        "{what} features"
    );
}

fn application(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<Applicants> {
    let columns = Table::ApplicationTrain.columns();
    let n_cols = columns.len();
    let mut ids: Vec<i64> = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); n_cols];
    let mut codes: Vec<Vec<u32>> = vec![Vec::new(); n_cols];
    let mut dicts: Vec<Dict> = (0..n_cols).map(|_| Dict::default()).collect();
    for table in [Table::ApplicationTrain, Table::ApplicationTest] {
        let names: Vec<&str> = table.columns().iter().map(|(n, _)| *n).collect();
        let before = ids.len();
        scan(source, table, &names, |batch| {
            for (j, (name, kind)) in columns.iter().enumerate() {
                let Some(i) = names.iter().position(|n| n == name) else {
                    values[j].extend(std::iter::repeat_n(f64::NAN, batch.rows)); // TARGET of test
                    continue;
                };
                match kind {
                    riskscore_data::Kind::Id => ids.extend_from_slice(batch.ids(i)),
                    riskscore_data::Kind::Num => values[j].extend_from_slice(batch.nums(i)),
                    riskscore_data::Kind::Cat => {
                        let (c, dict) = batch.cats(i);
                        let map = dicts[j].remap(dict);
                        codes[j].extend(c.iter().map(|&c| {
                            if c == MISSING_CAT {
                                MISSING_CAT
                            } else {
                                map[c as usize]
                            }
                        }));
                    }
                }
            }
        })?;
        unique_keys(table, KEY, &ids[before..])?;
    }
    let gender = columns
        .iter()
        .position(|(n, _)| *n == "CODE_GENDER")
        .unwrap_or(0);
    let xna = dicts[gender].code("XNA");
    let keep: Vec<bool> = codes[gender].iter().map(|&c| Some(c) != xna).collect();
    let kept_rows: Vec<usize> = (0..ids.len()).filter(|&r| keep[r]).collect();
    report.dropped_xna = ids.len() - kept_rows.len();
    let mut row = KeyIndex::for_keys(&ids);
    for &id in &ids {
        row.insert(id, NO_GROUP);
    }
    for (k, &r) in kept_rows.iter().enumerate() {
        row.insert(ids[r], k as u32);
    }

    let mut dummies: Vec<Column> = Vec::new();
    let mut width = 0;
    for (j, (name, kind)) in columns.iter().enumerate() {
        let column = match kind {
            riskscore_data::Kind::Id => {
                let v: Vec<i64> = kept_rows.iter().map(|&r| ids[r]).collect();
                Int64Chunked::from_vec((*name).into(), v).into_column()
            }
            riskscore_data::Kind::Num => {
                let v = &values[j];
                let employed = *name == "DAYS_EMPLOYED";
                let mut column = out.buffer(kept_rows.len());
                column.extend(kept_rows.iter().map(|&r| {
                    if employed && v[r] == DAYS_MISSING_CODE {
                        f64::NAN
                    } else {
                        v[r]
                    }
                }));
                out.push_floats(name, column)?;
                width += 1;
                continue;
            }
            riskscore_data::Kind::Cat => {
                // The vocabulary is learned on the rows kept.
                let mut seen = vec![false; dicts[j].values.len()];
                for &r in &kept_rows {
                    if let Some(s) = seen.get_mut(codes[j][r] as usize) {
                        *s = true;
                    }
                }
                let seen: Vec<String> = dicts[j]
                    .values
                    .iter()
                    .zip(&seen)
                    .filter(|(_, s)| **s)
                    .map(|(v, _)| v.clone())
                    .collect();
                let values = vocab.resolve("application", name, sorted(seen))?;
                // The table-wide code of each vocabulary entry.
                let of: Vec<Option<u32>> = values.iter().map(|v| dicts[j].code(v)).collect();
                if BINARY_FLAGS.contains(name) {
                    // pandas factorize(sort=True): the index in the vocabulary, -1 if missing.
                    let v: Vec<i32> = kept_rows
                        .iter()
                        .map(|&r| {
                            of.iter()
                                .position(|c| *c == Some(codes[j][r]))
                                .map_or(-1, |i| i as i32)
                        })
                        .collect();
                    Int32Chunked::from_vec((*name).into(), v).into_column()
                } else {
                    for (value, code) in values.iter().zip(&of) {
                        let v: Vec<i32> = kept_rows
                            .iter()
                            .map(|&r| i32::from(Some(codes[j][r]) == *code))
                            .collect();
                        // The vector becomes the column (no copy).
                        let name = crate::exprs::dummy_name(name, value);
                        dummies.push(Int32Chunked::from_vec(name.into(), v).into_column());
                    }
                    if !values.is_empty() {
                        continue;
                    }
                    // pandas reads an all-empty column as numbers and keeps it, all missing.
                    float_column(name, vec![f64::NAN; kept_rows.len()])
                }
            }
        };
        out.push(column)?;
        width += 1;
    }
    for d in dummies {
        out.push(d)?;
        width += 1;
    }
    let col_of = |name: &str| {
        columns
            .iter()
            .position(|(n, _)| *n == name)
            .map(|j| &values[j])
    };
    let empty = Vec::new();
    let get = |name: &str| col_of(name).unwrap_or(&empty);
    let (employed, birth) = (get("DAYS_EMPLOYED"), get("DAYS_BIRTH"));
    let (income, credit) = (get("AMT_INCOME_TOTAL"), get("AMT_CREDIT"));
    let (family, annuity) = (get("CNT_FAM_MEMBERS"), get("AMT_ANNUITY"));
    let ratios: [(&str, &Vec<f64>, &Vec<f64>, bool); 5] = [
        ("DAYS_EMPLOYED_PERC", employed, birth, true),
        ("INCOME_CREDIT_PERC", income, credit, false),
        ("INCOME_PER_PERSON", income, family, false),
        ("ANNUITY_INCOME_PERC", annuity, income, false),
        ("PAYMENT_RATE", annuity, credit, false),
    ];
    for (name, a, b, code_to_missing) in ratios {
        let at = |v: &Vec<f64>, r: usize| v.get(r).copied().unwrap_or(f64::NAN);
        let mut column = out.buffer(kept_rows.len());
        column.extend(kept_rows.iter().map(|&r| {
            let x = at(a, r);
            let x = if code_to_missing && x == DAYS_MISSING_CODE {
                f64::NAN
            } else {
                x
            };
            x / at(b, r)
        }));
        out.push_floats(name, column)?;
        width += 1;
    }
    log_part("application", kept_rows.len(), width);
    Ok(Applicants {
        row,
        kept: kept_rows.len(),
    })
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
    let mut n = 0;
    let names = values
        .iter()
        .map(|v| (crate::exprs::dummy_name(column, v), cats.slot_of(c, v)))
        .chain([(format!("{column}_nan"), Some(cats.missing_slot(c)))]);
    for (dummy, slot) in names {
        for agg in aggs {
            let name = format!("{prefix}{dummy}_{}", agg.suffix());
            let mut values = out.buffer(rows.groups());
            values.extend((0..rows.groups()).map(|g| match rows.state_of(g) {
                Some(state) if rows.rows(g) > 0 => {
                    dummy_stat(slot.map_or(0, |s| cats.at(state, s)), rows.rows(g), *agg)
                }
                _ => f64::NAN,
            }));
            out.push_floats(&name, values)?;
            n += 1;
        }
    }
    Ok(n)
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

/// The balances of each bureau loan: rows, first and last month (pandas' min and max: missing
/// months skipped, missing when none).
#[derive(Debug)]
struct MonthRange {
    rows: Vec<u32>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl MonthRange {
    fn new(loans: usize) -> MonthRange {
        MonthRange {
            rows: vec![0; loans],
            min: vec![f64::NAN; loans],
            max: vec![f64::NAN; loans],
        }
    }

    /// Adds a run of rows of loan `l` (a loan's rows usually follow each other, so they are
    /// folded in registers first): `(l, rows, min, max)`; nothing for [`NO_GROUP`].
    fn add_run(&mut self, (l, rows, lo, hi): (u32, u32, f64, f64)) {
        let l = l as usize;
        let (Some(n), Some(min), Some(max)) = (
            self.rows.get_mut(l),
            self.min.get_mut(l),
            self.max.get_mut(l),
        ) else {
            return;
        };
        *n += rows;
        *min = min_of(*min, lo);
        *max = max_of(*max, hi);
    }
}

/// The running statistics of every row of a table and of the rows of each of its two splits.
#[derive(Debug)]
struct Splits {
    all: Stats,
    parts: [Stats; 2],
}

impl Splits {
    fn new(out: &mut dyn Out, groups: usize, specs: &[&[Agg]]) -> Splits {
        Splits {
            all: stats_in(out, groups, specs),
            parts: [stats_in(out, groups, specs), stats_in(out, groups, specs)],
        }
    }

    /// Gives the states' buffers back to `out`.
    fn recycle(self, out: &mut dyn Out) {
        let [a, b] = self.parts;
        for stats in [self.all, a, b] {
            out.recycle(stats.into_buffer());
        }
    }

    /// Counts a row of group `g` in split `s` (0: in no split).
    #[inline]
    fn row(&mut self, g: u32, s: u8) {
        self.all.row(g);
        if let Some(part) = self.parts.get_mut(usize::from(s).wrapping_sub(1)) {
            part.row(g);
        }
    }

    /// Adds value `v` of input `i` for group `g` in split `s`.
    #[inline]
    fn add(&mut self, g: u32, s: u8, i: usize, v: f64) {
        self.all.add(g, i, v);
        if let Some(part) = self.parts.get_mut(usize::from(s).wrapping_sub(1)) {
            part.add(g, i, v);
        }
    }

    fn each(&self) -> [&Stats; 3] {
        [&self.all, &self.parts[0], &self.parts[1]]
    }
}

const BUREAU_RAW: usize = 11;

fn bureau(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    apps: &Applicants,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<()> {
    let n = apps.kept;
    let cat_names: Vec<&str> = Table::Bureau.categorical_columns().collect();
    let mut names = vec![KEY, "SK_ID_BUREAU"];
    names.extend(BUREAU_NUM[..BUREAU_RAW].iter().map(|(c, _)| *c));
    names.extend(&cat_names);
    let specs: Vec<&[Agg]> = BUREAU_NUM.iter().map(|(_, a)| *a).collect();
    let mut stats = Splits::new(out, n, &specs);
    let mut cats = CatTable::new(n, cat_names.len());
    let active = cat_names
        .iter()
        .position(|c| *c == "CREDIT_ACTIVE")
        .map(|a| 2 + BUREAU_RAW + a);
    let admitted = [
        vocab.admits("bureau", "CREDIT_ACTIVE", "Active"),
        vocab.admits("bureau", "CREDIT_ACTIVE", "Closed"),
    ];
    // Per bureau row: its applicant's group and split, and its SK_ID_BUREAU.
    let mut row_group: Vec<u32> = Vec::new();
    let mut row_split: Vec<u8> = Vec::new();
    let mut loan_ids: Vec<i64> = Vec::new();
    let mut lookup = Lookup::new(&apps.row);
    scan(source, Table::Bureau, &names, |b| {
        let curr = b.ids(0);
        loan_ids.extend_from_slice(b.ids(1));
        let codes: Vec<Vec<u32>> = (0..cat_names.len())
            .map(|c| table_codes(&mut cats, c, b, 2 + BUREAU_RAW + c))
            .collect();
        cats.fit();
        let split = split_rows(b, active, ["Active", "Closed"], admitted);
        let nums: Vec<&[f64]> = (0..BUREAU_RAW).map(|i| b.nums(2 + i)).collect();
        let groups: Vec<u32> = curr.iter().map(|&id| lookup.get(id)).collect();
        let mut touched = 0;
        for (r, &g) in groups.iter().enumerate() {
            touch_ahead(&groups, r, &stats.each(), &mut touched);
            let s = split.as_ref().map_or(0, |s| s[r]);
            row_group.push(g);
            row_split.push(s);
            if g == NO_GROUP {
                continue;
            }
            stats.row(g, s);
            for (c, codes) in codes.iter().enumerate() {
                cats.add(g, c, codes[r]);
            }
            for (i, column) in nums.iter().enumerate() {
                stats.add(g, s, i, column[r]);
            }
        }
        std::hint::black_box(touched);
    })?;
    report.orphans(Table::Bureau, KEY, lookup.orphans);
    let loans = unique_keys(Table::Bureau, "SK_ID_BUREAU", &loan_ids)?;
    drop(loan_ids);

    // The monthly balances, folded per loan.
    let mut months = MonthRange::new(row_group.len());
    let mut status = CatTable::new(row_group.len(), 1);
    let mut lookup = Lookup::new(&loans);
    scan(
        source,
        Table::BureauBalance,
        &["SK_ID_BUREAU", "MONTHS_BALANCE", "STATUS"],
        |b| {
            let loan = b.ids(0);
            let month = b.nums(1);
            let codes = table_codes(&mut status, 0, b, 2);
            status.fit();
            // (loan, rows, min, max) of the current run of rows of one loan.
            let mut run = (NO_GROUP, 0, f64::NAN, f64::NAN);
            for r in 0..b.rows {
                let l = lookup.get(loan[r]);
                if l == NO_GROUP {
                    continue;
                }
                if l != run.0 {
                    months.add_run(run);
                    run = (l, 0, f64::NAN, f64::NAN);
                }
                run.1 += 1;
                run.2 = min_of(run.2, month[r]);
                run.3 = max_of(run.3, month[r]);
                status.add(l, 0, codes[r]);
            }
            months.add_run(run);
        },
    )?;
    report.orphans(Table::BureauBalance, "SK_ID_BUREAU", lookup.orphans);
    drop(loans);
    let statuses = vocab.resolve("bureau_balance", "STATUS", status.seen(0))?;
    let mut status_names: Vec<(String, Option<&str>)> = statuses
        .iter()
        .map(|v| (format!("STATUS_{v}_MEAN"), Some(v.as_str())))
        .collect();
    if !statuses.is_empty() {
        status_names.push(("STATUS_nan_MEAN".into(), None));
    }
    let mean: &[Agg] = &[Agg::Mean];
    let mut status_means = stats_in(out, n, &vec![mean; status_names.len()]);
    let status_slots: Vec<Option<usize>> = status_names
        .iter()
        .map(|(_, value)| match value {
            Some(v) => status.slot_of(0, v),
            None => Some(status.missing_slot(0)),
        })
        .collect();
    for (l, (&g, &s)) in row_group.iter().zip(&row_split).enumerate() {
        if g == NO_GROUP {
            continue;
        }
        let size = months.rows[l];
        let (lo, hi, sz) = if size == 0 {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            (months.min[l], months.max[l], f64::from(size))
        };
        for (i, v) in [lo, hi, sz].into_iter().enumerate() {
            stats.add(g, s, BUREAU_RAW + i, v);
        }
        status_means.row(g);
        for (i, slot) in status_slots.iter().enumerate() {
            let v = if size == 0 {
                f64::NAN
            } else {
                f64::from(slot.map_or(0, |s| status.at(l, s))) / f64::from(size)
            };
            status_means.add(g, i, v);
        }
    }
    drop((months, status, row_group, row_split));

    let all = &stats.all;
    let mut width = push_spec(out, all, BUREAU_NUM, "BURO_", 0)?;
    for (c, column) in cat_names.iter().enumerate() {
        let values = vocab.resolve("bureau", column, cats.seen(c))?;
        width += push_dummies(out, column, &values, &cats, c, all, &[Agg::Mean], "BURO_")?;
    }
    let wanted: Vec<(usize, Agg)> = (0..status_names.len()).map(|i| (i, Agg::Mean)).collect();
    for ((name, _), values) in status_names
        .iter()
        .zip(columns_of(out, &status_means, &wanted))
    {
        out.push_floats(&format!("BURO_{name}_MEAN"), values)?;
        width += 1;
    }
    out.recycle(status_means.into_buffer());
    for (part, prefix) in stats.parts.iter().zip(["ACTIVE_", "CLOSED_"]) {
        width += push_spec(out, part, BUREAU_NUM, prefix, 0)?;
    }
    let applicants = (0..n).filter(|&g| stats.all.rows(g) > 0).count();
    stats.recycle(out);
    log_part("bureau", applicants, width);
    Ok(())
}

fn previous(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    apps: &Applicants,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<KeyIndex> {
    let n = apps.kept;
    let cat_names: Vec<&str> = Table::PreviousApplication.categorical_columns().collect();
    // Raw inputs in the order of PREV_NUM, APP_CREDIT_PERC computed from two of them.
    let raw: Vec<&str> = PREV_NUM
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| *c != "APP_CREDIT_PERC")
        .collect();
    let mut names = vec![KEY, "SK_ID_PREV"];
    names.extend(&raw);
    names.extend(&cat_names);
    let at = |c: &str| names.iter().position(|n| *n == c).unwrap_or(0);
    let (application, credit) = (at("AMT_APPLICATION"), at("AMT_CREDIT"));
    let inputs: Vec<Option<usize>> = PREV_NUM
        .iter()
        .map(|(c, _)| (*c != "APP_CREDIT_PERC").then(|| at(c)))
        .collect();
    let specs: Vec<&[Agg]> = PREV_NUM.iter().map(|(_, a)| *a).collect();
    let mut stats = Splits::new(out, n, &specs);
    let mut cats = CatTable::new(n, cat_names.len());
    let status = "NAME_CONTRACT_STATUS";
    let first_cat = 2 + raw.len();
    let status_at = cat_names
        .iter()
        .position(|c| *c == status)
        .map(|a| first_cat + a);
    let admitted = [
        vocab.admits("previous_application", status, "Approved"),
        vocab.admits("previous_application", status, "Refused"),
    ];
    let mut prev_ids: Vec<i64> = Vec::new();
    let mut lookup = Lookup::new(&apps.row);
    scan(source, Table::PreviousApplication, &names, |b| {
        let curr = b.ids(0);
        prev_ids.extend_from_slice(b.ids(1));
        let codes: Vec<Vec<u32>> = (0..cat_names.len())
            .map(|c| table_codes(&mut cats, c, b, first_cat + c))
            .collect();
        cats.fit();
        let split = split_rows(b, status_at, ["Approved", "Refused"], admitted);
        let (app, cred) = (b.nums(application), b.nums(credit));
        let columns: Vec<&[f64]> = inputs
            .iter()
            .map(|input| input.map_or(&[][..], |c| b.nums(c)))
            .collect();
        let groups: Vec<u32> = curr.iter().map(|&id| lookup.get(id)).collect();
        let mut touched = 0;
        for (r, &g) in groups.iter().enumerate() {
            touch_ahead(&groups, r, &stats.each(), &mut touched);
            if g == NO_GROUP {
                continue;
            }
            let s = split.as_ref().map_or(0, |s| s[r]);
            stats.row(g, s);
            for (c, codes) in codes.iter().enumerate() {
                cats.add(g, c, codes[r]);
            }
            for (i, input) in inputs.iter().enumerate() {
                let v = match input {
                    Some(_) => columns[i][r],
                    None => app[r] / cred[r],
                };
                stats.add(g, s, i, v);
            }
        }
        std::hint::black_box(touched);
    })?;
    report.orphans(Table::PreviousApplication, KEY, lookup.orphans);
    let prev = unique_keys(Table::PreviousApplication, "SK_ID_PREV", &prev_ids)?;
    drop(prev_ids);

    let all = &stats.all;
    let mut width = push_spec(out, all, PREV_NUM, "PREV_", 0)?;
    for (c, column) in cat_names.iter().enumerate() {
        let values = vocab.resolve("previous_application", column, cats.seen(c))?;
        width += push_dummies(out, column, &values, &cats, c, all, &[Agg::Mean], "PREV_")?;
    }
    for (part, prefix) in stats.parts.iter().zip(["APPROVED_", "REFUSED_"]) {
        width += push_spec(out, part, PREV_NUM, prefix, 0)?;
    }
    let applicants = (0..n).filter(|&g| stats.all.rows(g) > 0).count();
    stats.recycle(out);
    log_part("previous application", applicants, width);
    Ok(prev)
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

fn pos_cash(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    apps: &Applicants,
    prev: &KeyIndex,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<()> {
    let monthly = Monthly {
        table: Table::PosCashBalance,
        spec: POS_NUM,
        dummy_aggs: &[Agg::Mean],
        prefix: "POS_",
    };
    monthly.build(source, vocab, apps, prev, report, out)
}

/// A monthly history table of previous credits (POS/cash, credit cards): its numeric columns
/// `spec` and the one-hot columns of its categories (`dummy_aggs`) aggregated per applicant,
/// then `{prefix}COUNT`.
#[derive(Debug)]
struct Monthly<'a> {
    table: Table,
    spec: Spec<'a>,
    dummy_aggs: &'a [Agg],
    prefix: &'a str,
}

impl Monthly<'_> {
    fn build(
        &self,
        source: &dyn TableSource,
        vocab: &mut VocabMode,
        apps: &Applicants,
        prev: &KeyIndex,
        report: &mut BuildReport,
        out: &mut dyn Out,
    ) -> Result<()> {
        let (n, table, spec) = (apps.kept, self.table, self.spec);
        let cat_names: Vec<&str> = table.categorical_columns().collect();
        let mut names = vec![KEY, "SK_ID_PREV"];
        names.extend(spec.iter().map(|(c, _)| *c));
        names.extend(&cat_names);
        let specs: Vec<&[Agg]> = spec.iter().map(|(_, a)| *a).collect();
        // States made as applicants appear: a quarter of them have credit cards.
        let mut all = Stats::compact(n, &specs, out.buffer(Stats::state_len(n, &specs)));
        let mut cats = CatTable::new(0, cat_names.len());
        let first_cat = 2 + spec.len();
        let mut lookup = Lookup::new(&apps.row);
        let mut parent = PrevCheck::new(prev);
        scan(source, table, &names, |b| {
            let (curr, loan) = (b.ids(0), b.ids(1));
            let codes: Vec<Vec<u32>> = (0..cat_names.len())
                .map(|c| table_codes(&mut cats, c, b, first_cat + c))
                .collect();
            cats.fit();
            let nums: Vec<&[f64]> = (0..spec.len()).map(|i| b.nums(2 + i)).collect();
            let mut row: Vec<f64> = Vec::with_capacity(nums.len());
            let groups: Vec<u32> = monthly_groups(curr, loan, &mut lookup, &mut parent)
                .into_iter()
                .map(|g| all.enter(g))
                .collect();
            cats.grow(all.states());
            let mut touched = 0;
            for (r, &g) in groups.iter().enumerate() {
                touch_ahead(&groups, r, &[&all], &mut touched);
                if g == NO_GROUP {
                    continue;
                }
                all.row(g);
                for (c, codes) in codes.iter().enumerate() {
                    cats.add(g, c, codes[r]);
                }
                row.clear();
                row.extend(nums.iter().map(|v| v[r]));
                all.add_all(g, &row);
            }
            std::hint::black_box(touched);
        })?;
        report.orphans(table, KEY, lookup.orphans);
        report.orphans(table, "SK_ID_PREV", parent.orphans);
        let mut width = push_spec(out, &all, spec, self.prefix, 0)?;
        for (c, column) in cat_names.iter().enumerate() {
            let values = vocab.resolve(table.stem(), column, cats.seen(c))?;
            width += push_dummies(
                out,
                column,
                &values,
                &cats,
                c,
                &all,
                self.dummy_aggs,
                self.prefix,
            )?;
        }
        push_count(out, &all, self.prefix)?;
        log_part(
            table.stem(),
            (0..n).filter(|&g| all.rows(g) > 0).count(),
            width + 1,
        );
        out.recycle(all.into_buffer());
        Ok(())
    }
}

fn installments(
    source: &dyn TableSource,
    apps: &Applicants,
    prev: &KeyIndex,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<()> {
    let n = apps.kept;
    let table = Table::InstallmentsPayments;
    let names = [
        KEY,
        "SK_ID_PREV",
        "NUM_INSTALMENT_VERSION",
        "DAYS_INSTALMENT",
        "DAYS_ENTRY_PAYMENT",
        "AMT_INSTALMENT",
        "AMT_PAYMENT",
    ];
    // INSTAL_NUM after its first entry (the distinct count, kept apart).
    let specs: Vec<&[Agg]> = INSTAL_NUM[1..].iter().map(|(_, a)| *a).collect();
    let mut all = stats_in(out, n, &specs);
    let mut versions = Distinct::new(n);
    let mut lookup = Lookup::new(&apps.row);
    let mut parent = PrevCheck::new(prev);
    // Kernel semantics: x if x > 0 else 0, so a missing payment date gives 0.
    let positive = |x: f64| if x > 0.0 { x } else { 0.0 };
    scan(source, table, &names, |b| {
        let (curr, loan) = (b.ids(0), b.ids(1));
        let (version, due, paid_on) = (b.nums(2), b.nums(3), b.nums(4));
        let (instalment, payment) = (b.nums(5), b.nums(6));
        let groups = monthly_groups(curr, loan, &mut lookup, &mut parent);
        let mut touched = 0;
        for (r, &g) in groups.iter().enumerate() {
            touch_ahead(&groups, r, &[&all], &mut touched);
            if g == NO_GROUP {
                continue;
            }
            all.row(g);
            versions.add(g, version[r]);
            let (amount, paid) = (instalment[r], payment[r]);
            let values = [
                positive(paid_on[r] - due[r]),
                positive(due[r] - paid_on[r]),
                paid / amount,
                amount - paid,
                amount,
                paid,
                paid_on[r],
            ];
            all.add_all(g, &values);
        }
        std::hint::black_box(touched);
    })?;
    report.orphans(table, KEY, lookup.orphans);
    report.orphans(table, "SK_ID_PREV", parent.orphans);
    let distinct = versions.counts();
    let mut values = out.buffer(n);
    values.extend((0..n).map(|g| {
        if all.rows(g) == 0 {
            f64::NAN
        } else {
            f64::from(distinct[g])
        }
    }));
    out.push_floats("INSTAL_NUM_INSTALMENT_VERSION_NUNIQUE", values)?;
    let width = 1 + push_spec(out, &all, &INSTAL_NUM[1..], "INSTAL_", 0)?;
    push_count(out, &all, "INSTAL_")?;
    log_part(
        "installments_payments",
        (0..n).filter(|&g| all.rows(g) > 0).count(),
        width + 1,
    );
    out.recycle(all.into_buffer());
    Ok(())
}

fn credit_card(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    apps: &Applicants,
    prev: &KeyIndex,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<()> {
    // Every numeric column but the keys, with every statistic.
    let spec: Vec<(&'static str, &'static [Agg])> = Table::CreditCardBalance
        .columns()
        .iter()
        .filter(|(c, k)| *k != riskscore_data::Kind::Cat && *c != KEY && *c != "SK_ID_PREV")
        .map(|(c, _)| (*c, CC_AGGS))
        .collect();
    let monthly = Monthly {
        table: Table::CreditCardBalance,
        spec: &spec,
        dummy_aggs: CC_AGGS,
        prefix: "CC_",
    };
    monthly.build(source, vocab, apps, prev, report, out)
}
