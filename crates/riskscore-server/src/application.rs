//! A new application posted as JSON, checked field by field and typed as the pipeline expects.
//!
//! Home Credit: `{"application": {...}, "bureau": [...], "bureau_balance": [...],
//! "previous_application": [...], "POS_CASH_balance": [...], "installments_payments": [...],
//! "credit_card_balance": [...]}`; history tables are optional and their `SK_ID_CURR` defaults to
//! the application's. A single table: `{"application": {...}}` with the table's columns.
//! Every unknown column and every value of the wrong type is reported, with its place.
//!
//! The intake refuses (422) an application without a required field (Home Credit: the fields
//! of [`riskscore_data::intake::REQUIRED`]; one table: the columns never missing in training)
//! or with a value outside its domain ([`riskscore_data::intake::rule_of`]). A value far
//! outside the training data is scored but sent to review ([`outside_training`]).

use polars::prelude::*;
use riskscore_data::{InMemory, Kind, Table};
use riskscore_features::{FeaturePipeline, Layout};
use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::scorer::NewApplication;

/// The id given to a posted application without one.
pub const NEW_ID: i64 = -1;

type Fields = Vec<FieldError>;

/// The largest integer a JSON number carries exactly in every client (a double's 2^53): ids and
/// integer codes are taken up to it.
const EXACT: i64 = 1 << 53;

const INTEGER: &str = "must be an integer from -2^53 to 2^53";

/// An integer, written as such (`42`) or as a number without fraction (`42.0`), within
/// [`EXACT`].
fn integer(v: &Value) -> Option<i64> {
    let i = match v.as_i64() {
        Some(i) => i,
        None => {
            let f = v.as_f64()?;
            if f.fract() != 0.0 || f.abs() > EXACT as f64 {
                return None;
            }
            f as i64
        }
    };
    (i.unsigned_abs() <= EXACT.unsigned_abs()).then_some(i)
}

/// The application's id and its typed tables, or every invalid field.
pub fn parse(pipeline: &FeaturePipeline, body: &Value) -> Result<(i64, NewApplication), Fields> {
    let Some(obj) = body.as_object() else {
        return Err(vec![field("", "the body must be a JSON object")]);
    };
    let Some(app) = obj.get("application").and_then(Value::as_object) else {
        return Err(vec![field(
            "application",
            "required: an object with the application's fields",
        )]);
    };
    match &pipeline.layout {
        Layout::HomeCredit { .. } => home_credit(pipeline, obj, app),
        Layout::Generic(spec) => {
            let mut errors = Vec::new();
            for key in obj.keys().filter(|k| *k != "application") {
                errors.push(field(
                    key,
                    "unknown section (a single-table model takes only `application`)",
                ));
            }
            let mut columns: Vec<(String, Kind)> = vec![(
                spec.id.clone(),
                if spec.integer_id { Kind::Id } else { Kind::Cat },
            )];
            columns.extend(spec.numeric.iter().map(|n| (n.clone(), Kind::Num)));
            columns.extend(spec.categorical.iter().map(|(n, _)| (n.clone(), Kind::Cat)));
            let id = app.get(&spec.id).and_then(integer).unwrap_or(NEW_ID);
            required(app, &spec.required, &mut errors);
            if let (Some(age), Some(rule)) = (&spec.age, age_rule(spec)) {
                if let Some(x) = app.get(&age.column).and_then(Value::as_f64) {
                    in_domain(&age.column, x, rule, &mut errors);
                }
            }
            let mut row = app.clone();
            row.entry(spec.id.clone()).or_insert(Value::from(id));
            let known: Vec<&str> = columns
                .iter()
                .map(|(n, _)| n.as_str())
                .chain([spec.target.as_str()])
                .collect();
            for key in row.keys() {
                if !known.contains(&key.as_str()) {
                    errors.push(field(&format!("application.{key}"), "unknown column"));
                }
            }
            row.remove(&spec.target);
            let df = frame(
                &columns,
                &[&row],
                "application",
                (pipeline, "application"),
                &mut errors,
            );
            if errors.is_empty() {
                Ok((id, NewApplication::Generic(df)))
            } else {
                Err(errors)
            }
        }
    }
}

