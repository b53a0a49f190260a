//! The Home Credit feature set as one SQL query (Spark SQL), generated from the description the
//! local engine folds: the specs (`BUREAU_NUM`, `PREV_NUM`, ...), the derived values
//! ([`value_of`]), the splits and prefixes, the kernel's ratios and the vocabularies. No
//! feature is written twice: a new entry in a spec is a new column of both engines.
//!
//! The query reads one typed view per table, named after the table's stem (see
//! [`typed_table`]), and gives the columns of the local engine in its order, with its values:
//! missing values (and NaN) skipped by every statistic, the sum of no value 0, a statistic of
//! an applicant without rows missing, a non-zero value over zero infinite. What may differ is
//! the order of summation: the local engine adds in file order with Kahan's compensation (as
//! pandas), Spark adds partial sums per partition without it.

use std::fmt::Write as _;

use riskscore_data::{Kind, Table};

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::vocab::Vocabularies;

/// A part's row count, `{prefix}COUNT`.
const COUNT: &str = "count(*)";

/// The view holding both application tables, train rows then test rows.
const APPLICATION: &str = "application";

/// The row-order columns of the application views: the file (0 train, 1 test) and the row's
/// place in it.
pub const SOURCE_COLUMN: &str = "_src";
pub const ROW_COLUMN: &str = "_row";

/// A quoted identifier.
fn q(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A string literal.
fn lit(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The name of a table's view.
pub fn view_of(table: Table) -> &'static str {
    table.stem()
}

/// The typed view of a table read with every column as text (`raw`, whose columns are
/// `present`): ids as 64-bit integers, numbers as doubles (NaN read as missing), categories as
/// text; the application tables also number their rows. An error names the columns of the
/// layout the file (`path`) lacks.
pub fn typed_table(table: Table, raw: &str, present: &[String], path: &str) -> Result<String> {
    let missing: Vec<String> = table
        .columns()
        .iter()
        .filter(|(name, _)| !present.iter().any(|p| p == name))
        .map(|(name, _)| (*name).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(riskscore_data::Error::MissingColumns {
            path: path.into(),
            table: table.stem().into(),
            columns: missing,
        }
        .into());
    }
    let mut select: Vec<String> = table
        .columns()
        .iter()
        .map(|(name, kind)| typed_column(name, *kind, &q(name)))
        .collect();
    if is_application(table) {
        select.push(format!("monotonically_increasing_id() AS {ROW_COLUMN}"));
    }
    Ok(format!("SELECT {} FROM {}", select.join(", "), q(raw)))
}

/// The typed view of an absent optional table: its columns, no row.
pub fn empty_table(table: Table) -> String {
    let mut select: Vec<String> = table
        .columns()
        .iter()
        .map(|(name, kind)| format!("CAST(NULL AS {}) AS {}", sql_type(*kind), q(name)))
        .collect();
    if is_application(table) {
        select.push(format!("CAST(0 AS BIGINT) AS {ROW_COLUMN}"));
    }
    format!("SELECT {} FROM range(0)", select.join(", "))
}

fn is_application(table: Table) -> bool {
    matches!(table, Table::ApplicationTrain | Table::ApplicationTest)
}

fn sql_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Id => "BIGINT",
        Kind::Num => "DOUBLE",
        Kind::Cat => "STRING",
    }
}

fn typed_column(name: &str, kind: Kind, text: &str) -> String {
    match kind {
        Kind::Id => format!("CAST({text} AS BIGINT) AS {}", q(name)),
        Kind::Num => format!("nanvl(CAST({text} AS DOUBLE), NULL) AS {}", q(name)),
        Kind::Cat => format!("{text} AS {}", q(name)),
    }
}

