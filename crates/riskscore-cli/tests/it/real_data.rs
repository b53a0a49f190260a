//! Issue 27: every command on real data, as a new user runs them. On the public Home Credit
//! sample in `../shared/data/home-credit` (whose `application_train.csv` writes
//! `DAYS_EMPLOYED` as `-303.0` and `application_test.csv` as `-303`), on a synthetic folder
//! whose application files write other numeric columns as integers in one file and floats in
//! the other, and on a single table scored from a file that writes an integer column as floats.
//! The real sample is required when `RISKSCORE_REQUIRE_ORACLES=1` (CI), else skipped if absent.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use riskscore_data::{Kind, Table};
use serde_json::{json, Value};

use crate::common::{free_port, http, loans_csv, wait_ready};

fn riskscore(args: &[&str]) -> Output {
    crate::common::command()
        .args(args)
        .output()
        .expect("riskscore runs")
}

/// Runs a command that must succeed; its stdout.
pub fn ok(args: &[&str]) -> String {
    let o = riskscore(args);
    assert!(
        o.status.success(),
        "riskscore {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `riskscore monitor` of `model`'s `journal` in chunks of 10, its report to `report`: the JSON.
pub fn monitor_json(model: &Path, journal: &Path, report: &Path) -> Value {
    let out = ok(&[
        "-q",
        "monitor",
        "--model",
        s(model),
        "--journal",
        s(journal),
        "--chunk-size",
        "10",
        "--json",
        "--out",
        s(report),
    ]);
    serde_json::from_str(&out).unwrap()
}

pub fn real_sample() -> Option<PathBuf> {
    let dir = riskscore_testkit::real_sample();
    if dir.join("application_train.csv").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
        "the real sample ../shared/data/home-credit is missing"
    );
    eprintln!("skipped: ../shared/data/home-credit is missing");
    None
}

/// The rows of a CSV table whose `key` column is `id`, as JSON records typed by the layout
/// (empty fields left out).
fn rows_of(path: &Path, table: Table, key: &str, id: i64) -> Vec<Value> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    let at = header.iter().position(|h| h == key).unwrap();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        if rec[at].parse::<f64>().ok() != Some(id as f64) {
            continue;
        }
        let mut m = serde_json::Map::new();
        for (name, v) in header.iter().zip(rec.iter()) {
            if v.is_empty() || name == "TARGET" {
                continue;
            }
            let value = match table.kind_of(name) {
                Some(Kind::Id) => json!(v.parse::<f64>().unwrap() as i64),
                Some(Kind::Num) => json!(v.parse::<f64>().unwrap()),
                _ => json!(v),
            };
            m.insert(name.clone(), value);
        }
        out.push(Value::Object(m));
    }
    out
}

/// The first id of a CSV table's first column.
fn first_id(path: &Path) -> i64 {
    let mut r = csv::Reader::from_path(path).unwrap();
    let rec = r.records().next().unwrap().unwrap();
    rec[0].parse().unwrap()
}

/// A client's rows of every table, as the body of `POST /v1/score`.
fn posted(data: &Path, id: i64) -> Value {
    let table = if rows_of(
        &data.join("application_test.csv"),
        Table::ApplicationTest,
        "SK_ID_CURR",
        id,
    )
    .is_empty()
    {
        Table::ApplicationTrain
    } else {
        Table::ApplicationTest
    };
    let file = data.join(format!("{}.csv", table.stem()));
    let app = rows_of(&file, table, "SK_ID_CURR", id).remove(0);
    let mut body = json!({ "application": app });
    for table in [
        Table::Bureau,
        Table::PreviousApplication,
        Table::PosCashBalance,
        Table::InstallmentsPayments,
        Table::CreditCardBalance,
    ] {
        let file = data.join(format!("{}.csv", table.stem()));
        body[table.stem()] = json!(rows_of(&file, table, "SK_ID_CURR", id));
    }
    let balances: Vec<Value> = body["bureau"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| {
            let bureau = b["SK_ID_BUREAU"].as_i64().unwrap();
            let file = data.join("bureau_balance.csv");
            rows_of(&file, Table::BureauBalance, "SK_ID_BUREAU", bureau)
        })
        .collect();
    body["bureau_balance"] = json!(balances);
    body
}

