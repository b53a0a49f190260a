//! Recourse: what a refused applicant could change to be granted, searched on the model's own
//! trees.
//!
//! The action set (a reviewed, versioned file beside the wording: `recourse/home_credit.csv`)
//! names the application fields an applicant can act on, the direction each may move, bounds
//! and a step; every other field is immutable. For one client, the candidate values of a field
//! are the values just past each of the model's split thresholds on every feature the field
//! feeds (a ratio's threshold is solved for the field through the pipeline's own formula, the
//! other fields at the applicant's values), on the step's grid, one per region of the trees:
//! the cheapest. A branch and bound over sets of at most K fields then finds the cheapest
//! combination whose calibrated probability falls below the threshold outside the review band:
//! boxes of candidates, each cut on its cheapest point's cost and on the least score the trees
//! can give over it, else split in two. Nothing is cut that could be granted, so the answer is
//! the optimum over the candidates, or a certified "no recourse within the action set", unless
//! the time budget runs out first (then the best found, said not to be proven).
//!
//! Options are diverse by the fields they change: the cheapest plan for each set of fields,
//! a set dropped when a subset of it is granted for less, the cheapest first.

use std::time::{Duration, Instant};

use riskscore_features::{FeaturePipeline, Formula};
use riskscore_model::calibration::Calibration;
use riskscore_model::profile::Profile;
use serde::Serialize;

use crate::client::sigmoid;
use crate::forest::{goes_left, Forest, Tree};
use crate::{Error, Result};

/// The action set shipped for the Home Credit application.
pub const HOME_CREDIT_ACTIONS: &str = include_str!("../recourse/home_credit.csv");
/// The most fields one option may change.
pub const MAX_CHANGES: usize = 3;
/// The most options returned.
pub const MAX_OPTIONS: usize = 3;
/// The search's default time budget per client.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(200);
/// Default bounds: the training population's percentiles.
const BOUNDS: (usize, usize) = (1, 99);
/// The header of an action file.
const HEADER: &str = "field,direction,min,max,step,text";

/// Where a field may move from the applicant's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    Both,
}

/// One mutable field.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Action {
    pub field: String,
    pub direction: Direction,
    /// Bounds of the values offered; None: the training population's 1st and 99th percentiles.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The values offered are multiples of the step; None: any value.
    pub step: Option<f64>,
    /// How the field is named in a sentence ("a credit amount").
    pub text: String,
}

/// The fields an applicant can act on; every other field is immutable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ActionSet {
    pub version: String,
    /// Where it was read from (the shipped file's name, or a path).
    pub origin: String,
    pub actions: Vec<Action>,
}

impl ActionSet {
    /// Reads an action file (CSV: `field,direction,min,max,step,text`, `#` comments, a
    /// `# version: N` line). Errors name the origin, the line and the value.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let err = |line: usize, message: String| {
            Error::Actions(format!("{origin}, line {line}: {message}"))
        };
        let mut set = ActionSet {
            version: String::new(),
            origin: origin.to_owned(),
            actions: Vec::new(),
        };
        let mut header = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(v) = comment.trim().strip_prefix("version:") {
                    set.version = v.trim().to_owned();
                }
                continue;
            }
            if !header {
                if line != HEADER {
                    return Err(err(
                        n,
                        format!("the header must be {HEADER:?}, not {line:?}"),
                    ));
                }
                header = true;
                continue;
            }
            let cells: Vec<&str> = line.splitn(6, ',').map(str::trim).collect();
            if cells.len() != 6 {
                return Err(err(
                    n,
                    format!("{} cells; an action has 6 ({HEADER})", cells.len()),
                ));
            }
            let field = cells[0].to_owned();
            if field.is_empty() {
                return Err(err(n, "the field is empty".into()));
            }
            if set.actions.iter().any(|a| a.field == field) {
                return Err(err(n, format!("{field} is listed twice")));
            }
            let direction = match cells[1] {
                "up" => Direction::Up,
                "down" => Direction::Down,
                "both" => Direction::Both,
                other => {
                    return Err(err(
                        n,
                        format!("direction {other:?} of {field}: expected up, down or both"),
                    ))
                }
            };
            let number = |cell: &str, what: &str| -> Result<Option<f64>> {
                if cell.is_empty() {
                    return Ok(None);
                }
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    _ => Err(err(
                        n,
                        format!("{what} of {field}: {cell:?} is not a number"),
                    )),
                }
            };
            let (min, max) = (number(cells[2], "min")?, number(cells[3], "max")?);
            let step = number(cells[4], "step")?;
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    return Err(err(n, format!("min {lo} of {field} is above its max {hi}")));
                }
            }
            if step.is_some_and(|s| s <= 0.0) {
                return Err(err(n, format!("the step of {field} must be positive")));
            }
            let text = cells[5].to_owned();
            if text.is_empty() {
                return Err(err(n, format!("the text of {field} is empty")));
            }
            set.actions.push(Action {
                field,
                direction,
                min,
                max,
                step,
                text,
            });
        }
        if !header && !set.actions.is_empty() {
            return Err(Error::Actions(format!("{origin}: no header {HEADER:?}")));
        }
        if set.version.is_empty() {
            return Err(Error::Actions(format!(
                "{origin}: no \"# version: N\" line (an action set is reviewed and versioned)"
            )));
        }
        Ok(set)
    }

    /// Reads an action file.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Actions(format!("{origin}: cannot read the action file: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::Actions(format!(
                "{origin}: not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Self::parse(&text, &origin)
    }

    /// The shipped action set of a pipeline's layout: Home Credit's file, none for one table.
    pub fn default_for(pipeline: &FeaturePipeline) -> Result<Self> {
        match pipeline.layout {
            riskscore_features::Layout::HomeCredit { .. } => {
                Self::parse(HOME_CREDIT_ACTIONS, "recourse/home_credit.csv")
            }
            riskscore_features::Layout::Generic(_) => Ok(ActionSet {
                version: "none".into(),
                origin: "none (give an action file with --actions)".into(),
                actions: Vec::new(),
            }),
        }
    }
}