/// An error for the application's field `key` when its value `x` breaks the intake's `rule`.
fn in_domain(key: &str, x: f64, rule: riskscore_data::intake::Rule, errors: &mut Fields) {
    if let Some(broken) = rule.broken_by(x) {
        errors.push(field(
            &format!("application.{key}"),
            &format!("{broken} (got {x})"),
        ));
    }
}

fn home_credit(
    pipeline: &FeaturePipeline,
    obj: &Map<String, Value>,
    app: &Map<String, Value>,
) -> Result<(i64, NewApplication), Fields> {
    let mut errors = Vec::new();
    required(app, riskscore_data::intake::REQUIRED, &mut errors);
    for (key, v) in app {
        let numeric = Table::ApplicationTest.kind_of(key) == Some(Kind::Num);
        let (Some(rule), Some(x), true) =
            (riskscore_data::intake::rule_of(key), v.as_f64(), numeric)
        else {
            continue;
        };
        in_domain(key, x, rule, &mut errors);
    }
    let id = match app.get("SK_ID_CURR") {
        None | Some(Value::Null) => NEW_ID,
        Some(v) => match integer(v) {
            Some(i) => i,
            None => {
                errors.push(field("application.SK_ID_CURR", INTEGER));
                NEW_ID
            }
        },
    };
    let mut source = InMemory::new();
    let push = |source: InMemory, table: Table, df: DataFrame, errors: &mut Fields| match source
        .clone()
        .with(table, df)
    {
        Ok(s) => s,
        Err(e) => {
            errors.push(field(table.stem(), &e.to_string()));
            source
        }
    };
    // The application goes in as a test row (no target); the train table is empty.
    let mut a = app.clone();
    a.insert("SK_ID_CURR".into(), Value::from(id));
    if a.contains_key("TARGET") {
        errors.push(field(
            "application.TARGET",
            "a new application has no outcome",
        ));
        a.remove("TARGET");
    }
    let test_cols = columns_of(Table::ApplicationTest);
    unknown(&a, &test_cols, "application", &mut errors);
    let df = frame(
        &test_cols,
        &[&a],
        "application",
        (pipeline, "application"),
        &mut errors,
    );
    source = push(source, Table::ApplicationTest, df, &mut errors);
    let train_cols = columns_of(Table::ApplicationTrain);
    let empty = frame(&train_cols, &[], "", (pipeline, "application"), &mut errors);
    source = push(source, Table::ApplicationTrain, empty, &mut errors);
    for key in obj.keys().filter(|k| *k != "application") {
        let Some(table) = Table::ALL.iter().copied().find(|t| {
            t.stem() == key && !matches!(t, Table::ApplicationTrain | Table::ApplicationTest)
        }) else {
            errors.push(field(key, "unknown section"));
            continue;
        };
        let Some(rows) = obj[key].as_array() else {
            errors.push(field(key, "must be an array of records"));
            continue;
        };
        let cols = columns_of(table);
        let mut records = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let place = format!("{key}[{i}]");
            let Some(r) = r.as_object() else {
                errors.push(field(&place, "must be an object"));
                continue;
            };
            let mut r = r.clone();
            if table != Table::BureauBalance {
                match r.get("SK_ID_CURR") {
                    None | Some(Value::Null) => {
                        r.insert("SK_ID_CURR".into(), Value::from(id));
                    }
                    Some(v) if integer(v) != Some(id) => errors.push(field(
                        &format!("{place}.SK_ID_CURR"),
                        "must be the application's SK_ID_CURR",
                    )),
                    Some(_) => {}
                }
            }
            unknown(&r, &cols, &place, &mut errors);
            records.push(r);
        }
        let refs: Vec<&Map<String, Value>> = records.iter().collect();
        let df = frame(&cols, &refs, key, (pipeline, key), &mut errors);
        source = push(source, table, df, &mut errors);
    }
    if errors.is_empty() {
        Ok((id, NewApplication::HomeCredit(source)))
    } else {
        Err(errors)
    }
}

