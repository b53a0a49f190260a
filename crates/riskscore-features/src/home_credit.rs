//! The feature set of the public kernel "LightGBM with Simple Features" (Aguiar, 2018) over the
//! seven Home Credit tables, with the names and values of `../shared/bench/fe_pandas.py`.
//!
//! Plan: each table is read once, typed, and reduced to one row per applicant by a single
//! polars group-by (plus one per ACTIVE_/CLOSED_ or APPROVED_/REFUSED_ split); only one large
//! table is in memory at a time. One-hot columns are never materialised: the mean of a dummy is
//! the mean of a boolean expression inside the aggregation.

use polars::prelude::*;
use riskscore_data::validate::count_orphans;
use riskscore_data::{Table, TableSource};

use crate::error::{Error, Result};
use crate::exprs::{dummy, dummy_code, dummy_nan, encode_categories, left_join, ratio, Agg};
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

type Spec = &'static [(&'static str, &'static [Agg])];

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

fn spec_exprs(spec: Spec, prefix: &str) -> Vec<Expr> {
    spec.iter()
        .flat_map(|(name, aggs)| aggs.iter().map(move |a| a.apply(col(*name), prefix, name)))
        .collect()
}

/// Learns (or reads) the vocabularies of `cats` and encodes those columns as integer codes.
fn encode(
    vocab: &mut VocabMode,
    table: &str,
    cats: &[&str],
    df: DataFrame,
) -> Result<(DataFrame, Vec<Vec<String>>)> {
    let mut vocabs = Vec::with_capacity(cats.len());
    for column in cats {
        vocabs.push(vocab.values(table, column, &df)?);
    }
    let pairs: Vec<(&str, &[String])> = cats
        .iter()
        .copied()
        .zip(vocabs.iter().map(Vec::as_slice))
        .collect();
    let df = encode_categories(df, &pairs).map_err(Error::polars(format!("{table} categories")))?;
    Ok((df, vocabs))
}

/// Means of the one-hot columns of encoded `cats` (with the `_nan` column), named
/// `{prefix}{dummy}_MEAN`. A column with no category at all gets none, as in pandas.
fn dummy_means(cats: &[&str], vocabs: &[Vec<String>], prefix: &str) -> Vec<Expr> {
    let mut out = Vec::new();
    for (column, values) in cats.iter().zip(vocabs) {
        if values.is_empty() {
            continue; // pandas reads an all-empty column as numbers: no one-hot columns
        }
        for (code, value) in values.iter().enumerate() {
            let name = crate::exprs::dummy_name(column, value);
            out.push(Agg::Mean.apply(dummy_code(column, code, &name), prefix, &name));
        }
        out.push(Agg::Mean.apply(dummy_nan(column), prefix, &format!("{column}_nan")));
    }
    out
}

