//! The scorecard challenger on the real sample (issue 23): `train --challenger scorecard` beside
//! LightGBM, `--model scorecard` shipped and then served, explained, journaled and monitored as
//! a LightGBM bundle is, its SQL export scoring every client as the served model does (SQLite
//! and a real PostgreSQL), and the scorecard's bad options.

use std::path::Path;

use serde_json::Value;

use crate::real_data::{monitor_json, ok, real_sample, s, Server};

/// A short training of `features` into `out` with the scorecard challenger and `extra`.
fn train(features: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "-q",
        "train",
        "--data",
        s(features),
        "--out",
        s(out),
        "--no-tracking",
        "--folds",
        "3",
        "--imbalance",
        "class_weight",
        "--trials",
        "0",
        "--no-baseline",
        "--max-rounds",
        "80",
        "--bootstrap",
        "10",
        "--estimate",
        "cv",
        "--challenger",
        "scorecard",
    ];
    args.extend_from_slice(extra);
    ok(&args);
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn scorecard_challenger_ships_and_serves_on_the_real_sample() {
    let Some(data) = real_sample() else { return };
    let dir = tempfile::tempdir().unwrap();
    let features = dir.path().join("features.parquet");
    ok(&["-q", "features", s(&data), "--out", s(&features)]);

    // LightGBM ships; the scorecard is cross-validated on the same folds beside it.
    let lgbm = dir.path().join("lgbm");
    train(&features, &lgbm, &[]);
    let m = json(&lgbm.join("manifest.json"));
    let k = &m["metrics"]["challenger"];
    assert_eq!(m["metrics"]["model"], "lightgbm");
    assert_eq!(k["name"], "scorecard");
    assert!(k["cv_auc"].as_f64().unwrap() > 0.65, "{k}");
    assert_eq!(k["fold_characteristics"].as_array().unwrap().len(), 3);
    let report = std::fs::read_to_string(lgbm.join("report.html")).unwrap();
    assert!(report.contains("scorecard (challenger)") && report.contains("Points table"));
    for file in ["scorecard.json", "scorecard_points.csv", "scorecard.sql"] {
        assert!(lgbm.join(file).is_file(), "{file} in the bundle");
    }

    // The scorecard ships: LightGBM is its challenger.
    let card = dir.path().join("card");
    train(&features, &card, &["--model", "scorecard"]);
    let m = json(&card.join("manifest.json"));
    assert_eq!(m["metrics"]["model"], "scorecard");
    assert_eq!(m["metrics"]["challenger"]["name"], "LightGBM");
    assert_eq!(m["calibration"]["method"], "none");
    let shipped = json(&card.join("scorecard.json"));
    assert_eq!(
        shipped["threshold"], m["threshold"],
        "the scorecard's own threshold ships"
    );

    // Batch scores of every client, then the SQL export run on the same feature rows.
    let scores = dir.path().join("scores.csv");
    ok(&[
        "-q",
        "predict",
        "--model",
        s(&card),
        "--data",
        s(&data),
        "--out",
        s(&scores),
    ]);
    let served = read_scores(&scores);
    let text = std::fs::read_to_string(&scores).unwrap();
    assert!(
        text.starts_with("SK_ID_CURR,probability_raw,probability,decision,review,score,reasons\n")
    );
    let refused = text.lines().find(|l| l.contains(",refused,")).unwrap();
    assert!(
        refused.contains(" -"),
        "a refused client's reasons (points lost): {refused}"
    );
    let rows = sql_rows(&features, &shipped);
    let sql = std::fs::read_to_string(card.join("scorecard.sql")).unwrap();
    let sqlite = run_sqlite(&sql, &rows);
    agree(&served, &sqlite, m["threshold"].as_f64().unwrap());
    if let Some(pg) = run_postgres(&sql, &rows) {
        agree(&served, &pg, m["threshold"].as_f64().unwrap());
    }

    // Served, explained and journaled as a LightGBM bundle is: each characteristic's SHAP
    // value is its contribution (coefficient x WoE) less its mean over the training rows.
    let journal = dir.path().join("journal.db");
    let server = Server::start(&card, &data, &journal);
    let id = served.keys().next().copied().unwrap();
    let score = server.ok("GET", &format!("/v1/clients/{id}/score"), "");
    let p = score["score"]["probability"].as_f64().unwrap();
    assert_eq!(p.to_bits(), served[&id].0.to_bits(), "served as predicted");
    assert!(
        score["journal_entry"].as_i64().unwrap() >= 1,
        "journaled: {score}"
    );
    let e = server.ok("GET", &format!("/v1/clients/{id}/explanation"), "");
    let expected = expected_contributions(&shipped);
    let contributions = e["contributions"].as_array().unwrap();
    let mut checked = 0;
    for c in contributions {
        let name = c["feature"].as_str().unwrap();
        let Some(x) = expected.iter().find(|x| x.name == name) else {
            assert!(
                c["shap"].as_f64().unwrap().abs() < 1e-12,
                "{name} is not a characteristic: {c}"
            );
            continue;
        };
        let want = x.shap(c["value"].as_f64().unwrap_or(f64::NAN));
        assert!(
            (c["shap"].as_f64().unwrap() - want).abs() < 1e-9,
            "{name}: {c} vs {want}"
        );
        checked += 1;
    }
    assert!(checked >= 3, "{checked} characteristics checked");
    // A refused client's explanation: the score in points, each characteristic's points, and
    // the classic reasons (characteristics where points were lost against their best bin).
    let line = text.lines().find(|l| l.contains(",refused,")).unwrap();
    let fields: Vec<&str> = line.splitn(7, ',').collect();
    let e = server.ok("GET", &format!("/v1/clients/{}/explanation", fields[0]), "");
    let score: f64 = fields[5].parse().unwrap();
    assert_eq!(
        e["scorecard_score"].as_f64().unwrap().to_bits(),
        score.to_bits(),
        "{e}"
    );
    for c in e["contributions"].as_array().unwrap() {
        let characteristic = expected.iter().any(|x| x.name == c["feature"]);
        assert_eq!(c["points"].is_f64(), characteristic, "{c}");
    }
    let reasons = e["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty(), "{e}");
    for r in reasons {
        assert!(expected.iter().any(|x| x.name == r["feature"]), "{r}");
        assert!(
            fields[6].contains(r["feature"].as_str().unwrap()),
            "{r} in {}",
            fields[6]
        );
    }
    server.drift_has_columns();
    // The dashboard in a real browser shows the scorecard's answers, refusal notice included.
    let refused_id = fields[0].to_owned();
    let granted = text.lines().find(|l| l.contains(",granted,")).unwrap();
    let granted_id = granted.split(',').next().unwrap().to_owned();
    if let Some(out) = crate::common::e2e(
        "dashboard.mjs",
        &[&server.url(), &granted_id, "1", &refused_id],
        "scorecard",
    ) {
        assert!(out.contains("= the API's"), "{out}");
    }
    // Monitoring reads the scorecard's journal: thirty more decisions, then the estimate.
    for id in served.keys().take(30) {
        server.ok("GET", &format!("/v1/clients/{id}/score"), "");
    }
    drop(server);
    ok(&["-q", "journal", "verify", "--journal", s(&journal)]);
    let m = monitor_json(&card, &journal, &dir.path().join("monitor.html"));
    assert!(m["decisions"].as_u64().unwrap() >= 30, "{m}");
    assert!(m["estimated"][0]["estimated"]["cost"].is_number(), "{m}");
}

/// A characteristic of `scorecard.json` as TreeSHAP should see it.
struct Expected {
    name: String,
    coefficient: f64,
    splits: Vec<f64>,
    woe: Vec<f64>,
    /// The mean contribution over the training rows.
    mean: f64,
}

impl Expected {
    fn shap(&self, v: f64) -> f64 {
        let row = if v.is_nan() {
            self.woe.len() - 1
        } else {
            self.splits.partition_point(|&s| s <= v)
        };
        self.coefficient * self.woe[row] - self.mean
    }
}

fn expected_contributions(shipped: &Value) -> Vec<Expected> {
    let f = |v: &Value| v.as_f64().unwrap();
    shipped["scorecard"]["characteristics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let b = &c["binning"];
            let coefficient = f(&c["coefficient"]);
            let table = b["table"].as_array().unwrap();
            let woe: Vec<f64> = table.iter().map(|r| f(&r["woe"])).collect();
            let counts: Vec<f64> = table
                .iter()
                .map(|r| f(&r["non_events"]) + f(&r["events"]))
                .collect();
            let n: f64 = counts.iter().sum();
            let mean = woe
                .iter()
                .zip(&counts)
                .map(|(w, c)| coefficient * w * c)
                .sum::<f64>()
                / n;
            Expected {
                name: b["name"].as_str().unwrap().to_owned(),
                coefficient,
                splits: b["bins"]["splits"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(f)
                    .collect(),
                woe,
                mean,
            }
        })
        .collect()
}

/// id -> (probability, decision) from `predict`'s CSV.
fn read_scores(path: &Path) -> std::collections::BTreeMap<i64, (f64, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[0].parse().unwrap(),
                (rec[2].parse().unwrap(), rec[3].to_owned()),
            )
        })
        .collect()
}