/// Every required field absent or null.
fn required<S: AsRef<str>>(app: &Map<String, Value>, names: &[S], errors: &mut Fields) {
    for name in names.iter().map(AsRef::as_ref) {
        if app.get(name).is_none_or(Value::is_null) {
            errors.push(field(
                &format!("application.{name}"),
                "required: every application carries it",
            ));
        }
    }
}

/// The training range of the features an intake checks, by name: the 0.1 and 99.9 percentiles.
pub type Ranges = std::collections::HashMap<String, (f64, f64)>;

/// The training range of every feature of a bundle's profile.
pub fn ranges(profile: &riskscore_model::profile::Profile) -> Ranges {
    profile
        .features
        .iter()
        .filter_map(|f| Some((f.name.clone(), f.central_range()?)))
        .collect()
}

/// Why a posted application goes to review whatever its score: its numbers far outside the
/// training data ([`outside_training`]), its categories never seen in it
/// ([`unseen_categories`]). The server's intake and `predict --application` share it.
pub fn review_reasons(
    pipeline: &FeaturePipeline,
    body: &Value,
    ranges: &Ranges,
    margin: f64,
) -> Vec<String> {
    let mut why = outside_training(body, ranges, margin);
    why.extend(unseen_categories(pipeline, body));
    why
}

/// The posted numeric fields that lie outside the training data by more than `margin` times
/// the width of its 0.1-99.9 percentile range, each as a reason for review. Home Credit's
/// 365243 "no date" code is not a value.
pub fn outside_training(body: &Value, ranges: &Ranges, margin: f64) -> Vec<String> {
    let Some(app) = body.get("application").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, v) in app {
        let (Some(x), Some(&(lo, hi))) = (v.as_f64(), ranges.get(key)) else {
            continue;
        };
        if x == riskscore_data::schema::DAYS_MISSING_CODE && key.starts_with("DAYS_") {
            continue;
        }
        let wide = margin * (hi - lo);
        if x < lo - wide || x > hi + wide {
            out.push(format!(
                "{key}: outside the data the model was trained on ({x} against {lo} to {hi} \
                 for 99.8 % of the training applicants)"
            ));
        }
    }
    out
}

/// How a column of `true`/`false` in training spells a JSON boolean (`True` as pandas writes it,
/// `true`, ...); `None` when the column's values are not booleans.
fn spelled(b: bool, vocabulary: Option<&[String]>) -> Option<String> {
    let word = if b { "true" } else { "false" };
    vocabulary?
        .iter()
        .find(|v| v.eq_ignore_ascii_case(word))
        .cloned()
}

/// A posted category value as the pipeline reads it: a string; a JSON boolean in the spelling
/// of a column of true/false in training; an integer code (bureau_balance's STATUS 0..5) as its
/// digits. `None`: not a category value (the intake refuses it).
fn category_text(v: &Value, vocabulary: Option<&[String]>) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => spelled(*b, vocabulary),
        v => integer(v).map(|n| n.to_string()),
    }
}

