//! Generation of one applicant with all its history rows.

use std::ops::Range;

use super::csvout::{Line, Value};
use super::profile;
use super::rng::{phi, seed_of, sigmoid, Rng};
use super::{Chunk, ColumnProfile, Dist, DEFAULT_RATE};
use crate::schema::{Kind, Table, DAYS_MISSING_CODE};

/// Weight of each latent risk in the log-odds of default.
const B_APP: f64 = 1.7;
const B_HIST: f64 = 1.1;
/// Application loadings are the sample's rank correlation with TARGET times this gain.
const APP_GAIN: f64 = 3.5;
const MAX_LOADING: f64 = 0.65;

/// Row-count model, tuned so that scale 1.0 gives the Kaggle totals (see the module docs).
const NO_BUREAU: f64 = 0.14;
const BUREAU_EXTRA_MEAN: f64 = 4.60;
const NO_BALANCE: f64 = 0.40;
const BALANCE_MONTHS_MEAN: f64 = 26.0;
const NO_PREVIOUS: f64 = 0.05;
const PREVIOUS_EXTRA_MEAN: f64 = 3.93;
const CARD_SHARE: f64 = 0.0625;
const CARD_MONTHS_SPAN: f64 = 71.6;
const POS_SHARE: f64 = 0.586;
const POS_MONTHS_SPAN: f64 = 20.8;
const INSTALMENT_SHARE: f64 = 0.622;
const INSTALMENTS_SPAN: f64 = 25.2;

const FIRST_CURR: u64 = 100_001;
const FIRST_BUREAU: u64 = 5_000_000;
const FIRST_PREV: u64 = 1_000_000;

/// Rows written per table (in `Table::ALL` order) and defaults among training applicants.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub rows: [u64; 8],
    pub defaults: u64,
}

/// One table's columns with their profile and loading on the latent risk.
#[derive(Debug)]
struct Columns {
    profiles: Vec<Option<&'static ColumnProfile>>,
    loadings: Vec<f64>,
    decimals: Vec<u8>,
}

impl Columns {
    fn new(
        table: Table,
        profiles: &'static [ColumnProfile],
        loading: impl Fn(&ColumnProfile) -> f64,
    ) -> Self {
        let mut out = Columns {
            profiles: Vec::new(),
            loadings: Vec::new(),
            decimals: Vec::new(),
        };
        for (name, kind) in table.columns() {
            let p = profiles.iter().find(|p| p.name == *name);
            out.loadings
                .push(p.map_or(0.0, &loading).clamp(-MAX_LOADING, MAX_LOADING));
            out.decimals.push(match (p, kind) {
                (Some(p), _) => p.decimals,
                (None, Kind::Num) => 1,
                _ => 0,
            });
            out.profiles.push(p);
        }
        out
    }

    fn index(&self, table: Table, name: &str) -> usize {
        table
            .columns()
            .iter()
            .position(|(n, _)| *n == name)
            .unwrap_or(usize::MAX)
    }

    /// Draws every profiled column; keys are left missing for the caller to set.
    fn draw_all(&self, rng: &mut Rng, z: f64, values: &mut Vec<Value>) {
        values.clear();
        for (p, l) in self.profiles.iter().zip(&self.loadings) {
            values.push(match p {
                Some(p) => draw(p, rng, z, *l, None),
                None => Value::Missing,
            });
        }
    }

    fn write(&self, buf: &mut Vec<u8>, values: &[Value], skip: Option<usize>) {
        let mut line = Line::new(buf);
        for (i, (v, d)) in values.iter().zip(&self.decimals).enumerate() {
            if Some(i) != skip {
                line.value(*v, *d);
            }
        }
        line.end();
    }
}

