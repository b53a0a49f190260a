//! The model in MLflow's LightGBM flavour layout, as `mlflow.lightgbm.save_model` writes it
//! (checked against MLflow 3.17's `mlflow/lightgbm/__init__.py` and `mlflow/models/model.py`):
//!
//! ```text
//! model/MLmodel            flavours lightgbm (lightgbm.basic.Booster, data model.lgb) and
//!                          python_function (loader_module riskscore_mlflow from code/, data
//!                          riskscore), the signature
//! model/model.lgb          LightGBM's text model (the bundle's model.txt)
//! model/code/riskscore_mlflow.py   the pyfunc loader: booster, then the bundle's calibration
//! model/conda.yaml, python_env.yaml, requirements.txt
//! model/riskscore/         the whole riskscore bundle (what `riskscore serve` loads)
//! ```
//!
//! `mlflow.pyfunc.load_model(...).predict` gives riskscore's `probability` (calibrated as the
//! server serves it); `mlflow.lightgbm.load_model` gives the booster, riskscore's
//! `probability_raw` (the same when the run kept no calibration).

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};
use crate::util::{new_id, utc_now_text, yaml_str};

/// The LightGBM inside `lightgbm3` 1.0.11, which Python `lightgbm` must match to load the model.
pub const LIGHTGBM_VERSION: &str = "4.7.0";
/// The MLflow release this layout was checked against.
pub const MLFLOW_VERSION: &str = "3.17.2";
/// The directory the bundle goes to inside the MLflow model.
pub const BUNDLE_DIR: &str = "riskscore";
/// The pyfunc loader module, shipped in the model's `code/`.
const LOADER: &str = include_str!("../python/riskscore_mlflow.py");
const PYTHON_VERSION: &str = "3.11";

/// What goes into the MLflow model.
#[derive(Debug, Clone)]
pub struct ModelSpec<'a> {
    /// The riskscore bundle directory (with `model.txt`).
    pub bundle: &'a Path,
    /// The feature names, in the booster's order: the signature's columns (the names of
    /// `riskscore features`, which LightGBM may know in a sanitised form; it predicts by
    /// position).
    pub features: &'a [String],
    /// Extra `metadata` entries of the MLmodel file (threshold, calibration, ...).
    pub metadata: &'a [(String, String)],
}

/// Writes the MLflow model directory `dest` (created; must not exist yet).
pub fn write(dest: &Path, spec: &ModelSpec) -> Result<()> {
    if dest.exists() {
        return Err(Error::Invalid(format!("{} already exists", dest.display())));
    }
    fs::create_dir_all(dest).map_err(Error::io(dest))?;
    let text_path = spec.bundle.join("model.txt");
    let text = fs::read(&text_path).map_err(Error::io(&text_path))?;
    put(&dest.join("model.lgb"), &text)?;
    let bundle_copy = dest.join(BUNDLE_DIR);
    copy_dir(spec.bundle, &bundle_copy)?;
    let code = dest.join("code");
    fs::create_dir_all(&code).map_err(Error::io(&code))?;
    put(&code.join("riskscore_mlflow.py"), LOADER.as_bytes())?;

    let inputs: Vec<serde_json::Value> = spec
        .features
        .iter()
        .map(|f| serde_json::json!({"type": "double", "name": f, "required": true}))
        .collect();
    let inputs = serde_json::Value::Array(inputs).to_string();
    let mut metadata = String::new();
    for (k, v) in spec.metadata {
        metadata.push_str(&format!("  {k}: {}\n", yaml_str(v)));
    }
    let mlmodel = format!(
        "artifact_path: model\n\
         flavors:\n\
        \x20 lightgbm:\n\
        \x20   code: null\n\
        \x20   data: model.lgb\n\
        \x20   lgb_version: {LIGHTGBM_VERSION}\n\
        \x20   model_class: lightgbm.basic.Booster\n\
        \x20 python_function:\n\
        \x20   code: code\n\
        \x20   data: {BUNDLE_DIR}\n\
        \x20   env:\n\
        \x20     conda: conda.yaml\n\
        \x20     virtualenv: python_env.yaml\n\
        \x20   loader_module: riskscore_mlflow\n\
        \x20   python_version: \"{PYTHON_VERSION}\"\n\
         metadata:\n{metadata}\
         mlflow_version: {MLFLOW_VERSION}\n\
         model_size_bytes: {}\n\
         model_uuid: {}\n\
         signature:\n\
        \x20 inputs: '{}'\n\
        \x20 outputs: '[{{\"type\": \"tensor\", \"tensor-spec\": {{\"dtype\": \"float64\", \"shape\": [-1]}}}}]'\n\
        \x20 params: null\n\
         utc_time_created: '{}'\n",
        text.len(),
        new_id(),
        inputs.replace('\'', "''"),
        utc_now_text()
    );
    put(&dest.join("MLmodel"), mlmodel.as_bytes())?;
    let requirements =
        format!("mlflow=={MLFLOW_VERSION}\nlightgbm=={LIGHTGBM_VERSION}\nnumpy\npandas\n");
    put(&dest.join("requirements.txt"), requirements.as_bytes())?;
    let conda = format!(
        "channels:\n- conda-forge\ndependencies:\n- python={PYTHON_VERSION}\n- pip\n- pip:\n  - mlflow=={MLFLOW_VERSION}\n  - lightgbm=={LIGHTGBM_VERSION}\n  - numpy\n  - pandas\nname: mlflow-env\n"
    );
    put(&dest.join("conda.yaml"), conda.as_bytes())?;
    let env = format!(
        "python: \"{PYTHON_VERSION}\"\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n"
    );
    put(&dest.join("python_env.yaml"), env.as_bytes())
}

fn put(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(Error::io(path))
}

fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).map_err(Error::io(dest))?;
    for e in fs::read_dir(src).map_err(Error::io(src))? {
        let e = e.map_err(Error::io(src))?;
        let p = e.path();
        let to = dest.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &to)?;
        } else {
            fs::copy(&p, &to).map_err(Error::io(&p))?;
        }
    }
    Ok(())
}
