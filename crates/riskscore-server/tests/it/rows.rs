//! The clients' rows kept compactly at start (f32 where rounding moves no value across a split):
//! the served probabilities are LightGBM's on the rows as doubles, bit for bit, for every client,
//! whichever way the data comes (a Home Credit folder, its Parquet feature matrix, one table).

use std::path::Path;

use riskscore_model::bundle::ModelBundle;
use riskscore_model::data::matrix;
use riskscore_server::Scorer;

/// Loads the scorer on `data` and checks it against LightGBM on the feature matrix as doubles;
/// returns the scorer and how many served values are the f32 rounding of the double.
fn served_as_booster(model: &Path, data: &Path) -> (Scorer, usize) {
    let sc = Scorer::load(model, data, 1).expect("scorer");
    let bundle = ModelBundle::load(model).expect("bundle");
    let names = bundle.manifest.feature_names();
    let frame = riskscore_model::predict::frame_for(&bundle, data).expect("frame");
    let (ids, x) = matrix(&frame, &bundle.pipeline.id, &names).expect("matrix");
    let booster = bundle.predict(&x).expect("predict");
    assert_eq!(sc.population.ids, ids, "{}", data.display());
    let k = names.len();
    let mut rounded = 0;
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            sc.population.probability[i].to_bits(),
            booster[i].to_bits(),
            "client {id} of {}",
            data.display()
        );
        let (r, row) = sc.row(*id).expect("known");
        assert_eq!(r, i);
        for (j, (got, v)) in row.iter().zip(&x[i * k..(i + 1) * k]).enumerate() {
            if got.to_bits() == v.to_bits() || (got.is_nan() && v.is_nan()) {
                continue;
            }
            assert_eq!(
                *got,
                f64::from(*v as f32),
                "client {id}, {}: served {got}, data {v}",
                names[j]
            );
            assert_eq!(sc.population_value(i, j).to_bits(), got.to_bits());
            rounded += 1;
        }
    }
    (sc, rounded)
}

/// Each client's history records per table, as the pipeline counted them while building the
/// features, against a count of the table's `SK_ID_CURR` column.
fn history_as_counted(sc: &Scorer, data: &Path) {
    use riskscore_data::read::{read_typed, ColumnSpec};
    use riskscore_data::{Folder, Kind};
    let folder = Folder::new(data).expect("folder");
    let key = [ColumnSpec {
        name: "SK_ID_CURR".into(),
        kind: Kind::Id,
    }];
    let mut tables = 0;
    for table in riskscore_server::scorer::HISTORY {
        let Some(path) = folder.path_of(table) else {
            continue;
        };
        tables += 1;
        let df = read_typed(&path, table.stem(), &key).expect("ids");
        let mut counts = std::collections::HashMap::new();
        for id in df
            .column("SK_ID_CURR")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .flatten()
        {
            *counts.entry(id).or_insert(0u32) += 1;
        }
        let mut with_rows = 0;
        for (i, id) in sc.population.ids.iter().enumerate() {
            let info = sc.info(i, *id);
            let got = info.history_records.expect("history")[table.stem()];
            let want = counts.get(id).copied().unwrap_or(0);
            assert_eq!(got, want, "client {id}, {}", table.stem());
            with_rows += usize::from(want > 0);
        }
        assert!(with_rows > 0, "{}", table.stem());
    }
    assert_eq!(tables, 5);
}

fn same_clients(a: &Scorer, b: &Scorer) {
    assert_eq!(a.population.ids, b.population.ids);
    assert_eq!(a.population.target, b.population.target);
    for (i, id) in a.population.ids.iter().enumerate() {
        assert_eq!(
            a.population.probability[i].to_bits(),
            b.population.probability[i].to_bits()
        );
        let (x, y) = (a.row(*id).expect("a").1, b.row(*id).expect("b").1);
        assert!(x
            .iter()
            .zip(&y)
            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())));
    }
}

/// A Home Credit folder and its Parquet feature matrix, each served as the booster scores it;
/// the history counts as counted; the two alike.
fn folder_and_matrix(model: &Path, data: &Path, features: &Path) {
    let (folder, rounded) = served_as_booster(model, data);
    history_as_counted(&folder, data);
    // Ratios and means are not f32 numbers: the rows are compact.
    assert!(rounded > 1000, "only {rounded} values rounded");
    // Outcomes where known (application_train), none for the applicants to score.
    let target = &folder.population.target;
    assert!(target.iter().any(Option::is_none) && target.contains(&Some(1)));
    let (parquet, _) = served_as_booster(model, features);
    same_clients(&folder, &parquet);
}

