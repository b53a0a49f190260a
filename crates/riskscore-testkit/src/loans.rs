//! A lender's single table with a known signal: default risk rises with the credit/income
//! ratio and falls with age; `kind` C is riskier; `share` is missing for one row in seven;
//! `noise` carries nothing. Ids from 100000.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use riskscore_model::input::TableOptions;

/// Writes `rows` applicants to `dir/loans.csv`, drawn from `seed`.
pub fn write(dir: &Path, rows: usize, seed: u64) -> PathBuf {
    let mut s = String::from("client_id,defaulted,income,credit,age,share,kind,noise\n");
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    for i in 0..rows {
        let income = 20_000.0 + 80_000.0 * uniform();
        let credit = 10_000.0 + 190_000.0 * uniform();
        let age = 20.0 + 45.0 * uniform();
        let kind = ["A", "B", "C"][(uniform() * 3.0) as usize % 3];
        let share = if i % 7 == 3 {
            String::new()
        } else {
            format!("{:.3}", uniform())
        };
        let z = -2.6 + 1.4 * (credit / income).ln() - 0.04 * (age - 40.0)
            + if kind == "C" { 0.8 } else { 0.0 };
        let p = 1.0 / (1.0 + (-z).exp());
        let y = u8::from(uniform() < p);
        let _ = writeln!(
            s,
            "{},{y},{income:.2},{credit:.2},{age:.1},{share},{kind},{:.4}",
            100_000 + i,
            uniform()
        );
    }
    let path = dir.join("loans.csv");
    std::fs::write(&path, s).expect("write the table");
    path
}

/// The table's id and target.
pub fn options() -> TableOptions {
    TableOptions {
        id: Some("client_id".into()),
        target: Some("defaulted".into()),
        ..TableOptions::default()
    }
}