/// Draws one value: missing with the profile's rate (or when the shared `missing_u` is below
/// it, so that columns of a group are missing together), else from the marginal at a copula
/// quantile that leans towards the risky end by `loading`.
fn draw(p: &ColumnProfile, rng: &mut Rng, z: f64, loading: f64, missing_u: Option<f64>) -> Value {
    if p.missing > 0.0 {
        let u = missing_u.unwrap_or_else(|| rng.uniform());
        if u < p.missing {
            return Value::Missing;
        }
    }
    let u = if loading == 0.0 {
        rng.uniform()
    } else {
        phi(loading * z + (1.0 - loading * loading).sqrt() * rng.normal())
    };
    quantile(&p.dist, u)
}

fn quantile(dist: &Dist, u: f64) -> Value {
    match dist {
        Dist::Quantiles(q) => {
            let pos = u * (q.len() - 1) as f64;
            let lo = (pos as usize).min(q.len() - 2);
            let t = pos - lo as f64;
            Value::Num(q[lo] + (q[lo + 1] - q[lo]) * t)
        }
        Dist::Discrete(vs) => {
            let mut acc = 0.0;
            for (v, f) in vs.iter() {
                acc += f;
                if u < acc {
                    return Value::Num(*v);
                }
            }
            Value::Num(vs.last().map_or(0.0, |(v, _)| *v))
        }
        Dist::Categories(cs) => {
            let mut acc = 0.0;
            for (c, f) in cs.iter() {
                acc += f;
                if u < acc {
                    return Value::Cat(c);
                }
            }
            Value::Cat(cs.last().map_or("", |(c, _)| c))
        }
    }
}

fn side_loading(table: Table) -> impl Fn(&ColumnProfile) -> f64 {
    move |p| {
        let table_loadings: &[(&str, f64)] = match table {
            Table::Bureau => &[
                ("DAYS_CREDIT", 0.35),
                ("CREDIT_ACTIVE", 0.3),
                ("DAYS_CREDIT_ENDDATE", 0.3),
                ("CREDIT_DAY_OVERDUE", 0.45),
                ("AMT_CREDIT_MAX_OVERDUE", 0.4),
                ("AMT_CREDIT_SUM_DEBT", 0.35),
                ("AMT_CREDIT_SUM_OVERDUE", 0.45),
                ("CREDIT_TYPE", 0.25),
                ("DAYS_CREDIT_UPDATE", 0.25),
            ],
            Table::PreviousApplication => &[
                ("NAME_CONTRACT_STATUS", 0.45),
                ("CODE_REJECT_REASON", 0.3),
                ("DAYS_DECISION", 0.3),
                ("CNT_PAYMENT", 0.3),
                ("NAME_YIELD_GROUP", 0.3),
                ("AMT_DOWN_PAYMENT", -0.3),
                ("RATE_DOWN_PAYMENT", -0.3),
                ("NAME_CLIENT_TYPE", 0.2),
            ],
            Table::PosCashBalance => &[("CNT_INSTALMENT_FUTURE", 0.2)],
            Table::CreditCardBalance => &[
                ("AMT_BALANCE", 0.4),
                ("AMT_DRAWINGS_ATM_CURRENT", 0.35),
                ("AMT_DRAWINGS_CURRENT", 0.3),
                ("CNT_DRAWINGS_ATM_CURRENT", 0.35),
                ("CNT_DRAWINGS_CURRENT", 0.3),
                ("AMT_INST_MIN_REGULARITY", 0.3),
                ("AMT_RECEIVABLE_PRINCIPAL", 0.3),
                ("AMT_RECIVABLE", 0.3),
                ("AMT_TOTAL_RECEIVABLE", 0.3),
                ("AMT_PAYMENT_CURRENT", -0.2),
            ],
            _ => &[],
        };
        table_loadings
            .iter()
            .find(|(n, _)| *n == p.name)
            .map_or(0.0, |(_, l)| *l)
    }
}