/// The id and the characteristics' columns of every row of the feature matrix.
struct Rows {
    names: Vec<String>,
    ids: Vec<i64>,
    values: Vec<Vec<f64>>,
}

fn sql_rows(features: &Path, shipped: &Value) -> Rows {
    let df = riskscore_data::read::read_inferred(features).unwrap();
    let names: Vec<String> = shipped["scorecard"]["characteristics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["binning"]["name"].as_str().unwrap().to_owned())
        .collect();
    let column = |n: &str| -> Vec<f64> {
        let c = df
            .column(n)
            .unwrap()
            .cast(&polars::prelude::DataType::Float64)
            .unwrap();
        c.f64()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect()
    };
    let ids = column("SK_ID_CURR").iter().map(|&v| v as i64).collect();
    let values = names.iter().map(|n| column(n)).collect();
    Rows { names, ids, values }
}

fn create(rows: &Rows, real: &str) -> String {
    let mut cols = vec!["\"SK_ID_CURR\" BIGINT".to_owned()];
    cols.extend(
        rows.names
            .iter()
            .map(|n| format!("\"{}\" {real}", n.replace('"', "\"\""))),
    );
    format!("CREATE TABLE features ({})", cols.join(", "))
}

/// id -> (probability or NaN, decision) from the database.
type Answers = std::collections::BTreeMap<i64, (f64, String)>;

fn run_sqlite(sql: &str, rows: &Rows) -> Answers {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(&create(rows, "REAL")).unwrap();
    let marks: Vec<String> = (0..=rows.names.len())
        .map(|i| format!("?{}", i + 1))
        .collect();
    let mut insert = db
        .prepare(&format!(
            "INSERT INTO features VALUES ({})",
            marks.join(", ")
        ))
        .unwrap();
    for (r, id) in rows.ids.iter().enumerate() {
        let mut v: Vec<rusqlite::types::Value> = vec![(*id).into()];
        for col in &rows.values {
            v.push(if col[r].is_nan() {
                rusqlite::types::Value::Null
            } else {
                col[r].into()
            });
        }
        insert.execute(rusqlite::params_from_iter(v)).unwrap();
    }
    // SQLite has no EXP unless built with its math functions: score and decision only.
    let without = sql
        .lines()
        .filter(|l| !l.contains("AS probability,"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut stmt = db.prepare(&without).unwrap();
    stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, (f64::NAN, r.get::<_, String>(2)?)))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn run_postgres(sql: &str, rows: &Rows) -> Option<Answers> {
    let url = riskscore_testkit::oracle("RISKSCORE_TEST_POSTGRES", "a PostgreSQL address")?;
    let url = url.to_string_lossy().into_owned();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute("DROP DATABASE IF EXISTS scorecard_bundle")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE scorecard_bundle")
        .unwrap();
    let base = url.rsplit_once('/').unwrap().0;
    let mut db =
        postgres::Client::connect(&format!("{base}/scorecard_bundle"), postgres::NoTls).unwrap();
    db.batch_execute(&create(rows, "DOUBLE PRECISION")).unwrap();
    let mut text = String::new();
    for (r, id) in rows.ids.iter().enumerate() {
        text.push_str(&id.to_string());
        for col in &rows.values {
            text.push('\t');
            text.push_str(&if col[r].is_nan() {
                "\\N".to_owned()
            } else {
                format!("{:?}", col[r])
            });
        }
        text.push('\n');
    }
    let mut w = db.copy_in("COPY features FROM STDIN").unwrap();
    std::io::Write::write_all(&mut w, text.as_bytes()).unwrap();
    w.finish().unwrap();
    Some(
        db.query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<_, i64>(0),
                    (r.get::<_, f64>(2), r.get::<_, String>(3)),
                )
            })
            .collect(),
    )
}

