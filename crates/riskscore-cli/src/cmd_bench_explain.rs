//! `riskscore bench-explain`: TreeSHAP speed and exactness against LightGBM's own
//! `pred_contrib`, in one process on the same model and rows.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use polars::prelude::*;
use riskscore_explain::{Explainer, Forest};
use riskscore_model::data::matrix;
use riskscore_model::lgbm::{self, LgbmParams, Rows};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A feature matrix from `riskscore features` (labelled and unlabelled rows).
    #[arg(long)]
    features: PathBuf,
    /// Boosting rounds of the benchmark model (fixed, no early stopping).
    #[arg(long, default_value_t = 1000)]
    trees: u32,
    /// Labelled rows the model is trained on (a sample keeps training short).
    #[arg(long, default_value_t = 50_000)]
    train_rows: usize,
    /// Rows explained: the unlabelled ones (application_test), up to this many.
    #[arg(long, default_value_t = 48_744)]
    rows: usize,
    /// With --compare-plain: the tabulated method's depth (leaves with at most this many
    /// distinct path features get a table of Shapley weights).
    #[arg(long, default_value_t = riskscore_explain::shap::TABLE_DEPTH)]
    table_depth: usize,
    /// Also time the tabulated method alone (Fast TreeSHAP v2's idea), batch and single row.
    #[arg(long)]
    compare_plain: bool,
    /// Keep the benchmark model in this LightGBM text file: read it when it exists, else
    /// write it after training (repeated runs then skip the training).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Only the single-client latency (no batch comparison with pred_contrib).
    #[arg(long)]
    latency_only: bool,
    /// Threads for both (LightGBM uses OpenMP's default).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

pub fn run(args: Args) -> Result<()> {
    let df = riskscore_model::input::read_parquet(&args.features)?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .filter(|s| s != "SK_ID_CURR" && s != "TARGET")
        .collect();
    let target = df.column("TARGET")?.cast(&DataType::Float64)?;
    let target = target.f64()?;
    let labelled: Vec<bool> = target.iter().map(|v| v.is_some()).collect();
    let mask = BooleanChunked::from_iter_values("m".into(), labelled.iter().copied());
    let train = df.filter(&mask)?.head(Some(args.train_rows));
    let test = df.filter(&!&mask)?.head(Some(args.rows));
    if test.height() == 0 {
        bail!(
            "no unlabelled rows to explain in {}",
            args.features.display()
        );
    }
    let k = names.len();
    let (_, tx) = matrix(&train, "SK_ID_CURR", &names)?;
    let ty: Vec<u8> = train
        .column("TARGET")?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| u8::from(v == Some(1.0)))
        .collect();
    let (_, x) = matrix(&test, "SK_ID_CURR", &names)?;
    let booster = match &args.model {
        Some(path) if path.is_file() => lgbm::from_text(&std::fs::read_to_string(path)?)?,
        _ => {
            eprintln!(
                "training a {}-tree model on {} rows x {k} features",
                args.trees,
                train.height()
            );
            let params = LgbmParams::default().to_lightgbm(42, None, args.trees);
            let safe = lgbm::safe_names(&names);
            let booster = lgbm::fit(
                Rows {
                    x: &tx,
                    y: &ty,
                    n_features: k,
                },
                None,
                &safe,
                &params,
            )?;
            let booster = lgbm::reload(&booster)?;
            if let Some(path) = &args.model {
                std::fs::write(path, booster.save_string()?)?;
            }
            booster
        }
    };
    let forest = Forest::parse(&booster.save_string()?)?;
    let started = Instant::now();
    let explainer = Explainer::new(&forest)?;
    let prep = started.elapsed().as_secs_f64();
    let (leaves, deep) = explainer.leaf_counts();
    // Single-client latency: one row at a time (its trees split over the threads), 2,000 rows.
    let latency = |e: &Explainer, threads: usize| -> Result<Vec<f64>> {
        let mut lat = Vec::new();
        for row in x.chunks(k).take(2000) {
            let t = Instant::now();
            let one = e.explain_parallel(row, threads, threads)?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(one);
        }
        lat.sort_by(f64::total_cmp);
        Ok(lat)
    };
    if args.latency_only {
        let lat = latency(&explainer, args.threads)?;
        let p = |q: f64| lat[((q * (lat.len() - 1) as f64).round() as usize).min(lat.len() - 1)];
        println!(
            "single client ({} threads): p50 {:.3} ms, p99 {:.3} ms",
            args.threads,
            p(0.5),
            p(0.99)
        );
        return Ok(());
    }

    eprintln!(
        "explaining {} rows with LightGBM pred_contrib",
        test.height()
    );
    let t0 = Instant::now();
    let theirs = lgbm::contrib(&booster, &x, k)?;
    let t_lgbm = t0.elapsed().as_secs_f64();
    eprintln!("explaining {} rows with riskscore", test.height());
    let t0 = Instant::now();
    let ours = explainer.explain_batch(&x, args.threads)?;
    let t_ours = t0.elapsed().as_secs_f64();
    // The tabulated method alone, for comparison.
    let plain = if args.compare_plain {
        let plain = Explainer::with_table_depth(&forest, args.table_depth)?;
        let t0 = Instant::now();
        let ours_plain = plain.explain_batch(&x, args.threads)?;
        let t_plain = t0.elapsed().as_secs_f64();
        let worst_plain = ours_plain
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        Some((t_plain, worst_plain))
    } else {
        None
    };
    let worst = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);

    let lat = latency(&explainer, args.threads)?;
    let p = |lat: &[f64], q: f64| {
        lat[((q * (lat.len() - 1) as f64).round() as usize).min(lat.len() - 1)]
    };
    println!(
        "model: {} trees, {leaves} leaves ({deep} explained in O(d^2)); {} rows x {k} features",
        forest.trees.len(),
        test.height()
    );
    println!("LightGBM pred_contrib: {t_lgbm:.2} s");
    println!(
        "riskscore TreeSHAP:    {t_ours:.2} s (+ {prep:.2} s one-off preparation) -> {:.1}x faster (goal >= 3x)",
        t_lgbm / t_ours
    );
    println!("max |difference|: {worst:.2e} (goal <= 1e-6)");
    if let Some((t_plain, worst_plain)) = plain {
        println!(
            "tabulated method:      {t_plain:.2} s -> {:.1}x faster, max |difference| {worst_plain:.2e}",
            t_lgbm / t_plain
        );
    }
    println!(
        "single client: p50 {:.3} ms, p99 {:.3} ms (goal p99 < 5 ms)",
        p(&lat, 0.5),
        p(&lat, 0.99)
    );
    if args.compare_plain {
        let plain = Explainer::with_table_depth(&forest, args.table_depth)?;
        for (name, e, threads) in [
            ("1 thread", &explainer, 1),
            ("tabulated method", &plain, args.threads),
            ("tabulated method, 1 thread", &plain, 1),
        ] {
            let lat = latency(e, threads)?;
            println!(
                "single client ({name}): p50 {:.3} ms, p99 {:.3} ms",
                p(&lat, 0.5),
                p(&lat, 0.99)
            );
        }
    }
    Ok(())
}
