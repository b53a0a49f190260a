//! `riskscore explore`: the exploratory report of raw data (a Home Credit folder or a single
//! table with an id and a target).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A Home Credit folder, or a single CSV/Parquet table (then give --id and --target).
    data: PathBuf,
    /// The HTML report to write.
    #[arg(long, short, default_value = "eda.html")]
    out: PathBuf,
    /// Also write the numbers as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// The id column of a single table.
    #[arg(long)]
    id: Option<String>,
    /// The 0/1 target column of a single table.
    #[arg(long)]
    target: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.data, "data")?;
    let eda = if args.data.is_dir() {
        let progress = |what: &str, done: usize, of: usize| {
            if done < of {
                tracing::info!(table = what, done, of, "exploring");
            }
        };
        riskscore_explore::explore_home_credit(&args.data, &progress)
            .with_context(|| format!("exploring {}", args.data.display()))?
    } else {
        let (Some(id), Some(target)) = (&args.id, &args.target) else {
            bail!(
                "{}: a single table needs --id and --target (the id and 0/1 target columns)",
                args.data.display()
            );
        };
        riskscore_explore::explore_table(&args.data, id, target)
            .with_context(|| format!("exploring {}", args.data.display()))?
    };
    std::fs::write(&args.out, riskscore_explore::report::render(&eda))
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&eda)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let rows: usize = eda.tables.iter().map(|t| t.rows).sum();
    println!(
        "{} table(s), {rows} rows, {} anomalies; {}; {:.1} s -> {}",
        eda.tables.len(),
        eda.anomalies.len(),
        match &eda.target {
            Some(t) => format!(
                "default rate {:.2} % of {} labelled rows",
                100.0 * t.rate,
                t.rows
            ),
            None => "no target".into(),
        },
        eda.seconds,
        args.out.display()
    );
    for f in eda.features.iter().take(5) {
        println!("  IV {:.4} {} ({})", f.iv, f.name, f.strength);
    }
    Ok(())
}
