//! The single-table pipeline: type detection, overrides, target checks, fit/transform.

use std::io::Write;

use riskscore_features::{FeaturePipeline, GenericTable};

/// A column's values as floats (`None` for a missing value).
fn floats(df: &polars::prelude::DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name)
        .expect("column")
        .f64()
        .expect("f64")
        .iter()
        .collect()
}

/// A one-hot column's values.
fn flags(df: &polars::prelude::DataFrame, name: &str) -> Vec<Option<i32>> {
    df.column(name)
        .expect("column")
        .i32()
        .expect("i32")
        .iter()
        .collect()
}

fn csv(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".csv")
        .tempfile()
        .expect("tmp");
    f.write_all(text.as_bytes()).expect("write");
    f
}

const LOANS: &str = "\
client,income,region,zip,default
1,1000.5,north,75001,0
2,,south,13001,1
3,3000,north,,0
4,4000,,69001,1
";

#[test]
fn detects_numeric_and_categorical_columns() {
    let f = csv(LOANS);
    let table = GenericTable::new(f.path(), "client", "default");
    let (pipeline, df) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert_eq!(
        pipeline.features,
        ["income", "zip", "region_north", "region_south"]
    );
    assert_eq!(df.height(), 4);
    assert_eq!(
        flags(&df, "region_south"),
        [Some(0), Some(1), Some(0), Some(0)]
    );
}

