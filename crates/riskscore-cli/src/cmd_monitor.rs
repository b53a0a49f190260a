//! `riskscore outcomes import` (outcomes as they mature, beside the journal) and
//! `riskscore monitor` (estimated and realized performance from the journal).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use riskscore_model::ModelBundle;
use riskscore_server::journal::outcomes::{self, Outcome};
use riskscore_server::journal::{instant, read_window, Filter, Location};
use riskscore_server::monitor::{self, Cohorts, DEFAULT_CHUNK};

#[derive(Debug, clap::Args)]
pub struct OutcomesArgs {
    #[command(subcommand)]
    command: OutcomesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum OutcomesCommand {
    /// Records outcomes from a CSV file (id,defaulted,observed_at): all of them, or none when
    /// a client has no decision or differs from its recorded outcome.
    Import {
        /// The CSV file: id, defaulted (0 or 1, or true/false), observed_at (a date or a UTC time).
        file: PathBuf,
        /// A SQLite file, or postgres://user:password@host/db.
        #[arg(
            long,
            env = "RISKSCORE_JOURNAL",
            default_value = "riskscore-journal.sqlite"
        )]
        journal: String,
    },
}

fn journal_of(journal: &str) -> Result<Location> {
    let loc = Location::parse(journal);
    if let Some(path) = riskscore_server::journal::sqlite_path(&loc) {
        crate::table_args::must_exist(path, "--journal")?;
    }
    Ok(loc)
}

/// An id written as an integer, or as a number without a fraction (`100002.0`, as pandas
/// writes a column of ids with a missing value).
fn integer(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().or_else(|| {
        let f = text.parse::<f64>().ok()?;
        (f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15).then_some(f as i64)
    })
}

/// Reads the outcome file (CSV: quoted fields, blank lines and spaces around fields as the csv
/// crate reads them); errors name the line and the field.
fn read(file: &std::path::Path) -> Result<Vec<Outcome>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(file)
        .with_context(|| format!("reading {}", file.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("reading {}", file.display()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let col = |name: &str| {
        header.iter().position(|h| h == name).with_context(|| {
            format!(
                "{}: no column {name} (id,defaulted,observed_at)",
                file.display()
            )
        })
    };
    let (id, d, t) = (col("id")?, col("defaulted")?, col("observed_at")?);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", file.display()))?;
        if record.iter().all(str::is_empty) {
            continue; // a line of spaces
        }
        let at = |i: usize| record.get(i).unwrap_or("");
        let line_no = record.position().map_or(0, csv::Position::line);
        let client: i64 = integer(at(id)).with_context(|| {
            format!(
                "{}:{line_no}: id `{}` is not an integer",
                file.display(),
                at(id)
            )
        })?;
        let (defaulted, observed_at) = outcomes::check(at(d), at(t))
            .map_err(|(f, m)| anyhow::anyhow!("{}:{line_no}: {f}: {m}", file.display()))?;
        out.push(Outcome {
            client,
            defaulted,
            observed_at,
        });
    }
    if out.is_empty() {
        bail!("{}: no outcome", file.display());
    }
    Ok(out)
}

pub fn outcomes(args: OutcomesArgs) -> Result<()> {
    let OutcomesCommand::Import { file, journal } = args.command;
    crate::table_args::must_exist(&file, "FILE")?;
    let loc = journal_of(&journal)?;
    let batch = read(&file)?;
    match outcomes::record(&loc, &batch) {
        Ok(done) => {
            println!(
                "{} outcomes recorded, {} already recorded with the same value",
                done.recorded, done.unchanged
            );
            Ok(())
        }
        Err(r) => {
            if let Some(m) = r.store {
                bail!("journal {}: {m}", loc.display());
            }
            let mut why: Vec<String> = r
                .unknown
                .iter()
                .take(10)
                .map(|&i| {
                    format!(
                        "line {}: client {} has no decision in the journal",
                        i + 2,
                        batch[i].client
                    )
                })
                .collect();
            why.extend(r.conflicts.iter().take(10).map(|&(i, v)| {
                format!(
                    "line {}: client {} is recorded as defaulted = {v}",
                    i + 2,
                    batch[i].client
                )
            }));
            bail!(
                "{}: nothing recorded ({} without a decision, {} differing from the record): {}",
                file.display(),
                r.unknown.len(),
                r.conflicts.len(),
                why.join("; ")
            )
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// The served model's bundle directory.
    #[arg(long, env = "RISKSCORE_MODEL")]
    model: PathBuf,
    /// A SQLite file, or postgres://user:password@host/db.
    #[arg(
        long,
        env = "RISKSCORE_JOURNAL",
        default_value = "riskscore-journal.sqlite"
    )]
    journal: String,
    /// Decisions from this time: a date, a UTC time or a span before now (30d).
    #[arg(long)]
    since: Option<String>,
    /// Decisions per estimated (CBPE) chunk.
    #[arg(long, default_value_t = DEFAULT_CHUNK, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(10..=1_000_000))]
    chunk_size: usize,
    /// Realized cohorts: runs of this many decisions instead of calendar months.
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(10..=100_000_000))]
    cohort_size: Option<usize>,
    /// A challenger bundle that served in the shadow (`serve --challenger`): compared with
    /// the model on the decisions it shadowed.
    #[arg(long)]
    challenger: Option<PathBuf>,
    /// Write the report (one self-contained HTML page).
    #[arg(long, value_name = "FILE.html")]
    out: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