#[test]
fn a_home_credit_folder_and_its_feature_matrix_serve_the_boosters_probabilities() {
    let kit = riskscore_testkit::home_credit();
    folder_and_matrix(&kit.model, &kit.data, &kit.features);
}

#[test]
fn a_single_table_serves_the_boosters_probabilities() {
    let kit = riskscore_testkit::single_table();
    let (table, _) = served_as_booster(&kit.model, &kit.data);
    let (parquet, _) = served_as_booster(&kit.model, &kit.features);
    same_clients(&table, &parquet);
}

/// A single table's reasons name its columns as the lender wrote them: a one-hot feature reads
/// "kind is C: yes (typical applicant: no)", not "kind c: 1 (typical applicant: 0)" (the Home
/// Credit wording's fallback, lower-cased with the value as a number). A reason's value is the
/// one in the file (`54321.12`), not the `f32` the server keeps (`54321.12109375`).
#[test]
fn a_single_tables_reasons_name_its_columns_as_written() {
    let kit = riskscore_testkit::single_table();
    let sc = riskscore_server::scorer::Scorer::load(&kit.model, &kit.data, 1).expect("load");
    let text = std::fs::read_to_string(&kit.data).expect("the table");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let written = |id: i64, column: &str| -> Option<&str> {
        let j = header.iter().position(|h| *h == column)?;
        let line = lines.clone().find(|l| l.starts_with(&format!("{id},")))?;
        line.split(',').nth(j)
    };
    let (mut numbers, mut exact) = (0, 0);
    assert_eq!(
        sc.explainer.wording.version,
        riskscore_explain::wording::SINGLE_TABLE
    );
    let mut one_hot = 0;
    for id in 100_000..100_000 + sc.n_clients() as i64 {
        let (_, x) = sc.row(id).expect("a client");
        for r in sc.explain(id, &x, 5).expect("explain").reasons {
            if let Some(value) = r.feature.strip_prefix("kind_") {
                one_hot += 1;
                let shown = if r.value == Some(1.0) { "yes" } else { "no" };
                assert!(
                    r.sentence
                        .starts_with(&format!("Kind is {value}: {shown} (typical applicant: ")),
                    "{}",
                    r.sentence
                );
            } else {
                numbers += 1;
                let w = written(id, &r.feature).expect("the value in the file");
                let digits = w.trim_start_matches(['0', '.']).bytes();
                let want: Option<f64> = w.parse().ok();
                // A float keeps 6 significant digits; more, and the value shown is the one of
                // its float's shortest decimal.
                if digits.filter(u8::is_ascii_digit).count() <= 6 {
                    exact += 1;
                    assert_eq!(r.value, want, "{}", r.sentence);
                } else {
                    assert_eq!(r.value.map(|v| v as f32), want.map(|v| v as f32));
                }
                let mut c = r.feature.chars();
                let named: String = c.next().into_iter().flat_map(char::to_uppercase).collect();
                assert!(
                    r.sentence.starts_with(&format!("{named}{}: ", c.as_str())),
                    "{}",
                    r.sentence
                );
            }
        }
    }
    assert!(
        one_hot > 0 && exact > 0,
        "{one_hot} reasons on kind, {numbers} on numbers ({exact} of 6 digits at most)"
    );
}

#[test]
fn the_real_sample_serves_the_boosters_probabilities() {
    let data = riskscore_testkit::real_sample();
    let dir = tempfile::tempdir().expect("tmp");
    let b = riskscore_testkit::train(
        dir,
        data.clone(),
        &riskscore_model::input::TableOptions::default(),
        // The figures are not looked at: no nested estimate.
        &riskscore_model::TrainConfig {
            estimate: riskscore_model::estimate::Method::Cv,
            ..riskscore_testkit::short_config()
        },
    );
    folder_and_matrix(&b.model, &data, &b.features);
}

#[test]
fn a_feature_matrix_without_a_models_feature_is_refused_naming_it() {
    let kit = riskscore_testkit::home_credit();
    let bundle = ModelBundle::load(&kit.model).expect("bundle");
    let dropped = bundle.manifest.feature_names()[3].clone();
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("features.parquet");
    let mut df = riskscore_model::input::read_parquet(&kit.features)
        .expect("read")
        .drop(&dropped)
        .expect("drop");
    riskscore_features::write_parquet(&mut df, &path).expect("write");
    std::fs::copy(
        riskscore_features::pipeline_path_for(&kit.features),
        riskscore_features::pipeline_path_for(&path),
    )
    .expect("pipeline");
    let e = Scorer::load(&kit.model, &path, 1).expect_err("a feature is missing");
    let text = e.to_string();
    assert!(
        text.contains(&dropped) && text.contains("features.parquet"),
        "{text}"
    );
}