pub struct Server {
    child: Child,
    port: u16,
}

impl Server {
    pub fn start(model: &Path, data: &Path, journal: &Path) -> Server {
        let port = free_port();
        let mut child = crate::common::command()
            .args(["-q", "serve", "--model", s(model), "--data", s(data)])
            .args(["--journal", s(journal)])
            .env("PORT", port.to_string())
            .env_remove("RISKSCORE_API_KEYS")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_ready(port, &mut child);
        // Read, so that a server logging a warning per request never blocks on a full pipe.
        drop(crate::common::drain_stderr(&mut child));
        Server { child, port }
    }

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /v1/drift` answers with a drift report of some columns.
    pub fn drift_has_columns(&self) {
        let d = self.ok("GET", "/v1/drift", "");
        let columns = d["drift"]["columns"].as_array();
        assert!(columns.is_some_and(|c| !c.is_empty()), "{d}");
    }

    /// A request that must answer 200; its JSON body.
    pub fn ok(&self, method: &str, path: &str, body: &str) -> Value {
        let (status, text) = http(self.port, method, path, body, "real").unwrap();
        let json = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        assert_eq!(status, 200, "{method} {path}: {text}");
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{path}: {e}: {json}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// explore, features, train, predict (batch and one application), explain, serve with every
/// endpoint, drift (data, model, journal) and journal verify on a Home Credit folder.
/// Returns the running server and the model for further checks.
fn every_command(data: &Path, dir: &Path) -> (Server, PathBuf) {
    let eda = dir.join("eda.html");
    ok(&[
        "-q",
        "explore",
        s(data),
        "--out",
        s(&eda),
        "--json",
        s(&dir.join("eda.json")),
    ]);
    assert!(std::fs::read_to_string(&eda).unwrap().contains("<svg"));
    let features = dir.join("f.parquet");
    let out = ok(&["-q", "features", s(data), "--out", s(&features)]);
    assert!(out.contains(" rows x "), "{out}");
    let model = dir.join("model");
    // A short training: three folds, class weights, no search, at most 60 rounds.
    let train = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "-q",
            "train",
            "--data",
            s(data),
            "--out",
            s(out),
            "--folds",
            "3",
            "--trials",
            "0",
            "--imbalance",
            "class_weight",
            "--bootstrap",
            "10",
            "--no-baseline",
            "--no-tracking",
            "--max-rounds",
            "60",
            "--early-stopping-rounds",
            "10",
        ];
        args.extend_from_slice(extra);
        ok(&args)
    };
    train(&model, &[]);
    // The coverage check on the real rows: one split, a fifth held out.
    let out = ok(&[
        "-q",
        "validate",
        "--data",
        s(data),
        "--splits",
        "1",
        "--test-share",
        "0.2",
        "--folds",
        "2",
        "--trials",
        "0",
        "--imbalance",
        "class_weight",
        "--max-rounds",
        "40",
        "--early-stopping-rounds",
        "10",
        "--estimate",
        "cv",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let split = &v["splits"][0];
    let (trained, held) = (
        split["trained_rows"].as_u64().unwrap(),
        split["held_out_rows"].as_u64().unwrap(),
    );
    assert!(
        held > 0 && (held as f64 / (trained + held) as f64 - 0.2).abs() < 0.01,
        "{v}"
    );
    assert!(split["held_out_auc"].as_f64().unwrap() > 0.6, "{v}");
    let scores = dir.join("scores.csv");
    let out = ok(&[
        "-q",
        "predict",
        "--model",
        s(&model),
        "--data",
        s(data),
        "--out",
        s(&scores),
    ]);
    assert!(out.contains(" clients scored"), "{out}");
    // The new applicants alone (application_test and the history, no application_train) are
    // scored line for line as beside the training applicants.
    let new = dir.join("new-applicants");
    std::fs::create_dir(&new).unwrap();
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".csv") && !name.starts_with("application_train") {
            std::os::unix::fs::symlink(&path, new.join(&name)).unwrap();
        }
    }
    let new_scores = dir.join("new-scores.csv");
    ok(&[
        "-q",
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&new),
        "--out",
        s(&new_scores),
    ]);
    let all: std::collections::HashMap<String, String> = std::fs::read_to_string(&scores)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| (l.split(',').next().unwrap().to_owned(), l.to_owned()))
        .collect();
    let lines: Vec<String> = std::fs::read_to_string(&new_scores)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    let tests = std::fs::read_to_string(data.join("application_test.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(lines.len(), tests);
    for line in &lines {
        let id = line.split(',').next().unwrap();
        assert_eq!(Some(line), all.get(id), "client {id}");
    }
    // New applicants with an income type the model never saw: scored, and said.
    let typo = dir.join("typo-applicants");
    std::fs::create_dir(&typo).unwrap();
    let text = std::fs::read_to_string(data.join("application_test.csv")).unwrap();
    let mut changed = 0;
    let rows: Vec<String> = text
        .lines()
        .take(31)
        .map(|l| {
            if changed < 2 && l.contains(",Working,") {
                changed += 1;
                l.replacen(",Working,", ",Robot,", 1)
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(changed, 2, "two working applicants among the first 30");
    std::fs::write(typo.join("application_test.csv"), rows.join("\n") + "\n").unwrap();
    // And one bureau record of a kind of credit never seen, for the first of them.
    let bureau = std::fs::read_to_string(data.join("bureau.csv")).unwrap();
    let record = bureau
        .lines()
        .find(|l| l.contains(",Consumer credit,"))
        .unwrap();
    let first_test = rows[1].split(',').next().unwrap();
    let (_, rest) = record.split_once(',').unwrap();
    let record = format!(
        "{first_test},{}",
        rest.replacen(",Consumer credit,", ",Space loan,", 1)
    );
    let header = bureau.lines().next().unwrap();
    std::fs::write(typo.join("bureau.csv"), format!("{header}\n{record}\n")).unwrap();
    let o = riskscore(&[
        "-q",
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&typo),
        "--out",
        s(&dir.join("typo-scores.csv")),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    for said in [
        "table=\"application\" column=\"NAME_INCOME_TYPE\" values=1 first=Robot",
        "table=\"bureau\" column=\"CREDIT_TYPE\" values=1 first=Space loan",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains("values never seen in training") && l.contains(said)),
            "{said}: {err}"
        );
    }
    // Fairness of the model's decisions on the labelled rows, equal to fairlearn's.
    let rows = dir.join("fairness-rows.csv");
    let out = ok(&[
        "-q",
        "fairness",
        "--model",
        s(&model),
        "--data",
        s(data),
        "--json",
        "--rows",
        s(&rows),
    ]);
    let fair: riskscore_model::fairness::Fairness = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = fair
        .attributes
        .iter()
        .map(|a| a.attribute.as_str())
        .collect();
    assert_eq!(names, ["CODE_GENDER", "age band"], "{out}");
    assert!(fair.age_rule.as_ref().unwrap().elderly > 0, "{out}");
    if let Some(oracle) =
        riskscore_testkit::fairlearn::run(&rows, fair.threshold, Some("SK_ID_CURR"))
    {
        riskscore_testkit::fairlearn::assert_agrees(&fair, &oracle);
    }
    // Recourse on the real rows: every option re-scored through the full pipeline is granted;
    // one client's options as text; an unknown client and a bad action file are named.
    let recourse_rows = dir.join("recourse.csv");
    let out = ok(&[
        "-q",
        "recourse",
        "--model",
        s(&model),
        "--data",
        s(data),
        "--refused",
        "40",
        "--budget-ms",
        "5000",
        "--json",
        "--out",
        s(&recourse_rows),
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["searched"], 40, "{v}");
    assert_eq!(v["unverified"], 0, "{v}");
    assert!(v["found"].as_u64().unwrap() >= 5, "{v}");
    assert_eq!(v["unknown"], 0, "{v}");
    let with_recourse = first_with_recourse(&recourse_rows);
    let one = |client: &str, extra: &[&str]| {
        let mut args = vec![
            "-q",
            "recourse",
            "--model",
            s(&model),
            "--data",
            s(data),
            "--client",
        ];
        args.push(client);
        args.extend_from_slice(extra);
        riskscore(&args)
    };
    let o = one(&with_recourse, &[]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("would have been granted"), "{out}");
    let o = one("1", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown client 1"));
    let actions = dir.join("actions.csv");
    std::fs::write(
        &actions,
        "# version: 1\nfield,direction,min,max,step,text\nCODE_GENDER,both,,,1,a gender\n",
    )
    .unwrap();
    let o = one(&with_recourse, &["--actions", s(&actions)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("CODE_GENDER is a protected attribute"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The same training with --monotone-age: no applicant aged 62 or more has an age
    // contribution that raises their probability.
    let monotone = dir.join("model-monotone");
    train(&monotone, &["--estimate", "cv", "--monotone-age"]);
    let out = ok(&[
        "-q",
        "fairness",
        "--model",
        s(&monotone),
        "--data",
        s(data),
        "--json",
    ]);
    let capped: riskscore_model::fairness::Fairness = serde_json::from_str(&out).unwrap();
    let rule = capped.age_rule.unwrap();
    assert!(
        rule.monotone && rule.elderly > 100 && rule.raised == 0,
        "{rule:?}"
    );
    let text = ok(&["-q", "fairness", "--model", s(&model), "--data", s(data)]);
    assert!(
        text.contains("demographic parity difference") && text.contains("Age rule"),
        "{text}"
    );
    let test_id = first_id(&data.join("application_test.csv"));
    let train_id = first_id(&data.join("application_train.csv"));
    let app = dir.join("app.json");
    let predict_one = |body: &Value| {
        std::fs::write(&app, body.to_string()).unwrap();
        riskscore(&[
            "-q",
            "predict",
            "--model",
            s(&model),
            "--application",
            s(&app),
        ])
    };
    let answer = |o: Output| -> Value {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let one = answer(predict_one(&posted(data, test_id)));
    assert_eq!(one["id"], test_id, "{one}");
    // The single-application path has the server's intake.
    let mut bad = posted(data, test_id);
    bad["application"]["AMT_INCOME_TOTAL"] = json!(-5);
    bad["application"]
        .as_object_mut()
        .unwrap()
        .remove("DAYS_BIRTH");
    let o = predict_one(&bad);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("application.AMT_INCOME_TOTAL: an amount must be greater than 0"),
        "{err}"
    );
    assert!(err.contains("application.DAYS_BIRTH: required"), "{err}");
    let mut far = posted(data, test_id);
    far["application"]["AMT_INCOME_TOTAL"] = json!(9e10);
    let flagged = answer(predict_one(&far));
    assert_eq!(flagged["review"], true, "{flagged}");
    assert!(flagged["review_reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("AMT_INCOME_TOTAL: outside the data the model was trained on"));
    // A real application with one category misspelt: scored, sent to review, named.
    let mut typo = posted(data, test_id);
    typo["application"]["NAME_INCOME_TYPE"] = json!("working");
    let flagged = answer(predict_one(&typo));
    assert_eq!(flagged["review"], true, "{flagged}");
    assert_eq!(
        flagged["review_reasons"].as_array().unwrap().len(),
        1,
        "{flagged}"
    );
    assert!(
        flagged["review_reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("application.NAME_INCOME_TYPE: `working` is not among the values"),
        "{flagged}"
    );
    let out = ok(&[
        "-q",
        "explain",
        "--model",
        s(&model),
        "--data",
        s(data),
        "--client",
        &train_id.to_string(),
    ]);
    assert!(!out.is_empty());
    let journal = dir.join("journal.sqlite");
    let server = Server::start(&model, data, &journal);
    for id in [test_id, train_id] {
        let info = server.ok("GET", &format!("/v1/clients/{id}"), "");
        assert!(
            info["fields"]["AMT_CREDIT"].as_f64().unwrap() > 0.0,
            "{info}"
        );
        let score = server.ok("GET", &format!("/v1/clients/{id}/score"), "");
        assert!(score["score"]["probability"].as_f64().is_some());
        server.ok("GET", &format!("/v1/clients/{id}/explanation"), "");
        server.ok("GET", &format!("/v1/clients/{id}/similar?k=5"), "");
        let cmp = server.ok(
            "GET",
            &format!("/v1/clients/{id}/compare?feature=AMT_CREDIT&other=AMT_ANNUITY"),
            "",
        );
        assert!(cmp.is_object(), "{cmp}");
        let change = json!({"changes": {"AMT_CREDIT": info["fields"]["AMT_CREDIT"].as_f64().unwrap() / 2.0}});
        let wi = server.ok(
            "POST",
            &format!("/v1/clients/{id}/whatif"),
            &change.to_string(),
        );
        assert!(wi["after"]["probability"].as_f64().is_some(), "{wi}");
    }
    // The posted application gives the served client's score, bit for bit.
    let new = server.ok("POST", "/v1/score", &posted(data, test_id).to_string());
    let known = server.ok("GET", &format!("/v1/clients/{test_id}/score"), "");
    assert_eq!(
        new["score"]["probability"], known["score"]["probability"],
        "{new}"
    );
    assert_eq!(
        one["probability"], known["score"]["probability"],
        "predict --application"
    );
    assert!(new["score"].get("review_reasons").is_none(), "{new}");
    let posted_typo = server.ok("POST", "/v1/score", &typo.to_string());
    assert_eq!(posted_typo["score"]["band"], "review", "{posted_typo}");
    assert_eq!(
        posted_typo["score"]["review_reasons"], flagged["review_reasons"],
        "the server's intake is predict's"
    );
    let batch = json!({"applications": [posted(data, test_id), posted(data, train_id)]});
    let b = server.ok("POST", "/v1/score/batch", &batch.to_string());
    assert_eq!(b["results"].as_array().unwrap().len(), 2);
    server.ok("GET", "/v1/model", "");
    server.drift_has_columns();
    let html = dir.join("drift.html");
    ok(&[
        "-q",
        "drift",
        "--reference",
        s(&model),
        "--current",
        s(data),
        "--out",
        s(&html),
    ]);
    ok(&[
        "-q",
        "drift",
        "--model",
        s(&model),
        "--reference",
        s(data),
        "--current",
        s(data),
        "--out",
        s(&html),
    ]);
    ok(&[
        "-q",
        "drift",
        "--reference",
        s(&model),
        "--journal",
        s(&journal),
        "--out",
        s(&html),
    ]);
    // The outcomes of the scored training clients (from TARGET), then the monitor.
    let entries =
        riskscore_server::journal::read_entries(&riskscore_server::Location::parse(s(&journal)))
            .unwrap();
    let mut r = csv::Reader::from_path(data.join("application_train.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    let (id_at, y_at) = (
        header.iter().position(|h| h == "SK_ID_CURR").unwrap(),
        header.iter().position(|h| h == "TARGET").unwrap(),
    );
    let target: std::collections::HashMap<String, String> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[id_at].to_owned(),
                rec[y_at].trim_end_matches(".0").to_owned(),
            )
        })
        .collect();
    let mut file = String::from("id,defaulted,observed_at\n");
    let mut seen = std::collections::HashSet::new();
    for e in entries
        .iter()
        .filter(|e| matches!(e.decided.kind.as_str(), "known" | "new"))
    {
        if let Some(y) = target.get(&e.decided.client) {
            if seen.insert(e.decided.client.clone()) {
                file += &format!("{},{y},2027-06-30\n", e.decided.client);
            }
        }
    }
    assert!(!seen.is_empty());
    let outcomes = dir.join("outcomes.csv");
    std::fs::write(&outcomes, &file).unwrap();
    let out = ok(&[
        "-q",
        "outcomes",
        "import",
        s(&outcomes),
        "--journal",
        s(&journal),
    ]);
    assert!(
        out.starts_with(&format!("{} outcomes recorded", seen.len())),
        "{out}"
    );
    // The same outcomes as pandas writes them with every field quoted, the ids of a column with
    // a missing value (100002.0) and the outcome as booleans: read the same, nothing new.
    let pandas: String = file
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                return "\"id\",\"defaulted\",\"observed_at\"\n".to_owned();
            }
            let f: Vec<&str> = l.split(',').collect();
            let y = if f[1] == "1" { "True" } else { "False" };
            format!("\"{}.0\",\"{y}\",\"{}\"\n", f[0], f[2])
        })
        .collect();
    let quoted = dir.join("outcomes-pandas.csv");
    std::fs::write(&quoted, pandas).unwrap();
    let out = ok(&[
        "-q",
        "outcomes",
        "import",
        s(&quoted),
        "--journal",
        s(&journal),
    ]);
    assert!(
        out.starts_with(&format!(
            "0 outcomes recorded, {} already recorded with the same value",
            seen.len()
        )),
        "{out}"
    );
    let report = dir.join("monitor.html");
    let m = monitor_json(&model, &journal, &report);
    assert!(m["decisions"].as_u64().unwrap() >= seen.len() as u64, "{m}");
    assert!(m["labelled"].as_u64().unwrap() >= seen.len() as u64, "{m}");
    assert!(m["estimated"][0]["estimated"]["cost"].is_number(), "{m}");
    // NannyML's calibration check ran on the real reference, and the report says its answer.
    assert!(
        m["baseline"]["calibration"]["needed"].is_boolean(),
        "{}",
        m["baseline"]
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Realized by cohort"));
    assert!(html.contains("NannyML's calibration check"));
    // The documentation pack of the real-sample model, with its monitoring: every figure read
    // from the manifest, the fairness file or the monitor's answer.
    let monitor = dir.join("monitor.json");
    std::fs::write(&monitor, m.to_string()).unwrap();
    let pack = dir.join("pack");
    ok(&[
        "-q",
        "document",
        "--model",
        s(&model),
        "--monitor",
        s(&monitor),
        "--out",
        s(&pack),
    ]);
    let html = std::fs::read_to_string(pack.join("model-documentation.html")).unwrap();
    let sources = [
        (
            "manifest.json",
            crate::document::json_file(&model.join("manifest.json")),
        ),
        (
            "fairness.json",
            crate::document::json_file(&model.join("fairness.json")),
        ),
        ("monitor", m.clone()),
    ];
    let figures = crate::document::figures(&html);
    assert!(
        figures.iter().any(|f| f.1 == "monitor"),
        "the monitoring is in the pack"
    );
    for (value, file, pointer) in &figures {
        let source = &sources.iter().find(|x| x.0 == file).unwrap().1;
        let v = source
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{file}{pointer}"));
        assert!(
            crate::document::same(value, v),
            "{file}{pointer}: {value} vs {v}"
        );
    }
    assert!(html.contains("Home Credit Default Risk tables"));
    std::fs::write(&outcomes, "id,defaulted,observed_at\n100002,2,2027-06-30\n").unwrap();
    let o = riskscore(&[
        "-q",
        "outcomes",
        "import",
        s(&outcomes),
        "--journal",
        s(&journal),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(":2: defaulted: `2` is not 0 or 1"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = ok(&["-q", "journal", "verify", "--journal", s(&journal)]);
    assert!(out.contains("chain intact"), "{out}");
    (server, model)
}

#[test]
fn every_command_on_the_real_sample() {
    let Some(data) = real_sample() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = every_command(&data, dir.path());
    // A refused client with recourse (every_command searched them): the dashboard prints its
    // notice and applies its first option to the what-if.
    let refused = first_with_recourse(&dir.path().join("recourse.csv"));
    dashboard(
        &server,
        first_id(&data.join("application_train.csv")),
        &refused,
    );
}

/// The first client with recourse in `riskscore recourse --out` rows.
fn first_with_recourse(rows: &Path) -> String {
    std::fs::read_to_string(rows)
        .unwrap()
        .lines()
        .skip(1)
        .find(|l| l.split(',').nth(2) == Some("found"))
        .and_then(|l| l.split(',').next())
        .unwrap()
        .to_owned()
}

/// The dashboard's browser test, once against a model trained on the real sample.
fn dashboard(server: &Server, id: i64, refused: &str) {
    let Some(out) = crate::common::e2e(
        "dashboard.mjs",
        &[
            &format!("http://127.0.0.1:{}", server.port),
            &id.to_string(),
            "1",
            refused,
        ],
        "real",
    ) else {
        return;
    };
    assert!(out.contains("axe on the client view"), "{out}");
    assert!(out.contains("axe on the notice view"), "{out}");
    assert!(
        out.contains("the model view charts approval rates by group"),
        "{out}"
    );
    assert!(out.contains("the notice carries the"), "{out}");
    assert!(
        out.contains("the notice carries the first recourse option"),
        "{out}"
    );
    assert!(
        out.contains("a recourse option applied to the what-if is granted there"),
        "{out}"
    );
    assert!(out.contains("axe on the recourse view"), "{out}");
}

/// Appends `.0` to every value of `columns` in a CSV file: integers written as floats.
fn as_floats(path: &Path, columns: &[&str]) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().clone();
    let at: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == *c).unwrap())
        .collect();
    let mut w = csv::Writer::from_path(path.with_extension("tmp")).unwrap();
    w.write_record(&header).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        let row: Vec<String> = rec
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if at.contains(&i) && !v.is_empty() && !v.contains('.') {
                    format!("{v}.0")
                } else {
                    v.to_owned()
                }
            })
            .collect();
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
    std::fs::rename(path.with_extension("tmp"), path).unwrap();
}

/// Regression (issue 27): a numeric column written as integers in one application file and
/// as floats in the other, in both directions.
#[test]
fn integer_and_float_application_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&[
        "-q",
        "synth",
        "--scale",
        "0.004",
        "--seed",
        "5",
        "--out",
        s(&data),
    ]);
    as_floats(
        &data.join("application_train.csv"),
        &["DAYS_EMPLOYED", "CNT_CHILDREN"],
    );
    as_floats(
        &data.join("application_test.csv"),
        &["DAYS_BIRTH", "HOUR_APPR_PROCESS_START"],
    );
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    every_command(&data, &work);
}

/// Regression (issue 27), one table: trained on integers, scored, explained, served and
/// compared on a file that writes the same column as floats.
#[test]
fn integer_and_float_single_tables() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 400);
    let floats = dir.path().join("loans_float.csv");
    std::fs::copy(&csv, &floats).unwrap();
    as_floats(&floats, &["age"]);
    let model = dir.path().join("model");
    crate::common::train_loans_quickly(&csv, &model, "class_weight");
    let scores = dir.path().join("scores.csv");
    ok(&[
        "-q",
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&floats),
        "--out",
        s(&scores),
    ]);
    let ints = dir.path().join("ints.csv");
    ok(&[
        "-q",
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&csv),
        "--out",
        s(&ints),
    ]);
    assert_eq!(
        std::fs::read_to_string(&scores).unwrap(),
        std::fs::read_to_string(&ints).unwrap(),
        "the same values written as floats score the same"
    );
    ok(&[
        "-q",
        "explain",
        "--model",
        s(&model),
        "--data",
        s(&floats),
        "--client",
        "1010",
    ]);
    let html = dir.path().join("d.html");
    ok(&[
        "-q",
        "drift",
        "--reference",
        s(&csv),
        "--current",
        s(&floats),
        "--out",
        s(&html),
    ]);
    ok(&[
        "-q",
        "drift",
        "--reference",
        s(&floats),
        "--current",
        s(&csv),
        "--out",
        s(&html),
    ]);
    ok(&[
        "-q",
        "explore",
        s(&floats),
        "--id",
        "client_id",
        "--target",
        "defaulted",
        "--out",
        s(&html),
    ]);
    let server = Server::start(&model, &floats, &dir.path().join("j.sqlite"));
    let info = server.ok("GET", "/v1/clients/1010", "");
    assert_eq!(
        info["fields"]["age"],
        json!(20.0 + ((10 * 13) % 45) as f64),
        "{info}"
    );
    server.ok("GET", "/v1/clients/1010/score", "");
}
