//! One application with its history rows, through the saved pipeline, gives exactly the row
//! the batch gave.

use std::path::Path;

use polars::prelude::*;
use riskscore_data::{Folder, InMemory, Table, TableSource};
use riskscore_features::FeaturePipeline;

use crate::common::{real_sample, tiny};

/// The applicant's rows of every table, as the server would receive them.
fn one_applicant(folder: &Folder, id: i64) -> InMemory {
    let mut source = InMemory::new();
    let bureau_ids = folder.load(Table::Bureau).expect("bureau").map(|b| {
        b.lazy()
            .filter(col("SK_ID_CURR").eq(lit(id)))
            .select([col("SK_ID_BUREAU")])
            .collect()
            .expect("ids")
    });
    for table in Table::ALL {
        let Some(df) = folder.load(table).expect("load") else {
            continue;
        };
        let rows = if table == Table::BureauBalance {
            let ids = bureau_ids
                .as_ref()
                .expect("bureau ids")
                .column("SK_ID_BUREAU")
                .expect("col")
                .as_materialized_series()
                .clone();
            df.lazy()
                .filter(col("SK_ID_BUREAU").is_in(lit(ids).implode(false), false))
        } else {
            df.lazy().filter(col("SK_ID_CURR").eq(lit(id)))
        };
        source = source
            .with(table, rows.collect().expect("filter"))
            .expect("in memory");
    }
    source
}

fn assert_same_rows(batch: &DataFrame, single: &DataFrame, id: i64) {
    let row = batch
        .clone()
        .lazy()
        .filter(col("SK_ID_CURR").eq(lit(id)))
        .collect()
        .expect("batch row");
    assert_eq!(single.height(), 1, "applicant {id}");
    // The fitted pipeline's output puts the protected columns after the model inputs.
    assert_eq!(row.width(), single.width());
    let row = row
        .select(single.get_column_names_owned())
        .expect("the same columns");
    for (a, b) in row.columns().iter().zip(single.columns()) {
        let (x, y) = (a.get(0).expect("a"), b.get(0).expect("b"));
        let (fx, fy) = (x.extract::<f64>(), y.extract::<f64>());
        let same = match (fx, fy) {
            (Some(p), Some(q)) => p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()),
            (None, None) => true,
            _ => false,
        };
        assert!(
            same,
            "applicant {id}, {}: batch {x:?}, single {y:?}",
            a.name()
        );
    }
}

fn check(data: &Path, ids: &[i64]) {
    let folder = Folder::new(data).expect("folder");
    let (fitted, batch, _) = FeaturePipeline::fit_home_credit(&folder).expect("fit");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("p.json");
    fitted.save(&path).expect("save");
    let pipeline = FeaturePipeline::load(&path).expect("load");
    assert_eq!(pipeline, fitted);
    for &id in ids {
        let single = pipeline
            .transform_home_credit(&one_applicant(&folder, id))
            .expect("transform");
        assert_same_rows(&batch, &single, id);
    }
}

#[test]
fn single_application_equals_batch_on_the_fixture() {
    // 100003's gender is XNA: the kernel drops it, riskscore scores it.
    check(&tiny(), &[100001, 100002, 100003, 100004]);
}

#[test]
fn single_application_equals_batch_on_the_real_sample() {
    // 100002 and 100003 open the file; the others have rows in several history tables.
    check(&real_sample(), &[100002, 100003, 100011, 100031, 100083]);
}

thread_local! {
    /// The log lines of this thread while [`logged`] captures them.
    static CAPTURED: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Writes a log line to this thread's capture, if [`logged`] is capturing here (else nowhere).
struct ThisThread;

impl std::io::Write for ThisThread {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|c| {
            if let Some(buf) = c.borrow_mut().as_mut() {
                buf.extend_from_slice(b);
            }
        });
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a closure logs at INFO level and above on this thread, as the server's default log
/// would show it. One global subscriber serves every test, each thread capturing its own
/// lines: a subscriber set for the closure's thread alone (`with_default`) lost lines whenever
/// another test's thread reached a log statement first, tracing caching then that nothing
/// listens to it.
fn logged(f: impl FnOnce()) -> String {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(|| ThisThread)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    });
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    f();
    let bytes = CAPTURED.with(|c| c.borrow_mut().take().unwrap_or_default());
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A folder's tables report their progress, one line per table; a posted application's
/// (tables in memory) does not: the server would log six lines at every request.
#[test]
fn a_posted_application_logs_no_progress_a_folder_does() {
    let folder = Folder::new(tiny()).expect("folder");
    let (pipeline, _, _) = FeaturePipeline::fit_home_credit(&folder).expect("fit");
    let source = one_applicant(&folder, 100002);
    let single = logged(|| {
        pipeline.transform_home_credit(&source).expect("transform");
    });
    assert!(!single.contains("features"), "{single}");
    let whole = logged(|| {
        pipeline.transform_home_credit(&folder).expect("transform");
    });
    for table in ["application", "bureau", "previous_application"] {
        assert!(whole.contains(&format!(" {table} features")), "{whole}");
    }
}