/// How the cost of a change is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cost {
    /// The shift of the applicant's percentile in the training population, in percentile
    /// points, summed over the fields changed (Ustun et al.).
    #[default]
    Percentile,
    /// The relative change |new - old| / |old|, summed over the fields changed.
    Relative,
}

impl std::str::FromStr for Cost {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "percentile" => Ok(Cost::Percentile),
            "relative" => Ok(Cost::Relative),
            other => Err(format!("cost {other:?}: expected percentile or relative")),
        }
    }
}

/// What is asked for one client.
#[derive(Debug, Clone)]
pub struct Query {
    /// The most fields changed in one option (1 to 3).
    pub k: usize,
    pub cost: Cost,
    pub budget: Duration,
    /// The most options (1 to 3).
    pub options: usize,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            k: 2,
            cost: Cost::Percentile,
            budget: DEFAULT_BUDGET,
            options: MAX_OPTIONS,
        }
    }
}

/// The model the search runs on: the trees, the calibration, and the probability an option
/// must fall below (the threshold less the review band).
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    pub forest: &'a Forest,
    pub calibration: &'a Calibration,
    pub limit: f64,
}

impl Model<'_> {
    fn probability(&self, raw: f64) -> f64 {
        self.calibration.apply(sigmoid(raw))
    }

    /// Whether the calibration never decreases (the bound on the score is then a bound on
    /// the probability).
    fn monotone(&self) -> bool {
        match self.calibration {
            Calibration::Platt { a, .. } => *a > 0.0,
            _ => true,
        }
    }
}

/// One field changed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub field: String,
    pub from: f64,
    pub to: f64,
}

/// One option: the fields changed, its cost and the probability it gives.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub cost: f64,
    pub probability: f64,
}

/// What the search concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Already granted outside the review band: nothing to change.
    Granted,
    /// Options found.
    Found,
    /// Certified: no combination of at most K fields of the action set over the candidates
    /// is granted.
    NoRecourse,
    /// The budget ran out before an option was found or ruled out.
    Unknown,
    /// No field of the action set can move for this client (none listed, or all missing or
    /// at their bound).
    NoActions,
}

/// The search's answer for one client.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub status: Status,
    /// Whether the search completed: the first option is the cheapest over the candidates,
    /// and `no_recourse` is certified.
    pub proven_optimal: bool,
    pub options: Vec<Plan>,
    /// The probability before any change.
    pub probability: f64,
    /// The probability an option must fall below.
    pub limit: f64,
    /// Candidate values searched per field.
    pub candidates: Vec<(String, usize)>,
    /// Fields of the action set left as they are, and why.
    pub fixed: Vec<(String, String)>,
    /// Search nodes visited.
    pub nodes: u64,
    pub elapsed_ms: f64,
}

/// An action resolved on the model: its bounds and its field's percentiles.
#[derive(Debug, Clone)]
struct Lever {
    action: Action,
    lo: f64,
    hi: f64,
    /// Percentiles 0..=100 of the field in training (empty when it is not a model input).
    knots: Vec<f64>,
    /// The model features it feeds.
    feeds: Vec<usize>,
}

/// A model feature some lever feeds.
#[derive(Debug, Clone)]
struct Fed {
    feature: usize,
    formula: Formula,
    /// Distinct split thresholds on the feature, ascending.
    thresholds: Vec<f64>,
}

/// The action set resolved on one model: built once, searched per client.
#[derive(Debug, Clone)]
pub struct Recourse {
    pub actions: ActionSet,
    levers: Vec<Lever>,
    fed: Vec<Fed>,
}

