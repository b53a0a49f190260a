//! The model's documentation pack (`riskscore document`): a self-contained HTML document for a
//! validator (purpose, target, data and lineage, features, method and alternatives, performance
//! with intervals, calibration, threshold economics, stability, fairness, explanations,
//! limitations, monitoring plan, change log and approvals to fill) and `model_card.json` in
//! model-card-toolkit's schema (v0.0.2).
//!
//! Every figure is read from the bundle's own JSON files (or the drift, monitoring and MLflow
//! results given) by its JSON pointer, never retyped: in the HTML each one is a `<data>`
//! element whose `value` is the number as the file writes it and whose `data-file` and
//! `data-pointer` say where it was read, so a test (or a validator) can check every figure
//! against its source.

mod card;
mod html;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::wording::Wording;
use crate::{Error, Result};

pub use card::model_card;
pub use html::document;

/// The pack's HTML document.
pub const DOCUMENT_FILE: &str = "model-documentation.html";
/// The model card.
pub const CARD_FILE: &str = "model_card.json";

/// What the pack is written from.
#[derive(Debug)]
pub struct Inputs {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The model's name (the card's and the document's title).
    pub name: String,
    /// The version the server journals (`created-datahash`).
    pub version: String,
    /// Who owns the model, and how to reach them (empty: left to fill).
    pub owner: Option<(String, String)>,
    /// `manifest.json` as written.
    pub manifest: Value,
    /// `pipeline.json` as written.
    pub pipeline: Value,
    /// `fairness.json`, when the bundle has one.
    pub fairness: Option<Value>,
    /// `riskscore drift --json` output, when given.
    pub drift: Option<Value>,
    /// `riskscore monitor --json` output, when given.
    pub monitor: Option<Value>,
    /// The MLflow run of the training (`runs/get`'s `run` object), when given.
    pub run: Option<Value>,
    /// The words for each feature.
    pub wording: Wording,
    /// Out-of-fold calibrated probabilities and outcomes (`oof.csv`), when the bundle has them.
    pub oof: Option<(Vec<f64>, Vec<u8>)>,
}

impl Inputs {
    /// Reads a bundle's JSON files (`manifest.json`, `pipeline.json`, `fairness.json` when
    /// present); the caller adds what the files do not hold.
    pub fn read_json(dir: &Path, name: &str) -> Result<Option<Value>> {
        let path = dir.join(name);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Model(format!("reading {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Model(format!("{} is not JSON: {e}", path.display())))
    }
}

/// Writes the pack into `out` (created if needed): the HTML document and the model card.
/// Returns their paths.
pub fn write(inputs: &Inputs, out: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Model(format!("creating {}: {e}", out.display())))?;
    let doc = out.join(DOCUMENT_FILE);
    let card = out.join(CARD_FILE);
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| Error::Model(format!("writing {}: {e}", path.display())))
    };
    write(&doc, document(inputs))?;
    let json = serde_json::to_string_pretty(&model_card(inputs))
        .map_err(|e| Error::Model(format!("model card: {e}")))?;
    write(&card, json + "\n")?;
    Ok((doc, card))
}

/// A figure read from one of the pack's sources by JSON pointer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    /// Where it was read: a bundle file name, or `drift`, `monitor`, `mlflow-run`.
    pub file: &'a str,
    pub json: &'a Value,
}

impl<'a> Source<'a> {
    pub fn get(&self, pointer: &str) -> Option<&'a Value> {
        self.json.pointer(pointer).filter(|v| !v.is_null())
    }

    pub fn f64(&self, pointer: &str) -> Option<f64> {
        self.get(pointer).and_then(Value::as_f64)
    }

    pub fn str(&self, pointer: &str) -> Option<&'a str> {
        self.get(pointer).and_then(Value::as_str)
    }

    /// The figure as HTML: `<data>` with its value as written and where it was read, shown
    /// with `digits` decimals (as a percentage when `percent`); "–" when absent.
    pub fn fig(&self, pointer: &str, digits: usize, percent: bool) -> String {
        match self.get(pointer) {
            Some(v @ Value::Number(n)) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                let shown = if percent {
                    format!("{:.digits$} %", 100.0 * x)
                } else if n.is_u64() || n.is_i64() {
                    thousands(&n.to_string())
                } else {
                    format!("{x:.digits$}")
                };
                self.data(pointer, &v.to_string(), &shown)
            }
            Some(Value::String(s)) => self.data(pointer, s, s),
            Some(Value::Bool(b)) => {
                self.data(pointer, &b.to_string(), if *b { "yes" } else { "no" })
            }
            _ => "–".into(),
        }
    }

    /// A Unix time (seconds) shown as its UTC date and time.
    pub fn when(&self, pointer: &str) -> String {
        match self.get(pointer).and_then(Value::as_u64) {
            Some(t) => self.data(
                pointer,
                &t.to_string(),
                &format!("{} UTC", card::date_time_of(t)),
            ),
            None => "–".into(),
        }
    }

    fn data(&self, pointer: &str, value: &str, shown: &str) -> String {
        use riskscore_report::esc;
        format!(
            "<data value=\"{}\" data-file=\"{}\" data-pointer=\"{}\">{}</data>",
            esc(value),
            esc(self.file),
            esc(pointer),
            esc(shown)
        )
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(digits: &str) -> String {
    let (sign, d) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_carry_their_source() {
        let json =
            serde_json::json!({"metrics": {"cv_auc": 0.771234, "n_rows": 1234567}, "t": true});
        let s = Source {
            file: "manifest.json",
            json: &json,
        };
        assert_eq!(
            s.fig("/metrics/cv_auc", 3, false),
            "<data value=\"0.771234\" data-file=\"manifest.json\" data-pointer=\"/metrics/cv_auc\">0.771</data>"
        );
        assert!(s
            .fig("/metrics/n_rows", 0, false)
            .ends_with(">1,234,567</data>"));
        assert!(s
            .fig("/metrics/cv_auc", 1, true)
            .ends_with(">77.1 %</data>"));
        assert_eq!(s.fig("/metrics/missing", 3, false), "–");
        assert_eq!(thousands("-1000"), "-1,000");
        assert_eq!(thousands("999"), "999");
    }
}
