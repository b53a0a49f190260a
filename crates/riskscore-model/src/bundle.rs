//! The model bundle: a directory with the LightGBM text model, the fitted feature pipeline, the
//! manifest (threshold, costs, calibration, metrics), the training profile and the report, plus
//! `checksums.sha256` (`sha256sum -c` format) verified on every load.

use std::path::{Path, PathBuf};

use lightgbm3::Booster;
use riskscore_features::FeaturePipeline;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calibration::Calibration;
use crate::cost::CostMatrix;
use crate::error::{Error, Result};
use crate::imbalance::Strategy;
use crate::lgbm::{self, LgbmParams};
use crate::profile::Profile;
use crate::train::TrainSummary;

/// Bumped when the meaning of a manifest field changes.
pub const FORMAT_VERSION: u32 = 1;
pub const MODEL_FILE: &str = "model.txt";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const PIPELINE_FILE: &str = "pipeline.json";
pub const PROFILE_FILE: &str = "profile.json";
pub const CHECKSUMS_FILE: &str = "checksums.sha256";
/// Out-of-fold predictions: id, target, fold, probability before and after calibration.
pub const OOF_FILE: &str = "oof.csv";
/// Fairness at the threshold (out-of-fold) and the age rule, written at training.
pub const FAIRNESS_FILE: &str = "fairness.json";
/// The scorecard challenger (`train --challenger scorecard`), its points table and its SQL.
pub const SCORECARD_FILE: &str = "scorecard.json";
pub const SCORECARD_POINTS_FILE: &str = "scorecard_points.csv";
pub const SCORECARD_SQL_FILE: &str = "scorecard.sql";
/// Files a bundle cannot be used without; each must be listed in the checksums.
pub const REQUIRED: [&str; 4] = [MODEL_FILE, MANIFEST_FILE, PIPELINE_FILE, PROFILE_FILE];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    /// The name inside the LightGBM model (JSON punctuation and spaces replaced).
    pub lightgbm_name: String,
    /// "binary" (only 0/1 seen in training) or "numeric".
    pub kind: String,
    pub gain: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub riskscore_version: String,
    pub created_unix: u64,
    /// The id and target columns of the training data.
    pub id: String,
    pub target: String,
    pub features: Vec<FeatureSpec>,
    /// Protected attributes: not model inputs, nor is any feature derived from them.
    #[serde(default)]
    pub protected: Vec<String>,
    /// The features derived from the protected attributes, kept out of the model and
    /// computed beside it for the fairness audit.
    #[serde(default)]
    pub protected_features: Vec<String>,
    /// Trained with `--monotone-age`: older never riskier, ages of 62 and over scored as 62.
    #[serde(default)]
    pub monotone_age: bool,
    /// Refused when the calibrated probability is at or above it.
    pub threshold: f64,
    /// Probabilities within this distance of the threshold are flagged for review.
    pub review_band: f64,
    pub cost: CostMatrix,
    pub calibration: Calibration,
    pub strategy: Strategy,
    pub params: LgbmParams,
    /// The exact parameter object LightGBM was given for the final model.
    pub lightgbm_params: serde_json::Value,
    /// The parameter object of each cross-validation booster (early stopping on its fold;
    /// with class weights, `scale_pos_weight` is the good/defaulter ratio of its training rows).
    pub cv_lightgbm_params: serde_json::Value,
    pub rounds: u32,
    /// SHA-256 of the training matrix (ids, labels and values).
    pub data_hash: String,
    pub metrics: TrainSummary,
}

/// A loaded, verified bundle.
pub struct ModelBundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub pipeline: FeaturePipeline,
    pub booster: Booster,
}

impl std::fmt::Debug for ModelBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBundle")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The decision for one probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Granted,
    Refused,
}

impl ModelBundle {
    /// Loads a bundle, refusing it when a file is missing or does not match its checksum.
    pub fn load(dir: &Path) -> Result<Self> {
        verify(dir)?;
        let manifest: Manifest = read_json(&dir.join(MANIFEST_FILE))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(bundle_error(
                dir,
                format!(
                    "format version {} (this riskscore reads {FORMAT_VERSION})",
                    manifest.format_version
                ),
            ));
        }
        let pipeline = FeaturePipeline::load(&dir.join(PIPELINE_FILE))?;
        let model_path = dir.join(MODEL_FILE);
        let booster = Booster::from_file(&model_path.to_string_lossy())
            .map_err(Error::lightgbm(format!("loading {}", model_path.display())))?;
        if booster.num_features() as usize != manifest.features.len() {
            return Err(bundle_error(
                dir,
                format!(
                    "the model has {} features, the manifest {}",
                    booster.num_features(),
                    manifest.features.len()
                ),
            ));
        }
        Ok(ModelBundle {
            dir: dir.to_path_buf(),
            manifest,
            pipeline,
            booster,
        })
    }

    /// The scorecard this bundle ships (`--model scorecard`), None for a LightGBM bundle.
    pub fn scorecard(&self) -> Result<Option<riskscore_scorecard::Scorecard>> {
        if self.manifest.metrics.model != "scorecard" {
            return Ok(None);
        }
        let shipped: crate::run::ShippedScorecard = read_json(&self.dir.join(SCORECARD_FILE))?;
        Ok(Some(shipped.scorecard))
    }

    pub fn profile(&self) -> Result<Profile> {
        read_json(&self.dir.join(PROFILE_FILE))
    }

    pub fn n_features(&self) -> usize {
        self.manifest.features.len()
    }

    /// Calibrated probabilities of default for row-major rows in the manifest's feature order.
    pub fn predict<T: crate::lgbm::DType>(&self, x: &[T]) -> Result<Vec<f64>> {
        let raw = lgbm::predict(&self.booster, x, self.n_features())?;
        Ok(self.manifest.calibration.apply_all(&raw))
    }

    /// The bundle's LightGBM model as its text, from which [`ModelBundle::booster_from`] makes
    /// other boosters of the same model (a booster cannot be shared between threads).
    pub fn booster_text(&self) -> Result<String> {
        self.booster
            .save_string()
            .map_err(Error::lightgbm("writing the model as text"))
    }

    /// A booster of the model `text` ([`ModelBundle::booster_text`]).
    pub fn booster_from(text: &str) -> Result<Booster> {
        Booster::from_string(text).map_err(Error::lightgbm("reading the model's text"))
    }

    pub fn decide(&self, p: f64) -> Decision {
        self.manifest.decide(p)
    }

    pub fn in_review_band(&self, p: f64) -> bool {
        self.manifest.in_review_band(p)
    }
}

