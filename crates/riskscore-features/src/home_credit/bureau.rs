//! Bureau loans and their monthly balances (folded per loan first), all loans and the
//! ACTIVE_/CLOSED_ splits.

#[allow(clippy::wildcard_imports)]
use super::*;

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

/// The bureau's columns among [`BUREAU_NUM`]: every entry but the balances' (`MONTHS_BALANCE_*`,
/// folded per loan from bureau_balance), which follow them.
fn bureau_values() -> Vec<Value> {
    BUREAU_NUM
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !BUREAU_BALANCE_INPUTS.contains(c))
        .map(|c| value_of(Table::Bureau, c))
        .collect()
}

pub(super) fn bureau(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    apps: &Applicants,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<()> {
    let n = apps.kept;
    let values = bureau_values();
    let table = SplitTable {
        table: Table::Bureau,
        key: "SK_ID_BUREAU",
        spec: BUREAU_NUM,
        values: &values,
        split: BUREAU_SPLIT,
        prefixes: BUREAU_PREFIXES,
    };
    // The balances' slots among BUREAU_NUM.
    let balance: Vec<usize> = BUREAU_BALANCE_INPUTS
        .into_iter()
        .map(|c| position_of(BUREAU_NUM.iter().map(|(n, _)| *n), c))
        .collect::<Result<_>>()?;
    let (mut folded, loans, rows) = table.fold(source, vocab, apps, report, out, true)?;

    // The monthly balances, folded per loan.
    let mut months = MonthRange::new(rows.len());
    let mut status = CatTable::new(rows.len(), 1);
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
    for (l, &(g, s)) in rows.iter().enumerate() {
        if g == NO_GROUP {
            continue;
        }
        let size = months.rows[l];
        let (lo, hi, sz) = if size == 0 {
            (f64::NAN, f64::NAN, f64::NAN)
        } else {
            (months.min[l], months.max[l], f64::from(size))
        };
        for (&slot, v) in balance.iter().zip([lo, hi, sz]) {
            folded.stats.add(g, s, slot, v);
        }
        status_means.row(g);
        let counts = status.row(l);
        for (i, slot) in status_slots.iter().enumerate() {
            let v = if size == 0 {
                f64::NAN
            } else {
                f64::from(slot.map_or(0, |s| counts[s])) / f64::from(size)
            };
            status_means.add(g, i, v);
        }
    }
    drop((months, status, rows));

    let mut width = table.push_all(&folded, vocab, out)?;
    let wanted: Vec<(usize, Agg)> = (0..status_names.len()).map(|i| (i, Agg::Mean)).collect();
    for ((name, _), values) in status_names
        .iter()
        .zip(columns_of(out, &status_means, &wanted))
    {
        out.push_floats(&format!("BURO_{name}_MEAN"), values)?;
        width += 1;
    }
    out.recycle(status_means.into_buffer());
    table.push_splits(source, folded, width, out)
}
