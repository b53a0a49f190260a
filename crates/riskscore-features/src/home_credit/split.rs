//! The skeleton the two split tables share (bureau: ACTIVE_/CLOSED_ by `CREDIT_ACTIVE`;
//! previous applications: APPROVED_/REFUSED_ by `NAME_CONTRACT_STATUS`): one scan folding every
//! row into its applicant's statistics, all rows and the row's split, and its categories'
//! counts; the table's own keys checked unique; then the columns pushed in the kernel's order.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A value folded per row, computed from one or two columns of its table (see [`value_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// The column itself.
    Column(&'static str),
    /// `a / b` (IEEE: a non-zero value over zero is infinite, zero over zero missing).
    Ratio(&'static str, &'static str),
    /// `a - b`.
    Diff(&'static str, &'static str),
    /// `a - b` where positive, else 0 (a missing difference included), as the kernel's
    /// `x if x > 0 else 0`.
    PositiveDiff(&'static str, &'static str),
}

impl Value {
    /// The columns the value reads.
    pub fn inputs(self) -> [Option<&'static str>; 2] {
        match self {
            Value::Column(c) => [Some(c), None],
            Value::Ratio(a, b) | Value::Diff(a, b) | Value::PositiveDiff(a, b) => {
                [Some(a), Some(b)]
            }
        }
    }

    /// The value from its inputs' values (`b` unused by a column).
    #[inline(always)]
    pub fn eval(self, a: f64, b: f64) -> f64 {
        match self {
            Value::Column(_) => a,
            Value::Ratio(..) => a / b,
            Value::Diff(..) => a - b,
            Value::PositiveDiff(..) => {
                let d = a - b;
                if d > 0.0 {
                    d
                } else {
                    0.0
                }
            }
        }
    }
}

/// How the input `name` of a table's spec is computed from the table's columns: the one
/// description of the derived values, read by the local engine and by the SQL one.
pub fn value_of(table: Table, name: &'static str) -> Value {
    match (table, name) {
        (Table::PreviousApplication, "APP_CREDIT_PERC") => {
            Value::Ratio("AMT_APPLICATION", "AMT_CREDIT")
        }
        // Days past due and days before due (the kernel's DPD and DBD).
        (Table::InstallmentsPayments, "DPD") => {
            Value::PositiveDiff("DAYS_ENTRY_PAYMENT", "DAYS_INSTALMENT")
        }
        (Table::InstallmentsPayments, "DBD") => {
            Value::PositiveDiff("DAYS_INSTALMENT", "DAYS_ENTRY_PAYMENT")
        }
        (Table::InstallmentsPayments, "PAYMENT_PERC") => {
            Value::Ratio("AMT_PAYMENT", "AMT_INSTALMENT")
        }
        (Table::InstallmentsPayments, "PAYMENT_DIFF") => {
            Value::Diff("AMT_INSTALMENT", "AMT_PAYMENT")
        }
        _ => Value::Column(name),
    }
}

/// Adds the columns `values` read to `names` (each once); returns where each value's inputs
/// stand among `names`.
pub(super) fn input_positions(
    values: &[Value],
    names: &mut Vec<&'static str>,
) -> Vec<(usize, Option<usize>)> {
    for v in values {
        for c in v.inputs().into_iter().flatten() {
            if !names.contains(&c) {
                names.push(c);
            }
        }
    }
    let at = |c: &str| names.iter().position(|n| *n == c).unwrap_or(0);
    values
        .iter()
        .map(|v| {
            let [a, b] = v.inputs();
            (a.map_or(0, at), b.map(at))
        })
        .collect()
}

/// The input columns of each value in a batch (`positions` from [`input_positions`]).
pub(super) type Inputs<'b> = Vec<(&'b [f64], Option<&'b [f64]>)>;

pub(super) fn batch_inputs<'b>(b: &'b Batch, positions: &[(usize, Option<usize>)]) -> Inputs<'b> {
    positions
        .iter()
        .map(|&(a, d)| (b.nums(a), d.map(|d| b.nums(d))))
        .collect()
}

/// The values of row `r` from their inputs, in `values`' order.
pub(super) fn row_values<'a>(
    values: &'a [Value],
    inputs: &'a Inputs,
    r: usize,
) -> impl Iterator<Item = f64> + 'a {
    inputs
        .iter()
        .zip(values)
        .map(move |((a, b), v)| v.eval(a[r], b.map_or(f64::NAN, |b| b[r])))
}

/// A table aggregated per applicant over all its rows and over two splits by a category.
#[derive(Debug)]
pub(super) struct SplitTable<'a> {
    pub table: Table,
    /// The table's own key (unique per row).
    pub key: &'static str,
    /// The aggregations of each folded value.
    pub spec: Spec<'a>,
    /// The folded values, in `spec`'s order.
    pub values: &'a [Value],
    /// The category that splits the rows, and its two values.
    pub split: SplitBy,
    /// Prefixes of all rows and of the two splits.
    pub prefixes: SplitPrefixes,
}

/// The statistics a scan folded.
#[derive(Debug)]
pub(super) struct Folded {
    pub stats: Splits,
    pub cats: CatTable,
    pub cat_names: Vec<&'static str>,
}

