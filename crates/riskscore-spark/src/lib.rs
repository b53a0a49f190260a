//! The Home Credit features computed on Apache Spark through Spark Connect (the Apache
//! project's Rust client), where the applicants' history lives: the tables are read by the
//! cluster from `DATA` (a path as the cluster sees it: local, `hdfs://`, `s3a://`, ...), the
//! features computed by one SQL query generated from the local engine's own description
//! ([`riskscore_features::home_credit::sql`]) and written by the cluster as Parquet to `OUT`.
//! The fitted pipeline (vocabularies, feature names) is the local engine's: `train`, `serve`
//! and single applications read it unchanged.

// The client's `SparkError` is large (its own crate allows the lint for the same reason); it
// is mapped to this crate's small error at each call.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riskscore_data::Table;
use riskscore_features::home_credit::sql;
use riskscore_features::{FeaturePipeline, Vocabularies};
use spark_connect::SparkSession;

/// What can go wrong on the Spark engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot reach the Spark Connect server at {remote}: {message} \
         (is it started? scripts/start-spark starts a local one)"
    )]
    Unreachable { remote: String, message: String },
    #[error("no {table} table in {dir} (looked for {table}.csv and {table}.parquet)")]
    MissingTable { dir: String, table: String },
    #[error("Spark, {context}: {message}")]
    Spark { context: String, message: String },
    #[error(transparent)]
    Features(#[from] riskscore_features::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a write can answer before its job ends.
const STREAM_CUT: &str = "the server ended the response stream before the job finished \
    (Spark Connect cuts a stream after spark.connect.execute.reattachable.senderMaxStreamDuration, \
    2 min by default, and this client does not reattach): start the server with \
    --conf spark.connect.execute.reattachable.senderMaxStreamDuration=0 (scripts/start-spark does)";

fn spark(context: impl Into<String>) -> impl FnOnce(spark_connect::SparkError) -> Error {
    let context = context.into();
    move |e| Error::Spark {
        context,
        message: brief(&e.to_string()),
    }
}

/// The first lines of a Spark error (a JVM stack trace follows them).
fn brief(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("at "))
        .take(4)
        .collect();
    lines.join(" ")
}

/// The host and port of a Spark Connect address (`sc://HOST[:PORT][/;params]`, port 15002 by
/// default).
fn host_port(remote: &str) -> Option<(String, u16)> {
    let rest = remote.strip_prefix("sc://")?;
    let authority = rest.split(['/', ';']).next()?;
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None if !authority.is_empty() => Some((authority.to_owned(), 15002)),
        None => None,
    }
}

/// Fails fast when nothing listens at the address: the client retries an unavailable server
/// with a backoff of minutes, as pyspark's does.
fn reachable(remote: &str) -> Result<()> {
    use std::net::{TcpStream, ToSocketAddrs};
    let unreachable = |message: String| Error::Unreachable {
        remote: remote.into(),
        message,
    };
    let (host, port) = host_port(remote)
        .ok_or_else(|| unreachable("not a Spark Connect address (sc://HOST:PORT)".into()))?;
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(unreachable(last))
}

/// A session on a Spark Connect server (`sc://HOST:PORT`), checked to answer.
pub fn connect(remote: &str) -> Result<SparkSession> {
    reachable(remote)?;
    let unreachable = |e: spark_connect::SparkError| Error::Unreachable {
        remote: remote.into(),
        message: brief(&e.to_string()),
    };
    let session = SparkSession::builder()
        .remote(remote)
        .get_or_create()
        .map_err(unreachable)?;
    let version = session.version().map_err(unreachable)?;
    tracing::info!(remote, version, "connected to Spark");
    // Feature names may differ only by case (category values): keep them apart.
    session
        .conf()
        .set("spark.sql.caseSensitive", "true")
        .map_err(spark("setting spark.sql.caseSensitive"))?;
    Ok(session)
}

/// The Home Credit tables in `data`, registered as typed views (see
/// [`sql::typed_table`]); absent optional tables as empty ones, with a warning.
fn register_tables(session: &SparkSession, data: &str) -> Result<()> {
    let dir = data.trim_end_matches('/');
    for table in Table::ALL {
        let mut found = None;
        for ext in ["csv", "parquet"] {
            let path = format!("{dir}/{}.{ext}", table.stem());
            let reader = session.read();
            let df = if ext == "csv" {
                reader
                    .option("header", "true")
                    .option("mode", "FAILFAST")
                    .csv(&path)
            } else {
                reader.parquet(&path)
            };
            match df.columns() {
                Ok(columns) => {
                    found = Some((path, df, columns));
                    break;
                }
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(spark(format!("reading {path}"))(e)),
            }
        }
        let view = sql::view_of(table);
        let typed = match found {
            Some((path, df, columns)) => {
                let raw = format!("raw_{view}");
                df.create_or_replace_temp_view(&raw)
                    .map_err(spark(format!("registering {path}")))?;
                tracing::info!(table = table.stem(), path, "table");
                sql::typed_table(table, &raw, &columns, &path)?
            }
            None if table.is_required() => {
                return Err(Error::MissingTable {
                    dir: dir.into(),
                    table: table.stem().into(),
                })
            }
            None => {
                tracing::warn!(
                    table = table.stem(),
                    dir,
                    "table absent: its features will be missing"
                );
                sql::empty_table(table)
            }
        };
        session
            .sql(&typed)
            .and_then(|df| df.create_or_replace_temp_view(view))
            .map_err(spark(format!("typing {}", table.stem())))?;
    }
    Ok(())
}