/// The vocabularies the local engine keeps, as `table.column` keys with the view and column
/// each is learned from.
pub fn vocabulary_columns() -> Vec<(String, &'static str, &'static str)> {
    let mut out = Vec::new();
    for column in Table::ApplicationTrain.categorical_columns() {
        out.push((Vocabularies::key(APPLICATION, column), APPLICATION, column));
    }
    for table in [
        Table::Bureau,
        Table::BureauBalance,
        Table::PreviousApplication,
        Table::PosCashBalance,
        Table::CreditCardBalance,
    ] {
        for column in table.categorical_columns() {
            out.push((
                Vocabularies::key(table.stem(), column),
                view_of(table),
                column,
            ));
        }
    }
    out
}

/// The distinct values of every vocabulary column: rows `(k, v)`, `k` a key of
/// [`vocabulary_columns`]. The caller sorts each key's values (byte order, as the local
/// engine).
pub fn vocabulary_query() -> String {
    let parts: Vec<String> = vocabulary_columns()
        .iter()
        .map(|(key, view, column)| {
            format!(
                "SELECT {} AS k, {} AS v FROM {} WHERE {} IS NOT NULL",
                lit(key),
                q(column),
                q(view),
                q(column)
            )
        })
        .collect();
    format!(
        "WITH {APPLICATION} AS ({}) SELECT DISTINCT k, v FROM ({}) t",
        application_union(),
        parts.join(" UNION ALL ")
    )
}

/// The tables whose key must be unique, the key, and a query giving the number of duplicated
/// rows and the smallest duplicated key (`n`, `first`; `n` 0 when none).
pub fn duplicate_key_queries() -> Vec<(Table, &'static str, String)> {
    [
        (Table::ApplicationTrain, KEY),
        (Table::ApplicationTest, KEY),
        (Table::Bureau, "SK_ID_BUREAU"),
        (Table::PreviousApplication, "SK_ID_PREV"),
    ]
    .into_iter()
    .map(|(table, key)| {
        let sql = format!(
            "SELECT CAST(coalesce(sum(c - 1), 0) AS BIGINT) AS n, min(k) AS first FROM \
             (SELECT {k} AS k, count(*) AS c FROM {v} WHERE {k} IS NOT NULL GROUP BY {k} \
             HAVING count(*) > 1) d",
            k = q(key),
            v = q(view_of(table))
        );
        (table, key, sql)
    })
    .collect()
}