#[test]
fn overrides_make_a_number_categorical() {
    let f = csv(LOANS);
    let mut table = GenericTable::new(f.path(), "client", "default");
    table.categorical = vec!["zip".into()];
    let (pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert_eq!(
        pipeline.features,
        [
            "income",
            "region_north",
            "region_south",
            "zip_13001",
            "zip_69001",
            "zip_75001"
        ]
    );
}

#[test]
fn target_must_be_zero_or_one() {
    let f = csv("client,x,default\n1,2,0\n2,3,2\n");
    let table = GenericTable::new(f.path(), "client", "default");
    let err = FeaturePipeline::fit_generic(&table).expect_err("bad target");
    insta::assert_snapshot!(err.to_string(), @r#"column "default": the target must be 0 or 1; data row 2 has 2"#);
}

/// pandas writes a boolean target `True`/`False`: read as 1/0, as `explore` and `binning` read
/// it, the same matrix as the table written with 0/1; in a file scored later too. A word that
/// is neither is refused with its data row.
#[test]
fn a_target_written_true_false_is_read_as_one_and_zero() {
    let numbers = csv(LOANS);
    let words = csv(&LOANS.replace(",0\n", ",False\n").replace(",1\n", ",true\n"));
    let fit = |f: &tempfile::NamedTempFile| {
        FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "default"))
            .expect("fit")
    };
    let (pipeline, from_numbers) = fit(&numbers);
    let (_, from_words) = fit(&words);
    assert!(from_words.equals_missing(&from_numbers), "{from_words}");
    let scored = pipeline
        .transform_generic(&GenericTable::new(words.path(), "client", "default"))
        .expect("transform");
    assert!(scored
        .column("default")
        .expect("target")
        .equals_missing(from_numbers.column("default").expect("target")));

    let bad = csv("client,x,default\n1,2,no\n2,3,yes\n");
    let err = FeaturePipeline::fit_generic(&GenericTable::new(bad.path(), "client", "default"))
        .expect_err("a word target");
    insta::assert_snapshot!(err.to_string(), @r#"column "default": the target must be 0 or 1 (or True/False); data row 1 has `no`"#);
}

/// A Parquet table as pandas writes it: a `category` column (a dictionary), booleans, dates and
/// durations of their own types. The categories and booleans are categories, as their text; a
/// duration is a number of days; a column of
/// dates (or of dates as text in a CSV) is left out with its reason, not refused (`has type
/// datetime`) nor one-hot encoded date by date.
#[test]
fn a_tables_categoricals_booleans_and_dates_of_their_own_types() {
    use polars::prelude::*;
    let n = 12;
    let kinds: Vec<&str> = (0..n).map(|i| ["A", "B", "C"][i % 3]).collect();
    let kind = Series::new("kind".into(), kinds)
        .cast(&DataType::from_categories(Categories::global()))
        .expect("categorical");
    let days: Vec<i32> = (0..n as i32).map(|i| 19_000 + 17 * i).collect();
    let opened = Series::new("opened".into(), days.clone())
        .cast(&DataType::Date)
        .expect("dates");
    let stamps: Vec<i64> = days
        .iter()
        .map(|d| i64::from(*d) * 86_400_000_000)
        .collect();
    let seen = Series::new("seen".into(), stamps)
        .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
        .expect("datetimes");
    // A loan's term as pandas writes a timedelta: read as days.
    let ticks: Vec<i64> = (0..n as i64).map(|i| i * 36 * 3_600_000).collect();
    let term = Series::new("term".into(), ticks)
        .cast(&DataType::Duration(TimeUnit::Milliseconds))
        .expect("durations");
    let mut df = DataFrame::new_infer_height(vec![
        Series::new("client".into(), (1..=n as i64).collect::<Vec<_>>()).into(),
        Series::new(
            "default".into(),
            (0..n as i64).map(|i| i % 2).collect::<Vec<_>>(),
        )
        .into(),
        Series::new(
            "x".into(),
            (0..n).map(|i| i as f64 / 2.0).collect::<Vec<_>>(),
        )
        .into(),
        term.into(),
        kind.into(),
        Series::new("car".into(), (0..n).map(|i| i % 4 == 0).collect::<Vec<_>>()).into(),
        opened.into(),
        seen.into(),
    ])
    .expect("frame");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("loans.parquet");
    ParquetWriter::new(std::fs::File::create(&path).expect("create"))
        .finish(&mut df)
        .expect("write");
    let (pipeline, matrix) =
        FeaturePipeline::fit_generic(&GenericTable::new(&path, "client", "default")).expect("fit");
    assert_eq!(
        pipeline.features,
        [
            "x",
            "term",
            "kind_A",
            "kind_B",
            "kind_C",
            "car_false",
            "car_true"
        ]
    );
    assert_eq!(
        floats(&matrix, "term")[..3],
        [Some(0.0), Some(1.5), Some(3.0)]
    );
    let riskscore_features::Layout::Generic(spec) = &pipeline.layout else {
        panic!("a single table's pipeline");
    };
    let left_out: Vec<(&str, &str)> = spec
        .ignored
        .iter()
        .map(|(c, why)| (c.as_str(), why.split_once(':').map_or("", |(w, _)| w)))
        .collect();
    assert_eq!(
        left_out,
        [
            ("opened", "dates or times (`2022-01-08`)"),
            ("seen", "dates or times (`2022-01-08 00")
        ]
    );
    assert_eq!(flags(&matrix, "kind_C")[..3], [Some(0), Some(0), Some(1)]);

    // The same dates written as text in a CSV: left out for what they are.
    let f = csv("client,default,x,opened\n1,0,1.5,2024-03-15\n2,1,2.5,2024-03-16\n3,0,0.5,\n");
    let (pipeline, _) =
        FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "default"))
            .expect("fit");
    assert_eq!(pipeline.features, ["x"]);
}

/// pandas' `to_csv` without `index=False` writes its row numbers under an empty header: that
/// column is left out with its reason (it failed in LightGBM, which cannot name a feature ""),
/// and a file scored later with it has it left out too.
#[test]
fn an_unnamed_column_is_left_out() {
    let f = csv(",client,income,default\n0,1,10.5,0\n1,2,20.5,1\n2,3,30.5,0\n");
    let table = GenericTable::new(f.path(), "client", "default");
    let (pipeline, df) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert_eq!(pipeline.features, ["income"]);
    let riskscore_features::Layout::Generic(spec) = &pipeline.layout else {
        panic!("a single table's pipeline");
    };
    assert_eq!(spec.ignored.len(), 1);
    assert!(spec.ignored[0].0.is_empty() && spec.ignored[0].1.starts_with("no name"));
    let again = pipeline.transform_generic(&table).expect("transform");
    assert!(again.equals_missing(&df));
}