/// Everything fixed before the rows: column models, ids and the default intercept.
#[derive(Debug)]
pub(crate) struct Plan {
    seed: u64,
    train: u64,
    test: u64,
    bureau_start: Vec<u64>,
    prev_start: Vec<u64>,
    intercept: f64,
    app: Columns,
    bureau: Columns,
    prev: Columns,
    pos: Columns,
    inst: Columns,
    card: Columns,
    idx: Indexes,
}

/// Positions of the columns the generator sets by rule.
#[derive(Debug)]
struct Indexes {
    app_target: usize,
    income_type: usize,
    days_employed: usize,
    days_birth: usize,
    organization: usize,
    occupation: usize,
    gender: usize,
    credit: usize,
    annuity: usize,
    goods: usize,
    children: usize,
    family: usize,
    fam_members: usize,
    credit_active: usize,
    prev_contract_type: usize,
    pos_cnt: usize,
    pos_status: usize,
    inst_version: usize,
    inst_amount: usize,
    card_limit: usize,
}

/// Application columns that are missing together (the building of the applicant, the bureau
/// enquiries, the social circle).
fn missing_group(name: &str) -> usize {
    if name.ends_with("_AVG") || name.ends_with("_MODE") || name.ends_with("_MEDI") {
        1
    } else if name.starts_with("AMT_REQ_CREDIT_BUREAU") {
        2
    } else if name.ends_with("_SOCIAL_CIRCLE") {
        3
    } else {
        0
    }
}

impl Plan {
    pub fn new(seed: u64, train: u64, test: u64) -> Self {
        let n = train + test;
        let mut bureau_start = Vec::with_capacity(n as usize + 1);
        let mut prev_start = Vec::with_capacity(n as usize + 1);
        let (mut b, mut p) = (0u64, 0u64);
        for i in 0..n {
            bureau_start.push(b);
            prev_start.push(p);
            let mut rng = Rng::new(seed_of(&[seed, i, 1]));
            b += u64::from(count(&mut rng, NO_BUREAU, BUREAU_EXTRA_MEAN));
            p += u64::from(count(&mut rng, NO_PREVIOUS, PREVIOUS_EXTRA_MEAN));
        }
        bureau_start.push(b);
        prev_start.push(p);
        let app = Columns::new(Table::ApplicationTrain, profile::APPLICATION_TRAIN, |p| {
            p.rho * APP_GAIN
        });
        let bureau = Columns::new(Table::Bureau, profile::BUREAU, side_loading(Table::Bureau));
        let prev = Columns::new(
            Table::PreviousApplication,
            profile::PREVIOUS_APPLICATION,
            side_loading(Table::PreviousApplication),
        );
        let pos = Columns::new(
            Table::PosCashBalance,
            profile::POS_CASH_BALANCE,
            side_loading(Table::PosCashBalance),
        );
        let inst = Columns::new(
            Table::InstallmentsPayments,
            profile::INSTALLMENTS_PAYMENTS,
            |_| 0.0,
        );
        let card = Columns::new(
            Table::CreditCardBalance,
            profile::CREDIT_CARD_BALANCE,
            side_loading(Table::CreditCardBalance),
        );
        let a = |name| app.index(Table::ApplicationTrain, name);
        let idx = Indexes {
            app_target: a("TARGET"),
            income_type: a("NAME_INCOME_TYPE"),
            days_employed: a("DAYS_EMPLOYED"),
            days_birth: a("DAYS_BIRTH"),
            organization: a("ORGANIZATION_TYPE"),
            occupation: a("OCCUPATION_TYPE"),
            gender: a("CODE_GENDER"),
            credit: a("AMT_CREDIT"),
            annuity: a("AMT_ANNUITY"),
            goods: a("AMT_GOODS_PRICE"),
            children: a("CNT_CHILDREN"),
            family: a("NAME_FAMILY_STATUS"),
            fam_members: a("CNT_FAM_MEMBERS"),
            credit_active: bureau.index(Table::Bureau, "CREDIT_ACTIVE"),
            prev_contract_type: prev.index(Table::PreviousApplication, "NAME_CONTRACT_TYPE"),
            pos_cnt: pos.index(Table::PosCashBalance, "CNT_INSTALMENT"),
            pos_status: pos.index(Table::PosCashBalance, "NAME_CONTRACT_STATUS"),
            inst_version: inst.index(Table::InstallmentsPayments, "NUM_INSTALMENT_VERSION"),
            inst_amount: inst.index(Table::InstallmentsPayments, "AMT_INSTALMENT"),
            card_limit: card.index(Table::CreditCardBalance, "AMT_CREDIT_LIMIT_ACTUAL"),
        };
        Plan {
            seed,
            train,
            test,
            bureau_start,
            prev_start,
            intercept: intercept_for(DEFAULT_RATE, (B_APP * B_APP + B_HIST * B_HIST).sqrt()),
            app,
            bureau,
            prev,
            pos,
            inst,
            card,
            idx,
        }
    }