/// The posted categorical values the model never saw in training, as reasons for review: such a
/// value (a misspelling, a new product) counts as none of the known values, which the model was
/// never shown. The application's fields, one reason each; a history table's column, one reason
/// naming its first record and counting the others (a request of thousands of records gives a
/// few reasons, not thousands). Protected attributes, which the model does not read, are not
/// looked at.
pub fn unseen_categories(pipeline: &FeaturePipeline, body: &Value) -> Vec<String> {
    let Some(obj) = body.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (section, v) in obj {
        let records: Vec<&Map<String, Value>> = match v {
            Value::Object(m) if section == "application" => vec![m],
            Value::Array(rows) if section != "application" => {
                rows.iter().filter_map(Value::as_object).collect()
            }
            _ => continue,
        };
        // Per column, in the order first met: its values in training, the first record's place
        // and value, and how many records had such a value.
        let mut found: Vec<(&str, &[String], String, String, usize)> = Vec::new();
        for (i, record) in records.iter().enumerate() {
            for (column, value) in *record {
                if section == "application" && pipeline.protected.contains(column) {
                    continue;
                }
                let Some(values) = pipeline.vocabulary(section, column) else {
                    continue;
                };
                // A value the intake refuses is not looked at.
                let Some(text) = category_text(value, Some(values)) else {
                    continue;
                };
                if values.contains(&text) {
                    continue;
                }
                match found.iter_mut().find(|f| f.0 == column) {
                    Some(f) => f.4 += 1,
                    None => {
                        let place = if section == "application" {
                            section.clone()
                        } else {
                            format!("{section}[{i}]")
                        };
                        found.push((column, values, place, text, 1));
                    }
                }
            }
        }
        for (column, values, place, text, count) in found {
            let known = crate::error::listed(values, 8);
            let mut why = format!(
                "{place}.{column}: `{text}` is not among the values the model was trained on \
                 ({known}); it counts as none of them"
            );
            if count > 1 {
                why.push_str(&format!(
                    " (so do {} more of the {section} records)",
                    count - 1
                ));
            }
            out.push(why);
        }
    }
    out
}

fn columns_of(table: Table) -> Vec<(String, Kind)> {
    table
        .columns()
        .iter()
        .map(|(n, k)| ((*n).to_owned(), *k))
        .collect()
}

fn unknown(row: &Map<String, Value>, cols: &[(String, Kind)], place: &str, errors: &mut Fields) {
    for key in row.keys() {
        if !cols.iter().any(|(n, _)| n == key) {
            errors.push(field(&format!("{place}.{key}"), "unknown column"));
        }
    }
}

/// Typed columns from records; absent fields are missing values.
fn frame(
    cols: &[(String, Kind)],
    rows: &[&Map<String, Value>],
    place: &str,
    (pipeline, table): (&FeaturePipeline, &str),
    errors: &mut Fields,
) -> DataFrame {
    let mut columns = Vec::with_capacity(cols.len());
    for (name, kind) in cols {
        let at = |i: usize| {
            if place == "application" {
                format!("application.{name}")
            } else {
                format!("{place}[{i}].{name}")
            }
        };
        let col = match kind {
            Kind::Id => {
                let v: Vec<Option<i64>> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match r.get(name) {
                        None | Some(Value::Null) => None,
                        Some(v) => integer(v).or_else(|| {
                            errors.push(field(&at(i), INTEGER));
                            None
                        }),
                    })
                    .collect();
                Column::new(name.as_str().into(), v)
            }
            Kind::Num => {
                let v: Vec<Option<f64>> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match r.get(name) {
                        None | Some(Value::Null) => None,
                        Some(v) => v.as_f64().or_else(|| {
                            errors.push(field(&at(i), "must be a number"));
                            None
                        }),
                    })
                    .collect();
                Column::new(name.as_str().into(), v)
            }
            Kind::Cat => {
                let v: Vec<Option<String>> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| match r.get(name) {
                        None | Some(Value::Null) => None,
                        Some(v) => {
                            category_text(v, pipeline.vocabulary(table, name)).or_else(|| {
                                errors.push(field(&at(i), "must be a string"));
                                None
                            })
                        }
                    })
                    .collect();
                Column::new(name.as_str().into(), v)
            }
        };
        columns.push(col);
    }
    // Every column has one value per record: this cannot fail, but if it did the caller
    // must not score an empty frame.
    DataFrame::new_infer_height(columns).unwrap_or_else(|e| {
        errors.push(field(place, &format!("cannot build the table: {e}")));
        DataFrame::empty()
    })
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: message.to_owned(),
    }
}