/// R's `write.csv` writes a missing value `NA`, a database export `NULL`: missing values, as
/// pandas reads them, not a category "NA" (nor a column of numbers turned into text, and then
/// left out for its many values).
#[test]
fn missing_values_written_na_or_null_are_missing() {
    let f = csv(
        "\"client\",\"income\",\"region\",\"default\"\n1,10.5,\"N\",0\n2,NA,NA,1\n3,30.5,\"S\",0\n4,NULL,\"N\",NA\n",
    );
    let table = GenericTable::new(f.path(), "client", "default");
    let err = FeaturePipeline::fit_generic(&table).expect_err("a missing target");
    assert!(
        err.to_string().contains("data row 4 has a missing value"),
        "{err}"
    );
    let labelled = csv(&std::fs::read_to_string(f.path())
        .expect("read")
        .replace(",NA\n", ",1\n"));
    let table = GenericTable::new(labelled.path(), "client", "default");
    let (pipeline, df) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert_eq!(pipeline.features, ["income", "region_N", "region_S"]);
    assert_eq!(floats(&df, "income"), [Some(10.5), None, Some(30.5), None]);
    // Scored again: the same rows.
    assert!(pipeline
        .transform_generic(&table)
        .expect("transform")
        .equals_missing(&df));
}

/// A record short of a field is refused, naming its line: polars alone would read the missing
/// field as empty (and a field lost mid-line would shift the rest into the wrong columns).
#[test]
fn a_record_short_of_a_field_is_refused_naming_its_line() {
    let f = csv("client,default,income,zip\n1,0,10,75001\n2,1,20\n3,0,5,13001\n");
    let table = GenericTable::new(f.path(), "client", "default");
    let err = FeaturePipeline::fit_generic(&table).expect_err("short record");
    let msg = err
        .to_string()
        .replace(&f.path().display().to_string(), "[FILE]");
    insta::assert_snapshot!(msg, @"[FILE]:3: found 3 fields, the header has 4");
    // The same rows whole are read.
    let whole = csv("client,default,income,zip\n1,0,10,75001\n2,1,20,\n3,0,5,13001\n");
    let (_, df) =
        FeaturePipeline::fit_generic(&GenericTable::new(whole.path(), "client", "default"))
            .expect("fit");
    assert_eq!(df.height(), 3);
}

/// Numbers some of which are written `inf` or `NaN` (pandas' spelling of the non-finite floats)
/// are numbers, as pandas reads them, not categories: polars' inference reads them as text.
#[test]
fn numbers_written_inf_or_nan_are_numbers() {
    let f = csv("client,default,ratio,region\n1,0,0.5,north\n2,1,inf,south\n3,0,NaN,north\n4,1,-inf,\n5,0,,south\n");
    let table = GenericTable::new(f.path(), "client", "default");
    let (pipeline, df) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert_eq!(pipeline.features, ["ratio", "region_north", "region_south"]);
    let ratio = |df: &polars::prelude::DataFrame| floats(df, "ratio");
    let fitted = ratio(&df);
    assert_eq!(fitted[0], Some(0.5));
    assert_eq!(fitted[1], Some(f64::INFINITY));
    // `NaN` is one of pandas' missing-value markers: missing, as the empty field.
    assert_eq!(fitted[2], None);
    assert_eq!(fitted[3], Some(f64::NEG_INFINITY));
    assert_eq!(fitted[4], None);
    // Scoring the same file reads the same numbers.
    let again = pipeline.transform_generic(&table).expect("transform");
    let read = ratio(&again);
    assert!(
        fitted
            .iter()
            .zip(&read)
            .all(|(a, b)| a.map(f64::to_bits) == b.map(f64::to_bits)),
        "{read:?}"
    );
    // A column of words stays a category, and so does a column of booleans.
    let words = csv("client,default,grade,flag\n1,0,inf,true\n2,1,high,false\n");
    let (p, _) =
        FeaturePipeline::fit_generic(&GenericTable::new(words.path(), "client", "default"))
            .expect("fit");
    assert_eq!(
        p.features,
        ["grade_high", "grade_inf", "flag_false", "flag_true"]
    );
}

