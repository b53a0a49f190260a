//! The local run directory: MLflow's file-store layout (`<root>/<experiment>/meta.yaml`,
//! `<root>/<experiment>/<run>/{meta.yaml,metrics,params,tags,artifacts}`), which Python MLflow
//! reads (`MLFLOW_ALLOW_FILE_STORE=true`) and `mlflow migrate-filestore` imports into a database.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::{Metric, NewRun, RunInfo, Status, Store};
use crate::util::{new_id, now_ms, yaml_str};

#[derive(Debug)]
pub struct FileStore {
    root: PathBuf,
    /// Name, user and start of the runs created here, for their meta at the end.
    started: HashMap<String, (String, String, i64)>,
}

/// A `file://` URI of an absolute path.
fn file_uri(p: &Path) -> String {
    format!("file://{}", p.display())
}

impl FileStore {
    /// The store at `root` (created when missing; made absolute).
    pub fn open(root: &Path) -> Result<FileStore> {
        fs::create_dir_all(root).map_err(Error::io(root))?;
        let root = fs::canonicalize(root).map_err(Error::io(root))?;
        let store = FileStore {
            root,
            started: HashMap::new(),
        };
        if !store.root.join("0").join("meta.yaml").exists() {
            store.write_experiment("0", "Default")?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn write_experiment(&self, id: &str, name: &str) -> Result<()> {
        let dir = self.root.join(id);
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let t = now_ms();
        let meta = format!(
            "artifact_location: {}\ncreation_time: {t}\nexperiment_id: '{id}'\n\
             last_update_time: {t}\nlifecycle_stage: active\nname: {}\n",
            yaml_str(&file_uri(&dir)),
            yaml_str(name)
        );
        write(&dir.join("meta.yaml"), meta.as_bytes())
    }

    fn run_dir(&self, run: &RunInfo) -> PathBuf {
        self.root.join(&run.experiment_id).join(&run.run_id)
    }

    fn run_meta(
        run: &RunInfo,
        name: &str,
        user: &str,
        start: i64,
        end: Option<(Status, i64)>,
    ) -> String {
        let (status, end_time) = match end {
            Some((s, t)) => (s.number(), t.to_string()),
            None => (1, "null".to_string()),
        };
        format!(
            "artifact_uri: {}\nend_time: {end_time}\nentry_point_name: ''\nexperiment_id: '{}'\n\
             lifecycle_stage: active\nrun_id: {}\nrun_name: {}\nrun_uuid: {}\nsource_name: ''\n\
             source_type: 4\nsource_version: ''\nstart_time: {start}\nstatus: {status}\ntags: []\n\
             user_id: {}\n",
            yaml_str(&run.artifact_uri),
            run.experiment_id,
            run.run_id,
            yaml_str(name),
            run.run_id,
            yaml_str(user)
        )
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    fs::write(path, bytes).map_err(Error::io(path))
}

/// A metric, param or tag key as a relative file path: MLflow's rule (letters, digits and
/// `_-. /`), no `..`.
fn key_path(kind: &str, key: &str) -> Result<PathBuf> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || "_-. /:".contains(c))
        && !key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if !ok {
        return Err(Error::Invalid(format!("invalid {kind} name {key:?}")));
    }
    Ok(PathBuf::from(key))
}

impl Store for FileStore {
    fn describe(&self) -> String {
        format!("local run directory {}", self.root.display())
    }

    fn experiment(&mut self, name: &str) -> Result<String> {
        let mut max_id: u64 = 0;
        let entries = fs::read_dir(&self.root).map_err(Error::io(&self.root))?;
        for e in entries.flatten() {
            let Some(id) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Ok(n) = id.parse::<u64>() else { continue };
            max_id = max_id.max(n);
            let meta = fs::read_to_string(e.path().join("meta.yaml")).unwrap_or_default();
            let found = meta.lines().any(|l| {
                l.strip_prefix("name: ").is_some_and(|v| {
                    v == yaml_str(name) || v == name || v.trim_matches('\'') == name
                })
            });
            if found {
                return Ok(id);
            }
        }
        let id = (max_id + 1).to_string();
        self.write_experiment(&id, name)?;
        Ok(id)
    }