/// A field's JSON schema: its kind, its intake rule, whether null (missing) is allowed, and a
/// category's values in training (its `examples`; a boolean allowed when they are true and
/// false). Another value is accepted, scored as none of them and sent to review.
fn field_schema(
    kind: Kind,
    rule: Option<riskscore_data::intake::Rule>,
    nullable: bool,
    vocabulary: Option<&[String]>,
) -> Value {
    use serde_json::json;
    let mut s = match kind {
        Kind::Id => json!({"type": "integer", "minimum": -EXACT, "maximum": EXACT}),
        Kind::Num => json!({"type": "number"}),
        // Codes such as bureau_balance's STATUS may come as integers.
        Kind::Cat => {
            let mut any = vec![
                json!({"type": "string"}),
                json!({"type": "integer", "minimum": -EXACT, "maximum": EXACT}),
            ];
            if spelled(true, vocabulary).is_some() && spelled(false, vocabulary).is_some() {
                any.push(json!({"type": "boolean"}));
            }
            let mut s = json!({ "anyOf": any });
            if let Some(values) = vocabulary.filter(|v| !v.is_empty()) {
                s["examples"] = json!(values);
                s["description"] = json!(
                    "the values of training are its examples; another value is scored as none \
                     of them and sent to review"
                );
            }
            s
        }
    };
    if let (Kind::Num, Some(rule), Some(obj)) = (kind, rule, s.as_object_mut()) {
        obj.extend(domain_schema(rule.domain()));
    }
    if nullable {
        json!({"anyOf": [s, {"type": "null"}]})
    } else {
        s
    }
}

/// A rule's domain as JSON Schema keywords (on a number).
fn domain_schema(d: riskscore_data::intake::Domain) -> Map<String, Value> {
    use serde_json::json;
    // Whole numbers written as integers (0, not 0.0).
    let num = |v: f64| match integer(&json!(v)) {
        Some(i) => json!(i),
        None => json!(v),
    };
    let mut interval = Map::new();
    match d.min {
        Some((m, true)) => interval.insert("exclusiveMinimum".into(), num(m)),
        Some((m, false)) => interval.insert("minimum".into(), num(m)),
        None => None,
    };
    if let Some(m) = d.max {
        interval.insert("maximum".into(), num(m));
    }
    if let Some(only) = d.only {
        let only: Vec<Value> = only.iter().map(|&v| num(v)).collect();
        interval = Map::from_iter([("enum".into(), Value::Array(only))]);
    }
    match d.code {
        Some(code) => Map::from_iter([(
            "anyOf".into(),
            json!([Value::Object(interval), {"const": num(code)}]),
        )]),
        None => interval,
    }
}

/// A field of a posted record: its name, kind and intake rule.
type Field = (String, Kind, Option<riskscore_data::intake::Rule>);

/// An object of columns: each typed, the required ones present and not null, no other key.
fn record_schema(
    columns: &[Field],
    required: &[&str],
    (pipeline, table): (&FeaturePipeline, &str),
) -> Value {
    let properties: Map<String, Value> = columns
        .iter()
        .map(|(name, kind, rule)| {
            let req = required.contains(&name.as_str());
            let vocabulary = pipeline.vocabulary(table, name);
            (name.clone(), field_schema(*kind, *rule, !req, vocabulary))
        })
        .collect();
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": properties,
    })
}

/// The intake's rule for a single table's age column (`--age`), in its unit.
fn age_rule(spec: &riskscore_features::GenericSpec) -> Option<riskscore_data::intake::Rule> {
    use riskscore_data::intake::Rule;
    use riskscore_features::protect::AgeUnit;
    Some(match spec.age.as_ref()?.unit {
        AgeUnit::Years => Rule::AgeYears,
        AgeUnit::DaysBeforeApplication => Rule::Age,
    })
}