impl Recourse {
    /// Resolves `actions` on a model: every field must be a numeric source column of the
    /// pipeline, not protected, and every feature it feeds recomputable by the pipeline's
    /// formula. Errors name the field.
    pub fn new(
        actions: ActionSet,
        pipeline: &FeaturePipeline,
        forest: &Forest,
        names: &[String],
        profile: &Profile,
    ) -> Result<Self> {
        let origin = actions.origin.clone();
        let err = |m: String| Error::Actions(format!("{origin}: {m}"));
        let mut levers = Vec::new();
        let mut fed: Vec<Fed> = Vec::new();
        for a in &actions.actions {
            let f = &a.field;
            if pipeline.protected.iter().any(|p| p == f) {
                return Err(err(format!(
                    "{f} is a protected attribute: it is never an action"
                )));
            }
            if pipeline.age_column() == Some(f.as_str()) {
                return Err(err(format!(
                    "{f} is the applicant's age: it is never an action"
                )));
            }
            match pipeline.formula(f) {
                Some(Formula::Column { .. }) => {}
                _ => {
                    return Err(err(format!(
                        "{f} is not a numeric column of the application (only those can be actions)"
                    )))
                }
            }
            let mut feeds = Vec::new();
            for (j, name) in names.iter().enumerate() {
                if !pipeline.sources_of(name).iter().any(|s| s == f) {
                    continue;
                }
                let Some(formula) = pipeline.formula(name) else {
                    return Err(err(format!(
                        "{f} feeds {name}, which recourse cannot recompute from the application"
                    )));
                };
                if formula
                    .columns()
                    .iter()
                    .any(|c| pipeline.protected.iter().any(|p| p == c))
                {
                    continue;
                }
                feeds.push(j);
                if !fed.iter().any(|x| x.feature == j) {
                    fed.push(Fed {
                        feature: j,
                        formula,
                        thresholds: thresholds_of(forest, j),
                    });
                }
            }
            let own = profile.features.iter().find(|p| &p.name == f);
            let knots = own.map(|p| p.percentiles.clone()).unwrap_or_default();
            let bound = |given: Option<f64>, at: usize, which: &str| -> Result<f64> {
                given
                    .or_else(|| knots.get(at).copied())
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| match knots.get(at) {
                        Some(v) => err(format!(
                            "{f}: its training percentile {at} is {v}, not a bound: give its {which}"
                        )),
                        None => err(format!(
                            "{f} is not a model input, so its training percentiles are unknown: give its {which}"
                        )),
                    })
            };
            let lo = bound(a.min, BOUNDS.0, "min")?;
            let hi = bound(a.max, BOUNDS.1, "max")?;
            levers.push(Lever {
                action: a.clone(),
                lo,
                hi,
                knots,
                feeds,
            });
        }
        Ok(Recourse {
            actions,
            levers,
            fed,
        })
    }

    /// Whether the set has no action.
    pub fn is_empty(&self) -> bool {
        self.levers.is_empty()
    }

    /// The bounds of the values a field may take (the action's, or the training population's
    /// 1st and 99th percentiles).
    pub fn bounds(&self, field: &str) -> Option<(f64, f64)> {
        self.levers
            .iter()
            .find(|l| l.action.field == field)
            .map(|l| (l.lo, l.hi))
    }

    /// The action of a field.
    pub fn action(&self, field: &str) -> Option<&Action> {
        self.actions.actions.iter().find(|a| a.field == field)
    }

    /// Searches the cheapest options for the client with feature row `x` (the model's order)
    /// and application fields `current(field)`.
    pub fn search(
        &self,
        model: Model<'_>,
        x: &[f64],
        current: &dyn Fn(&str) -> f64,
        query: &Query,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let mut s = Search::new(self, model, x, current, query, started)?;
        let probability = model.probability(model.forest.raw(x));
        let mut out = Outcome {
            status: Status::NoActions,
            proven_optimal: true,
            options: Vec::new(),
            probability,
            limit: model.limit,
            candidates: s
                .levers
                .iter()
                .zip(&s.cands)
                .map(|(l, c)| (self.levers[l.lever].action.field.clone(), c.len()))
                .collect(),
            fixed: std::mem::take(&mut s.fixed),
            nodes: 0,
            elapsed_ms: 0.0,
        };
        if probability < model.limit {
            out.status = Status::Granted;
        } else if !s.levers.is_empty() {
            let found = s.run();
            out.proven_optimal = !s.timed_out;
            out.status = match (found.is_empty(), s.timed_out) {
                (false, _) => Status::Found,
                (true, false) => Status::NoRecourse,
                (true, true) => Status::Unknown,
            };
            out.options = found
                .into_iter()
                .map(|(set, plan)| s.plan(&set, plan))
                .collect();
            out.nodes = s.nodes;
        }
        out.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(out)
    }

    /// The cheapest cost over every combination of at most `query.k` fields on the candidate
    /// grid, enumerated without any bound (the search's check on small models; exponential).
    pub fn brute_force(
        &self,
        model: Model<'_>,
        x: &[f64],
        current: &dyn Fn(&str) -> f64,
        query: &Query,
    ) -> Result<Option<f64>> {
        let s = Search::new(self, model, x, current, query, Instant::now())?;
        let mut best: Option<f64> = None;
        for set in subsets(s.levers.len(), query.k.clamp(1, MAX_CHANGES)) {
            let mut idx = vec![0usize; set.len()];
            if set.iter().any(|&k| s.cands[k].is_empty()) {
                continue;
            }
            loop {
                let mut values = s.current.clone();
                let mut cost = 0.0;
                for (p, &k) in set.iter().enumerate() {
                    let c = s.cands[k][idx[p]];
                    values[k] = c.value;
                    cost += c.cost;
                }
                if model.probability(s.exact_raw(&values)) < model.limit
                    && best.is_none_or(|b| cost < b)
                {
                    best = Some(cost);
                }
                // The next combination (odometer).
                let mut p = 0;
                loop {
                    if p == set.len() {
                        break;
                    }
                    idx[p] += 1;
                    if idx[p] < s.cands[set[p]].len() {
                        break;
                    }
                    idx[p] = 0;
                    p += 1;
                }
                if p == set.len() {
                    break;
                }
            }
        }
        Ok(best)
    }
}

