//! The scorecard's SQL export run by SQLite and by a real PostgreSQL
//! (`RISKSCORE_TEST_POSTGRES`): for every client of the real sample's application table (and a
//! synthetic one), the database's score equals riskscore's bit for bit, its probability and
//! decision too.

use std::path::Path;

use polars::prelude::*;
use riskscore_scorecard::sql::{ident, scorecard_query, SqlTarget};
use riskscore_scorecard::{BinningOptions, Column, Scorecard, ScorecardOptions, Values};

/// One column as the scorecard and the databases see it.
enum Data {
    Numbers(Vec<f64>),
    Texts(Vec<Option<String>>),
}

struct Table {
    names: Vec<String>,
    data: Vec<Data>,
    ids: Vec<i64>,
    y: Vec<u8>,
}

fn load(csv: &Path) -> Table {
    let df = crate::read_csv(csv);
    let number = |name: &str| -> Vec<f64> {
        let c = df
            .column(name)
            .expect("column")
            .cast(&DataType::Float64)
            .expect("cast");
        c.f64()
            .expect("f64")
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect()
    };
    let ids = number("SK_ID_CURR").iter().map(|&v| v as i64).collect();
    let y = number("TARGET")
        .iter()
        .map(|&v| u8::from(v == 1.0))
        .collect();
    let (mut names, mut data) = (Vec::new(), Vec::new());
    for s in df.columns() {
        let name = s.name().to_string();
        if name == "SK_ID_CURR" || name == "TARGET" {
            continue;
        }
        let d = if s.dtype().is_primitive_numeric() {
            Data::Numbers(number(&name))
        } else {
            Data::Texts(
                s.str()
                    .expect("text")
                    .iter()
                    .map(|v| v.map(str::to_owned))
                    .collect(),
            )
        };
        names.push(name);
        data.push(d);
    }
    Table {
        names,
        data,
        ids,
        y,
    }
}

fn fit(t: &Table) -> Scorecard {
    let texts: Vec<Vec<Option<&str>>> = t
        .data
        .iter()
        .map(|d| match d {
            Data::Texts(v) => v.iter().map(Option::as_deref).collect(),
            Data::Numbers(_) => Vec::new(),
        })
        .collect();
    let columns: Vec<Column> = t
        .names
        .iter()
        .zip(&t.data)
        .zip(&texts)
        .map(|((name, d), text)| Column {
            name,
            values: match d {
                Data::Numbers(v) => Values::Numeric(v),
                Data::Texts(_) => Values::Categorical(text),
            },
        })
        .collect();
    let options = ScorecardOptions {
        binning: BinningOptions {
            special: vec![365243.0],
            ..Default::default()
        },
        ..Default::default()
    };
    let card = Scorecard::fit(&columns, &t.y, &options).expect("scorecard");
    let categorical = card
        .characteristics
        .iter()
        .filter(|c| {
            matches!(
                c.binning.bins,
                riskscore_scorecard::Bins::Categorical { .. }
            )
        })
        .count();
    assert!(
        categorical > 0,
        "a categorical characteristic is exported too"
    );
    card
}

/// riskscore's score of client `r`.
fn ours(card: &Scorecard, t: &Table, r: usize) -> riskscore_scorecard::Scored {
    let rows = card
        .characteristics
        .iter()
        .map(|c| match &t.data[c.column] {
            Data::Numbers(v) => c.binning.row_of_number(v[r]),
            Data::Texts(v) => c.binning.row_of_category(v[r].as_deref()),
        })
        .collect();
    card.scored(rows)
}

fn create_sql(t: &Table, card: &Scorecard, real: &str) -> (String, Vec<usize>) {
    let used: Vec<usize> = card.characteristics.iter().map(|c| c.column).collect();
    let mut cols = vec![format!("{} BIGINT", ident("SK_ID_CURR"))];
    for &j in &used {
        let ty = match t.data[j] {
            Data::Numbers(_) => real,
            Data::Texts(_) => "TEXT",
        };
        cols.push(format!("{} {ty}", ident(&t.names[j])));
    }
    (
        format!("CREATE TABLE applications ({})", cols.join(", ")),
        used,
    )
}

/// Compares the database's rows (id, score, probability, decision) with riskscore's.
fn compare(card: &Scorecard, t: &Table, cutoff: f64, got: Vec<(i64, f64, Option<f64>, String)>) {
    assert_eq!(got.len(), t.ids.len());
    let by_id: std::collections::HashMap<i64, usize> =
        t.ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    for (id, score, probability, decision) in got {
        let s = ours(card, t, by_id[&id]);
        assert_eq!(
            score.to_bits(),
            s.score.to_bits(),
            "client {id}: SQL score {score}, riskscore {}",
            s.score
        );
        if let Some(p) = probability {
            assert!(
                (p - s.probability).abs() <= 1e-15,
                "client {id}: {p} vs {}",
                s.probability
            );
        }
        let want = if s.score <= cutoff {
            "refused"
        } else {
            "granted"
        };
        assert_eq!(decision, want, "client {id}");
    }
}