    fn create_run(&mut self, run: NewRun) -> Result<RunInfo> {
        let run_id = new_id();
        let exp_dir = self.root.join(run.experiment_id);
        let dir = exp_dir.join(&run_id);
        let info = RunInfo {
            run_id,
            experiment_id: run.experiment_id.to_owned(),
            artifact_uri: file_uri(&dir.join("artifacts")),
        };
        for sub in ["metrics", "params", "tags", "artifacts"] {
            let d = dir.join(sub);
            fs::create_dir_all(&d).map_err(Error::io(&d))?;
        }
        let meta = Self::run_meta(&info, run.name, run.user, run.start_ms, None);
        write(&dir.join("meta.yaml"), meta.as_bytes())?;
        self.started.insert(
            info.run_id.clone(),
            (run.name.to_owned(), run.user.to_owned(), run.start_ms),
        );
        self.log_batch(&info, &[], &[], run.tags)?;
        Ok(info)
    }

    fn log_batch(
        &mut self,
        run: &RunInfo,
        metrics: &[Metric],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<()> {
        let dir = self.run_dir(run);
        for m in metrics {
            let path = dir.join("metrics").join(key_path("metric", &m.key)?);
            if let Some(d) = path.parent() {
                fs::create_dir_all(d).map_err(Error::io(d))?;
            }
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(Error::io(&path))?;
            writeln!(f, "{} {} {}", m.timestamp, m.value, m.step).map_err(Error::io(&path))?;
        }
        for (k, v) in params {
            write(
                &dir.join("params").join(key_path("param", k)?),
                v.as_bytes(),
            )?;
        }
        for (k, v) in tags {
            write(&dir.join("tags").join(key_path("tag", k)?), v.as_bytes())?;
        }
        Ok(())
    }

    fn upload(&mut self, run: &RunInfo, rel: &str, src: &Path) -> Result<()> {
        let dest = self
            .run_dir(run)
            .join("artifacts")
            .join(key_path("artifact", rel)?);
        if let Some(d) = dest.parent() {
            fs::create_dir_all(d).map_err(Error::io(d))?;
        }
        fs::copy(src, &dest).map_err(Error::io(src))?;
        Ok(())
    }

    fn end_run(&mut self, run: &RunInfo, status: Status, end_ms: i64) -> Result<()> {
        let dir = self.run_dir(run);
        let (name, user, start) = self
            .started
            .get(&run.run_id)
            .cloned()
            .unwrap_or_else(|| (String::new(), String::new(), end_ms));
        let meta = Self::run_meta(run, &name, &user, start, Some((status, end_ms)));
        write(&dir.join("meta.yaml"), meta.as_bytes())
    }

    fn run_link(&self, run: &RunInfo) -> String {
        self.run_dir(run).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiments_are_found_again_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        let a = s.experiment("credit: v1").unwrap();
        let b = s.experiment("other").unwrap();
        assert_ne!(a, b);
        assert_eq!(s.experiment("credit: v1").unwrap(), a);
        assert!(dir.path().join("0/meta.yaml").exists());
    }

    #[test]
    fn metric_history_lines_and_bad_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FileStore::open(dir.path()).unwrap();
        let e = s.experiment("x").unwrap();
        let run = s
            .create_run(NewRun {
                experiment_id: &e,
                name: "r",
                start_ms: 5,
                user: "u",
                tags: &[("mlflow.runName".into(), "r".into())],
            })
            .unwrap();
        let m = |v, step| Metric {
            key: "auc".into(),
            value: v,
            step,
            timestamp: 7,
        };
        s.log_batch(&run, &[m(0.5, 1), m(0.75, 2)], &[], &[])
            .unwrap();
        let text = fs::read_to_string(s.run_dir(&run).join("metrics/auc")).unwrap();
        assert_eq!(text, "7 0.5 1\n7 0.75 2\n");
        let bad = Metric {
            key: "../x".into(),
            ..m(0.1, 0)
        };
        assert!(s.log_batch(&run, &[bad], &[], &[]).is_err());
        s.end_run(&run, Status::Failed, 9).unwrap();
        let meta = fs::read_to_string(s.run_dir(&run).join("meta.yaml")).unwrap();
        assert!(
            meta.contains("status: 4") && meta.contains("end_time: 9"),
            "{meta}"
        );
        assert!(
            meta.contains("start_time: 5") && meta.contains("run_name: \"r\""),
            "{meta}"
        );
    }
}