fn thresholds_of(forest: &Forest, j: usize) -> Vec<f64> {
    let mut t: Vec<f64> = forest
        .trees
        .iter()
        .flat_map(|tree| {
            tree.split_feature
                .iter()
                .zip(&tree.threshold)
                .filter(move |(f, _)| **f == j)
                .map(|(_, t)| *t)
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t.dedup();
    t
}

/// Every subset of `0..n` with 1 to `k` members, smallest first.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut all: Vec<Vec<usize>> = (1u32..(1 << n))
        .map(|mask| (0..n).filter(|i| mask & (1 << i) != 0).collect::<Vec<_>>())
        .filter(|s: &Vec<usize>| s.len() <= k)
        .collect();
    all.sort_by_key(Vec::len);
    all
}

/// The training population's percentile of `v` (0 to 100), from the percentiles 0..=100:
/// linear between distinct percentiles, the middle rank on a run of equal ones.
fn percentile_of(knots: &[f64], v: f64) -> f64 {
    let n = knots.len();
    if n < 2 || v.is_nan() {
        return 0.0;
    }
    let scale = 100.0 / (n - 1) as f64;
    let below = knots.partition_point(|k| *k < v);
    let upto = knots.partition_point(|k| *k <= v);
    let rank = if below < upto {
        (below + upto - 1) as f64 / 2.0
    } else if below == 0 {
        0.0
    } else if below == n {
        (n - 1) as f64
    } else {
        let (a, b) = (knots[below - 1], knots[below]);
        (below - 1) as f64 + (v - a) / (b - a)
    };
    rank * scale
}

/// The levers' values of a granted assignment, its cost and its probability.
type Assignment = (Vec<f64>, f64, f64);

/// Where a candidate falls for each fed feature: thresholds below it, zero, missing.
type Signature = Vec<(usize, bool, bool)>;

#[derive(Debug, Clone, Copy)]
struct Cand {
    value: f64,
    cost: f64,
}

/// A lever usable for this client.
#[derive(Debug, Clone)]
struct Usable {
    lever: usize,
}

/// Where a local feature's source column comes from.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// A usable lever (index into `Search::levers`).
    Lever(usize),
    Fixed(f64),
}

#[derive(Debug, Clone)]
struct Local {
    formula: Formula,
    srcs: Vec<Src>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    local: usize,
    threshold: f64,
    dt: u8,
    left: i32,
    right: i32,
}

/// A tree with the client's fixed features already decided: splits on the fed features only.
#[derive(Debug, Clone)]
enum Reduced {
    Const(f64),
    Tree { nodes: Vec<Node>, leaves: Vec<f64> },
}

#[derive(Debug, Clone, Copy)]
struct Interval {
    lo: f64,
    hi: f64,
    nan: bool,
}

impl Interval {
    const ALL: Interval = Interval {
        lo: f64::NEG_INFINITY,
        hi: f64::INFINITY,
        nan: true,
    };
    fn point(v: f64) -> Self {
        if v.is_nan() {
            Interval {
                lo: f64::INFINITY,
                hi: f64::NEG_INFINITY,
                nan: true,
            }
        } else {
            Interval {
                lo: v,
                hi: v,
                nan: false,
            }
        }
    }
}

/// Which children a value in `iv` can reach at a split.
fn sides(dt: u8, t: f64, iv: Interval) -> (bool, bool) {
    let (mut l, mut r) = (false, false);
    let mut probe = |v: f64| {
        if goes_left(dt, t, v) {
            l = true;
        } else {
            r = true;
        }
    };
    if iv.nan {
        probe(f64::NAN);
    }
    if iv.lo <= iv.hi {
        probe(iv.lo);
        probe(iv.hi);
        if iv.lo < 0.0 && iv.hi > 0.0 {
            probe(0.0);
        }
        if iv.lo <= t && t < iv.hi {
            l = true;
            r = true;
        }
    }
    (l, r)
}

struct Search<'a> {
    model: Model<'a>,
    levers: Vec<Usable>,
    /// The applicant's value of each usable lever.
    current: Vec<f64>,
    /// Candidates of each usable lever, cheapest first.
    cands: Vec<Vec<Cand>>,
    locals: Vec<Local>,
    trees: Vec<Reduced>,
    fixed: Vec<(String, String)>,
    k: usize,
    want: usize,
    deadline: Instant,
    nodes: u64,
    timed_out: bool,
    all: &'a [Lever],
}

