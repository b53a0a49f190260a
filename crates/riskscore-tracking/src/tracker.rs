//! A tracking session: one experiment, runs nested under a parent, and a journal of every call
//! so that, when the server fails mid-run, everything is replayed into the local run directory
//! and nothing is lost.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::file::FileStore;
use crate::rest::{Rest, RestStore};
use crate::store::{Metric, NewRun, RunInfo, Status, Store};
use crate::util::now_ms;

/// A run of this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey(usize);

#[derive(Debug, Clone)]
enum Op {
    Start {
        name: String,
        parent: Option<RunKey>,
        start_ms: i64,
        tags: Vec<(String, String)>,
    },
    Log {
        run: RunKey,
        metrics: Vec<Metric>,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    },
    Artifact {
        run: RunKey,
        rel: String,
        src: PathBuf,
    },
    End {
        run: RunKey,
        status: Status,
        end_ms: i64,
    },
}

/// Where a tracking session goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Server(String),
    Dir(PathBuf),
}

impl Target {
    /// `http(s)://...` is a server; `file:///path` or a plain path is a local run directory;
    /// anything else (databricks, sqlite:, ...) is refused with the reason.
    pub fn parse(uri: &str) -> Result<Target> {
        if uri.starts_with("http://") || uri.starts_with("https://") {
            Ok(Target::Server(uri.to_owned()))
        } else if let Some(p) = uri.strip_prefix("file://") {
            Ok(Target::Dir(PathBuf::from(p)))
        } else if uri.contains("://") || uri.starts_with("databricks") || uri.starts_with("sqlite:")
        {
            Err(Error::Uri {
                uri: uri.into(),
                reason: "riskscore tracks to an MLflow server (http:// or https://) or to a \
                         local run directory (a path or file:///path)"
                    .into(),
            })
        } else {
            Ok(Target::Dir(PathBuf::from(uri)))
        }
    }
}

#[derive(Debug)]
pub struct Tracker {
    store: Box<dyn Store>,
    /// The store is an MLflow server (which the local directory replaces when it fails).
    remote: bool,
    /// Set once the server failed: why, and the directory everything went to instead.
    failure: Option<String>,
    fallback_dir: PathBuf,
    experiment_name: String,
    experiment_id: String,
    user: String,
    runs: Vec<(RunInfo, bool)>,
    journal: Vec<Op>,
}