    pub fn len(&self) -> usize {
        (self.train + self.test) as usize
    }

    /// Applicant `i` is in the test file when the evenly spread test quota steps at `i`.
    fn is_test(&self, i: u64) -> bool {
        let n = self.train + self.test;
        (i + 1) * self.test / n > i * self.test / n
    }

    pub fn chunk(&self, range: Range<usize>) -> (Chunk, Tally) {
        let mut bufs: Chunk = Default::default();
        let mut tally = Tally::default();
        let mut scratch = Scratch::default();
        let mut rng = Rng::new(seed_of(&[self.seed, range.start as u64, 2]));
        for i in range {
            self.applicant(i as u64, &mut bufs, &mut tally, &mut scratch);
        }
        // The Kaggle history files are not grouped by applicant: shuffle the rows of the
        // chunk (bureau_balance stays grouped by loan, as in the real file).
        for table in [2, 4, 5, 6, 7] {
            bufs[table] = shuffle_lines(&bufs[table], &mut rng);
        }
        (bufs, tally)
    }

    fn applicant(&self, i: u64, bufs: &mut Chunk, tally: &mut Tally, s: &mut Scratch) {
        let mut rng = Rng::new(seed_of(&[self.seed, i, 0]));
        let z_app = rng.normal();
        let z_hist = rng.normal();
        let curr = FIRST_CURR + i;
        let test = self.is_test(i);
        let default = rng.chance(sigmoid(self.intercept + B_APP * z_app + B_HIST * z_hist));
        self.application(&mut rng, curr, z_app, default, &mut s.values);
        if test {
            self.app
                .write(&mut bufs[1], &s.values, Some(self.idx.app_target));
            tally.rows[1] += 1;
        } else {
            self.app.write(&mut bufs[0], &s.values, None);
            tally.rows[0] += 1;
            tally.defaults += u64::from(default);
        }
        let mut out = Sink {
            bufs,
            tally,
            scratch: s,
        };
        let bureau_ids = self.bureau_start[i as usize]..self.bureau_start[i as usize + 1];
        for id in bureau_ids {
            self.bureau_loan(&mut rng, curr, FIRST_BUREAU + id, z_hist, &mut out);
        }
        let prev_ids = self.prev_start[i as usize]..self.prev_start[i as usize + 1];
        for id in prev_ids {
            self.previous(&mut rng, curr, FIRST_PREV + id, z_hist, &mut out);
        }
    }

