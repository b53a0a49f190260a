//! Batch scoring with a bundle: raw data through the bundle's own fitted pipeline, then the
//! booster, the calibration and the decision rule.

use std::path::Path;

use polars::prelude::*;
use riskscore_data::Folder;
use riskscore_features::{GenericTable, Layout};

use crate::bundle::{Decision, ModelBundle};
use crate::data::matrix;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub id: i64,
    /// The booster's probability before calibration.
    pub probability_raw: f64,
    pub probability: f64,
    pub decision: Decision,
    pub review: bool,
    /// With a scorecard bundle: the score in points and its reasons.
    pub points: Option<Points>,
}

/// A scorecard's score and the classic reasons: the characteristics where the client lost the
/// most points against each one's best bin.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    pub score: f64,
    /// (characteristic, points lost), the largest loss first, at most [`REASONS`].
    pub reasons: Vec<(String, f64)>,
}

/// Reasons given per score (the adverse-action notices' four).
pub const REASONS: usize = 4;

/// Applies the bundle's pipeline to `path` (a Home Credit folder or a single table, as at
/// training) and scores every row.
pub fn score_path(bundle: &ModelBundle, path: &Path) -> Result<Vec<Scored>> {
    score_frame(bundle, &frame_for(bundle, path)?)
}

/// The feature frame of `path`: a feature matrix already built with this bundle's pipeline
/// (Parquet with an identical `X.pipeline.json` beside it) is read as is; raw data goes through
/// the bundle's pipeline.
pub fn frame_for(bundle: &ModelBundle, path: &Path) -> Result<DataFrame> {
    let pipeline = &bundle.pipeline;
    if is_bundles_feature_file(bundle, path)? {
        // The age cap of --monotone-age, whatever wrote the file.
        return Ok(pipeline.apply_age_cap(crate::input::read_parquet(path)?)?);
    }
    Ok(match &pipeline.layout {
        Layout::HomeCredit { .. } => {
            let folder = Folder::new(path).map_err(riskscore_features::Error::from)?;
            pipeline.transform_home_credit(&folder)?
        }
        Layout::Generic(_) => {
            if !path.is_file() {
                return Err(Error::Data(format!(
                    "{}: the model was trained on a single table; give a CSV or Parquet file",
                    path.display()
                )));
            }
            let table = GenericTable::new(path, &pipeline.id, &pipeline.target);
            pipeline.transform_generic(&table)?
        }
    })
}

/// Whether `path` is a feature matrix built with the bundle's pipeline (an error when it was
/// built with another); false for raw data.
pub fn is_bundles_feature_file(bundle: &ModelBundle, path: &Path) -> Result<bool> {
    let Some(beside) = pipeline_beside(path) else {
        return Ok(false);
    };
    let theirs = riskscore_features::FeaturePipeline::load(&beside)?;
    if theirs != bundle.pipeline {
        return Err(Error::Data(format!(
            "{} was built with another feature pipeline than the model's",
            path.display()
        )));
    }
    Ok(true)
}

/// The fitted pipeline written beside `path` when `path` is a feature matrix built by
/// `riskscore features` (a file with its `X.pipeline.json`); None for raw data.
pub fn pipeline_beside(path: &Path) -> Option<std::path::PathBuf> {
    let beside = riskscore_features::pipeline_path_for(path);
    let matrix = crate::input::is_feature_file(path) && !riskscore_data::read::is_csv(path);
    (matrix && beside.is_file()).then_some(beside)
}

/// Scores the rows of a feature frame with the bundle's feature columns.
pub fn score_frame(bundle: &ModelBundle, frame: &DataFrame) -> Result<Vec<Scored>> {
    let names = bundle.manifest.feature_names();
    let (ids, x) = matrix(frame, &bundle.pipeline.id, &names)?;
    let raw = crate::lgbm::predict(&bundle.booster, &x, names.len())?;
    let card = bundle.scorecard()?;
    let k = names.len();
    Ok(ids
        .into_iter()
        .zip(raw)
        .enumerate()
        .map(|(i, (id, r))| {
            let p = bundle.manifest.calibration.apply(r);
            Scored {
                id,
                probability_raw: r,
                probability: p,
                decision: bundle.decide(p),
                review: bundle.in_review_band(p),
                points: card.as_ref().map(|c| points(c, &x[i * k..(i + 1) * k])),
            }
        })
        .collect())
}

fn points(card: &riskscore_scorecard::Scorecard, row: &[f64]) -> Points {
    let scored = card.score_row(row);
    let reasons = card
        .reasons(&scored)
        .into_iter()
        .take(REASONS)
        .map(|(i, lost)| (card.characteristics[i].binning.name.clone(), lost))
        .collect();
    Points {
        score: scored.score,
        reasons,
    }
}

/// Writes scores as CSV: id, probability_raw, probability, decision, review; with a scorecard
/// bundle also the score and its reasons (`CHARACTERISTIC -points; ...`).
pub fn write_csv(scores: &[Scored], id: &str, path: &Path) -> Result<()> {
    use std::fmt::Write;
    let card = scores.first().is_some_and(|s| s.points.is_some());
    let mut s = format!("{id},probability_raw,probability,decision,review");
    s.push_str(if card { ",score,reasons\n" } else { "\n" });
    for r in scores {
        let d = match r.decision {
            Decision::Granted => "granted",
            Decision::Refused => "refused",
        };
        let _ = write!(
            s,
            "{},{},{},{d},{}",
            r.id, r.probability_raw, r.probability, r.review
        );
        if let Some(p) = &r.points {
            let reasons: Vec<String> = p
                .reasons
                .iter()
                .map(|(name, lost)| format!("{name} -{lost:.1}"))
                .collect();
            let _ = write!(
                s,
                ",{},\"{}\"",
                p.score,
                reasons.join("; ").replace('"', "\"\"")
            );
        }
        s.push('\n');
    }
    std::fs::write(path, s).map_err(Error::io(path))
}