impl Tracker {
    /// Opens the session and gets or creates the experiment, so that an unreachable server or a
    /// refused token is known before any work starts. `fallback_dir` receives the runs if the
    /// server fails later.
    pub fn open(target: &Target, experiment: &str, fallback_dir: &Path) -> Result<Tracker> {
        let mut store: Box<dyn Store> = match target {
            Target::Server(uri) => Box::new(RestStore::new(Rest::new(uri)?)),
            Target::Dir(dir) => Box::new(FileStore::open(dir)?),
        };
        let experiment_id = store.experiment(experiment)?;
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "riskscore".into());
        Ok(Tracker {
            store,
            remote: matches!(target, Target::Server(_)),
            failure: None,
            fallback_dir: fallback_dir.to_owned(),
            experiment_name: experiment.to_owned(),
            experiment_id,
            user,
            runs: Vec::new(),
            journal: Vec::new(),
        })
    }

    /// Where the runs are going: the server or the directory.
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    pub fn experiment_id(&self) -> &str {
        &self.experiment_id
    }

    /// Why the server failed, when it did (everything then went to the local run directory).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    pub fn run(&self, key: RunKey) -> &RunInfo {
        &self.runs[key.0].0
    }

    pub fn run_link(&self, key: RunKey) -> String {
        self.store.run_link(self.run(key))
    }

    /// Starts a run, nested under `parent` when given.
    pub fn start_run(
        &mut self,
        name: &str,
        parent: Option<RunKey>,
        tags: Vec<(String, String)>,
    ) -> Result<RunKey> {
        self.start_run_at(name, parent, tags, now_ms())
    }

    /// [`Tracker::start_run`] for a run that began at `start_ms`.
    pub fn start_run_at(
        &mut self,
        name: &str,
        parent: Option<RunKey>,
        tags: Vec<(String, String)>,
        start_ms: i64,
    ) -> Result<RunKey> {
        let key = RunKey(self.runs.len());
        self.record(Op::Start {
            name: name.to_owned(),
            parent,
            start_ms,
            tags,
        })?;
        Ok(key)
    }

    /// The MLflow server's client, unless the runs go to a local directory.
    pub fn rest(&self) -> Option<&Rest> {
        self.store.rest()
    }

    pub fn log(
        &mut self,
        run: RunKey,
        metrics: Vec<Metric>,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        self.record(Op::Log {
            run,
            metrics,
            params,
            tags,
        })
    }

    /// Logs the file `src` as the artifact `rel`, or every file under the directory `src` below
    /// `rel`. The files must stay until the session ends (a fallback replays them).
    pub fn artifact(&mut self, run: RunKey, rel: &str, src: &Path) -> Result<()> {
        if src.is_dir() {
            let mut files = Vec::new();
            walk(src, src, &mut files)?;
            files.sort();
            for (sub, path) in files {
                let r = if rel.is_empty() {
                    sub
                } else {
                    format!("{rel}/{sub}")
                };
                self.record(Op::Artifact {
                    run,
                    rel: r,
                    src: path,
                })?;
            }
            Ok(())
        } else {
            self.record(Op::Artifact {
                run,
                rel: rel.to_owned(),
                src: src.to_owned(),
            })
        }
    }

    pub fn end(&mut self, run: RunKey, status: Status) -> Result<()> {
        if !self.runs.get(run.0).is_some_and(|r| r.1) {
            return Ok(());
        }
        self.record(Op::End {
            run,
            status,
            end_ms: now_ms(),
        })
    }

    /// Ends every run still open with `status`, children first (after an error or an
    /// interruption).
    pub fn end_open(&mut self, status: Status) -> Result<()> {
        let open: Vec<RunKey> = (0..self.runs.len())
            .rev()
            .filter(|&i| self.runs[i].1)
            .map(RunKey)
            .collect();
        let mut first_err = None;
        for k in open {
            if let Err(e) = self.end(k, status) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn record(&mut self, op: Op) -> Result<()> {
        self.journal.push(op.clone());
        match self.apply(&op) {
            Ok(()) => Ok(()),
            Err(e) if self.remote => {
                tracing::error!(
                    "{e}; keeping this run in the local run directory {}",
                    self.fallback_dir.display()
                );
                self.fall_back(e.to_string())
            }
            Err(e) => Err(e),
        }
    }

    fn fall_back(&mut self, why: String) -> Result<()> {
        self.failure = Some(why);
        self.remote = false;
        let mut store = FileStore::open(&self.fallback_dir)?;
        self.experiment_id = store.experiment(&self.experiment_name)?;
        self.store = Box::new(store);
        self.runs.clear();
        let journal = std::mem::take(&mut self.journal);
        for op in &journal {
            self.apply(op)?;
        }
        self.journal = journal;
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<()> {
        match op {
            Op::Start {
                name,
                parent,
                start_ms,
                tags,
            } => {
                let mut tags = tags.clone();
                if let Some(p) = parent {
                    tags.push(("mlflow.parentRunId".into(), self.run(*p).run_id.clone()));
                }
                tags.push(("mlflow.runName".into(), name.clone()));
                tags.push(("mlflow.user".into(), self.user.clone()));
                let info = self.store.create_run(NewRun {
                    experiment_id: &self.experiment_id,
                    name,
                    start_ms: *start_ms,
                    user: &self.user,
                    tags: &tags,
                })?;
                self.runs.push((info, true));
                Ok(())
            }
            Op::Log {
                run,
                metrics,
                params,
                tags,
            } => {
                let info = self.runs[run.0].0.clone();
                self.store.log_batch(&info, metrics, params, tags)
            }
            Op::Artifact { run, rel, src } => {
                let info = self.runs[run.0].0.clone();
                self.store.upload(&info, rel, src)
            }
            Op::End {
                run,
                status,
                end_ms,
            } => {
                let info = self.runs[run.0].0.clone();
                self.store.end_run(&info, *status, *end_ms)?;
                self.runs[run.0].1 = false;
                Ok(())
            }
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let e = e.map_err(Error::io(dir))?;
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, p));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("http://127.0.0.1:5000").unwrap(),
            Target::Server("http://127.0.0.1:5000".into())
        );
        assert_eq!(
            Target::parse("file:///tmp/mlruns").unwrap(),
            Target::Dir("/tmp/mlruns".into())
        );
        assert_eq!(Target::parse("runs").unwrap(), Target::Dir("runs".into()));
        let e = Target::parse("databricks://x").unwrap_err().to_string();
        assert!(e.contains("databricks://x"), "{e}");
    }

    #[test]
    fn local_session_nests_and_ends_runs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mlruns");
        let mut t = Tracker::open(&Target::Dir(root.clone()), "e", &root).unwrap();
        let p = t.start_run("parent", None, vec![]).unwrap();
        let c = t.start_run("child", Some(p), vec![]).unwrap();
        t.log(
            c,
            vec![Metric::new("auc", 0.7, 1)],
            vec![("k".into(), "v".into())],
            vec![],
        )
        .unwrap();
        t.end_open(Status::Failed).unwrap();
        let cdir = root.join(t.experiment_id()).join(&t.run(c).run_id);
        let parent_tag = std::fs::read_to_string(cdir.join("tags/mlflow.parentRunId")).unwrap();
        assert_eq!(parent_tag, t.run(p).run_id);
        let meta = std::fs::read_to_string(cdir.join("meta.yaml")).unwrap();
        assert!(meta.contains("status: 4"), "{meta}");
        // Ending again is a no-op.
        t.end(c, Status::Finished).unwrap();
        let meta = std::fs::read_to_string(cdir.join("meta.yaml")).unwrap();
        assert!(meta.contains("status: 4"), "{meta}");
    }
}
