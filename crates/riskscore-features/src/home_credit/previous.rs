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
    // PREV_NUM's values (APP_CREDIT_PERC computed from two columns).
    let values: Vec<Value> = PREV_NUM
        .iter()
        .map(|(c, _)| value_of(Table::PreviousApplication, c))
        .collect();
    let table = SplitTable {
        table: Table::PreviousApplication,
        key: "SK_ID_PREV",
        spec: PREV_NUM,
        values: &values,
        split: PREV_SPLIT,
        prefixes: PREV_PREFIXES,
    };
    let (folded, prev, _) = table.fold(source, vocab, apps, report, out, false)?;
    let width = table.push_all(&folded, vocab, out)?;
    table.push_splits(source, folded, width, out)?;
    Ok(prev)
}