fn is_not_found(e: &spark_connect::SparkError) -> bool {
    let text = format!("{} {}", e.error_class, e);
    text.contains("PATH_NOT_FOUND") || text.contains("Path does not exist")
}

/// Fails on a duplicated primary key (naming the smallest), as the local engine does.
fn check_keys(session: &SparkSession) -> Result<()> {
    for (table, key, query) in sql::duplicate_key_queries() {
        let rows = session
            .sql(&query)
            .and_then(|df| df.collect())
            .map_err(spark(format!("checking the keys of {}", table.stem())))?;
        let row = rows.first();
        let count = row
            .and_then(|r| r.get(0))
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        if count > 0 {
            let first = row
                .and_then(|r| r.get(1))
                .and_then(|v| v.as_i64())
                .map_or_else(String::new, |v| v.to_string());
            return Err(
                riskscore_features::Error::Data(riskscore_data::Error::DuplicateKey {
                    table: table.stem().into(),
                    column: key.into(),
                    count: usize::try_from(count).unwrap_or(usize::MAX),
                    first,
                })
                .into(),
            );
        }
    }
    Ok(())
}

/// The vocabularies of the data: every key the local engine keeps, its distinct values sorted
/// in byte order.
fn fit_vocabularies(session: &SparkSession) -> Result<Vocabularies> {
    let mut vocab = Vocabularies::default();
    for (key, _, _) in sql::vocabulary_columns() {
        vocab.0.insert(key, Vec::new());
    }
    let rows = session
        .sql(&sql::vocabulary_query())
        .and_then(|df| df.collect())
        .map_err(spark("learning the category vocabularies"))?;
    for row in rows {
        let (Some(k), Some(v)) = (
            row.get(0).and_then(|v| v.as_str()),
            row.get(1).and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        if let Some(values) = vocab.0.get_mut(k) {
            values.push(v.to_owned());
        }
    }
    for values in vocab.0.values_mut() {
        values.sort_unstable();
    }
    Ok(vocab)
}

/// Logs the progress Spark reports (tasks done per stage), at most every two seconds.
fn log_progress(session: &SparkSession) -> u64 {
    let last = Arc::new(Mutex::new(Instant::now()));
    session.register_progress_handler(move |p| {
        let Ok(mut last) = last.lock() else { return };
        if last.elapsed() < Duration::from_secs(2) {
            return;
        }
        *last = Instant::now();
        let (done, tasks) = p.stages.iter().fold((0, 0), |(d, t), s| {
            (d + s.num_completed_tasks, t + s.num_tasks)
        });
        let read: i64 = p.stages.iter().map(|s| s.input_bytes_read).sum();
        tracing::info!(
            stages = p.stages.len(),
            tasks = format!("{done}/{tasks}"),
            running = p.num_inflight_tasks,
            read_mb = read / 1_000_000,
            "spark progress"
        );
    })
}

/// Builds the features of the Home Credit tables in `data` on Spark and writes them as
/// Parquet to `out` (a folder of part files, as Spark writes). With `fitted`, its
/// vocabularies and columns are applied; otherwise a pipeline is fitted. Returns the pipeline
/// and the number of rows.
pub fn build(
    session: &SparkSession,
    data: &str,
    out: &str,
    fitted: Option<&FeaturePipeline>,
) -> Result<(FeaturePipeline, usize)> {
    let started = Instant::now();
    let progress = log_progress(session);
    let result = (|| {
        register_tables(session, data)?;
        check_keys(session)?;
        let vocab = match fitted {
            Some(p) => p.home_credit_vocabularies()?.clone(),
            None => fit_vocabularies(session)?,
        };
        let query = sql::feature_query(&vocab)?;
        tracing::info!(
            columns = query.columns.len(),
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            "feature query planned"
        );
        let (pipeline, text) = match fitted {
            Some(p) => (p.clone(), query.selecting(&p.column_names())?),
            None => (
                FeaturePipeline::home_credit(vocab, &query.columns),
                query.sql(),
            ),
        };
        let df = session
            .sql(&text)
            .map_err(spark("planning the feature query"))?;
        // One part file, rows in the applications' order (the sort's ranges, concatenated).
        df.coalesce(1)
            .write()
            .mode("overwrite")
            .parquet(out)
            .map_err(spark(format!("computing the features into {out}")))?;
        // The write's stream may end before its job does (see `STREAM_CUT`): then the output
        // is not there yet, and the job is stopped rather than left running.
        let rows = match session.read().parquet(out).count() {
            Ok(rows) => rows,
            Err(e) if is_not_found(&e) => {
                let _ = session.interrupt_all();
                return Err(Error::Spark {
                    context: format!("writing {out}"),
                    message: STREAM_CUT.into(),
                });
            }
            Err(e) => return Err(spark(format!("counting the rows of {out}"))(e)),
        };
        Ok((pipeline, usize::try_from(rows).unwrap_or(0)))
    })();
    session.remove_progress_handler(progress);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_connect_addresses_give_host_and_port() {
        assert_eq!(host_port("sc://spark:15003"), Some(("spark".into(), 15003)));
        assert_eq!(host_port("sc://spark"), Some(("spark".into(), 15002)));
        assert_eq!(
            host_port("sc://10.0.0.1:443/;token=abc"),
            Some(("10.0.0.1".into(), 443))
        );
        assert_eq!(host_port("http://spark:15002"), None);
        assert_eq!(host_port("sc://:15002"), None);
        assert_eq!(host_port("sc://spark:port"), None);
    }
}
