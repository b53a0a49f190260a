//! `riskscore recourse`: what a refused applicant could change to be granted, searched on the
//! model's trees and re-scored through the full pipeline; for one client, or for the first N
//! refused clients with the figures of the whole run (found share, cost, search time).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use riskscore_explain::recourse::{ActionSet, Cost, Query, Status};
use riskscore_model::bundle::Decision;
use riskscore_server::recourse::RecourseAnswer;
use riskscore_server::Scorer;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model bundle directory written by `riskscore train`.
    #[arg(long, env = "RISKSCORE_MODEL")]
    model: PathBuf,
    /// The clients' data in the training layout (a Home Credit folder or a single table).
    #[arg(long)]
    data: PathBuf,
    /// One client's id.
    #[arg(long, conflicts_with = "refused", required_unless_present = "refused")]
    client: Option<i64>,
    /// Search the first N refused clients (in id order) and report the figures of the run.
    #[arg(long, value_name = "N")]
    refused: Option<usize>,
    /// The most fields one option changes (1 to 3).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=3))]
    k: u8,
    /// How a change is priced: percentile (shift of the population percentile) or relative.
    #[arg(long, default_value = "percentile", value_parser = parse_cost)]
    cost: Cost,
    /// The search's time budget per client, in milliseconds.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    budget_ms: u64,
    /// The action set (CSV: field,direction,min,max,step,text, with a "# version: N" line);
    /// default: the layout's shipped set (none for a single table).
    #[arg(long, value_name = "FILE.csv")]
    actions: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// With --refused: also write one row per client (id, status, cost, fields, time) as CSV.
    #[arg(long, value_name = "FILE.csv", requires = "refused")]
    out: Option<PathBuf>,
}

fn parse_cost(s: &str) -> std::result::Result<Cost, String> {
    s.parse()
}

/// The figures of a run over refused clients.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub k: usize,
    pub cost: Cost,
    pub budget_ms: u64,
    pub refused: usize,
    pub searched: usize,
    pub found: usize,
    pub no_recourse: usize,
    pub unknown: usize,
    pub no_actions: usize,
    pub proven: usize,
    /// Options the full pipeline did not confirm (a defect when not 0).
    pub unverified: usize,
    pub found_share: f64,
    pub median_cost: Option<f64>,
    pub time_p50_ms: f64,
    pub time_p99_ms: f64,
    pub time_max_ms: f64,
}

pub fn run(args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.model, "--model")?;
    crate::table_args::must_exist(&args.data, "--data")?;
    let mut scorer = Scorer::load(&args.model, &args.data, 1).with_context(|| {
        format!(
            "loading {} with {}",
            args.model.display(),
            args.data.display()
        )
    })?;
    if let Some(path) = &args.actions {
        let set = ActionSet::read(path)?;
        scorer = scorer.with_actions(set)?;
    }
    let query = Query {
        k: usize::from(args.k),
        cost: args.cost,
        budget: Duration::from_millis(args.budget_ms),
        ..Query::default()
    };
    if let Some(id) = args.client {
        let a = one(&scorer, id, &query)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&a)?);
        } else {
            print!("{}", text(&a));
        }
        return Ok(());
    }
    let n = args.refused.unwrap_or(0);
    let mut ids: Vec<(i64, usize)> = scorer
        .population
        .ids
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            scorer.score_of(scorer.population.probability[*i]).decision == Decision::Refused
        })
        .map(|(i, id)| (*id, i))
        .collect();
    let refused = ids.len();
    ids.sort_unstable();
    ids.truncate(n);
    let mut answers = Vec::with_capacity(ids.len());
    let progress = (ids.len() / 10).max(1);
    for (done, (id, _)) in ids.iter().enumerate() {
        answers.push(one(&scorer, *id, &query)?);
        if (done + 1) % progress == 0 {
            tracing::info!(clients = done + 1, of = ids.len(), "recourse searched");
        }
    }
    let s = summary(&answers, refused, &query, args.budget_ms);
    if let Some(path) = &args.out {
        std::fs::write(path, csv(&answers))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "Recourse for {} of {} refused clients, K = {}, cost {:?}, budget {} ms:\n  \
             found {} ({:.1} %), no recourse (certified) {}, unknown (budget) {}, no actions {}\n  \
             proven optimal {}, unconfirmed by the pipeline {}\n  \
             median cost {}, search time p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            s.searched,
            s.refused,
            s.k,
            s.cost,
            s.budget_ms,
            s.found,
            100.0 * s.found_share,
            s.no_recourse,
            s.unknown,
            s.no_actions,
            s.proven,
            s.unverified,
            s.median_cost
                .map_or_else(|| "–".to_owned(), |c| format!("{c:.2}")),
            s.time_p50_ms,
            s.time_p99_ms,
            s.time_max_ms
        );
    }
    Ok(())
}