/// A header without rows is refused at fitting (it used to fit a pipeline of no feature).
#[test]
fn a_header_without_rows_is_refused() {
    let f = csv("client,default,income\n");
    let err = FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "default"))
        .expect_err("no rows");
    let msg = err
        .to_string()
        .replace(&f.path().display().to_string(), "[FILE]");
    insta::assert_snapshot!(msg, @"[FILE]: no rows below the header: nothing to fit the features on");
}

#[test]
fn missing_id_column_is_named() {
    let f = csv(LOANS);
    let table = GenericTable::new(f.path(), "customer_id", "default");
    let err = FeaturePipeline::fit_generic(&table).expect_err("no id");
    assert!(
        err.to_string()
            .starts_with(r#"column "customer_id": not found in "#),
        "{err}"
    );
}

/// A table written with a space after each comma (`client, default, income`): the spaces are
/// no part of the names nor of the numbers, as pandas reads the numbers; a name written in
/// another case is pointed at.
#[test]
fn spaces_after_the_commas_are_no_part_of_names_or_numbers() {
    // A name written in another case is pointed at; spaces after the commas are no part of
    // the names (`client, Default` names `Default`).
    let f = csv("client, Default, income\n1, 0, 10.5\n2, 1, -2\n3, 0, 5\n");
    let err = FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "default"))
        .expect_err("no target");
    assert!(
        err.to_string()
            .ends_with(r#"; the header has "Default" (names must match exactly)"#),
        "{err}"
    );
    let (_, df) = FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "Default"))
        .expect("fit");
    assert_eq!(floats(&df, "Default"), [Some(0.0), Some(1.0), Some(0.0)]);
    // The numbers after the spaces are numbers, as pandas reads them, when fitted and scored.
    let income = |df: &polars::prelude::DataFrame| floats(df, "income");
    assert_eq!(income(&df), [Some(10.5), Some(-2.0), Some(5.0)]);
    let table = GenericTable::new(f.path(), "client", "Default");
    let (pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert_eq!(
        income(&pipeline.transform_generic(&table).expect("transform")),
        income(&df)
    );
}

