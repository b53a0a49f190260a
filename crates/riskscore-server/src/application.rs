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
        Layout::HomeCredit { .. } => home_credit(obj, app),
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
            let id = match app.get(&spec.id) {
                Some(v) => v.as_i64().unwrap_or(NEW_ID),
                None => NEW_ID,
            };
            required(app, &spec.required, &mut errors);
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
            let df = frame(&columns, &[&row], "application", &mut errors);
            if errors.is_empty() {
                Ok((id, NewApplication::Generic(df)))
            } else {
                Err(errors)
            }
        }
    }
}

fn home_credit(
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
        if let Some(broken) = rule.broken_by(x) {
            errors.push(field(
                &format!("application.{key}"),
                &format!("{broken} (got {x})"),
            ));
        }
    }
    let id = match app.get("SK_ID_CURR") {
        None | Some(Value::Null) => NEW_ID,
        Some(v) => match v.as_i64() {
            Some(i) => i,
            None => {
                errors.push(field("application.SK_ID_CURR", "must be an integer"));
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
    let df = frame(&test_cols, &[&a], "application", &mut errors);
    source = push(source, Table::ApplicationTest, df, &mut errors);
    let train_cols = columns_of(Table::ApplicationTrain);
    let empty = frame(&train_cols, &[], "", &mut errors);
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
                    Some(v) if v.as_i64() != Some(id) => errors.push(field(
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
        let df = frame(&cols, &refs, key, &mut errors);
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
                        Some(v) => v.as_i64().or_else(|| {
                            errors.push(field(&at(i), "must be an integer id"));
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
                        Some(Value::String(s)) => Some(s.clone()),
                        // Codes such as bureau_balance's STATUS 0..5 may come as integers.
                        Some(Value::Number(n)) if n.is_i64() => Some(n.to_string()),
                        Some(_) => {
                            errors.push(field(&at(i), "must be a string"));
                            None
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
