//! Previous applications at Home Credit, all and the APPROVED_/REFUSED_ splits.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn previous(
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
    let at = |c: &str| position_of(names.iter().copied(), c);
    let (application, credit) = (at("AMT_APPLICATION")?, at("AMT_CREDIT")?);
    let inputs: Vec<Option<usize>> = PREV_NUM
        .iter()
        .map(|(c, _)| (*c != "APP_CREDIT_PERC").then(|| at(c)).transpose())
        .collect::<Result<_>>()?;
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