impl<'a> Search<'a> {
    fn new(
        r: &'a Recourse,
        model: Model<'a>,
        x: &[f64],
        current: &dyn Fn(&str) -> f64,
        query: &Query,
        started: Instant,
    ) -> Result<Self> {
        if x.len() != model.forest.n_features {
            return Err(riskscore_shap::Error::Width {
                got: x.len(),
                expected: model.forest.n_features,
            }
            .into());
        }
        let mut s = Search {
            model,
            levers: Vec::new(),
            current: Vec::new(),
            cands: Vec::new(),
            locals: Vec::new(),
            trees: Vec::new(),
            fixed: Vec::new(),
            k: query.k.clamp(1, MAX_CHANGES),
            want: query.options.clamp(1, MAX_OPTIONS),
            deadline: started + query.budget,
            nodes: 0,
            timed_out: false,
            all: &r.levers,
        };
        for (i, l) in r.levers.iter().enumerate() {
            let v = current(&l.action.field);
            let why = if !v.is_finite() {
                Some("missing in the application")
            } else if l.feeds.is_empty() {
                Some("feeds no input of the model")
            } else {
                None
            };
            match why {
                Some(w) => s.fixed.push((l.action.field.clone(), w.into())),
                None => {
                    s.levers.push(Usable { lever: i });
                    s.current.push(v);
                }
            }
        }
        // The features the usable levers feed, with their sources.
        let mut local_of = vec![usize::MAX; model.forest.n_features];
        for f in &r.fed {
            let feeds = s
                .levers
                .iter()
                .any(|u| r.levers[u.lever].feeds.contains(&f.feature));
            if !feeds {
                continue;
            }
            let srcs: Vec<Src> = f
                .formula
                .columns()
                .iter()
                .map(|c| {
                    match s
                        .levers
                        .iter()
                        .position(|u| r.levers[u.lever].action.field == *c)
                    {
                        Some(k) => Src::Lever(k),
                        None => Src::Fixed(current(c)),
                    }
                })
                .collect();
            let local = Local {
                formula: f.formula.clone(),
                srcs,
            };
            // The application must give the served row.
            let recomputed = local.formula.eval(&s.values_of(&local, &s.current));
            let served = x[f.feature];
            if !serves(served, recomputed) {
                return Err(Error::Actions(format!(
                    "the application does not give the client's features: {} is {served}, recomputed {recomputed}",
                    model.forest.feature_names.get(f.feature).map_or("?", String::as_str)
                )));
            }
            local_of[f.feature] = s.locals.len();
            s.locals.push(local);
        }
        // Candidates per lever.
        for k in 0..s.levers.len() {
            let lever = &r.levers[s.levers[k].lever];
            let cands = s.candidates_of(k, lever, r, &local_of, query.cost);
            if cands.is_empty() {
                s.fixed.push((
                    lever.action.field.clone(),
                    "no value within its bounds and direction changes the model's inputs".into(),
                ));
            }
            s.cands.push(cands);
        }
        s.trees = model
            .forest
            .trees
            .iter()
            .map(|t| reduce(t, x, &local_of))
            .collect();
        Ok(s)
    }

    fn values_of(&self, local: &Local, levers: &[f64]) -> Vec<f64> {
        local
            .srcs
            .iter()
            .map(|s| match s {
                Src::Lever(k) => levers[*k],
                Src::Fixed(v) => *v,
            })
            .collect()
    }

    /// The cheapest value of each region the lever alone reaches, cheapest first.
    fn candidates_of(
        &self,
        k: usize,
        lever: &Lever,
        r: &Recourse,
        local_of: &[usize],
        cost: Cost,
    ) -> Vec<Cand> {
        let v = self.current[k];
        let a = &lever.action;
        let allowed = |c: f64| {
            c.is_finite()
                && c >= lever.lo
                && c <= lever.hi
                && match a.direction {
                    Direction::Down => c < v,
                    Direction::Up => c > v,
                    Direction::Both => c != v,
                }
        };
        // The locals this lever feeds, with its position among their sources.
        let fed: Vec<(usize, usize, &Fed)> = r
            .fed
            .iter()
            .filter(|f| local_of[f.feature] != usize::MAX)
            .filter_map(|f| {
                let l = local_of[f.feature];
                let w = self.locals[l]
                    .srcs
                    .iter()
                    .position(|s| matches!(s, Src::Lever(i) if *i == k))?;
                Some((l, w, f))
            })
            .collect();
        let mut raw: Vec<f64> = Vec::new();
        for (l, w, f) in &fed {
            let values = self.values_of(&self.locals[*l], &self.current);
            for &t in &f.thresholds {
                let Some(c) = f.formula.solve(*w, t, &values) else {
                    continue;
                };
                match a.step {
                    Some(step) => {
                        let b = (c / step).floor() * step;
                        raw.extend([b - step, b, b + step, b + 2.0 * step]);
                    }
                    None => raw.extend([c.next_down(), c, c.next_up()]),
                }
            }
        }
        raw.retain(|c| allowed(*c));
        raw.sort_by(f64::total_cmp);
        raw.dedup();
        // One value per region: its signature is, for each fed feature, how many thresholds
        // lie below the feature's value (zero and missing apart).
        let signature = |c: f64| -> Signature {
            let mut levers = self.current.clone();
            levers[k] = c;
            fed.iter()
                .map(|(l, _, f)| {
                    let g = self.locals[*l]
                        .formula
                        .eval(&self.values_of(&self.locals[*l], &levers));
                    (
                        f.thresholds.partition_point(|t| *t < g),
                        g.abs() <= 1e-35,
                        g.is_nan(),
                    )
                })
                .collect()
        };
        let here = signature(v);
        let price = |c: f64| match cost {
            Cost::Percentile => {
                (percentile_of(&lever.knots, c) - percentile_of(&lever.knots, v)).abs()
            }
            Cost::Relative => {
                (c - v).abs()
                    / if v != 0.0 {
                        v.abs()
                    } else {
                        (lever.hi - lever.lo).abs().max(1.0)
                    }
            }
        };
        let mut best: Vec<(Signature, Cand)> = Vec::new();
        for c in raw {
            let sig = signature(c);
            if sig == here {
                continue;
            }
            let cand = Cand {
                value: c,
                cost: price(c),
            };
            match best.iter_mut().find(|(s, _)| *s == sig) {
                Some((_, b)) => {
                    let nearer = (c - v).abs() < (b.value - v).abs();
                    if cand.cost < b.cost || (cand.cost == b.cost && nearer) {
                        *b = cand;
                    }
                }
                None => best.push((sig, cand)),
            }
        }
        let mut out: Vec<Cand> = best.into_iter().map(|(_, c)| c).collect();
        out.sort_by(|a, b| {
            a.cost
                .total_cmp(&b.cost)
                .then((a.value - v).abs().total_cmp(&(b.value - v).abs()))
        });
        out
    }