/// The fields of the model's application (Home Credit: `application_test`'s columns, with the
/// intake's required fields and domains; one table: the fitted columns, the age's domain), and
/// the names that must be present.
fn application_fields(pipeline: &FeaturePipeline) -> (Vec<Field>, Vec<String>) {
    match &pipeline.layout {
        Layout::HomeCredit { .. } => {
            let cols = Table::ApplicationTest
                .columns()
                .iter()
                .map(|(n, k)| {
                    let rule = (*k == Kind::Num)
                        .then(|| riskscore_data::intake::rule_of(n))
                        .flatten();
                    ((*n).to_owned(), *k, rule)
                })
                .collect();
            let required = riskscore_data::intake::REQUIRED
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            (cols, required)
        }
        Layout::Generic(spec) => {
            let id_kind = if spec.integer_id { Kind::Id } else { Kind::Cat };
            let mut cols = vec![(spec.id.clone(), id_kind, None)];
            let rule = |n: &str| {
                spec.age
                    .as_ref()
                    .filter(|a| a.column == n)
                    .and_then(|_| age_rule(spec))
            };
            cols.extend(spec.numeric.iter().map(|n| (n.clone(), Kind::Num, rule(n))));
            cols.extend(
                spec.categorical
                    .iter()
                    .map(|(n, _)| (n.clone(), Kind::Cat, None)),
            );
            (cols, spec.required.clone())
        }
    }
}

/// The JSON schema of a posted application for this pipeline, as the intake checks it: every
/// section and field the parser takes, typed, with the required fields and the numeric
/// domains; nothing else.
pub fn schema(pipeline: &FeaturePipeline) -> Value {
    use serde_json::json;
    let (cols, required) = application_fields(pipeline);
    let required: Vec<&str> = required.iter().map(String::as_str).collect();
    let mut sections = Map::new();
    let mut application = record_schema(&cols, &required, (pipeline, "application"));
    if let Layout::Generic(spec) = &pipeline.layout {
        // A row copied from the training table may carry its outcome: it is not read.
        application["properties"][&spec.target] =
            json!({"description": "the training outcome, if the row carries one: not read"});
    }
    sections.insert("application".into(), application);
    if let Layout::HomeCredit { .. } = pipeline.layout {
        for table in Table::ALL
            .iter()
            .copied()
            .filter(|t| !matches!(t, Table::ApplicationTrain | Table::ApplicationTest))
        {
            // A history row's SK_ID_CURR is the application's: it may be left out.
            let cols: Vec<_> = table
                .columns()
                .iter()
                .filter(|(n, _)| *n != "SK_ID_CURR")
                .map(|(n, k)| ((*n).to_owned(), *k, None))
                .collect();
            let mut items = record_schema(&cols, &[], (pipeline, table.stem()));
            items["description"] = json!(format!(
                "A row of {}; its SK_ID_CURR, when given, is the application's",
                table.stem()
            ));
            sections.insert(
                table.stem().into(),
                json!({"type": "array", "items": items}),
            );
        }
    }
    json!({
        "type": "object",
        "description": "A new application: its fields (and, Home Credit layout, its history \
                        rows), typed; required fields present; numeric fields inside their \
                        domain (crate riskscore_data::intake)",
        "additionalProperties": false,
        "required": ["application"],
        "properties": sections,
    })
}

