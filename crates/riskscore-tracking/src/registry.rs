//! The MLflow model registry: registered models, versions from a run's `model` artifact,
//! aliases such as `champion`, and `models:/NAME@ALIAS` / `models:/NAME/VERSION` resolved and
//! downloaded for serving.

use std::fs;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::rest::{proxied_path, Rest};

/// A registered model version.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    pub source: String,
    pub run_id: String,
}

fn version_of(v: &Value) -> Result<ModelVersion> {
    let mv = &v["model_version"];
    let s = |k: &str| mv[k].as_str().unwrap_or_default().to_owned();
    if s("version").is_empty() {
        return Err(Error::Invalid(format!("no model version in {v}")));
    }
    Ok(ModelVersion {
        name: s("name"),
        version: s("version"),
        source: s("source"),
        run_id: s("run_id"),
    })
}

/// Registers the run's artifact directory `artifact` (e.g. `model`) as a new version of `name`
/// (the registered model is created when missing) and points `alias` at it.
pub fn register(
    rest: &Rest,
    name: &str,
    run_id: &str,
    artifact: &str,
    alias: Option<&str>,
) -> Result<ModelVersion> {
    if name.trim().is_empty() {
        return Err(Error::Invalid("the registered model name is empty".into()));
    }
    let run = rest.call(Method::GET, "runs/get", &json!({ "run_id": run_id }))?;
    let artifact_uri = run["run"]["info"]["artifact_uri"]
        .as_str()
        .ok_or_else(|| Error::Invalid(format!("run {run_id} has no artifact location")))?
        .to_owned();
    // The run must hold an MLflow model there.
    if let Some(root) = proxied_path(&artifact_uri) {
        let listed = rest.list_artifacts(&format!("{root}/{artifact}"))?;
        if !listed
            .iter()
            .any(|(p, _)| p == "MLmodel" || p.ends_with("/MLmodel"))
        {
            return Err(Error::Invalid(format!(
                "run {run_id} has no MLflow model in its artifact {artifact:?} (no MLmodel file)"
            )));
        }
    }
    match rest.call(
        Method::POST,
        "registered-models/create",
        &json!({ "name": name, "description": "riskscore credit-default model" }),
    ) {
        Ok(_) => {}
        Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => {}
        Err(e) => return Err(e),
    }
    let created = rest.call(
        Method::POST,
        "model-versions/create",
        &json!({
            "name": name,
            "source": format!("{artifact_uri}/{artifact}"),
            "run_id": run_id,
        }),
    )?;
    let mv = version_of(&created)?;
    if let Some(alias) = alias {
        rest.call(
            Method::POST,
            "registered-models/alias",
            &json!({ "name": name, "alias": alias, "version": mv.version }),
        )?;
    }
    Ok(mv)
}

/// Points `alias` (e.g. `champion`) at an existing version of `name`: a challenger promoted.
/// Servers started on `models:/NAME@ALIAS` load it at their next start.
pub fn promote(rest: &Rest, name: &str, version: &str, alias: &str) -> Result<ModelVersion> {
    let got = rest
        .call(
            Method::GET,
            "model-versions/get",
            &json!({ "name": name, "version": version }),
        )
        .map_err(|e| match e.code() {
            Some("RESOURCE_DOES_NOT_EXIST") => {
                Error::Invalid(format!("models:/{name}/{version} does not exist"))
            }
            _ => e,
        })?;
    let mv = version_of(&got)?;
    rest.call(
        Method::POST,
        "registered-models/alias",
        &json!({ "name": name, "alias": alias, "version": mv.version }),
    )?;
    Ok(mv)
}

