//! The monthly histories of previous loans: POS/cash balances, instalments and credit cards.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn pos_cash(
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
        dummy_aggs: POS_DUMMY_AGGS,
        prefix: POS_PREFIX,
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
        let rows: Vec<u32> = (0..n).map(|g| all.rows(g)).collect();
        log_part(
            source,
            table.stem(),
            rows.iter().filter(|r| **r > 0).count(),
            width + 1,
        );
        out.recycle(all.into_buffer());
        out.history_rows(table, rows);
        Ok(())
    }
}

pub(super) fn installments(
    source: &dyn TableSource,
    apps: &Applicants,
    prev: &KeyIndex,
    report: &mut BuildReport,
    out: &mut dyn Out,
) -> Result<()> {
    let n = apps.kept;
    let table = Table::InstallmentsPayments;
    // INSTAL_NUM's first entry is the distinct count (kept apart), the others folded values.
    let (distinct_column, _) = INSTAL_NUM[0];
    let spec = &INSTAL_NUM[1..];
    let values: Vec<Value> = spec.iter().map(|(c, _)| value_of(table, c)).collect();
    let mut names = vec![KEY, "SK_ID_PREV", distinct_column];
    let positions = input_positions(&values, &mut names);
    let specs: Vec<&[Agg]> = spec.iter().map(|(_, a)| *a).collect();
    let mut all = stats_in(out, n, &specs);
    let mut versions = Distinct::new(n);
    let mut lookup = Lookup::new(&apps.row);
    let mut parent = PrevCheck::new(prev);
    scan(source, table, &names, |b| {
        let (curr, loan, version) = (b.ids(0), b.ids(1), b.nums(2));
        let inputs = batch_inputs(b, &positions);
        let groups = monthly_groups(curr, loan, &mut lookup, &mut parent);
        let mut row: Vec<f64> = Vec::with_capacity(values.len());
        let mut touched = 0;
        for (r, &g) in groups.iter().enumerate() {
            touch_ahead(&groups, r, &[&all], &mut touched);
            if g == NO_GROUP {
                continue;
            }
            all.row(g);
            versions.add(g, version[r]);
            row.clear();
            row.extend(row_values(&values, &inputs, r));
            all.add_all(g, &row);
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
    out.push_floats(&format!("{INSTAL_PREFIX}{distinct_column}_NUNIQUE"), values)?;
    let width = 1 + push_spec(out, &all, spec, INSTAL_PREFIX, 0)?;
    push_count(out, &all, INSTAL_PREFIX)?;
    let rows: Vec<u32> = (0..n).map(|g| all.rows(g)).collect();
    log_part(
        source,
        "installments_payments",
        rows.iter().filter(|r| **r > 0).count(),
        width + 1,
    );
    out.recycle(all.into_buffer());
    out.history_rows(table, rows);
    Ok(())
}

pub(super) fn credit_card(
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
        prefix: CC_PREFIX,
    };
    monthly.build(source, vocab, apps, prev, report, out)
}
