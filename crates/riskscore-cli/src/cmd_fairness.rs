use std::path::PathBuf;

use anyhow::{Context, Result};
use riskscore_model::fairness::{self, pct, Fairness, Interval};
use riskscore_model::predict::frame_for;
use riskscore_model::ModelBundle;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model bundle directory written by `riskscore train`.
    #[arg(long, env = "RISKSCORE_MODEL")]
    model: PathBuf,
    /// Labelled data in the training layout (a Home Credit folder or a single CSV/Parquet
    /// table), or a feature matrix built with the bundle's pipeline.
    #[arg(long)]
    data: PathBuf,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the rows measured (id, defaulted, probability, each row's groups) as CSV,
    /// for an audit of your own.
    #[arg(long, value_name = "FILE.csv")]
    rows: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.model, "--model")?;
    crate::table_args::must_exist(&args.data, "--data")?;
    let bundle = ModelBundle::load(&args.model)?;
    let frame = frame_for(&bundle, &args.data)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let (fair, measured) = fairness::of_frame(&bundle, &frame, &args.data.display().to_string())
        .with_context(|| format!("measuring fairness on {}", args.data.display()))?;
    if let Some(path) = &args.rows {
        std::fs::write(path, measured.csv(&bundle.pipeline.id))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&fair)?);
    } else {
        print!("{}", text(&fair));
    }
    Ok(())
}

/// The figures as plain text tables.
pub fn text(f: &Fairness) -> String {
    use std::fmt::Write;
    let iv = |v: &Option<Interval>| {
        v.map_or("– (fewer than two groups to compare)".into(), |v| {
            format!("{:.4} [{:.4}, {:.4}]", v.value, v.low, v.high)
        })
    };
    let mut s = format!(
        "Fairness at the threshold {:.4} on the {} (95 % intervals, {} bootstrap resamples; groups under {} applicants not measured)\n",
        f.threshold, f.data, f.resamples, f.min_group
    );
    if let Some(rule) = &f.age_rule {
        let _ = writeln!(s, "\nAge rule (Regulation B): {}", rule.sentence());
    }
    for a in &f.attributes {
        let _ = writeln!(s, "\n{} ({})", a.attribute, a.source);
        let _ = writeln!(
            s,
            "  {:<14} {:>10} {:>9} {:>26} {:>9} {:>9} {:>10} {:>10}  adverse impact ratio",
            "group",
            "applicants",
            "defaults",
            "approval rate [95 %]",
            "TPR",
            "FPR",
            "predicted",
            "obs-pred"
        );
        for g in &a.groups {
            let air = if g.measured {
                format!(
                    "{:.3}{}",
                    g.adverse_impact_ratio,
                    if g.flagged { "  FLAGGED (< 0.8)" } else { "" }
                )
            } else {
                "too few to measure".into()
            };
            let _ = writeln!(
                s,
                "  {:<14} {:>10} {:>9} {:>26} {:>9} {:>9} {:>10} {:>+8.1}pt  {air}",
                g.group,
                g.count,
                pct(g.default_rate),
                g.approval_text(),
                pct(g.true_positive_rate),
                pct(g.false_positive_rate),
                pct(g.mean_probability),
                100.0 * g.calibration_gap,
            );
        }
        for (name, v) in [
            (
                "demographic parity difference",
                &a.demographic_parity_difference,
            ),
            ("demographic parity ratio", &a.demographic_parity_ratio),
            ("equalized odds difference", &a.equalized_odds_difference),
            (
                "equal opportunity difference",
                &a.equal_opportunity_difference,
            ),
        ] {
            let _ = writeln!(s, "  {name:<29} {}", iv(v));
        }
    }
    if f.attributes.is_empty() {
        s.push_str(
            "\nNothing to measure: the model has no protected attribute and the layout no known age column.\n",
        );
    }
    s
}
