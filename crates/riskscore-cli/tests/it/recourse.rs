//! Recourse against its oracles, on a single-table model whose action fields are the model's
//! own inputs: treecf 0.3.2's exact search finds the same optimal cost (or certifies the same
//! absence), and no option DiCE 0.12 finds within the action set costs less than riskscore's
//! best (`scripts/recourse_oracle.py`; oracles in .venv, required in CI).

use std::path::Path;

use serde_json::Value;

use crate::common::{command, train_loans};

fn ok(args: &[&str]) -> String {
    let o = command().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "riskscore {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn rows(path: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0].to_owned(), c[2].to_owned(), c[4].to_owned())
        })
        .collect()
}

fn oracle(python: &Path, which: &str, args: &[&str]) -> Vec<Value> {
    let script = riskscore_testkit::script("recourse_oracle.py");
    let mut all: Vec<&Path> = vec![&script, Path::new(which)];
    all.extend(args.iter().map(Path::new));
    riskscore_testkit::run_python(python, &all)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn recourse_equals_treecf_and_is_never_dearer_than_dice() {
    let Some(python) =
        riskscore_testkit::oracle("RISKSCORE_PYTHON", "a Python with treecf and dice-ml")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = riskscore_testkit::loans::write(dir.path(), 1500, 11);
    let model = dir.path().join("model");
    // A missed defaulter costing 3 good clients: a threshold where refusals can be turned.
    let o = train_loans(&csv, &model)
        .args(["-q", "--folds", "3", "--trials", "0", "--bootstrap", "10"])
        .args([
            "--no-baseline",
            "--no-tracking",
            "--imbalance",
            "class_weight",
        ])
        .args(["--cost-fn", "3", "--review-band", "0.01"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let features = dir.path().join("features.parquet");
    ok(&[
        "-q",
        "features",
        &s(&csv),
        "--pipeline",
        &s(&model.join("pipeline.json")),
        "--out",
        &s(&features),
    ]);
    // No step: the candidates are the thresholds themselves, as treecf's.
    let actions = dir.path().join("actions.csv");
    std::fs::write(
        &actions,
        "# version: test\nfield,direction,min,max,step,text\n\
         credit,down,10000,200000,,a credit amount\nincome,up,20000,100000,,an income\n",
    )
    .unwrap();
    let search = |actions: &Path, k: &str, cost: &str, out: &Path| -> Value {
        let json = ok(&[
            "-q",
            "recourse",
            "--model",
            &s(&model),
            "--data",
            &s(&csv),
            "--actions",
            &s(actions),
            "--refused",
            "30",
            "--k",
            k,
            "--cost",
            cost,
            "--budget-ms",
            "10000",
            "--json",
            "--out",
            &s(out),
        ]);
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["unverified"], 0, "{v}");
        assert_eq!(v["proven"], 30, "{v}");
        v
    };
    // treecf, relative cost: the same optimum, the same certified absences.
    let relative = dir.path().join("relative.csv");
    search(&actions, "2", "relative", &relative);
    let common = [
        "--model".to_owned(),
        s(&model),
        "--features".to_owned(),
        s(&features),
        "--actions".to_owned(),
        s(&actions),
        "--k".to_owned(),
        "2".to_owned(),
    ];
    let mut args: Vec<&str> = common.iter().map(String::as_str).collect();
    let rel = s(&relative);
    args.extend(["--rows", &rel]);
    let tcf = oracle(&python, "treecf", &args);
    let ours = rows(&relative);
    assert_eq!(tcf.len(), ours.len());
    let (mut equal, mut none) = (0, 0);
    for ((id, status, cost), t) in ours.iter().zip(&tcf) {
        assert_eq!(t["id"].to_string(), *id);
        assert_eq!(t["complete"], true, "{t}");
        match (status.as_str(), t["cost"].as_f64()) {
            ("found", Some(c)) => {
                let mine: f64 = cost.parse().unwrap();
                // treecf steps past a threshold by a float32 step, riskscore by a float64 one.
                assert!(
                    mine <= c * (1.0 + 1e-9) + 1e-12 && c - mine <= 1e-5 * c.max(1e-3),
                    "{id}: riskscore {mine}, treecf {c} ({t})"
                );
                equal += 1;
            }
            ("no_recourse", None) => none += 1,
            other => panic!("{id}: riskscore {other:?}, treecf {t}"),
        }
    }
    assert!(
        equal >= 20 && equal + none == 30,
        "{equal} equal, {none} none"
    );
    eprintln!("treecf: {equal} equal optima, {none} certified absences");
    // The income alone, one change: about half the refusals have recourse, half are certified
    // without, by both.
    let income = dir.path().join("income.csv");
    std::fs::write(
        &income,
        "# version: test\nfield,direction,min,max,step,text\nincome,up,20000,100000,,an income\n",
    )
    .unwrap();
    let only = dir.path().join("income-rows.csv");
    search(&income, "1", "relative", &only);
    let tcf = oracle(
        &python,
        "treecf",
        &[
            "--model",
            &s(&model),
            "--features",
            &s(&features),
            "--actions",
            &s(&income),
            "--k",
            "1",
            "--rows",
            &s(&only),
        ],
    );
    let (mut equal, mut none) = (0, 0);
    for ((id, status, cost), t) in rows(&only).iter().zip(&tcf) {
        assert_eq!(t["id"].to_string(), *id);
        match (status.as_str(), t["cost"].as_f64()) {
            ("found", Some(c)) => {
                let mine: f64 = cost.parse().unwrap();
                assert!(mine <= c * (1.0 + 1e-9) + 1e-12 && c - mine <= 1e-5 * c.max(1e-3));
                equal += 1;
            }
            ("no_recourse", None) => {
                assert_eq!(t["complete"], true, "{t}");
                none += 1;
            }
            other => panic!("{id}: riskscore {other:?}, treecf {t}"),
        }
    }
    assert!(equal >= 5 && none >= 5, "{equal} equal, {none} none");
    eprintln!("treecf, income alone: {equal} equal optima, {none} certified absences by both");
    // DiCE (random), percentile cost: never a cheaper valid option than riskscore's best, never
    // one where riskscore certified there is none.
    let percentile = dir.path().join("percentile.csv");
    search(&actions, "2", "percentile", &percentile);
    let pct = s(&percentile);
    let mut args: Vec<&str> = common.iter().map(String::as_str).collect();
    args.extend(["--rows", &pct]);
    let dice = oracle(&python, "dice", &args);
    let ours = rows(&percentile);
    let (mut compared, mut violating) = (0, 0);
    for ((id, status, cost), d) in ours.iter().zip(&dice) {
        assert_eq!(d["id"].to_string(), *id);
        for o in d["options"].as_array().into_iter().flatten() {
            if !o["violations"].as_array().unwrap().is_empty() {
                violating += 1;
            }
        }
        let Some(theirs) = d["best_valid_cost"].as_f64() else {
            continue;
        };
        assert_eq!(
            status, "found",
            "{id}: DiCE found {d} where riskscore certified none"
        );
        let mine: f64 = cost.parse().unwrap();
        assert!(
            mine <= theirs + 1e-9,
            "{id}: riskscore {mine} > DiCE {theirs}"
        );
        compared += 1;
    }
    assert!(compared >= 3, "{compared} clients compared with DiCE");
    eprintln!("DiCE: {compared} clients compared, {violating} options outside the action set");
}