/// Splits `models:/NAME@ALIAS` or `models:/NAME/VERSION`.
pub fn parse_models_uri(uri: &str) -> Result<(String, Selector)> {
    let bad = |why: &str| Error::Uri {
        uri: uri.into(),
        reason: format!("{why}; expected models:/NAME@ALIAS or models:/NAME/VERSION"),
    };
    let rest = uri
        .strip_prefix("models:/")
        .ok_or_else(|| bad("not a models:/ URI"))?;
    if let Some((name, alias)) = rest.rsplit_once('@') {
        if name.is_empty() || alias.is_empty() {
            return Err(bad("empty name or alias"));
        }
        return Ok((name.to_owned(), Selector::Alias(alias.to_owned())));
    }
    match rest.rsplit_once('/') {
        Some((name, v)) if !name.is_empty() && v.parse::<u64>().is_ok() => {
            Ok((name.to_owned(), Selector::Version(v.to_owned())))
        }
        _ => Err(bad("no alias or version number")),
    }
}

/// Which version of a registered model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Alias(String),
    Version(String),
}

/// The version a `models:/` URI names.
pub fn resolve(rest: &Rest, uri: &str) -> Result<ModelVersion> {
    let (name, sel) = parse_models_uri(uri)?;
    let v = match sel {
        Selector::Alias(a) => rest.call(
            Method::GET,
            "registered-models/alias",
            &json!({ "name": name, "alias": a }),
        )?,
        Selector::Version(n) => rest.call(
            Method::GET,
            "model-versions/get",
            &json!({ "name": name, "version": n }),
        )?,
    };
    version_of(&v)
}

/// Downloads the sub-directory `sub` of the version's model (e.g. `riskscore`, the bundle) into
/// `dest`, and returns the directory written.
pub fn download(rest: &Rest, mv: &ModelVersion, sub: &str, dest: &Path) -> Result<PathBuf> {
    let uri = rest.call(
        Method::GET,
        "model-versions/get-download-uri",
        &json!({ "name": mv.name, "version": mv.version }),
    )?;
    let artifact_uri = uri["artifact_uri"]
        .as_str()
        .unwrap_or(&mv.source)
        .to_owned();
    let root = proxied_path(&artifact_uri).ok_or_else(|| {
        Error::Invalid(format!(
            "model {} version {} is stored at {artifact_uri}, which {} does not serve",
            mv.name,
            mv.version,
            rest.base()
        ))
    })?;
    let from = format!("{root}/{sub}");
    let mut files = Vec::new();
    list(rest, &from, "", &mut files)?;
    if files.is_empty() {
        return Err(Error::Invalid(format!(
            "model {} version {} has no {sub}/ directory (was it logged by riskscore?)",
            mv.name, mv.version
        )));
    }
    fs::create_dir_all(dest).map_err(Error::io(dest))?;
    for rel in files {
        if rel.split('/').any(|s| s == ".." || s.is_empty()) {
            return Err(Error::Invalid(format!("unsafe artifact path {rel:?}")));
        }
        let bytes = rest.get_artifact(&format!("{from}/{rel}"))?;
        let to = dest.join(&rel);
        if let Some(d) = to.parent() {
            fs::create_dir_all(d).map_err(Error::io(d))?;
        }
        fs::write(&to, bytes).map_err(Error::io(&to))?;
    }
    Ok(dest.to_owned())
}

/// Every file below `path` (relative to the top of the listing).
fn list(rest: &Rest, top: &str, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    let dir = if prefix.is_empty() {
        top.to_owned()
    } else {
        format!("{top}/{prefix}")
    };
    for (p, is_dir) in rest.list_artifacts(&dir)? {
        // The proxy answers paths relative to the listed directory.
        let name = p.rsplit('/').next().unwrap_or(&p).to_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if is_dir {
            list(rest, top, &rel, out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_uris() {
        assert_eq!(
            parse_models_uri("models:/credit@champion").unwrap(),
            ("credit".into(), Selector::Alias("champion".into()))
        );
        assert_eq!(
            parse_models_uri("models:/credit/3").unwrap(),
            ("credit".into(), Selector::Version("3".into()))
        );
        for bad in [
            "models:/credit",
            "runs:/x/model",
            "models:/@a",
            "models:/c/x",
        ] {
            let e = parse_models_uri(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