/// Issue 25: two rows of one id are refused (serving by id would be ambiguous).
#[test]
fn duplicate_ids_are_refused_naming_them() {
    let f = csv("client,default,income\n1,0,10\n2,1,20\n1,0,30\n3,0,5\n2,0,7\n");
    let table = GenericTable::new(f.path(), "client", "default");
    let err = FeaturePipeline::fit_generic(&table).expect_err("duplicates");
    let text = err.to_string();
    assert!(
        text.starts_with(r#"column "client": 2 row(s) of "#),
        "{text}"
    );
    assert!(text.contains("repeat an id (first: 1, 2)"), "{text}");
}

#[test]
fn transform_without_target_keeps_fitted_columns() {
    let f = csv(LOANS);
    let table = GenericTable::new(f.path(), "client", "default");
    let (pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    let new = csv("client,income,region,zip\n9,5000,east,75001\n");
    let df = pipeline
        .transform_generic(&GenericTable::new(new.path(), "client", "default"))
        .expect("transform");
    assert_eq!(df.width(), pipeline.features.len() + 2);
    assert_eq!(crate_value(&df, "region_north"), Some(0.0));
    assert_eq!(crate_value(&df, "income"), Some(5000.0));
}

/// Values a fitted spec never saw are found, for the warning of `transform`: the column, how
/// many rows, the first; a known value and a missing one are not.
#[test]
fn values_never_seen_in_training_are_counted() {
    let f = csv(LOANS);
    let table = GenericTable::new(f.path(), "client", "default");
    let (pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    let riskscore_features::Layout::Generic(spec) = &pipeline.layout else {
        panic!("a single-table pipeline");
    };
    let df =
        polars::df!("region" => [Some("east"), Some("north"), Some("west"), None, Some("east")])
            .expect("frame");
    assert_eq!(
        riskscore_features::generic::unseen(spec, &df).expect("unseen"),
        [("region".to_owned(), 3, "east".to_owned())]
    );
    let df = polars::df!("region" => [Some("south"), None]).expect("frame");
    assert!(riskscore_features::generic::unseen(spec, &df)
        .expect("unseen")
        .is_empty());
}

/// Numbers written with a decimal comma or thousands separators (quoted in a comma-separated
/// file, as spreadsheets export them) are named, not one-hot encoded as categories; text with
/// commas that is not such a number stays a category.
#[test]
fn numbers_with_a_decimal_comma_are_named() {
    let f = csv(
        "client,income,region,default\n1,\"2500,50\",north,0\n2,\"-3,2\",south,1\n3,,north,0\n",
    );
    let err = FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "default"))
        .expect_err("decimal commas");
    assert!(
        err.to_string()
            .contains("numbers written with commas (`2500,50`: a decimal comma"),
        "{err}"
    );
    let f = csv("client,income,default\n1,\"1,200,000\",0\n2,\"950,000\",1\n");
    let err = FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "default"))
        .expect_err("thousands separators");
    assert!(
        err.to_string()
            .contains("(`1,200,000`: a decimal comma or thousands separators)"),
        "{err}"
    );
    let f = csv("client,city,default\n1,\"Paris, France\",0\n2,\"Lyon, France\",1\n");
    let (pipeline, _) =
        FeaturePipeline::fit_generic(&GenericTable::new(f.path(), "client", "default"))
            .expect("text with commas");
    assert_eq!(
        pipeline.features,
        ["city_Lyon, France", "city_Paris, France"]
    );
}