    /// The local features' values for the levers' values.
    fn local_values(&self, levers: &[f64]) -> Vec<f64> {
        self.locals
            .iter()
            .map(|l| l.formula.eval(&self.values_of(l, levers)))
            .collect()
    }

    /// The raw score, summed tree by tree in the model's order (the served sum, bit for bit).
    fn exact_raw(&self, levers: &[f64]) -> f64 {
        let lv = self.local_values(levers);
        self.trees
            .iter()
            .map(|t| match t {
                Reduced::Const(v) => *v,
                Reduced::Tree { nodes, leaves } => {
                    let mut n = 0usize;
                    loop {
                        let nd = nodes[n];
                        let next = if goes_left(nd.dt, nd.threshold, lv[nd.local]) {
                            nd.left
                        } else {
                            nd.right
                        };
                        if next < 0 {
                            break leaves[(!next) as usize];
                        }
                        n = next as usize;
                    }
                }
            })
            .sum()
    }

    /// The least raw score reachable when the local features range over `ivs`.
    fn lower_raw(&self, ivs: &[Interval]) -> f64 {
        let mut total = 0.0;
        for t in &self.trees {
            total += match t {
                Reduced::Const(v) => *v,
                Reduced::Tree { nodes, leaves } => min_leaf(nodes, leaves, ivs, 0),
            };
        }
        total
    }

    /// The intervals of the local features when lever `k` ranges over `ranges[k]`.
    fn intervals(&self, ranges: &[Interval]) -> Vec<Interval> {
        self.locals
            .iter()
            .map(|l| {
                let ivs: Vec<Interval> = l
                    .srcs
                    .iter()
                    .map(|s| match s {
                        Src::Lever(k) => ranges[*k],
                        Src::Fixed(v) => Interval::point(*v),
                    })
                    .collect();
                if ivs.iter().all(|i| i.lo == i.hi && !i.nan) {
                    let values: Vec<f64> = ivs.iter().map(|i| i.lo).collect();
                    return Interval::point(l.formula.eval(&values));
                }
                if ivs.iter().any(|i| i.nan || i.lo > i.hi) {
                    return Interval::ALL;
                }
                // A ratio is monotone in each source while its denominator keeps its sign.
                if !l.formula.is_column() && ivs.get(1).is_some_and(|d| d.lo <= 0.0 && d.hi >= 0.0)
                {
                    return Interval::ALL;
                }
                let mut out = Interval {
                    lo: f64::INFINITY,
                    hi: f64::NEG_INFINITY,
                    nan: false,
                };
                let corners = 1usize << ivs.len();
                for m in 0..corners {
                    let values: Vec<f64> = ivs
                        .iter()
                        .enumerate()
                        .map(|(i, iv)| if m & (1 << i) != 0 { iv.hi } else { iv.lo })
                        .collect();
                    let g = l.formula.eval(&values);
                    if g.is_nan() {
                        return Interval::ALL;
                    }
                    out.lo = out.lo.min(g);
                    out.hi = out.hi.max(g);
                }
                out
            })
            .collect()
    }

    /// Whether some point of the box can be granted: the bound of the score when each lever
    /// of `set` ranges over the hull of its candidates in `ranges`, the others at the
    /// applicant's values.
    fn viable(&self, set: &[usize], ranges: &[(usize, usize)]) -> bool {
        if !self.model.monotone() {
            return true;
        }
        let mut levers: Vec<Interval> = self.current.iter().map(|v| Interval::point(*v)).collect();
        for (p, &k) in set.iter().enumerate() {
            let (lo, hi) = ranges[p];
            let (mut a, mut b) = (f64::INFINITY, f64::NEG_INFINITY);
            for c in &self.cands[k][lo..hi] {
                a = a.min(c.value);
                b = b.max(c.value);
            }
            levers[k] = Interval {
                lo: a,
                hi: b,
                nan: false,
            };
        }
        let lb = self.lower_raw(&self.intervals(&levers));
        // A margin for the order of the sum.
        self.model.probability(lb - 1e-9) < self.model.limit
    }

    fn tick(&mut self) -> bool {
        self.nodes += 1;
        if (self.nodes == 1 || self.nodes.is_multiple_of(64)) && Instant::now() >= self.deadline {
            self.timed_out = true;
        }
        self.timed_out
    }

