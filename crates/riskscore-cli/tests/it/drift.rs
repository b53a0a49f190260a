//! `riskscore drift` against Python Evidently 0.7.23 (`RISKSCORE_EVIDENTLY_PYTHON`, a venv of
//! its own; required when `RISKSCORE_REQUIRE_ORACLES=1`): on two pairs of data sets with drift
//! planted in some columns, one small (Evidently's tests) and one large (its distances), every
//! column's type, test name, score (within 1e-6) and verdict, its PSI, and the data set's
//! verdict must be Evidently's.

use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::{
    Categories, Column, DataFrame, DataType, NamedFrom, ParquetWriter, Series, TimeUnit,
};
use serde_json::Value;

/// A small deterministic generator (splitmix64, numbers in [0, 1)).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A table with every kind of column; `shift` moves some of them.
fn table(rows: usize, seed: u64, shift: f64) -> DataFrame {
    let mut g = Lcg(seed);
    let mut id = Vec::new();
    let (mut income, mut score, mut flag, mut kids, mut region, mut steady) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let (mut rating, mut sparse, mut constant, mut gone) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        id.push(100_000 + i as i64);
        income.push((10.0 + g.normal() + shift).exp());
        score.push((g.next() * 1000.0).round() / 1000.0);
        flag.push(f64::from(u8::from(g.next() < 0.3 + shift / 4.0)));
        kids.push((g.next() * 4.0) as i64);
        let r = g.next() + shift / 3.0;
        region.push(
            if r < 0.5 {
                "north"
            } else if r < 0.8 {
                "south"
            } else {
                "east"
            }
            .to_string(),
        );
        steady.push(g.normal());
        rating.push(((g.next() * 5.0) as i64) as f64);
        sparse.push(if g.next() < 0.4 {
            f64::NAN
        } else {
            g.normal() * 3.0
        });
        constant.push(1.0);
        gone.push(if shift > 0.0 { f64::NAN } else { g.next() });
    }
    // As pandas writes a `category` column, a date and a timedelta: the first tested as
    // categorical, the others not tested, as Evidently does.
    let branch = Series::new(
        "branch".into(),
        region
            .iter()
            .map(|r| if r == "north" { "city" } else { "town" })
            .collect::<Vec<_>>(),
    )
    .cast(&DataType::from_categories(Categories::global()))
    .unwrap();
    let days: Vec<i32> = (0..rows as i32).map(|i| 19_000 + i % 700).collect();
    let opened = Series::new("opened".into(), days.clone())
        .cast(&DataType::Date)
        .unwrap();
    let term = Series::new(
        "term".into(),
        days.iter()
            .map(|d| i64::from(*d) * 1000)
            .collect::<Vec<_>>(),
    )
    .cast(&DataType::Duration(TimeUnit::Milliseconds))
    .unwrap();
    DataFrame::new_infer_height(vec![
        branch.into(),
        opened.into(),
        term.into(),
        Column::new("SK_ID_CURR".into(), id),
        Column::new("income".into(), income),
        Column::new("score".into(), score),
        Column::new("flag".into(), flag),
        Column::new("kids".into(), kids),
        Column::new("region".into(), region),
        Column::new("steady".into(), steady),
        Column::new("rating".into(), rating),
        Column::new("sparse".into(), sparse),
        Column::new("constant".into(), constant),
        Column::new("gone".into(), gone),
    ])
    .unwrap()
}

fn write(df: &mut DataFrame, path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    ParquetWriter::new(f).finish(df).unwrap();
}