impl Manifest {
    /// The feature names in the model's column order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }

    /// The decision rule: refused when the probability is at or above the threshold.
    pub fn decide(&self, p: f64) -> Decision {
        if p >= self.threshold {
            Decision::Refused
        } else {
            Decision::Granted
        }
    }

    /// Whether a probability falls in the review band around the threshold.
    pub fn in_review_band(&self, p: f64) -> bool {
        (p - self.threshold).abs() <= self.review_band
    }
}

/// What `save` writes besides the manifest.
#[derive(Debug)]
pub struct BundleFiles<'a> {
    pub model_text: &'a str,
    pub pipeline: &'a FeaturePipeline,
    pub profile: &'a Profile,
    /// Extra files (name, bytes), e.g. the HTML report; checksummed too.
    pub extra: Vec<(&'a str, Vec<u8>)>,
}

/// Writes a bundle into `dir` (created if needed) and its checksums last.
pub fn save(dir: &Path, manifest: &Manifest, files: BundleFiles) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let mut written: Vec<(String, Vec<u8>)> = vec![
        (MODEL_FILE.into(), files.model_text.as_bytes().to_vec()),
        (MANIFEST_FILE.into(), to_json(manifest, dir)?),
        (PIPELINE_FILE.into(), to_json(files.pipeline, dir)?),
        (PROFILE_FILE.into(), to_json(files.profile, dir)?),
    ];
    for (name, bytes) in files.extra {
        written.push((name.to_string(), bytes));
    }
    let mut sums = String::new();
    for (name, bytes) in &written {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(Error::io(&path))?;
        sums.push_str(&format!("{}  {name}\n", sha256_hex(bytes)));
    }
    let path = dir.join(CHECKSUMS_FILE);
    std::fs::write(&path, sums).map_err(Error::io(&path))
}

fn to_json<T: Serialize>(value: &T, dir: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value).map_err(|e| bundle_error(dir, e.to_string()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Bundle {
        path: path.display().to_string(),
        message: format!("not a valid file of this version: {e}"),
    })
}

fn bundle_error(dir: &Path, message: String) -> Error {
    Error::Bundle {
        path: dir.display().to_string(),
        message,
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks every file listed in `checksums.sha256`, and that the required ones are listed.
pub fn verify(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(bundle_error(dir, "no such directory".into()));
    }
    let sums_path = dir.join(CHECKSUMS_FILE);
    let sums = std::fs::read_to_string(&sums_path).map_err(|_| {
        bundle_error(
            dir,
            format!("{CHECKSUMS_FILE} is missing; not a model bundle"),
        )
    })?;
    let mut listed = Vec::new();
    for (n, line) in sums.lines().enumerate() {
        let Some((hash, name)) = line.split_once("  ") else {
            return Err(bundle_error(
                dir,
                format!("{CHECKSUMS_FILE}:{}: malformed line", n + 1),
            ));
        };
        let path = dir.join(name);
        let bytes =
            std::fs::read(&path).map_err(|_| bundle_error(dir, format!("{name} is missing")))?;
        if sha256_hex(&bytes) != hash {
            return Err(bundle_error(
                dir,
                format!("{name} was altered since the bundle was written (checksum mismatch)"),
            ));
        }
        listed.push(name.to_string());
    }
    for required in REQUIRED {
        if !listed.iter().any(|l| l == required) {
            return Err(bundle_error(
                dir,
                format!("{required} is not listed in {CHECKSUMS_FILE}"),
            ));
        }
    }
    Ok(())
}

/// SHA-256 over the training matrix: ids, labels and feature values in row order.
pub fn data_hash(ids: &[i64], y: &[u8], x: &[f64]) -> String {
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.to_le_bytes());
    }
    h.update(y);
    for chunk in x.chunks(65_536) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        h.update(&bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