    /// The best plan for each set of levers that is not dominated, cheapest first.
    fn run(&mut self) -> Vec<(Vec<usize>, Assignment)> {
        let n = self.levers.len();
        let mut found: Vec<(Vec<usize>, Assignment)> = Vec::new();
        for set in subsets(n, self.k) {
            if self.timed_out {
                break;
            }
            if set.iter().any(|&k| self.cands[k].is_empty()) {
                continue;
            }
            // Dominated by a subset granted for less; out of the top options.
            let mut cutoff = f64::INFINITY;
            for (s, (_, c, _)) in &found {
                if s.iter().all(|k| set.contains(k)) {
                    cutoff = cutoff.min(*c);
                }
            }
            if found.len() >= self.want {
                let mut costs: Vec<f64> = found.iter().map(|(_, (_, c, _))| *c).collect();
                costs.sort_by(f64::total_cmp);
                cutoff = cutoff.min(costs[self.want - 1]);
            }
            let ranges = set.iter().map(|&k| (0, self.cands[k].len())).collect();
            let mut best: Option<Assignment> = None;
            self.boxes(&set, ranges, &mut cutoff, &mut best);
            if let Some(b) = best {
                found.push((set, b));
            }
        }
        found.sort_by(|a, b| a.1 .1.total_cmp(&b.1 .1));
        found.truncate(self.want);
        found
    }

    /// The cheapest granted point of the box `ranges` (per lever of `set`, a range of its
    /// candidates, cheapest first) costing less than `cutoff`: pruned on the box's least cost
    /// and on the bound of the score over the box, else split on its widest range, the cheaper
    /// half first.
    fn boxes(
        &mut self,
        set: &[usize],
        mut ranges: Vec<(usize, usize)>,
        cutoff: &mut f64,
        best: &mut Option<Assignment>,
    ) {
        if self.tick() {
            return;
        }
        let floor: f64 = set
            .iter()
            .zip(&ranges)
            .map(|(&k, &(lo, _))| self.cands[k][lo].cost)
            .sum();
        if floor >= *cutoff {
            return;
        }
        // Each range cut to the candidates the budget left by the others' cheapest allows.
        for (p, &k) in set.iter().enumerate() {
            let (lo, hi) = ranges[p];
            let limit = *cutoff - (floor - self.cands[k][lo].cost);
            ranges[p].1 = lo + self.cands[k][lo..hi].partition_point(|c| c.cost < limit);
        }
        if ranges.iter().all(|(lo, hi)| hi - lo == 1) {
            let mut values = self.current.clone();
            for (p, &k) in set.iter().enumerate() {
                values[k] = self.cands[k][ranges[p].0].value;
            }
            let pr = self.model.probability(self.exact_raw(&values));
            if pr < self.model.limit {
                *cutoff = floor;
                *best = Some((values, floor, pr));
            }
            return;
        }
        if !self.viable(set, &ranges) {
            return;
        }
        let Some(p) = (0..set.len()).max_by_key(|&p| ranges[p].1 - ranges[p].0) else {
            return;
        };
        let (lo, hi) = ranges[p];
        let mid = lo + (hi - lo) / 2;
        let mut cheaper = ranges.clone();
        cheaper[p].1 = mid;
        ranges[p].0 = mid;
        self.boxes(set, cheaper, cutoff, best);
        if !self.timed_out {
            self.boxes(set, ranges, cutoff, best);
        }
    }

    fn plan(&self, set: &[usize], (values, cost, probability): Assignment) -> Plan {
        let mut set = set.to_vec();
        set.sort_unstable();
        Plan {
            changes: set
                .iter()
                .map(|&k| Change {
                    field: self.all[self.levers[k].lever].action.field.clone(),
                    from: self.current[k],
                    to: values[k],
                })
                .collect(),
            cost,
            probability,
        }
    }
}

/// The tree with every split on a feature outside `local_of` decided by the row `x`.
fn reduce(t: &Tree, x: &[f64], local_of: &[usize]) -> Reduced {
    if t.left.is_empty() {
        return Reduced::Const(t.leaf_value[0]);
    }
    let mut nodes = Vec::new();
    let mut leaves = Vec::new();
    let root = copy(t, 0, x, local_of, &mut nodes, &mut leaves);
    if root < 0 {
        return Reduced::Const(leaves[(!root) as usize]);
    }
    // `copy` pushes a node after its children: the root is the last one; renumber so the
    // root comes first.
    let n = nodes.len();
    let renumber = |c: i32| {
        if c >= 0 {
            (n - 1 - c as usize) as i32
        } else {
            c
        }
    };
    let nodes: Vec<Node> = nodes
        .into_iter()
        .rev()
        .map(|nd| Node {
            left: renumber(nd.left),
            right: renumber(nd.right),
            ..nd
        })
        .collect();
    Reduced::Tree { nodes, leaves }
}