/// The database decides every client as the served model does, with its probability (where
/// it has one) within 1e-12.
fn agree(served: &Answers, db: &Answers, threshold: f64) {
    assert_eq!(served.len(), db.len());
    for (id, (p, decision)) in served {
        let (q, d) = &db[id];
        if !q.is_nan() {
            assert!((p - q).abs() <= 1e-12, "client {id}: served {p}, SQL {q}");
        }
        if (p - threshold).abs() > 1e-12 {
            assert_eq!(decision, d, "client {id}: p {p}, threshold {threshold}");
        }
    }
}

/// The scorecard's bad options: clear errors, exit 1, no bundle.
#[test]
fn scorecard_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let csv = crate::common::loans_csv(dir.path(), 300);
    let model = dir.path().join("m");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--challenger", "scorecard", "--pdo", "0"],
            "--pdo must be a positive number of points, not 0",
        ),
        (
            &["--pdo", "-20"],
            "--pdo must be a positive number of points, not -20",
        ),
        (
            &["--model", "scorecard"],
            "--model scorecard ships the challenger: add --challenger scorecard",
        ),
        (
            &["--challenger", "scorecard", "--min-iv", "50"],
            "no characteristic has an information value of at least 50",
        ),
    ];
    for (extra, message) in cases {
        let mut c = crate::common::train_loans(&csv, &model);
        c.args([
            "-q",
            "--folds",
            "3",
            "--trials",
            "0",
            "--no-baseline",
            "--no-tracking",
        ]);
        let o = c.args(extra).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains(message), "{extra:?}: {err}");
        assert!(
            !model.join("manifest.json").exists(),
            "{extra:?}: no bundle"
        );
    }
}