/// The filter "column == value" on a column encoded by [`encode`] with `vocabs` (one per
/// entry of `cats`); nothing matches when the value is not in the column's vocabulary.
fn code_is(cats: &[&str], vocabs: &[Vec<String>], column: &str, value: &str) -> Expr {
    let code = cats
        .iter()
        .zip(vocabs)
        .find(|(c, _)| **c == column)
        .and_then(|(_, vocab)| vocab.iter().position(|v| v == value));
    match code {
        Some(code) => col(column).eq(lit(code as i32)),
        None => lit(false),
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

/// Builds the feature matrix: one row per applicant (train then test rows, minus the
/// CODE_GENDER = 'XNA' rows), with `SK_ID_CURR`, `TARGET` and the features. The per-table
/// aggregates are computed here; the final join is left to [`FeatureMatrix`].
pub(crate) fn build_parts(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    report: &mut BuildReport,
) -> Result<FeatureMatrix> {
    // Orphans are checked against every application, the XNA rows the kernel drops included.
    let (app, ids) = application(source, vocab, report)?;
    let mut parts = Vec::new();
    parts.push(bureau(source, vocab, &ids, report)?);
    let (prev, prev_ids) = previous(source, vocab, &ids, report)?;
    parts.push(prev);
    parts.push(pos_cash(source, vocab, &ids, &prev_ids, report)?);
    parts.push(installments(source, &ids, &prev_ids, report)?);
    parts.push(credit_card(source, vocab, &ids, &prev_ids, report)?);
    Ok(FeatureMatrix {
        app,
        parts,
        columns: None,
    })
}

/// The application features and the per-table aggregates, not yet joined. Joining in slices
/// of applicants and writing each slice as a Parquet row group keeps only one slice of the
/// wide matrix in memory.
#[derive(Debug, Clone)]
pub struct FeatureMatrix {
    app: DataFrame,
    parts: Vec<DataFrame>,
    /// The output columns in order (a fitted pipeline's), or all of them.
    columns: Option<Vec<String>>,
}

/// Applicants per joined slice.
const SLICE_ROWS: usize = 32_768;

impl FeatureMatrix {
    pub(crate) fn with_columns(mut self, columns: Vec<String>) -> Self {
        self.columns = Some(columns);
        self
    }

    pub fn rows(&self) -> usize {
        self.app.height()
    }

    fn join(&self, app: DataFrame) -> Result<DataFrame> {
        let mut joined = app.lazy();
        for part in &self.parts {
            joined = left_join(joined, part.clone().lazy(), KEY);
        }
        if let Some(columns) = &self.columns {
            joined = joined.select(columns.iter().map(|c| col(c.as_str())).collect::<Vec<_>>());
        }
        joined
            .collect()
            .map_err(Error::polars("joining the tables"))
    }

    /// The whole matrix in memory.
    pub fn collect(&self) -> Result<DataFrame> {
        self.join(self.app.clone())
    }

    /// The column names of the matrix.
    pub fn column_names(&self) -> Result<Vec<String>> {
        let head = self.join(self.app.head(Some(0)))?;
        Ok(head
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect())
    }

    /// Writes the matrix as Parquet (Snappy), one row group per slice of applicants.
    pub fn write_parquet(&self, path: &std::path::Path) -> Result<()> {
        self.write_parquet_in_slices(path, SLICE_ROWS)
    }

    /// As `write_parquet`, with `slice_rows` applicants per row group.
    pub fn write_parquet_in_slices(&self, path: &std::path::Path, slice_rows: usize) -> Result<()> {
        let context = path.display().to_string();
        let file = std::fs::File::create(path).map_err(|e| Error::Pipeline {
            path: context.clone(),
            message: e.to_string(),
        })?;
        let schema = self.join(self.app.head(Some(0)))?.schema().clone();
        let mut writer = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Snappy)
            .batched(&schema)
            .map_err(Error::polars(context.clone()))?;
        for offset in (0..self.rows()).step_by(slice_rows.max(1)) {
            let slice = self.join(self.app.slice(offset as i64, slice_rows.max(1)))?;
            writer
                .write_batch(&slice)
                .map_err(Error::polars(context.clone()))?;
        }
        writer.finish().map_err(Error::polars(context))?;
        Ok(())
    }
}

/// Runs an aggregation on polars' in-memory engine. Not the streaming engine: it merges
/// partial states in an order that depends on how rows were split, so a variance computed for
/// one applicant alone could differ in the last bit from the batch (tested).
fn collect_agg(lf: LazyFrame, what: &str) -> Result<DataFrame> {
    lf.collect().map_err(Error::polars(what.to_string()))
}

/// Loads a table, or an empty frame with the layout's columns when the source lacks it.
fn load(source: &dyn TableSource, table: Table) -> Result<DataFrame> {
    match source.load(table)? {
        Some(df) => Ok(df),
        None => Ok(DataFrame::empty_with_schema(&table.schema())),
    }
}

fn note_orphans(
    report: &mut BuildReport,
    table: Table,
    df: &DataFrame,
    column: &str,
    parents: &Column,
) -> Result<()> {
    let n = count_orphans(df, column, parents)?;
    if n > 0 {
        tracing::warn!(
            table = table.stem(),
            key = column,
            rows = n,
            "rows whose key has no parent row"
        );
        report.orphans.push((table.stem().into(), column.into(), n));
    }
    Ok(())
}

fn application(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    report: &mut BuildReport,
) -> Result<(DataFrame, Column)> {
    let train = load(source, Table::ApplicationTrain)?;
    let test = load(source, Table::ApplicationTest)?;
    let before = train.height() + test.height();
    let order: Vec<Expr> = Table::ApplicationTrain
        .columns()
        .iter()
        .map(|(n, _)| col(*n))
        .collect();
    let test = test
        .lazy()
        .with_column(lit(NULL).cast(DataType::Float64).alias("TARGET"))
        .select(order);
    let all = concat([train.lazy(), test], UnionArgs::default())
        .map_err(Error::polars("application"))?
        .collect()
        .map_err(Error::polars("application"))?;
    let ids = all.column(KEY).map_err(Error::polars(KEY))?.clone();
    let df = all
        .lazy()
        .filter(col("CODE_GENDER").neq_missing(lit("XNA")))
        .collect()
        .map_err(Error::polars("application"))?;
    report.dropped_xna = before - df.height();

    let mut select = Vec::new();
    let mut dummies = Vec::new();
    for (name, kind) in Table::ApplicationTrain.columns() {
        if BINARY_FLAGS.contains(name) {
            let values = vocab.values("application", name, &df)?;
            select.push(factorize(name, &values));
        } else if *kind == riskscore_data::Kind::Cat {
            let values = vocab.values("application", name, &df)?;
            if values.is_empty() {
                // pandas reads an all-empty column as numbers and keeps it, all missing.
                select.push(lit(NULL).cast(DataType::Float64).alias(*name));
            }
            for value in values {
                dummies.push(dummy(name, &value));
            }
        } else if *name == "DAYS_EMPLOYED" {
            select.push(days_code_to_null(name));
        } else {
            select.push(col(*name));
        }
    }
    select.extend(dummies);
    let employed = days_code_to_null("DAYS_EMPLOYED");
    select.extend([
        ratio(employed, col("DAYS_BIRTH")).alias("DAYS_EMPLOYED_PERC"),
        ratio(col("AMT_INCOME_TOTAL"), col("AMT_CREDIT")).alias("INCOME_CREDIT_PERC"),
        ratio(col("AMT_INCOME_TOTAL"), col("CNT_FAM_MEMBERS")).alias("INCOME_PER_PERSON"),
        ratio(col("AMT_ANNUITY"), col("AMT_INCOME_TOTAL")).alias("ANNUITY_INCOME_PERC"),
        ratio(col("AMT_ANNUITY"), col("AMT_CREDIT")).alias("PAYMENT_RATE"),
    ]);
    let out = df
        .lazy()
        .select(select)
        .collect()
        .map_err(Error::polars("application features"))?;
    tracing::info!(
        rows = out.height(),
        columns = out.width(),
        cpu = riskscore_data::usage::cpu_label(),
        "application features"
    );
    Ok((out, ids))
}

/// pandas `factorize(sort=True)`: the index of the value in the sorted vocabulary, -1 if missing.
fn factorize(column: &str, values: &[String]) -> Expr {
    let mut code = lit(-1i64);
    for (i, value) in values.iter().enumerate().rev() {
        code = when(col(column).eq(lit(value.as_str())))
            .then(lit(i as i64))
            .otherwise(code);
    }
    code.alias(column)
}

fn days_code_to_null(column: &str) -> Expr {
    when(col(column).eq(lit(DAYS_MISSING_CODE)))
        .then(lit(NULL).cast(DataType::Float64))
        .otherwise(col(column))
        .alias(column)
}

fn bureau(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    ids: &Column,
    report: &mut BuildReport,
) -> Result<DataFrame> {
    let b = load(source, Table::Bureau)?;
    note_orphans(report, Table::Bureau, &b, KEY, ids)?;
    let bb = load(source, Table::BureauBalance)?;
    let bureau_ids = b
        .column("SK_ID_BUREAU")
        .map_err(Error::polars("bureau"))?
        .clone();
    note_orphans(
        report,
        Table::BureauBalance,
        &bb,
        "SK_ID_BUREAU",
        &bureau_ids,
    )?;

    // STATUS values are one character: comparing strings is cheaper than encoding 27 M rows.
    let statuses = vocab.values("bureau_balance", "STATUS", &bb)?;
    let mut per_loan = vec![
        col("MONTHS_BALANCE").min().alias("MONTHS_BALANCE_MIN"),
        col("MONTHS_BALANCE").max().alias("MONTHS_BALANCE_MAX"),
        len().alias("MONTHS_BALANCE_SIZE"),
    ];
    let mut status_names: Vec<String> = statuses.iter().map(|v| format!("STATUS_{v}")).collect();
    for value in &statuses {
        let name = format!("STATUS_{value}_MEAN");
        per_loan.push(dummy("STATUS", value).mean().alias(name));
    }
    if !statuses.is_empty() {
        status_names.push("STATUS_nan".into());
        per_loan.push(dummy_nan("STATUS").mean().alias("STATUS_nan_MEAN"));
    }
    let per_loan = bb.lazy().group_by([col("SK_ID_BUREAU")]).agg(per_loan);
    let per_loan = collect_agg(per_loan, "bureau_balance per loan")?;
    let cats: Vec<&str> = Table::Bureau.categorical_columns().collect();
    let (b, vocabs) = encode(vocab, "bureau", &cats, b)?;
    let b = left_join(b.lazy(), per_loan.lazy(), "SK_ID_BUREAU")
        .collect()
        .map_err(Error::polars("bureau_balance per loan"))?;

    let mut aggs = spec_exprs(BUREAU_NUM, "BURO_");
    aggs.extend(dummy_means(&cats, &vocabs, "BURO_"));
    for name in &status_names {
        let mean = format!("{name}_MEAN");
        aggs.push(Agg::Mean.apply(col(mean.as_str()), "BURO_", &mean));
    }
    let split = [
        (
            code_is(&cats, &vocabs, "CREDIT_ACTIVE", "Active"),
            "ACTIVE_",
        ),
        (
            code_is(&cats, &vocabs, "CREDIT_ACTIVE", "Closed"),
            "CLOSED_",
        ),
    ];
    let out = grouped_with_splits(b, aggs, BUREAU_NUM, &split, "bureau")?;
    tracing::info!(
        applicants = out.height(),
        columns = out.width() - 1,
        cpu = riskscore_data::usage::cpu_label(),
        "bureau features"
    );
    Ok(out)
}

/// Groups by applicant, then adds the same numeric aggregates over the rows where
/// `split_column` equals each value, prefixed; applicants with no such row get missing values.
fn grouped_with_splits(
    df: DataFrame,
    aggs: Vec<Expr>,
    spec: Spec,
    splits: &[(Expr, &str)],
    what: &str,
) -> Result<DataFrame> {
    // Sorted keys let polars aggregate contiguous slices instead of gathering rows by index.
    // The sort is stable: rows of an applicant keep their order, so sums do not change.
    let df = df
        .sort(
            [KEY],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .map_err(Error::polars(format!("{what} sort")))?;
    let mut out = df.clone().lazy().group_by([col(KEY)]).agg(aggs);
    for (filter, prefix) in splits {
        let part = df
            .clone()
            .lazy()
            .filter(filter.clone())
            .group_by([col(KEY)])
            .agg(spec_exprs(spec, prefix));
        out = left_join(out, part, KEY);
    }
    collect_agg(out, &format!("{what} aggregates"))
}

fn previous(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    ids: &Column,
    report: &mut BuildReport,
) -> Result<(DataFrame, Column)> {
    let p = load(source, Table::PreviousApplication)?;
    note_orphans(report, Table::PreviousApplication, &p, KEY, ids)?;
    let prev_ids = p
        .column("SK_ID_PREV")
        .map_err(Error::polars("previous_application"))?
        .clone();
    let cats: Vec<&str> = Table::PreviousApplication.categorical_columns().collect();
    let (p, vocabs) = encode(vocab, "previous_application", &cats, p)?;
    let mut aggs = spec_exprs(PREV_NUM, "PREV_");
    aggs.extend(dummy_means(&cats, &vocabs, "PREV_"));
    // The kernel also maps 365243 to missing in the DAYS_* columns, but aggregates none of them.
    let p = p
        .lazy()
        .with_column(ratio(col("AMT_APPLICATION"), col("AMT_CREDIT")).alias("APP_CREDIT_PERC"))
        .collect()
        .map_err(Error::polars("previous_application"))?;
    let status = "NAME_CONTRACT_STATUS";
    let split = [
        (code_is(&cats, &vocabs, status, "Approved"), "APPROVED_"),
        (code_is(&cats, &vocabs, status, "Refused"), "REFUSED_"),
    ];
    let out = grouped_with_splits(p, aggs, PREV_NUM, &split, "previous")?;
    tracing::info!(
        applicants = out.height(),
        columns = out.width() - 1,
        cpu = riskscore_data::usage::cpu_label(),
        "previous application features"
    );
    Ok((out, prev_ids))
}

/// Loads a monthly history table (keyed by SK_ID_CURR and SK_ID_PREV) and notes its orphans.
fn load_history(
    source: &dyn TableSource,
    table: Table,
    ids: &Column,
    prev_ids: &Column,
    report: &mut BuildReport,
) -> Result<DataFrame> {
    let df = load(source, table)?;
    note_orphans(report, table, &df, KEY, ids)?;
    note_orphans(report, table, &df, "SK_ID_PREV", prev_ids)?;
    Ok(df)
}

/// Groups rows by applicant and aggregates them; logs the size of the result.
fn per_applicant(rows: LazyFrame, aggs: Vec<Expr>, table: Table) -> Result<DataFrame> {
    let what = format!("{table} aggregates");
    let out = collect_agg(rows.group_by([col(KEY)]).agg(aggs), &what)?;
    tracing::info!(
        applicants = out.height(),
        columns = out.width() - 1,
        cpu = riskscore_data::usage::cpu_label(),
        "{table} features"
    );
    Ok(out)
}

fn pos_cash(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    ids: &Column,
    prev_ids: &Column,
    report: &mut BuildReport,
) -> Result<DataFrame> {
    let pos = load_history(source, Table::PosCashBalance, ids, prev_ids, report)?;
    let cats: Vec<&str> = Table::PosCashBalance.categorical_columns().collect();
    let mut aggs = spec_exprs(POS_NUM, "POS_");
    let (pos, vocabs) = encode(vocab, "POS_CASH_balance", &cats, pos)?;
    aggs.extend(dummy_means(&cats, &vocabs, "POS_"));
    aggs.push(len().cast(DataType::Int64).alias("POS_COUNT"));
    per_applicant(pos.lazy(), aggs, Table::PosCashBalance)
}

fn installments(
    source: &dyn TableSource,
    ids: &Column,
    prev_ids: &Column,
    report: &mut BuildReport,
) -> Result<DataFrame> {
    let ins = load_history(source, Table::InstallmentsPayments, ids, prev_ids, report)?;
    // Kernel semantics: x if x > 0 else 0, so a missing payment date gives 0.
    let positive = |e: Expr| when(e.clone().gt(lit(0.0))).then(e).otherwise(lit(0.0));
    let late = col("DAYS_ENTRY_PAYMENT") - col("DAYS_INSTALMENT");
    let early = col("DAYS_INSTALMENT") - col("DAYS_ENTRY_PAYMENT");
    let mut aggs = spec_exprs(INSTAL_NUM, "INSTAL_");
    aggs.push(len().cast(DataType::Int64).alias("INSTAL_COUNT"));
    let rows = ins.lazy().with_columns([
        ratio(col("AMT_PAYMENT"), col("AMT_INSTALMENT")).alias("PAYMENT_PERC"),
        (col("AMT_INSTALMENT") - col("AMT_PAYMENT")).alias("PAYMENT_DIFF"),
        positive(late).alias("DPD"),
        positive(early).alias("DBD"),
    ]);
    per_applicant(rows, aggs, Table::InstallmentsPayments)
}

fn credit_card(
    source: &dyn TableSource,
    vocab: &mut VocabMode,
    ids: &Column,
    prev_ids: &Column,
    report: &mut BuildReport,
) -> Result<DataFrame> {
    let cc = load_history(source, Table::CreditCardBalance, ids, prev_ids, report)?;
    let mut aggs = Vec::new();
    let numeric = Table::CreditCardBalance
        .columns()
        .iter()
        .filter(|(n, k)| *k != riskscore_data::Kind::Cat && *n != KEY && *n != "SK_ID_PREV");
    for (name, _) in numeric {
        aggs.extend(CC_AGGS.iter().map(|a| a.apply(col(*name), "CC_", name)));
    }
    let cats: Vec<&str> = Table::CreditCardBalance.categorical_columns().collect();
    let (cc, vocabs) = encode(vocab, "credit_card_balance", &cats, cc)?;
    for (column, values) in cats.iter().zip(&vocabs) {
        if values.is_empty() {
            continue;
        }
        let mut columns: Vec<(String, Expr)> = values
            .iter()
            .enumerate()
            .map(|(code, v)| {
                let name = crate::exprs::dummy_name(column, v);
                let expr = dummy_code(column, code, &name);
                (name, expr)
            })
            .collect();
        columns.push((format!("{column}_nan"), dummy_nan(column)));
        for (name, expr) in columns {
            aggs.extend(CC_AGGS.iter().map(|a| a.apply(expr.clone(), "CC_", &name)));
        }
    }
    aggs.push(len().cast(DataType::Int64).alias("CC_COUNT"));
    per_applicant(cc.lazy(), aggs, Table::CreditCardBalance)
}