#[test]
fn bad_number_in_a_fitted_numeric_column() {
    let f = csv(LOANS);
    let table = GenericTable::new(f.path(), "client", "default");
    let (pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    let new = csv("client,income,region,zip\n9,lots,east,75001\n");
    let err = pipeline
        .transform_generic(&GenericTable::new(new.path(), "client", "default"))
        .expect_err("bad number");
    let msg = err
        .to_string()
        .replace(&new.path().display().to_string(), "[FILE]");
    insta::assert_snapshot!(msg, @r#"[FILE]:2: column "income": cannot parse "lots" as a number"#);
}

fn crate_value(df: &polars::prelude::DataFrame, column: &str) -> Option<f64> {
    df.column(column).ok()?.get(0).ok()?.extract::<f64>()
}

/// One table protects nothing by default; a protected category takes its one-hot columns out of
/// the model inputs, kept after them in the transformed matrix, and its groups read back.
#[test]
fn a_protected_column_leaves_the_inputs_and_its_groups_read_back() {
    let f = csv(LOANS);
    let table = GenericTable::new(f.path(), "client", "default");
    let (mut pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert!(pipeline.protected.is_empty() && pipeline.audit.is_empty());
    pipeline.protect(&["region".into()]).expect("protect");
    assert_eq!(pipeline.features, ["income", "zip"]);
    assert_eq!(pipeline.audit, ["region_north", "region_south"]);
    let df = pipeline.transform_generic(&table).expect("transform");
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "client",
            "default",
            "income",
            "zip",
            "region_north",
            "region_south"
        ]
    );
    let encoding = pipeline.encoding("region").expect("encoding");
    let groups: Vec<Option<String>> = (0..df.height())
        .map(|r| {
            riskscore_features::group_of(&encoding, "region", &|n: &str| {
                df.column(n)
                    .unwrap()
                    .cast(&polars::prelude::DataType::Float64)
                    .unwrap()
                    .f64()
                    .unwrap()
                    .get(r)
                    .unwrap_or(f64::NAN)
            })
        })
        .collect();
    assert_eq!(
        groups,
        [
            Some("north".into()),
            Some("south".into()),
            Some("north".into()),
            None
        ]
    );
    let err = pipeline
        .protect(&["gender".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"gender\"") && err.contains("income"),
        "{err}"
    );
}

/// `--age` on one table (years): the age features, the cap at 62 under `--monotone-age` as a
/// ceiling in the batch transform and in a single application's formula alike, a missing age
/// kept missing; Home Credit's `DAYS_BIRTH` named as one table's age is days before the
/// application, capped as a floor.
#[test]
fn a_single_tables_age_is_capped_as_a_ceiling_in_years() {
    use riskscore_features::protect::AgeUnit;
    let f = csv("client,default,age,income\n1,0,30,100\n2,1,70,200\n3,0,,300\n4,1,62,400\n");
    let table = GenericTable::new(f.path(), "client", "default");
    let (mut pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    assert_eq!(pipeline.age_column(), None);
    pipeline.set_age("age").expect("age");
    assert_eq!(pipeline.age_column(), Some("age"));
    assert_eq!(pipeline.age_unit(), Some(AgeUnit::Years));
    assert_eq!(pipeline.age_features(), ["age"]);
    pipeline.cap_age().expect("cap");
    assert_eq!(pipeline.age_cap, Some(62.0));
    let df = pipeline.transform_generic(&table).expect("transform");
    assert_eq!(
        floats(&df, "age"),
        [Some(30.0), Some(62.0), None, Some(62.0)]
    );
    let formula = pipeline.formula("age").expect("formula");
    for (raw, capped) in [(30.0, 30.0), (70.0, 62.0), (62.0, 62.0)] {
        assert_eq!(formula.eval(&[raw]), capped);
    }
    assert!(formula.eval(&[f64::NAN]).is_nan());
    let mut values = [70.0, f64::NAN, 18.0];
    pipeline.apply_age_cap_to("age", &mut values);
    assert_eq!(values[0], 62.0);
    assert!(values[1].is_nan());
    assert_eq!(values[2], 18.0);
    assert_eq!(pipeline.age_years(70.0), 70.0);

    let err = pipeline.set_age("income_x").unwrap_err().to_string();
    assert!(err.contains("is not a column of the table"), "{err}");

    let f = csv("id,y,DAYS_BIRTH\n1,0,-10000\n2,1,-25000\n3,0,-9000\n");
    let table = GenericTable::new(f.path(), "id", "y");
    let (mut pipeline, _) = FeaturePipeline::fit_generic(&table).expect("fit");
    pipeline.set_age("DAYS_BIRTH").expect("age");
    assert_eq!(pipeline.age_unit(), Some(AgeUnit::DaysBeforeApplication));
    pipeline.cap_age().expect("cap");
    let df = pipeline.transform_generic(&table).expect("transform");
    assert_eq!(
        floats(&df, "DAYS_BIRTH"),
        [Some(-10000.0), Some(-62.0 * 365.25), Some(-9000.0)]
    );
    assert!((pipeline.age_years(-25000.0) - 68.446).abs() < 1e-3);
    // A bundle written before one table could name its age calls the cap `age_floor`.
    let json = serde_json::to_string(&pipeline).expect("json");
    assert!(json.contains("\"age_cap\":"), "{json}");
    let old: FeaturePipeline =
        serde_json::from_str(&json.replace("\"age_cap\":", "\"age_floor\":")).expect("old");
    assert_eq!(old.age_cap, Some(-62.0 * 365.25));
}