    fn application(&self, rng: &mut Rng, curr: u64, z: f64, default: bool, v: &mut Vec<Value>) {
        let group_u = [0.0, rng.uniform(), rng.uniform(), rng.uniform()];
        v.clear();
        for ((p, l), (name, _)) in self
            .app
            .profiles
            .iter()
            .zip(&self.app.loadings)
            .zip(Table::ApplicationTrain.columns())
        {
            let group = missing_group(name);
            v.push(match p {
                Some(p) => draw(p, rng, z, *l, (group > 0).then(|| group_u[group])),
                None => Value::Missing,
            });
        }
        v[0] = Value::Num(curr as f64);
        v[self.idx.app_target] = Value::Num(f64::from(u8::from(default)));
        let x = &self.idx;
        if matches!(v[x.income_type], Value::Cat("Pensioner" | "Unemployed")) {
            v[x.days_employed] = Value::Num(DAYS_MISSING_CODE);
            v[x.organization] = Value::Cat("XNA");
            v[x.occupation] = Value::Missing;
        } else if let (Value::Num(emp), Value::Num(birth)) = (v[x.days_employed], v[x.days_birth]) {
            v[x.days_employed] = Value::Num(emp.max(birth + 6570.0).min(-1.0));
        }
        if rng.chance(1.3e-5) {
            v[x.gender] = Value::Cat("XNA");
        }
        if let Value::Num(credit) = v[x.credit] {
            if v[x.goods] != Value::Missing {
                v[x.goods] =
                    Value::Num((credit * (0.8 + 0.2 * rng.uniform()) / 4500.0).round() * 4500.0);
            }
            if v[x.annuity] != Value::Missing {
                // Heavier repayment rates for riskier applicants (PAYMENT_RATE carries signal).
                let u = phi(0.35 * z + 0.94 * rng.normal());
                v[x.annuity] = Value::Num(credit * (0.025 + 0.085 * u));
            }
        }
        if let Value::Num(children) = v[x.children] {
            let couple = matches!(v[x.family], Value::Cat("Married" | "Civil marriage"));
            v[x.fam_members] = Value::Num(children + if couple { 2.0 } else { 1.0 });
        }
    }

    fn bureau_loan(&self, rng: &mut Rng, curr: u64, id: u64, z: f64, out: &mut Sink<'_>) {
        self.bureau.draw_all(rng, z, &mut out.scratch.values);
        out.scratch.values[0] = Value::Num(curr as f64);
        out.scratch.values[1] = Value::Num(id as f64);
        let closed = out.scratch.values[self.idx.credit_active] == Value::Cat("Closed");
        self.bureau
            .write(&mut out.bufs[2], &out.scratch.values, None);
        out.tally.rows[2] += 1;
        if rng.chance(NO_BALANCE) {
            return;
        }
        let months = 1 + (-BALANCE_MONTHS_MEAN * rng.uniform().ln()) as i64;
        let loan_z = 0.8 * z + 0.6 * rng.normal();
        let p_late = sigmoid(-3.6 + 1.4 * loan_z);
        let closed_months = if closed { rng.range(0, months) } else { 0 };
        let unknown = rng.chance(0.15);
        for k in 0..months {
            let status = if unknown || rng.chance(0.04) {
                "X"
            } else if k < closed_months {
                "C"
            } else if rng.chance(p_late) {
                ["1", "1", "1", "2", "2", "3", "4", "5"][rng.range(0, 7) as usize]
            } else {
                "0"
            };
            let mut line = Line::new(&mut out.bufs[3]);
            line.int(id as i64).int(-k).text(status).end();
        }
        out.tally.rows[3] += months as u64;
    }

    fn previous(&self, rng: &mut Rng, curr: u64, id: u64, z: f64, out: &mut Sink<'_>) {
        self.prev.draw_all(rng, z, &mut out.scratch.values);
        out.scratch.values[0] = Value::Num(id as f64);
        out.scratch.values[1] = Value::Num(curr as f64);
        let card = rng.chance(CARD_SHARE);
        if card {
            out.scratch.values[self.idx.prev_contract_type] = Value::Cat("Revolving loans");
        } else if out.scratch.values[self.idx.prev_contract_type] == Value::Cat("Revolving loans") {
            out.scratch.values[self.idx.prev_contract_type] = Value::Cat("Consumer loans");
        }
        for (v, (name, _)) in out
            .scratch
            .values
            .iter_mut()
            .zip(Table::PreviousApplication.columns())
        {
            if let Value::Num(x) = v {
                if name.starts_with("DAYS_") && *x > 5000.0 {
                    *x = DAYS_MISSING_CODE;
                }
            }
        }
        self.prev.write(&mut out.bufs[4], &out.scratch.values, None);
        out.tally.rows[4] += 1;
        let p_dpd = sigmoid(-4.0 + 1.6 * z);
        if card {
            self.card_rows(rng, curr, id, z, p_dpd, out);
        } else if rng.chance(POS_SHARE) {
            self.pos_rows(rng, curr, id, z, p_dpd, out);
        }
        if rng.chance(INSTALMENT_SHARE) {
            self.instalment_rows(rng, curr, id, z, out);
        }
    }