fn one(scorer: &Scorer, id: i64, query: &Query) -> Result<RecourseAnswer> {
    let Some((i, x)) = scorer.row(id) else {
        bail!("unknown client {id}: no such id in the data");
    };
    let Some(app) = scorer.application_of(i)? else {
        bail!("--data is a feature matrix: recourse needs the clients' applications (raw data)");
    };
    Ok(scorer.recourse(id, &app, &x, query)?)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

pub fn summary(answers: &[RecourseAnswer], refused: usize, q: &Query, budget_ms: u64) -> Summary {
    let count = |st: Status| answers.iter().filter(|a| a.status == st).count();
    let mut costs: Vec<f64> = answers
        .iter()
        .filter_map(|a| a.options.first().map(|o| o.cost))
        .collect();
    costs.sort_by(f64::total_cmp);
    let mut times: Vec<f64> = answers.iter().map(|a| a.elapsed_ms).collect();
    times.sort_by(f64::total_cmp);
    let found = count(Status::Found);
    Summary {
        k: q.k,
        cost: q.cost,
        budget_ms,
        refused,
        searched: answers.len(),
        found,
        no_recourse: count(Status::NoRecourse),
        unknown: count(Status::Unknown),
        no_actions: count(Status::NoActions),
        proven: answers.iter().filter(|a| a.proven_optimal).count(),
        unverified: answers.iter().map(|a| a.unverified).sum(),
        found_share: found as f64 / answers.len().max(1) as f64,
        median_cost: (!costs.is_empty()).then(|| quantile(&costs, 0.5)),
        time_p50_ms: quantile(&times, 0.5),
        time_p99_ms: quantile(&times, 0.99),
        time_max_ms: times.last().copied().unwrap_or(f64::NAN),
    }
}

fn csv(answers: &[RecourseAnswer]) -> String {
    let mut s = String::from("id,probability,status,proven_optimal,cost,changes,elapsed_ms\n");
    for a in answers {
        let best = a.options.first();
        let changes = best.map_or(String::new(), |o| {
            o.changes
                .iter()
                .map(|c| format!("{}:{}->{}", c.field, c.from, c.to))
                .collect::<Vec<_>>()
                .join(";")
        });
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{:.3}",
            a.id,
            a.score.probability,
            serde_json::to_value(a.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            a.proven_optimal,
            best.map_or(String::new(), |o| o.cost.to_string()),
            changes,
            a.elapsed_ms
        );
    }
    s
}

/// One client's answer as text.
pub fn text(a: &RecourseAnswer) -> String {
    let mut s = format!(
        "Client {}: probability {:.4}, {:?} (an option must fall below {:.4}); action set version {}\n",
        a.id, a.score.probability, a.score.decision, a.limit, a.action_set
    );
    let status = match a.status {
        Status::Granted => "granted already: nothing to change".to_owned(),
        Status::Found => format!(
            "{} option(s){}",
            a.options.len(),
            if a.proven_optimal {
                ", the first proven the cheapest over the candidates"
            } else {
                " (budget reached: the best found, not proven the cheapest)"
            }
        ),
        Status::NoRecourse => format!(
            "no recourse within the action set with at most {} change(s) (certified over the candidates)",
            a.k
        ),
        Status::Unknown => "no option found within the time budget (not proven that none exists)".into(),
        Status::NoActions => "no field of the action set can change for this client".into(),
    };
    let _ = writeln!(s, "  {status}");
    for (n, o) in a.options.iter().enumerate() {
        let _ = writeln!(
            s,
            "  {}. {} (cost {:.2}, probability {:.4})",
            n + 1,
            o.sentence,
            o.cost,
            o.probability
        );
    }
    for f in &a.fixed {
        let _ = writeln!(s, "  {} unchanged: {}", f.field, f.reason);
    }
    let _ = writeln!(
        s,
        "  searched {} in {:.1} ms ({} nodes)",
        a.searched
            .iter()
            .map(|c| format!("{} ({} values)", c.field, c.candidates))
            .collect::<Vec<_>>()
            .join(", "),
        a.elapsed_ms,
        a.nodes
    );
    s
}
