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
    // PREV_NUM's columns, APP_CREDIT_PERC computed from two of them.
    let values: Vec<Value> = PREV_NUM
        .iter()
        .map(|(c, _)| match *c {
            "APP_CREDIT_PERC" => Value::Ratio("AMT_APPLICATION", "AMT_CREDIT"),
            c => Value::Column(c),
        })
        .collect();
    let table = SplitTable {
        table: Table::PreviousApplication,
        key: "SK_ID_PREV",
        spec: PREV_NUM,
        values: &values,
        split: ("NAME_CONTRACT_STATUS", ["Approved", "Refused"]),
        prefixes: ("PREV_", ["APPROVED_", "REFUSED_"]),
    };
    let (folded, prev, _) = table.fold(source, vocab, apps, report, out, false)?;
    let width = table.push_all(&folded, vocab, out)?;
    table.push_splits(folded, width, out)?;
    Ok(prev)
}