/// `riskscore binning` on the real application table: one table per column, the strongest
/// characteristic first on stdout; bad options named.
#[test]
fn binning_tables_of_the_real_application_table() {
    let Some(data) = real_sample() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("binning.csv");
    let csv = data.join("application_train.csv");
    let stdout = ok(&[
        "binning",
        "--data",
        s(&csv),
        "--target",
        "TARGET",
        "--exclude",
        "SK_ID_CURR",
        "--special",
        "DAYS_EMPLOYED=365243",
        "--out",
        s(&out),
    ]);
    assert!(stdout.contains("120 columns of"), "{stdout}");
    let mut r = csv::Reader::from_path(&out).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let employed: Vec<&csv::StringRecord> =
        rows.iter().filter(|r| &r[0] == "DAYS_EMPLOYED").collect();
    let special = employed.iter().find(|r| &r[1] == "Special").unwrap();
    assert!(
        special[2].parse::<u64>().unwrap() > 1000,
        "the sentinel's own bin: {special:?}"
    );
    // Each characteristic's IV is the sum of its rows' IVs.
    let iv: f64 = employed.iter().map(|r| r[6].parse::<f64>().unwrap()).sum();
    assert!((iv - employed[0][7].parse::<f64>().unwrap()).abs() < 1e-12);
    for (args, message) in [
        (vec!["--target", "NOPE"], "--target NOPE: no such column"),
        (
            vec!["--target", "AMT_CREDIT"],
            "--target AMT_CREDIT: row 1 has",
        ),
        (
            vec!["--target", "FLAG_MOBIL"],
            "--target FLAG_MOBIL: every one of the 19559 rows is 1: binning needs both 0 and 1",
        ),
        (
            vec!["--target", "TARGET", "--special", "DAYS_EMPLOYED"],
            "expected COLUMN=VALUE",
        ),
        (
            vec!["--target", "TARGET", "--special", "NOPE=1"],
            "--special NOPE: no such column",
        ),
    ] {
        let mut c = crate::common::command();
        c.args([
            "-q",
            "binning",
            "--data",
            s(&csv),
            "--out",
            s(&dir.path().join("x.csv")),
        ]);
        let o = c.args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}
