//! The kit's small Home Credit bundle (crate riskscore-testkit: synthetic data at scale 0.004,
//! about 1,200 training applicants, a short training) loaded once as the server's scorer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use riskscore_server::{AppState, Journal, Location, Scorer, Settings};

pub struct Fixture {
    pub data: PathBuf,
    pub model: PathBuf,
    pub scorer: Arc<Scorer>,
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let b = riskscore_testkit::home_credit();
        Fixture {
            data: b.data.clone(),
            model: b.model.clone(),
            scorer: Arc::new(Scorer::load(&b.model, &b.data, 2).expect("scorer")),
        }
    })
}

/// A state over the shared model with its own SQLite journal in `dir`.
pub fn state(dir: &Path, settings: Settings) -> (AppState, Location) {
    let loc = Location::Sqlite(dir.join("journal.sqlite"));
    let journal = Journal::open(&loc).expect("journal");
    (
        AppState::new_shared(fixture().scorer.clone(), journal, settings),
        loc,
    )
}

/// One applicant's rows of every table as the JSON body of `POST /v1/score`.
pub fn application_body(data: &Path, id: i64) -> serde_json::Value {
    use polars::prelude::*;
    use riskscore_data::{Folder, Table, TableSource};
    use riskscore_server::scorer::any_to_json;
    let folder = Folder::new(data).expect("folder");
    let records = |df: &DataFrame| -> Vec<serde_json::Value> {
        (0..df.height())
            .map(|i| {
                let mut m = serde_json::Map::new();
                for c in df.columns() {
                    let v = any_to_json(&c.get(i).expect("value"));
                    if !v.is_null() {
                        m.insert(c.name().to_string(), v);
                    }
                }
                serde_json::Value::Object(m)
            })
            .collect()
    };
    let mut body = serde_json::Map::new();
    let mut bureau_ids: Vec<i64> = Vec::new();
    for table in Table::ALL {
        let Some(df) = folder.load(table).expect("load") else {
            continue;
        };
        let rows = if table == Table::BureauBalance {
            let ids = Series::new("ids".into(), bureau_ids.clone());
            df.lazy()
                .filter(col("SK_ID_BUREAU").is_in(lit(ids).implode(false), false))
                .collect()
        } else {
            df.lazy().filter(col("SK_ID_CURR").eq(lit(id))).collect()
        }
        .expect("filter");
        if table == Table::Bureau {
            bureau_ids = rows
                .column("SK_ID_BUREAU")
                .expect("col")
                .i64()
                .expect("i64")
                .into_no_null_iter()
                .collect();
        }
        match table {
            Table::ApplicationTrain | Table::ApplicationTest => {
                if let Some(mut app) = records(&rows).into_iter().next() {
                    if let Some(o) = app.as_object_mut() {
                        o.remove("TARGET");
                    }
                    body.insert("application".into(), app);
                }
            }
            t => {
                body.insert(t.stem().into(), records(&rows).into());
            }
        }
    }
    serde_json::Value::Object(body)
}

/// A new, empty PostgreSQL database `name` on the test server (`RISKSCORE_TEST_POSTGRES`,
/// which `.ci/run` starts): its location, or None (the test skipped) when the variable is not
/// set and the oracles are not required. Blocking: call it off the async runtime.
pub fn fresh_postgres(name: &str) -> Option<Location> {
    let url = riskscore_testkit::oracle("RISKSCORE_TEST_POSTGRES", "a PostgreSQL address")?;
    let url = url.to_string_lossy().into_owned();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = url.rsplit_once('/').unwrap().0;
    Some(Location::parse(&format!("{base}/{name}")))
}