    fn dpd(rng: &mut Rng, p: f64) -> (f64, f64) {
        if rng.chance(p) {
            let d = 1.0 + (-20.0 * rng.uniform().ln()).floor();
            (d, if rng.chance(0.5) { d } else { 0.0 })
        } else {
            (0.0, 0.0)
        }
    }

    fn pos_rows(&self, rng: &mut Rng, curr: u64, id: u64, z: f64, p_dpd: f64, out: &mut Sink<'_>) {
        let n = 1 + (rng.uniform() * POS_MONTHS_SPAN) as i64;
        let last = -rng.range(1, 90);
        let cols = Table::PosCashBalance.columns().len();
        for k in 0..n {
            self.pos.draw_all(rng, z, &mut out.scratch.values);
            let cnt = match out.scratch.values[self.idx.pos_cnt] {
                Value::Num(c) => c,
                _ => 12.0,
            };
            out.scratch.values[0] = Value::Num(id as f64);
            out.scratch.values[1] = Value::Num(curr as f64);
            out.scratch.values[2] = Value::Num((last - (n - 1 - k)) as f64);
            if out.scratch.values[self.idx.pos_cnt] != Value::Missing {
                out.scratch.values[self.idx.pos_cnt + 1] = Value::Num((cnt - k as f64).max(0.0));
            }
            if k == n - 1 && rng.chance(0.3) {
                out.scratch.values[self.idx.pos_status] = Value::Cat("Completed");
            }
            let (dpd, def) = Self::dpd(rng, p_dpd);
            out.scratch.values[cols - 2] = Value::Num(dpd);
            out.scratch.values[cols - 1] = Value::Num(def);
            self.pos.write(&mut out.bufs[5], &out.scratch.values, None);
        }
        out.tally.rows[5] += n as u64;
    }

    fn instalment_rows(&self, rng: &mut Rng, curr: u64, id: u64, z: f64, out: &mut Sink<'_>) {
        let n = 1 + (rng.uniform() * INSTALMENTS_SPAN) as i64;
        self.inst.draw_all(rng, 0.0, &mut out.scratch.values);
        let version = out.scratch.values[self.idx.inst_version];
        let amount = match out.scratch.values[self.idx.inst_amount] {
            Value::Num(a) => a,
            _ => 10_000.0,
        };
        let first_day = -rng.range(30 * n, 2920.max(30 * n + 1)) as f64;
        let p_late = sigmoid(-2.8 + 1.3 * z);
        let p_short = sigmoid(-3.5 + 1.2 * z);
        for k in 0..n {
            let due = (first_day + 30.0 * k as f64).min(-1.0);
            let (paid_day, paid) = if rng.chance(0.0002) {
                (Value::Missing, Value::Missing)
            } else {
                let day = if rng.chance(p_late) {
                    due + 1.0 + (-12.0 * rng.uniform().ln()).floor()
                } else {
                    due - (-8.0 * rng.uniform().ln()).floor()
                };
                let share = if rng.chance(p_short) {
                    0.1 + 0.85 * rng.uniform()
                } else if rng.chance(0.02) {
                    1.0 + 2.0 * rng.uniform()
                } else {
                    1.0
                };
                (Value::Num(day), Value::Num(amount * share))
            };
            let mut line = Line::new(&mut out.bufs[6]);
            line.int(id as i64)
                .int(curr as i64)
                .value(version, 1)
                .int(k + 1)
                .num(due, 1)
                .value(paid_day, 1)
                .num(amount, 3)
                .value(paid, 3)
                .end();
        }
        out.tally.rows[6] += n as u64;
    }