fn sqlite_equals_riskscore(t: &Table, card: &Scorecard) {
    let cutoff = card.scaling.cutoff(0.1);
    let db = rusqlite::Connection::open_in_memory().expect("sqlite");
    let (create, used) = create_sql(t, card, "REAL");
    db.execute_batch(&create).expect("create");
    let marks: Vec<String> = (0..=used.len()).map(|i| format!("?{}", i + 1)).collect();
    let insert = format!("INSERT INTO applications VALUES ({})", marks.join(", "));
    let tx = db.unchecked_transaction().expect("tx");
    {
        let mut stmt = tx.prepare(&insert).expect("insert");
        for r in 0..t.ids.len() {
            let mut values: Vec<rusqlite::types::Value> = vec![t.ids[r].into()];
            for &j in &used {
                values.push(match &t.data[j] {
                    Data::Numbers(v) if v[r].is_nan() => rusqlite::types::Value::Null,
                    Data::Numbers(v) => v[r].into(),
                    Data::Texts(v) => v[r]
                        .clone()
                        .map_or(rusqlite::types::Value::Null, Into::into),
                });
            }
            stmt.execute(rusqlite::params_from_iter(values))
                .expect("row");
        }
    }
    tx.commit().expect("commit");
    let target = SqlTarget {
        table: "applications",
        id: "SK_ID_CURR",
        cutoff,
        probability: false,
    };
    let query = scorecard_query(card, &target);
    let mut stmt = db
        .prepare(&query)
        .expect("the exported SQL parses in SQLite");
    let got = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, None, r.get(2)?)))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    compare(card, t, cutoff, got);
}

fn postgres_equals_riskscore(t: &Table, card: &Scorecard, name: &str) {
    let Some(url) = riskscore_testkit::oracle("RISKSCORE_TEST_POSTGRES", "a PostgreSQL address")
    else {
        return;
    };
    let url = url.to_string_lossy().into_owned();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("postgres");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .expect("drop");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create");
    let base = url.rsplit_once('/').expect("url").0;
    let mut db = postgres::Client::connect(&format!("{base}/{name}"), postgres::NoTls).expect("db");
    let cutoff = card.scaling.cutoff(0.1);
    let (create, used) = create_sql(t, card, "DOUBLE PRECISION");
    db.batch_execute(&create).expect("create");
    // COPY in text form: doubles written as their shortest exact decimal, NULL as \N.
    let mut text = String::new();
    for r in 0..t.ids.len() {
        let mut fields = vec![t.ids[r].to_string()];
        for &j in &used {
            fields.push(match &t.data[j] {
                Data::Numbers(v) if v[r].is_nan() => "\\N".into(),
                Data::Numbers(v) => format!("{:?}", v[r]),
                Data::Texts(v) => v[r].as_ref().map_or_else(
                    || "\\N".into(),
                    |s| s.replace('\\', "\\\\").replace('\t', "\\t"),
                ),
            });
        }
        text.push_str(&fields.join("\t"));
        text.push('\n');
    }
    let mut w = db.copy_in("COPY applications FROM STDIN").expect("copy");
    std::io::Write::write_all(&mut w, text.as_bytes()).expect("write");
    w.finish().expect("copied");
    let target = SqlTarget {
        table: "applications",
        id: "SK_ID_CURR",
        cutoff,
        probability: true,
    };
    let query = scorecard_query(card, &target);
    let got = db
        .query(query.as_str(), &[])
        .expect("the exported SQL runs in PostgreSQL")
        .iter()
        .map(|r| (r.get(0), r.get(1), Some(r.get(2)), r.get(3)))
        .collect();
    compare(card, t, cutoff, got);
}

#[test]
fn exported_sql_scores_every_real_client_as_riskscore_does() {
    let t = load(&riskscore_testkit::real_sample().join("application_train.csv"));
    let card = fit(&t);
    assert!(
        card.characteristics.len() >= 10,
        "{} characteristics",
        card.characteristics.len()
    );
    sqlite_equals_riskscore(&t, &card);
    postgres_equals_riskscore(&t, &card, "scorecard_real");
}

#[test]
fn exported_sql_scores_every_synthetic_client_as_riskscore_does() {
    let (_dir, csv) = crate::synthetic_application(11);
    let t = load(&csv);
    let card = fit(&t);
    sqlite_equals_riskscore(&t, &card);
    postgres_equals_riskscore(&t, &card, "scorecard_synthetic");
}