/// The JSON schema of a what-if's `changes`: any of the application's fields but its id, each
/// with its type and domain (a required field cannot be emptied).
pub fn changes_schema(pipeline: &FeaturePipeline) -> Value {
    let (cols, required) = application_fields(pipeline);
    let id = pipeline.id.as_str();
    let cols: Vec<_> = cols.into_iter().filter(|(n, _, _)| n != id).collect();
    let mut s = record_schema(&cols, &[], (pipeline, "application"));
    // Required fields stay not null, but need not be changed.
    if let Some(props) = s["properties"].as_object_mut() {
        for name in &required {
            if let Some((_, kind, rule)) = cols.iter().find(|(n, _, _)| n == name) {
                let vocabulary = pipeline.vocabulary("application", name);
                props.insert(name.clone(), field_schema(*kind, *rule, false, vocabulary));
            }
        }
    }
    s["description"] =
        Value::from("Application fields and their new values, e.g. {\"AMT_CREDIT\": 400000}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Schemathesis' finding: JSON Schema's integers include `1277640.0`, which serde_json does
    /// not read as an integer; and ids beyond 2^53 are refused by name, never wrapped.
    #[test]
    fn integers_are_read_as_json_schema_defines_them() {
        assert_eq!(integer(&json!(1_277_640)), Some(1_277_640));
        assert_eq!(integer(&json!(1_277_640.0)), Some(1_277_640));
        assert_eq!(integer(&json!(-3.0)), Some(-3));
        assert_eq!(integer(&json!(EXACT)), Some(EXACT));
        assert_eq!(integer(&json!(-EXACT)), Some(-EXACT));
        assert_eq!(integer(&json!(EXACT + 1)), None);
        assert_eq!(integer(&json!(i64::MIN)), None);
        assert_eq!(integer(&json!(u64::MAX)), None);
        assert_eq!(integer(&json!(1.5)), None);
        assert_eq!(integer(&json!(1e300)), None);
        assert_eq!(integer(&json!("7")), None);
    }

    fn one_table() -> FeaturePipeline {
        let text = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        FeaturePipeline {
            format_version: 1,
            riskscore_version: "test".into(),
            id: "id".into(),
            target: "target".into(),
            layout: Layout::Generic(riskscore_features::generic::GenericSpec {
                id: "id".into(),
                target: "target".into(),
                integer_id: true,
                numeric: text(&["x"]),
                categorical: vec![
                    ("flag".into(), text(&["False", "True"])),
                    ("kind".into(), text(&["a", "b"])),
                ],
                ignored: Vec::new(),
                required: Vec::new(),
                age: None,
            }),
            features: text(&["x", "flag_False", "flag_True", "kind_a", "kind_b"]),
            protected: Vec::new(),
            audit: Vec::new(),
            age_cap: None,
        }
    }

    fn flag_of(p: &FeaturePipeline, body: &Value) -> Option<String> {
        let Ok((_, NewApplication::Generic(df))) = parse(p, body) else {
            panic!("{body} is refused");
        };
        let c = df.column("flag").unwrap().str().unwrap().get(0);
        c.map(str::to_owned)
    }

    /// A column read from True/False takes JSON's booleans, spelled as in training; a category
    /// never seen in training is named for review, a known one is not.
    #[test]
    fn booleans_take_the_training_spelling_and_unseen_categories_go_to_review() {
        let p = one_table();
        let body = json!({"application": {"id": 3, "x": 1.0, "flag": true, "kind": "c"}});
        assert_eq!(flag_of(&p, &body).as_deref(), Some("True"));
        assert_eq!(
            unseen_categories(&p, &body),
            [
                "application.kind: `c` is not among the values the model was trained on (a, b); \
              it counts as none of them"
            ]
        );
        let body = json!({"application": {"id": 3, "flag": false, "kind": "b"}});
        assert_eq!(flag_of(&p, &body).as_deref(), Some("False"));
        assert!(unseen_categories(&p, &body).is_empty());
        let body = json!({"application": {"id": 3, "flag": "true"}});
        assert_eq!(
            unseen_categories(&p, &body),
            [
                "application.flag: `true` is not among the values the model was trained on \
              (False, True); it counts as none of them"
            ]
        );
        // The schema says so: a boolean for `flag`, not for `kind`; the values of training.
        let props = &schema(&p)["properties"]["application"]["properties"];
        let types = |f: &str| -> Vec<Value> {
            props[f]["anyOf"][0]["anyOf"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["type"].clone())
                .collect()
        };
        assert_eq!(
            types("flag"),
            [json!("string"), json!("integer"), json!("boolean")]
        );
        assert_eq!(types("kind"), [json!("string"), json!("integer")]);
        assert_eq!(props["kind"]["anyOf"][0]["examples"], json!(["a", "b"]));
        // A boolean in a column of other values is refused, named.
        let errors = parse(&p, &json!({"application": {"id": 3, "kind": true}})).unwrap_err();
        assert_eq!(
            errors,
            [field("application.kind", "must be a string")],
            "{errors:?}"
        );
    }
}
