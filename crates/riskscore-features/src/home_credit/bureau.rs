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

const BUREAU_RAW: usize = 11;

pub(super) fn bureau(
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