pub fn monitor(args: MonitorArgs) -> Result<()> {
    crate::table_args::must_exist(&args.model, "--model")?;
    let loc = journal_of(&args.journal)?;
    let bundle = ModelBundle::load(&args.model)?;
    if !args.model.join("oof.csv").is_file() {
        bail!(
            "{}: no out-of-fold predictions (oof.csv), the reference of the estimates; retrain the model",
            args.model.display()
        );
    }
    let reference = monitor::read_oof(&args.model)?;
    let since = args
        .since
        .as_deref()
        .map(instant)
        .transpose()
        .map_err(|m| anyhow::anyhow!("--since: {m}"))?;
    let entries = read_window(
        &loc,
        &Filter {
            since,
            ..Filter::default()
        },
    )?;
    let outcomes = outcomes::read(&loc)?;
    let version = riskscore_server::scorer::model_version(&bundle);
    let mut m = monitor::monitor(
        &entries,
        &outcomes,
        &bundle.manifest,
        &version,
        &reference,
        args.cohort_size.map_or(Cohorts::Month, Cohorts::Size),
        args.chunk_size,
    );
    if let Some(dir) = &args.challenger {
        crate::table_args::must_exist(dir, "--challenger")?;
        let ch = ModelBundle::load(dir)?;
        let ch_reference = monitor::read_oof(dir)?;
        let cv = riskscore_server::scorer::model_version(&ch);
        m.challenger = Some(monitor::compare(
            &entries,
            &outcomes,
            monitor::ModelRef {
                manifest: &bundle.manifest,
                version: &version,
                reference: &reference,
            },
            monitor::ModelRef {
                manifest: &ch.manifest,
                version: &cv,
                reference: &ch_reference,
            },
        ));
    }
    if let Some(path) = &args.out {
        std::fs::write(path, monitor::html(&m))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(());
    }
    println!(
        "Model {}: {} decisions, {} with an outcome; cross-validated AUC {:.4}, cost per client {:.4}",
        m.model_version, m.decisions, m.labelled, m.baseline.cv_auc, m.baseline.cost_per_client
    );
    for c in &m.estimated {
        let real = c.realized.map_or(String::new(), |r| {
            format!("; realized AUC {:.4}, cost {:.4}", r.roc_auc, r.cost)
        });
        println!(
            "  decisions {}-{}: estimated AUC {:.4} ± {:.4}, cost per client {:.4} ± {:.4}{real}{}",
            c.start,
            c.end - 1,
            c.estimated.roc_auc,
            c.sampling_error.roc_auc,
            c.estimated.cost,
            c.sampling_error.cost,
            if c.alerts.is_empty() {
                String::new()
            } else {
                format!("  ALERT: {}", c.alerts.join(", "))
            }
        );
    }
    if let Some(c) = &m.challenger {
        let iv = |v: &Option<monitor::Interval>| {
            v.map_or("–".to_owned(), |i| {
                format!("{:.4} [{:.4}, {:.4}]", i.value, i.low, i.high)
            })
        };
        println!(
            "Challenger {} on {} shadowed decisions ({} not shadowed, {} with an outcome): \
             decisions agree on {:.1} %, mean |difference| {:.4}",
            c.challenger.model_version,
            c.pairs,
            c.unshadowed,
            c.labelled,
            100.0 * c.agreement,
            c.mean_abs_difference
        );
        for s in [&c.champion, &c.challenger] {
            println!(
                "  {}: refused {}, estimated AUC {:.4}, cost {:.4}; realized AUC {}, cost {}",
                s.model_version,
                s.refused,
                s.estimated_auc,
                s.estimated_cost,
                iv(&s.realized_auc),
                iv(&s.realized_cost)
            );
        }
    }
    if let Some(path) = &args.out {
        println!("report: {}", path.display());
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The reference: `probability,defaulted` (the bundle's out-of-fold predictions).
    reference: PathBuf,
    /// The decisions: `probability,defaulted` (defaulted empty when unknown).
    analysis: PathBuf,
    #[arg(long)]
    threshold: f64,
    #[arg(long, default_value_t = DEFAULT_CHUNK)]
    chunk_size: usize,
    /// The cost matrix: FN,FP,TP,TN.
    #[arg(long, default_value = "10,1,0,0")]
    cost: String,
}

fn read_pairs(path: &std::path::Path) -> Result<(Vec<f64>, Vec<Option<u8>>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (mut p, mut y) = (Vec::new(), Vec::new());
    for (n, line) in text.lines().enumerate().skip(1) {
        let (a, b) = line.split_once(',').unwrap_or((line, ""));
        p.push(
            a.parse::<f64>()
                .with_context(|| format!("{}:{}: probability `{a}`", path.display(), n + 1))?,
        );
        y.push(match b.trim() {
            "" => None,
            "0" => Some(0),
            "1" => Some(1),
            other => bail!(
                "{}:{}: defaulted `{other}` is not 0 or 1",
                path.display(),
                n + 1
            ),
        });
    }
    Ok((p, y))
}

/// Benchmark: CBPE on CSV files, the output `scripts/cbpe_oracle.py` gives (one JSON object
/// per chunk), the time on stderr.
pub fn bench(args: BenchArgs) -> Result<()> {
    use riskscore_model::cbpe::Cbpe;
    let c: Vec<f64> = args
        .cost
        .split(',')
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .context("--cost: four numbers FN,FP,TP,TN")?;
    let [fn_cost, fp_cost, tp_cost, tn_cost] = c[..] else {
        bail!("--cost: four numbers FN,FP,TP,TN");
    };
    let cost = riskscore_model::cost::CostMatrix {
        fn_cost,
        fp_cost,
        tp_cost,
        tn_cost,
    };
    let started = std::time::Instant::now();
    let (rp, ry) = read_pairs(&args.reference)?;
    let ry: Vec<u8> = ry
        .into_iter()
        .collect::<Option<_>>()
        .context("the reference needs every outcome")?;
    let (ap, ay) = read_pairs(&args.analysis)?;
    let read = started.elapsed();
    let reference = riskscore_model::cbpe::Reference::new(rp, ry);
    let cbpe = Cbpe::fit(&reference, args.threshold, cost, args.chunk_size);
    let chunks = cbpe.estimate(&ap, Some(&ay));
    let computed = started.elapsed() - read;
    let names = riskscore_model::cbpe::NAMES;
    let mut out = serde_json::json!({ "needs_calibration": cbpe.calibration.needed }).to_string();
    out.push('\n');
    for ch in &chunks {
        let pick = |m: &riskscore_model::cbpe::Metrics, k: usize| match k {
            0 => m.roc_auc,
            1 => m.true_positive,
            2 => m.false_positive,
            3 => m.false_negative,
            4 => m.true_negative,
            _ => m.cost,
        };
        let mut o = serde_json::json!({"start": ch.start, "n": ch.end - ch.start});
        for (k, name) in names.iter().enumerate() {
            o[*name] = serde_json::json!({
                "value": pick(&ch.estimated, k),
                "sampling_error": pick(&ch.sampling_error, k),
                "lower": (k < 5).then(|| cbpe.bands[k].lower),
                "upper": (k < 5).then(|| cbpe.bands[k].upper),
                "alert": ch.alerts.iter().any(|a| a == name),
                "realized": ch.realized.map(|r| pick(&r, k)),
            });
        }
        out += &o.to_string();
        out.push('\n');
    }
    print!("{out}");
    eprintln!(
        "riskscore CBPE: {} reference rows (recalibrated: {}), {} decisions in {} chunks: read {:.3} s, estimated {:.3} s",
        reference.p.len(),
        cbpe.calibration.needed,
        ap.len(),
        chunks.len(),
        read.as_secs_f64(),
        computed.as_secs_f64()
    );
    Ok(())
}