#[test]
fn unknown_category_at_serving_gives_zeros() {
    let folder = Folder::new(tiny()).expect("folder");
    let (pipeline, _, _) = FeaturePipeline::fit_home_credit(&folder).expect("fit");
    let source = one_applicant(&folder, 100001);
    let app = folder
        .load(Table::ApplicationTrain)
        .expect("load")
        .expect("train");
    let app = app
        .lazy()
        .filter(col("SK_ID_CURR").eq(lit(100001)))
        .with_column(lit("Never seen").alias("NAME_HOUSING_TYPE"))
        .collect()
        .expect("edit");
    let source = source
        .with(Table::ApplicationTrain, app)
        .expect("in memory");
    let df = pipeline.transform_home_credit(&source).expect("transform");
    assert_eq!(
        df.width(),
        pipeline.features.len() + pipeline.audit.len() + 2
    );
    let v = crate::common::value(&df, 100001, "NAME_HOUSING_TYPE_House / apartment");
    assert_eq!(v, Some(0.0));
}

/// Keeps every column it is handed, as the server's rows do; `lean` as asked.
struct Kept {
    lean: bool,
    columns: Vec<Column>,
}

impl riskscore_features::ColumnSink for Kept {
    fn column(&mut self, column: Column) -> riskscore_features::Result<()> {
        self.columns.push(column);
        Ok(())
    }

    fn floats(&mut self, name: &str, values: Vec<f64>) -> riskscore_features::Result<()> {
        self.columns.push(Column::new(name.into(), values));
        Ok(())
    }

    fn lean(&self) -> bool {
        self.lean
    }
}

/// The columns streamed to a sink, lean (the split tables' statistics kept only for the
/// applicants with rows in each split, as the server asks) or not, equal the batch's, value for
/// value (NaN and missing alike).
fn streamed_equals_batch(data: &Path) {
    let folder = Folder::new(data).expect("folder");
    let (pipeline, _, _) = FeaturePipeline::fit_home_credit(&folder).expect("fit");
    let batch = pipeline.transform_home_credit(&folder).expect("batch");
    for lean in [false, true] {
        let mut sink = Kept {
            lean,
            columns: Vec::new(),
        };
        let (rows, _) = pipeline
            .transform_home_credit_each(&folder, &mut sink)
            .expect("streamed");
        assert_eq!(rows, batch.height());
        let mut compared = 0;
        for column in &sink.columns {
            let Ok(expected) = batch.column(column.name()) else {
                continue;
            };
            let (a, b) = (
                column.cast(&DataType::Float64).expect("cast"),
                expected.cast(&DataType::Float64).expect("cast"),
            );
            let (a, b) = (a.f64().expect("f64"), b.f64().expect("f64"));
            for (r, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                let x = x.filter(|v| !v.is_nan());
                let y = y.filter(|v| !v.is_nan());
                assert!(
                    x.map(f64::to_bits) == y.map(f64::to_bits),
                    "lean {lean}, {} row {r}: streamed {x:?}, batch {y:?}",
                    column.name()
                );
            }
            compared += 1;
        }
        assert!(
            compared >= pipeline.features.len(),
            "lean {lean}: {compared} columns"
        );
    }
}

#[test]
fn streamed_columns_equal_the_batch_lean_or_not_on_the_fixture() {
    streamed_equals_batch(&tiny());
}

#[test]
fn streamed_columns_equal_the_batch_lean_or_not_on_the_real_sample() {
    streamed_equals_batch(&real_sample());
}