/// A value equal to a split's threshold that float32 cannot hold is kept exactly, and its row is
/// scored as doubles, at start as in LightGBM: rows of the Parquet matrix are set to such a
/// threshold of the model's, one where LightGBM scores the rows' float32 values differently, and
/// every client is still served as the booster scores the doubles.
#[test]
fn values_kept_exactly_are_scored_as_doubles() {
    use polars::prelude::*;
    let kit = riskscore_testkit::home_credit();
    let bundle = ModelBundle::load(&kit.model).expect("bundle");
    let names = bundle.manifest.feature_names();
    let k = names.len();
    let text = std::fs::read_to_string(kit.model.join("model.txt")).expect("model.txt");
    let forest = riskscore_explain::Forest::parse(&text).expect("forest");
    let mut df = riskscore_model::input::read_parquet(&kit.features).expect("read");
    let (_, x) = matrix(&df, &bundle.pipeline.id, &names).expect("matrix");
    let n = x.len() / k;
    let set = |i: usize| i % 7 == 3;
    // Splits whose threshold float32 rounds up: a row holding the threshold goes left, its
    // float goes right. The first one where that changes LightGBM's probability of a row.
    let (j, t) = forest
        .trees
        .iter()
        .flat_map(|tree| tree.split_feature.iter().zip(&tree.threshold))
        .map(|(&j, &t)| (j, t))
        .filter(|(_, t)| f64::from(*t as f32) > *t)
        .find(|&(j, t)| {
            let mut exact = x.clone();
            for i in (0..n).filter(|i| set(*i)) {
                exact[i * k + j] = t;
            }
            let floats: Vec<f32> = exact.iter().map(|v| *v as f32).collect();
            let (a, b) = (
                bundle.predict(&exact).unwrap(),
                bundle.predict(&floats).unwrap(),
            );
            a.iter().zip(&b).any(|(a, b)| a != b)
        })
        .expect("a threshold whose float32 changes a probability");
    let name = &names[j];
    let column: Vec<f64> = riskscore_model::data::column_f64(&df, name)
        .expect("column")
        .into_iter()
        .enumerate()
        .map(|(i, v)| if set(i) { t } else { v })
        .collect();
    df.with_column(Column::new(name.as_str().into(), column))
        .expect("set");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("matrix.parquet");
    ParquetWriter::new(std::fs::File::create(&path).expect("create"))
        .finish(&mut df)
        .expect("write");
    std::fs::copy(
        riskscore_features::pipeline_path_for(&kit.features),
        riskscore_features::pipeline_path_for(&path),
    )
    .expect("pipeline beside");
    // Every client's probability is LightGBM's on the doubles (served_as_booster).
    let (sc, _) = served_as_booster(&kit.model, &path);
    for i in (0..n).filter(|i| set(*i)) {
        assert_eq!(
            sc.population_value(i, j).to_bits(),
            t.to_bits(),
            "row {i}, {name}: not kept exactly"
        );
    }
}

/// `--monotone-age`: the age is capped in the rows made from a folder as in the booster's
/// input (the pipeline's own transform), every client bit for bit.
#[test]
fn a_folder_served_under_the_age_cap_has_the_capped_ages() {
    let kit = riskscore_testkit::home_credit();
    let cfg = riskscore_model::TrainConfig {
        monotone_age: true,
        ..riskscore_testkit::short_config()
    };
    let dir = tempfile::tempdir().expect("tmp");
    let b = riskscore_testkit::train(dir, kit.data.clone(), &Default::default(), &cfg);
    let (folder, _) = served_as_booster(&b.model, &kit.data);
    let bundle = ModelBundle::load(&b.model).expect("bundle");
    let (floor, age) = (
        bundle.pipeline.age_cap.expect("floor"),
        bundle.pipeline.age_column().expect("age"),
    );
    let j = bundle
        .manifest
        .feature_names()
        .iter()
        .position(|n| n == age)
        .expect("age is a feature");
    let ages: Vec<f64> = folder
        .population
        .ids
        .iter()
        .map(|id| folder.row(*id).expect("row").1[j])
        .collect();
    let capped = ages.iter().filter(|&&a| a == floor).count();
    assert!(capped > 0, "no age at the cap {floor}");
    assert!(ages.iter().all(|&a| a.is_nan() || a >= floor));
}