/// Per row in file order: its applicant's group ([`NO_GROUP`] for an orphan) and its split (0:
/// neither).
pub(super) type RowPlaces = Vec<(u32, u8)>;

impl SplitTable<'_> {
    /// Scans the table and folds it: the statistics, the table's keys (to the row that holds
    /// each), and with `keep_rows` each row's place (the bureau's balances are joined to its
    /// loans by row). The values fold into the first `values.len()` entries of `spec`.
    pub fn fold(
        &self,
        source: &dyn TableSource,
        vocab: &VocabMode,
        apps: &Applicants,
        report: &mut BuildReport,
        out: &mut dyn Out,
        keep_rows: bool,
    ) -> Result<(Folded, KeyIndex, RowPlaces)> {
        let n = apps.kept;
        let table = self.table;
        let cat_names: Vec<&'static str> = table.categorical_columns().collect();
        // The columns read: the applicant, the key, each value's inputs once, the categories.
        let mut names: Vec<&'static str> = vec![KEY, self.key];
        let positions = input_positions(self.values, &mut names);
        names.extend(&cat_names);
        let at = |c: &str| position_of(names.iter().copied(), c);
        let cat_at: Vec<usize> = cat_names.iter().map(|c| at(c)).collect::<Result<_>>()?;
        let (split, values) = self.split;
        let split_at = cat_names
            .iter()
            .position(|c| *c == split)
            .map(|i| cat_at[i]);
        let admitted = values.map(|v| vocab.admits(table.stem(), split, v));

        let specs: Vec<&[Agg]> = self.spec.iter().map(|(_, a)| *a).collect();
        let mut stats = Splits::new(out, n, &specs);
        let mut cats = CatTable::new(n, cat_names.len());
        let mut keys: Vec<i64> = Vec::new();
        let mut rows: Vec<(u32, u8)> = Vec::new();
        let mut lookup = Lookup::new(&apps.row);
        scan(source, table, &names, |b| {
            let curr = b.ids(0);
            keys.extend_from_slice(b.ids(1));
            let codes: Vec<Vec<u32>> = cat_at
                .iter()
                .enumerate()
                .map(|(c, &i)| table_codes(&mut cats, c, b, i))
                .collect();
            cats.fit();
            let parts = split_rows(b, split_at, values, admitted);
            let inputs = batch_inputs(b, &positions);
            let groups: Vec<u32> = curr.iter().map(|&id| lookup.get(id)).collect();
            let mut touched = 0;
            for (r, &g) in groups.iter().enumerate() {
                touch_ahead(&groups, r, &stats.each(), &mut touched);
                let s = parts.as_ref().map_or(0, |p| p[r]);
                if keep_rows {
                    rows.push((g, s));
                }
                if g == NO_GROUP {
                    continue;
                }
                let state = stats.row(g, s);
                for (c, codes) in codes.iter().enumerate() {
                    cats.add(g, c, codes[r]);
                }
                for (i, v) in row_values(self.values, &inputs, r).enumerate() {
                    stats.add_at(g, s, state, i, v);
                }
            }
            std::hint::black_box(touched);
        })?;
        report.orphans(table, KEY, lookup.orphans);
        let keys = unique_keys(table, self.key, &keys)?;
        let folded = Folded {
            stats,
            cats,
            cat_names,
        };
        Ok((folded, keys, rows))
    }

    /// Pushes the statistics of all rows and the one-hot means of the categories; their count.
    pub fn push_all(&self, f: &Folded, vocab: &mut VocabMode, out: &mut dyn Out) -> Result<usize> {
        let (prefix, _) = self.prefixes;
        let all = &f.stats.all;
        let mut width = push_spec(out, all, self.spec, prefix, 0)?;
        for (c, column) in f.cat_names.iter().enumerate() {
            let values = vocab.resolve(self.table.stem(), column, f.cats.seen(c))?;
            width += push_dummies(out, column, &values, &f.cats, c, all, &[Agg::Mean], prefix)?;
        }
        Ok(width)
    }

    /// Pushes the statistics of each split, gives the buffers back, logs the part; the
    /// applicants with rows. The categories' counts and all rows' statistics are given back
    /// first (their columns are pushed): the splits' columns then fill the rows beside the
    /// splits' statistics alone.
    pub fn push_splits(
        &self,
        source: &dyn TableSource,
        f: Folded,
        mut width: usize,
        out: &mut dyn Out,
    ) -> Result<()> {
        let (_, prefixes) = self.prefixes;
        let Folded { stats, cats, .. } = f;
        drop(cats);
        let Splits { all, parts } = stats;
        let rows: Vec<u32> = (0..all.groups()).map(|g| all.rows(g)).collect();
        out.recycle(all.into_buffer());
        for (part, prefix) in parts.iter().zip(prefixes) {
            width += push_spec(out, part, self.spec, prefix, 0)?;
        }
        for part in parts {
            out.recycle(part.into_buffer());
        }
        let applicants = rows.iter().filter(|r| **r > 0).count();
        out.history_rows(self.table, rows);
        log_part(source, self.table.stem(), applicants, width);
        Ok(())
    }
}