fn evidently(reference: &Path, current: &Path) -> Option<Value> {
    let py = riskscore_testkit::oracle("RISKSCORE_EVIDENTLY_PYTHON", "a python with Evidently")?;
    let script = riskscore_testkit::script("drift_oracle.py");
    let o = Command::new(py)
        .arg(script)
        .args([
            reference.to_str().unwrap(),
            current.to_str().unwrap(),
            "SK_ID_CURR,TARGET",
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "drift_oracle.py: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

fn drift(dir: &Path, reference: &Path, current: &Path) -> (Value, PathBuf) {
    let json = dir.join("drift.json");
    let html = dir.join("drift.html");
    let o = crate::common::command()
        .args(["-q", "drift", "--reference", reference.to_str().unwrap()])
        .args(["--current", current.to_str().unwrap()])
        .args([
            "--json",
            json.to_str().unwrap(),
            "--out",
            html.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap(),
        html,
    )
}

fn compare(ref_rows: usize, cur_rows: usize, tests: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (
        dir.path().join("ref.parquet"),
        dir.path().join("cur.parquet"),
    );
    write(&mut table(ref_rows, 1, 0.0), &r);
    write(&mut table(cur_rows, 2, 0.6), &c);
    let (ours, html) = drift(dir.path(), &r, &c);
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("<svg") && html.contains("income"));
    let cols = ours["columns"].as_array().unwrap();
    let by_name = |n: &str| cols.iter().find(|c| c["column"] == n).unwrap();
    // Planted shifts are found, a column that did not move is not.
    assert_eq!(by_name("income")["drifted"], true);
    assert_eq!(by_name("region")["drifted"], true);
    assert_eq!(by_name("steady")["drifted"], false, "{}", by_name("steady"));
    // Empty in the current data: reported, not tested, no error.
    assert!(by_name("gone")["score"].is_null());
    // A pandas category is tested as categorical; a date and a duration are not tested.
    assert_eq!(by_name("branch")["kind"], "categorical");
    assert!(!cols
        .iter()
        .any(|c| c["column"] == "opened" || c["column"] == "term"));
    let used: Vec<&str> = cols.iter().filter_map(|c| c["test"].as_str()).collect();
    for t in tests {
        assert!(used.contains(t), "{t} not used: {used:?}");
    }
    let Some(ev) = evidently(&r, &c) else {
        return ours;
    };
    let theirs = ev["columns"].as_object().unwrap();
    assert_eq!(ev["empty"], serde_json::json!(["gone"]));
    let tested: Vec<&Value> = cols.iter().filter(|c| !c["score"].is_null()).collect();
    assert_eq!(tested.len(), theirs.len(), "{ours} vs {ev}");
    for c in tested {
        let name = c["column"].as_str().unwrap();
        let t = &theirs[name];
        assert_eq!(c["kind"], t["kind"], "{name}");
        assert_eq!(c["test"], t["test"], "{name}");
        let (a, b) = (c["score"].as_f64().unwrap(), t["score"].as_f64().unwrap());
        assert!(
            (a - b).abs() < 1e-6,
            "{name}: {} {a} vs Evidently {b}",
            c["test"]
        );
        let th = t["threshold"].as_f64().unwrap();
        let theirs_drift = if t["test"].as_str().unwrap().contains("p_value") {
            if t["test"] == "K-S p_value" {
                b <= th
            } else {
                b < th
            }
        } else {
            b >= th
        };
        assert_eq!(c["drifted"].as_bool().unwrap(), theirs_drift, "{name}");
        let (pa, pb) = (c["psi"].as_f64().unwrap(), t["psi"].as_f64().unwrap());
        assert!((pa - pb).abs() < 1e-6, "{name}: PSI {pa} vs Evidently {pb}");
    }
    let count = ev["summary"]["count"].as_f64().unwrap();
    assert_eq!(ours["drifted"].as_f64().unwrap(), count);
    ours
}

#[test]
fn small_samples_match_evidentlys_tests() {
    let _ = compare(
        600,
        450,
        &["K-S p_value", "chi-square p_value", "Z-test p_value"],
    );
}

/// A small reference against more than 10,000 current rows: SciPy leaves the exact KS sum
/// for the finite-n Kolmogorov distribution (Pelz-Good and Durbin's matrix above 140 effective
/// rows, Pomeranz's recursion below, where riskscore uses Durbin's matrix).
#[test]
fn small_reference_against_many_rows_matches_evidentlys_asymptotic_ks() {
    for (r, c) in [(300, 12_000), (130, 10_500)] {
        let ours = compare(r, c, &["K-S p_value"]);
        // Some KS p-values are far from 0 and 1, where the limiting distribution would be
        // off by about 1e-3: the comparison within 1e-6 bites.
        let moderate = ours["columns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["test"] == "K-S p_value")
            .filter(|c| (0.01..0.99).contains(&c["score"].as_f64().unwrap()))
            .count();
        assert!(moderate >= 1, "{ours}");
    }
}

#[test]
fn large_samples_match_evidentlys_distances() {
    let _ = compare(
        4000,
        2500,
        &["Wasserstein distance (normed)", "Jensen-Shannon distance"],
    );
}

/// A CSV record short of a field is refused with its file and line, not read as a missing value.
#[test]
fn a_short_csv_record_is_named_not_read_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (dir.path().join("ref.csv"), dir.path().join("cur.csv"));
    let rows: String = (0..50)
        .map(|i| format!("{i},{},{}\n", i % 7, i % 3))
        .collect();
    std::fs::write(&r, format!("id,x,y\n{rows}")).unwrap();
    std::fs::write(&c, format!("id,x,y\n{rows}50,1\n51,2,2\n")).unwrap();
    let run = |current: &Path| {
        crate::common::command()
            .args(["-q", "drift", "--reference", r.to_str().unwrap()])
            .args(["--current", current.to_str().unwrap()])
            .args(["--out", dir.path().join("d.html").to_str().unwrap()])
            .output()
            .unwrap()
    };
    let o = run(&c);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cur.csv:52: found 2 fields, the header has 3"),
        "{err}"
    );
    // The reference against itself is read.
    let o = run(&r);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn identical_data_does_not_drift_and_a_missing_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("ref.parquet");
    write(&mut table(700, 3, 0.0), &r);
    let (ours, _) = drift(dir.path(), &r, &r);
    assert_eq!(ours["drifted"], 0);
    assert_eq!(ours["dataset_drift"], false);
    let mut cur = table(300, 4, 0.0);
    let _ = cur.drop_in_place("region").unwrap();
    let c = dir.path().join("cur.parquet");
    write(&mut cur, &c);
    let o = crate::common::command()
        .args([
            "drift",
            "--reference",
            r.to_str().unwrap(),
            "--current",
            c.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("region") && err.contains("cur.parquet"),
        "{err}"
    );
}

#[test]
fn with_a_model_the_predicted_probability_drifts_with_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = crate::common::loans_csv(dir.path(), 600);
    let model = dir.path().join("model");
    crate::common::train_loans_quickly(&csv, &model, "none");
    // New applicants with a much higher ratio, the model's strongest input.
    let shifted_dir = dir.path().join("new");
    std::fs::create_dir_all(&shifted_dir).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for l in lines {
        let mut f: Vec<String> = l.split(',').map(str::to_owned).collect();
        let ratio: f64 = f[2].parse().unwrap();
        f[2] = format!("{}", (ratio + 6.0).min(9.9));
        out.push_str(&f.join(","));
        out.push('\n');
    }
    let shifted = shifted_dir.join("loans.csv");
    std::fs::write(&shifted, out).unwrap();
    let drift_json = |args: &[&str]| -> Value {
        let json = dir.path().join("d.json");
        let o = crate::common::command()
            .args(["-q", "drift"])
            .args(args)
            .args(["--json", json.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
    };
    let m = model.to_str().unwrap();
    let run = |cur: &Path| -> Value {
        let (r, c) = (csv.to_str().unwrap(), cur.to_str().unwrap());
        drift_json(&["--model", m, "--reference", r, "--current", c])
    };
    let col = |v: &Value, n: &str| {
        v["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no {n} in {v}"))
    };
    let same = run(&csv);
    assert_eq!(col(&same, "predicted_probability")["drifted"], false);
    let moved = run(&shifted);
    assert_eq!(col(&moved, "predicted_probability")["drifted"], true);
    assert_eq!(col(&moved, "ratio")["drifted"], true);
    assert_eq!(col(&moved, "age")["drifted"], false);
    // The bundle as reference: its sample of training rows and out-of-fold probabilities.
    assert!(dir.path().join("model/reference.parquet").is_file());
    let vs_bundle = drift_json(&["--reference", m, "--current", shifted.to_str().unwrap()]);
    assert_eq!(vs_bundle["reference_rows"], 600);
    assert_eq!(col(&vs_bundle, "predicted_probability")["drifted"], true);
    assert_eq!(col(&vs_bundle, "ratio")["drifted"], true);
    let calm = drift_json(&["--reference", m, "--current", csv.to_str().unwrap()]);
    assert_eq!(col(&calm, "ratio")["drifted"], false);
    assert_eq!(col(&calm, "ratio")["score"], 1.0);
    // The id and target are not tested.
    assert!(moved["columns"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["column"] != "client_id" && c["column"] != "defaulted"));
}