/// The union of both application views, train rows first.
fn application_union() -> String {
    let columns = Table::ApplicationTrain.columns();
    let list = |table: Table| {
        columns
            .iter()
            .map(|(name, kind)| {
                if table.columns().iter().any(|(n, _)| n == name) {
                    q(name)
                } else {
                    format!("CAST(NULL AS {}) AS {}", sql_type(*kind), q(name))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT {}, 0 AS {SOURCE_COLUMN}, {ROW_COLUMN} FROM {} UNION ALL SELECT {}, 1 AS {SOURCE_COLUMN}, {ROW_COLUMN} FROM {}",
        list(Table::ApplicationTrain),
        q(view_of(Table::ApplicationTrain)),
        list(Table::ApplicationTest),
        q(view_of(Table::ApplicationTest)),
    )
}

/// The feature query: the columns it gives, in the local engine's order, with their
/// expressions over its joined parts.
#[derive(Debug, Clone)]
pub struct FeatureQuery {
    pub columns: Vec<String>,
    exprs: Vec<String>,
    /// The common table expressions (`WITH ...`).
    with: String,
    /// The joined parts (`FROM ...`).
    from: String,
}

impl FeatureQuery {
    /// The query giving every column, rows in the applications' order.
    pub fn sql(&self) -> String {
        self.select_all(self.exprs.iter().collect())
    }

    /// The query giving `names` only, in that order (an error names a column it lacks).
    pub fn selecting(&self, names: &[String]) -> Result<String> {
        let exprs = names
            .iter()
            .map(|name| {
                self.columns
                    .iter()
                    .position(|c| c == name)
                    .map(|i| &self.exprs[i])
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "the fitted pipeline's column {name:?} is not among the features \
                             of its vocabularies"
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.select_all(exprs))
    }

    fn select_all(&self, exprs: Vec<&String>) -> String {
        let list: Vec<&str> = exprs.iter().map(|e| e.as_str()).collect();
        format!(
            "{} SELECT {} {} ORDER BY a.{SOURCE_COLUMN}, a.{ROW_COLUMN}",
            self.with,
            list.join(", "),
            self.from
        )
    }
}

/// `a / b` as IEEE division: a non-zero value over zero is infinite, zero over zero missing
/// (Spark's own division gives null, or fails in ANSI mode).
fn ratio(a: &str, b: &str) -> String {
    format!(
        "CASE WHEN {b} = 0 THEN (CASE WHEN {a} > 0 THEN CAST('Infinity' AS DOUBLE) \
         WHEN {a} < 0 THEN CAST('-Infinity' AS DOUBLE) END) ELSE {a} / {b} END"
    )
}

/// A derived value over the columns of the row.
fn value_sql(value: Value) -> String {
    match value {
        Value::Column(c) => q(c),
        Value::Ratio(a, b) => ratio(&q(a), &q(b)),
        Value::Diff(a, b) => format!("({} - {})", q(a), q(b)),
        Value::PositiveDiff(a, b) => {
            let d = format!("({} - {})", q(a), q(b));
            format!("CASE WHEN {d} > 0 THEN {d} ELSE CAST(0 AS DOUBLE) END")
        }
    }
}

/// A statistic over the rows of a group, pandas' meaning (see the module's doc).
fn agg_sql(agg: Agg, x: &str) -> String {
    match agg {
        Agg::Min => format!("min({x})"),
        Agg::Max => format!("max({x})"),
        Agg::Mean => format!("avg({x})"),
        Agg::Sum => format!("coalesce(sum({x}), CAST(0 AS DOUBLE))"),
        // Equal finite values have no variance: exactly 0, as the local engine's Welford
        // update gives, where Spark's merge of partial moments leaves a residue (~1e-33).
        Agg::Var => format!(
            "CASE WHEN min({x}) = max({x}) AND count({x}) > 1 \
             AND abs(min({x})) < CAST('Infinity' AS DOUBLE) THEN CAST(0 AS DOUBLE) \
             ELSE var_samp({x}) END"
        ),
        Agg::Size => "CAST(count(*) AS DOUBLE)".into(),
        Agg::Nunique => format!("CAST(count(DISTINCT {x}) AS DOUBLE)"),
    }
}

/// `1` where `column` is `value` (missing: where it is missing), else `0`, as a double.
fn indicator(column: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!(
            "CASE WHEN {} = {} THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END",
            q(column),
            lit(v)
        ),
        None => format!(
            "CASE WHEN {} IS NULL THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END",
            q(column)
        ),
    }
}

/// The feature columns of one aggregated part: (name, expression) in output order.
type Columns = Vec<(String, String)>;

/// `{prefix}{name}_{AGG}` for every input of `spec`, each value from `value`; with `rows`, over
/// the group's rows where that condition holds only (missing for a group without such a row).
fn spec_columns(
    spec: Spec,
    prefix: &str,
    value: impl Fn(&'static str) -> String,
    rows: Option<&str>,
) -> Columns {
    let mut out = Vec::new();
    for (name, aggs) in spec {
        let x = value(name);
        for agg in aggs.iter() {
            let expr = match rows {
                None => agg_sql(*agg, &x),
                Some(c) => format!(
                    "CASE WHEN count_if({c}) > 0 THEN {} END",
                    agg_sql(*agg, &format!("CASE WHEN {c} THEN {x} END"))
                ),
            };
            out.push((format!("{prefix}{name}_{}", agg.suffix()), expr));
        }
    }
    out
}

/// The one-hot statistics of the categories of `table` (each vocabulary value, then `_nan`;
/// none for an empty vocabulary).
fn dummy_columns(
    vocab: &Vocabularies,
    table: Table,
    aggs: &[Agg],
    prefix: &str,
) -> Result<Columns> {
    let mut out = Vec::new();
    for column in table.categorical_columns() {
        let values = vocab.get(table.stem(), column)?;
        if values.is_empty() {
            continue;
        }
        let dummies = values
            .iter()
            .map(|v| (crate::exprs::dummy_name(column, v), Some(v.as_str())))
            .chain([(format!("{column}_nan"), None)]);
        for (dummy, value) in dummies {
            let x = indicator(column, value);
            for agg in aggs {
                out.push((
                    format!("{prefix}{dummy}_{}", agg.suffix()),
                    agg_sql(*agg, &x),
                ));
            }
        }
    }
    Ok(out)
}

/// One aggregated part: its CTE (grouped by applicant over `from`).
#[derive(Debug)]
struct Part {
    name: String,
    from: String,
    columns: Columns,
}

impl Part {
    fn cte(&self) -> String {
        let mut select = vec![format!("{KEY} AS _key")];
        for (name, expr) in &self.columns {
            select.push(format!("{expr} AS {}", q(name)));
        }
        format!(
            "{} AS (SELECT {} FROM {} GROUP BY {KEY})",
            self.name,
            select.join(", "),
            self.from,
        )
    }
}

/// The rows of a split: its category equal to the value, when the vocabulary has the value
/// (a value the fitted vocabulary lacks selects no row, as in the local engine).
fn split_filter(vocab: &Vocabularies, table: Table, split: SplitBy, i: usize) -> Result<String> {
    let (column, values) = split;
    let known = vocab
        .get(table.stem(), column)?
        .iter()
        .any(|v| v == values[i]);
    Ok(if known {
        format!("{} = {}", q(column), lit(values[i]))
    } else {
        "FALSE".into()
    })
}

/// The part of a table split in two ([`BUREAU_SPLIT`], [`PREV_SPLIT`]), in one pass over its
/// rows: all rows (the spec, the one-hot means, `extra`), then each split (the spec over the
/// split's rows).
fn split_part(
    vocab: &Vocabularies,
    table: Table,
    from: &str,
    spec: Spec,
    split: SplitBy,
    prefixes: SplitPrefixes,
    extra: Columns,
) -> Result<Part> {
    let value = |name: &'static str| value_sql(value_of(table, name));
    let (all_prefix, split_prefixes) = prefixes;
    let mut columns = spec_columns(spec, all_prefix, value, None);
    columns.extend(dummy_columns(vocab, table, &[Agg::Mean], all_prefix)?);
    columns.extend(extra);
    for (i, prefix) in split_prefixes.iter().enumerate() {
        let rows = split_filter(vocab, table, split, i)?;
        columns.extend(spec_columns(spec, prefix, value, Some(&rows)));
    }
    Ok(Part {
        name: format!("{}_agg", table.stem()),
        from: from.into(),
        columns,
    })
}

/// The bureau's loans with their balances folded per loan: the [`BUREAU_BALANCE_INPUTS`] and
/// `STATUS_{value}_MEAN` (share of the loan's months in each status); the status means'
/// names.
fn bureau_loans(vocab: &Vocabularies) -> Result<(String, Vec<String>)> {
    let statuses = vocab.get(Table::BureauBalance.stem(), "STATUS")?;
    let mut status: Vec<(String, Option<&str>)> = statuses
        .iter()
        .map(|v| (format!("STATUS_{v}_MEAN"), Some(v.as_str())))
        .collect();
    if !status.is_empty() {
        status.push(("STATUS_nan_MEAN".into(), None));
    }
    let mut per_loan = vec![
        "SK_ID_BUREAU AS _loan".to_owned(),
        "count(*) AS _months".into(),
        "min(MONTHS_BALANCE) AS _first".into(),
        "max(MONTHS_BALANCE) AS _last".into(),
    ];
    for (i, (_, value)) in status.iter().enumerate() {
        let is = match value {
            Some(v) => format!("STATUS = {}", lit(v)),
            None => "STATUS IS NULL".into(),
        };
        per_loan.push(format!("count_if({is}) AS _s{i}"));
    }
    let [min, max, size] = BUREAU_BALANCE_INPUTS;
    let mut loan = vec![
        "b.*".to_owned(),
        format!("m._first AS {}", q(min)),
        format!("m._last AS {}", q(max)),
        format!("CAST(m._months AS DOUBLE) AS {}", q(size)),
    ];
    for (i, (name, _)) in status.iter().enumerate() {
        loan.push(format!(
            "CAST(m._s{i} AS DOUBLE) / m._months AS {}",
            q(name)
        ));
    }
    let sql = format!(
        "SELECT {} FROM {} b LEFT JOIN (SELECT {} FROM {} WHERE SK_ID_BUREAU IS NOT NULL \
         GROUP BY SK_ID_BUREAU) m ON b.SK_ID_BUREAU = m._loan",
        loan.join(", "),
        q(view_of(Table::Bureau)),
        per_loan.join(", "),
        q(view_of(Table::BureauBalance)),
    );
    Ok((sql, status.into_iter().map(|(n, _)| n).collect()))
}

/// A monthly table's part (POS/cash, credit cards): the spec, the one-hot statistics, the count.
fn monthly_part(
    vocab: &Vocabularies,
    table: Table,
    spec: Spec,
    dummy_aggs: &[Agg],
    prefix: &str,
) -> Result<Part> {
    let mut columns = spec_columns(spec, prefix, |name| value_sql(value_of(table, name)), None);
    columns.extend(dummy_columns(vocab, table, dummy_aggs, prefix)?);
    columns.push((format!("{prefix}COUNT"), COUNT.into()));
    Ok(Part {
        name: format!("{}_agg", table.stem()),
        from: q(view_of(table)),
        columns,
    })
}

/// The application's own columns (in the local engine's order: its columns, categories
/// factorized or dropped for their one-hot columns, which follow, then the kernel's ratios)
/// over the union view aliased `a`.
fn application_columns(vocab: &Vocabularies) -> Result<Columns> {
    let code = DAYS_MISSING_CODE;
    let column = |name: &str| {
        if name == "DAYS_EMPLOYED" {
            format!(
                "CASE WHEN a.{c} = {code:?}D THEN NULL ELSE a.{c} END",
                c = q(name)
            )
        } else {
            format!("a.{}", q(name))
        }
    };
    let mut own = Vec::new();
    let mut dummies = Vec::new();
    for (name, kind) in Table::ApplicationTrain.columns() {
        match kind {
            Kind::Id | Kind::Num => own.push(((*name).to_owned(), column(name))),
            Kind::Cat => {
                let values = vocab.get(APPLICATION, name)?;
                if BINARY_FLAGS.contains(name) {
                    // pandas factorize(sort=True): the index in the vocabulary, -1 if missing.
                    let mut case = String::from("CAST(CASE");
                    for (i, v) in values.iter().enumerate() {
                        let _ = write!(case, " WHEN a.{} = {} THEN {i}", q(name), lit(v));
                    }
                    case.push_str(" ELSE -1 END AS INT)");
                    own.push(((*name).to_owned(), case));
                } else if values.is_empty() {
                    // pandas reads an all-empty column as numbers and keeps it, all missing.
                    own.push(((*name).to_owned(), "CAST(NULL AS DOUBLE)".into()));
                } else {
                    for v in values {
                        dummies.push((
                            crate::exprs::dummy_name(name, v),
                            format!(
                                "CAST(CASE WHEN a.{} = {} THEN 1 ELSE 0 END AS INT)",
                                q(name),
                                lit(v)
                            ),
                        ));
                    }
                }
            }
        }
    }
    own.extend(dummies);
    for (name, [a, b]) in crate::protect::KERNEL_RATIOS {
        own.push((name.to_owned(), ratio(&column(a), &column(b))));
    }
    Ok(own)
}

/// The feature query over the typed views, the vocabularies given (fitted by
/// [`vocabulary_query`] or read from a fitted pipeline).
pub fn feature_query(vocab: &Vocabularies) -> Result<FeatureQuery> {
    let (loans, status_names) = bureau_loans(vocab)?;
    // The loans' status means, over all loans only.
    let status_means: Columns = status_names
        .iter()
        .map(|name| {
            (
                format!("{}{name}_MEAN", BUREAU_PREFIXES.0),
                agg_sql(Agg::Mean, &q(name)),
            )
        })
        .collect();
    let mut parts = vec![split_part(
        vocab,
        Table::Bureau,
        "bureau_loans",
        BUREAU_NUM,
        BUREAU_SPLIT,
        BUREAU_PREFIXES,
        status_means,
    )?];
    parts.push(split_part(
        vocab,
        Table::PreviousApplication,
        &q(view_of(Table::PreviousApplication)),
        PREV_NUM,
        PREV_SPLIT,
        PREV_PREFIXES,
        Vec::new(),
    )?);
    parts.push(monthly_part(
        vocab,
        Table::PosCashBalance,
        POS_NUM,
        POS_DUMMY_AGGS,
        POS_PREFIX,
    )?);
    // Instalments: the distinct count first, then the folded values, then the count.
    let table = Table::InstallmentsPayments;
    let (distinct, _) = INSTAL_NUM[0];
    let mut columns = vec![(
        format!("{INSTAL_PREFIX}{distinct}_NUNIQUE"),
        agg_sql(Agg::Nunique, &q(distinct)),
    )];
    columns.extend(spec_columns(
        &INSTAL_NUM[1..],
        INSTAL_PREFIX,
        |name| value_sql(value_of(table, name)),
        None,
    ));
    columns.push((format!("{INSTAL_PREFIX}COUNT"), COUNT.into()));
    parts.push(Part {
        name: format!("{}_agg", table.stem()),
        from: q(view_of(table)),
        columns,
    });
    let cc_spec: Vec<(&'static str, &'static [Agg])> = Table::CreditCardBalance
        .columns()
        .iter()
        .filter(|(c, k)| *k != Kind::Cat && *c != KEY && *c != "SK_ID_PREV")
        .map(|(c, _)| (*c, CC_AGGS))
        .collect();
    parts.push(monthly_part(
        vocab,
        Table::CreditCardBalance,
        &cc_spec,
        CC_AGGS,
        CC_PREFIX,
    )?);

    let mut exprs = Vec::new();
    let mut names = Vec::new();
    for (name, expr) in application_columns(vocab)? {
        exprs.push(format!("{expr} AS {}", q(&name)));
        names.push(name);
    }
    let mut joins = String::new();
    for part in &parts {
        for (name, expr) in &part.columns {
            // Statistics may be NaN (infinite values): missing, as the local engine writes.
            let column = format!("{}.{}", part.name, q(name));
            if expr == COUNT {
                exprs.push(format!("{column} AS {}", q(name)));
            } else {
                exprs.push(format!("nanvl({column}, NULL) AS {}", q(name)));
            }
            names.push(name.clone());
        }
        let _ = write!(joins, " LEFT JOIN {p} ON a.{KEY} = {p}._key", p = part.name);
    }
    let mut ctes = vec![
        format!("{APPLICATION} AS ({})", application_union()),
        format!("bureau_loans AS ({loans})"),
    ];
    ctes.extend(parts.iter().map(Part::cte));
    Ok(FeatureQuery {
        columns: names,
        exprs,
        with: format!("WITH {}", ctes.join(", ")),
        from: format!("FROM {APPLICATION} a{joins}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_what_sql_reads_specially() {
        assert_eq!(q("a`b"), "`a``b`");
        assert_eq!(lit("it's a\\b"), "'it\\'s a\\\\b'");
    }
}