    fn card_rows(&self, rng: &mut Rng, curr: u64, id: u64, z: f64, p_dpd: f64, out: &mut Sink<'_>) {
        let n = 1 + (rng.uniform() * CARD_MONTHS_SPAN) as i64;
        self.card.draw_all(rng, z, &mut out.scratch.values);
        let limit = out.scratch.values[self.idx.card_limit];
        let cols = Table::CreditCardBalance.columns().len();
        for k in 0..n {
            self.card.draw_all(rng, z, &mut out.scratch.values);
            out.scratch.values[0] = Value::Num(id as f64);
            out.scratch.values[1] = Value::Num(curr as f64);
            out.scratch.values[2] = Value::Num(-1.0 - k as f64);
            out.scratch.values[self.idx.card_limit] = limit;
            let (dpd, def) = Self::dpd(rng, p_dpd);
            out.scratch.values[cols - 2] = Value::Num(dpd);
            out.scratch.values[cols - 1] = Value::Num(def);
            self.card.write(&mut out.bufs[7], &out.scratch.values, None);
        }
        out.tally.rows[7] += n as u64;
    }
}

/// Where the history rows of one applicant go.
#[derive(Debug)]
struct Sink<'a> {
    bufs: &'a mut Chunk,
    tally: &'a mut Tally,
    scratch: &'a mut Scratch,
}

#[derive(Debug, Default)]
struct Scratch {
    values: Vec<Value>,
}

/// The lines of `text` in a random order (Fisher-Yates).
fn shuffle_lines(text: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    for i in (1..lines.len()).rev() {
        let j = rng.range(0, i as i64) as usize;
        lines.swap(i, j);
    }
    lines.concat()
}

/// 0 with probability `none`, else 1 + Poisson(`extra`).
fn count(rng: &mut Rng, none: f64, extra: f64) -> u32 {
    if rng.chance(none) {
        0
    } else {
        1 + rng.poisson(extra)
    }
}

/// The intercept `a` with E[sigmoid(a + s Z)] = rate for a standard normal Z.
fn intercept_for(rate: f64, s: f64) -> f64 {
    let mean = |a: f64| {
        let (mut sum, mut weight) = (0.0, 0.0);
        for k in -800..=800 {
            let z = f64::from(k) / 100.0;
            let w = (-0.5 * z * z).exp();
            sum += w * sigmoid(a + s * z);
            weight += w;
        }
        sum / weight
    };
    let (mut lo, mut hi) = (-20.0, 5.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if mean(mid) < rate {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intercept_gives_the_rate() {
        let a = intercept_for(0.08, 1.8);
        let mut rng = Rng::new(3);
        let n = 200_000;
        let hits = (0..n).filter(|_| {
            let z = rng.normal();
            rng.chance(sigmoid(a + 1.8 * z))
        });
        let rate = hits.count() as f64 / f64::from(n);
        assert!((rate - 0.08).abs() < 0.003, "{rate}");
    }

    #[test]
    fn shuffled_lines_are_a_permutation() {
        let text = b"a,1\nb,2\nc,3\nd,4\n";
        let out = shuffle_lines(text, &mut Rng::new(9));
        let mut got: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
        got.sort();
        let mut want: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        want.sort();
        assert_eq!(got, want);
        assert_ne!(
            out.as_slice(),
            text.as_slice(),
            "this seed moves at least one line"
        );
    }

    #[test]
    fn test_quota_is_exact() {
        let plan = Plan::new(1, 900, 100);
        assert_eq!((0..1000).filter(|&i| plan.is_test(i)).count(), 100);
    }
}