/// Copies the subtree at node `n` (an index of `t`, >= 0 internal), returning the child code.
fn copy(
    t: &Tree,
    n: i32,
    x: &[f64],
    local_of: &[usize],
    nodes: &mut Vec<Node>,
    leaves: &mut Vec<f64>,
) -> i32 {
    if n < 0 {
        leaves.push(t.leaf_value[(!n) as usize]);
        return !((leaves.len() - 1) as i32);
    }
    let i = n as usize;
    let local = local_of[t.split_feature[i]];
    if local == usize::MAX {
        let next = if t.goes_left(i, x) {
            t.left[i]
        } else {
            t.right[i]
        };
        return copy(t, next, x, local_of, nodes, leaves);
    }
    let left = copy(t, t.left[i], x, local_of, nodes, leaves);
    let right = copy(t, t.right[i], x, local_of, nodes, leaves);
    nodes.push(Node {
        local,
        threshold: t.threshold[i],
        dt: t.decision_type[i],
        left,
        right,
    });
    (nodes.len() - 1) as i32
}

fn min_leaf(nodes: &[Node], leaves: &[f64], ivs: &[Interval], n: usize) -> f64 {
    let nd = nodes[n];
    let (l, r) = sides(nd.dt, nd.threshold, ivs[nd.local]);
    let child = |c: i32| {
        if c < 0 {
            leaves[(!c) as usize]
        } else {
            min_leaf(nodes, leaves, ivs, c as usize)
        }
    };
    match (l, r) {
        (true, true) => child(nd.left).min(child(nd.right)),
        (true, false) => child(nd.left),
        (false, true) => child(nd.right),
        (false, false) => f64::INFINITY,
    }
}

/// Whether a served feature value stands for `value`: the same bits, both missing, or `value`
/// rounded to `f32` (the server keeps its clients' rows so wherever the rounding moves no value
/// across a split of the model, so the model decides the same on either).
pub fn serves(served: f64, value: f64) -> bool {
    served.to_bits() == value.to_bits()
        || (served.is_nan() && value.is_nan())
        || served.to_bits() == f64::from(value as f32).to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_action_set_reads() {
        let a = ActionSet::parse(HOME_CREDIT_ACTIONS, "home_credit.csv").unwrap();
        assert_eq!(a.version, "1");
        assert!(a.actions.iter().any(|a| a.field == "AMT_CREDIT"
            && a.direction == Direction::Down
            && a.step == Some(1000.0)));
    }

    #[test]
    fn bad_action_files_are_named_by_line() {
        let head = "# version: 1\nfield,direction,min,max,step,text\n";
        let cases = [
            (
                "AMT_CREDIT,sideways,,,1,x",
                "line 3: direction \"sideways\"",
            ),
            ("AMT_CREDIT,down,abc,,1,x", "min of AMT_CREDIT: \"abc\""),
            (
                "AMT_CREDIT,down,5,1,1,x",
                "min 5 of AMT_CREDIT is above its max 1",
            ),
            (
                "AMT_CREDIT,down,,,0,x",
                "step of AMT_CREDIT must be positive",
            ),
            ("AMT_CREDIT,down,,", "4 cells"),
            (
                "AMT_CREDIT,down,,,1,x\nAMT_CREDIT,up,,,1,y",
                "line 4: AMT_CREDIT is listed twice",
            ),
        ];
        for (body, want) in cases {
            let e = ActionSet::parse(&format!("{head}{body}\n"), "a.csv").unwrap_err();
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        }
        let e = ActionSet::parse("field,direction,min,max,step,text\n", "a.csv").unwrap_err();
        assert!(e.to_string().contains("no \"# version: N\" line"), "{e}");
        let e = ActionSet::parse("# version: 1\nfield,dir\n", "a.csv").unwrap_err();
        assert!(e.to_string().contains("line 2: the header must be"), "{e}");
    }

    #[test]
    fn percentiles_interpolate_and_ties_take_the_middle_rank() {
        let knots: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(percentile_of(&knots, 12.5), 12.5);
        assert_eq!(percentile_of(&knots, -3.0), 0.0);
        assert_eq!(percentile_of(&knots, 300.0), 100.0);
        let mut tied = knots.clone();
        for k in tied.iter_mut().take(31).skip(10) {
            *k = 10.0; // percentiles 10..=30 all equal 10
        }
        assert_eq!(percentile_of(&tied, 10.0), 20.0);
        assert!(percentile_of(&tied, 9.5) < percentile_of(&tied, 10.0));
        assert!(percentile_of(&tied, 10.0) < percentile_of(&tied, 31.0));
    }

    #[test]
    fn subsets_are_smallest_first_and_capped() {
        let s = subsets(4, 2);
        assert_eq!(s.len(), 4 + 6);
        assert!(s[..4].iter().all(|x| x.len() == 1));
    }

    #[test]
    fn sides_cover_the_interval() {
        // default NaN handling (missing type none): NaN reads as zero.
        assert_eq!(
            sides(
                0,
                5.0,
                Interval {
                    lo: 1.0,
                    hi: 4.0,
                    nan: false
                }
            ),
            (true, false)
        );
        assert_eq!(
            sides(
                0,
                5.0,
                Interval {
                    lo: 5.0,
                    hi: 9.0,
                    nan: false
                }
            ),
            (true, true)
        );
        assert_eq!(
            sides(
                0,
                5.0,
                Interval {
                    lo: 5.5,
                    hi: 9.0,
                    nan: false
                }
            ),
            (false, true)
        );
        assert_eq!(sides(0, -1.0, Interval::point(f64::NAN)), (false, true));
    }
}
