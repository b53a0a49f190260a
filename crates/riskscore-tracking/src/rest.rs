//! The MLflow REST API (`/api/2.0/mlflow/...` and the artifact proxy
//! `/api/2.0/mlflow-artifacts/...`), with retries and authentication.

use std::path::Path;
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
pub use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::store::{Metric, NewRun, RunInfo, Status, Store};

/// MLflow's limits on one `runs/log-batch` call.
const BATCH_METRICS: usize = 1000;
const BATCH_PARAMS: usize = 100;
const BATCH_TAGS: usize = 100;

/// A bearer token (`MLFLOW_TRACKING_TOKEN`) or basic credentials
/// (`MLFLOW_TRACKING_USERNAME`/`_PASSWORD`). Its `Debug` never shows the secret.
#[derive(Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Bearer(_) => "Auth::Bearer(<redacted>)",
            Auth::Basic(..) => "Auth::Basic(<redacted>)",
        })
    }
}

impl Auth {
    /// From MLflow's environment variables.
    pub fn from_env() -> Auth {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(t) = var("MLFLOW_TRACKING_TOKEN") {
            Auth::Bearer(t)
        } else if let (Some(u), Some(p)) = (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            Auth::Basic(u, p)
        } else {
            Auth::None
        }
    }

    fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
        }
    }
}

/// Retries of transient failures (no connection, timeouts, 429, 502, 503, 504): `attempts`
/// tries in all, waiting `first`, then twice as long each time.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first: Duration::from_millis(500),
        }
    }
}

impl Retry {
    /// The default, or `RISKSCORE_TRACKING_RETRIES` tries in all.
    pub fn from_env() -> Retry {
        let mut r = Retry::default();
        if let Some(n) = std::env::var("RISKSCORE_TRACKING_RETRIES")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
        {
            r.attempts = n.max(1);
        }
        r
    }
}

/// A client of one MLflow server.
#[derive(Debug, Clone)]
pub struct Rest {
    base: String,
    auth: Auth,
    retry: Retry,
    http: Client,
}

enum Body<'a> {
    None,
    Json(&'a Value),
    Bytes(Vec<u8>),
}

impl Rest {
    /// A client of the server at `uri` (http or https), authenticated from the environment.
    pub fn new(uri: &str) -> Result<Rest> {
        let base = uri.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Uri {
                uri: uri.into(),
                reason: "an MLflow server address starts with http:// or https://".into(),
            });
        }
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Uri {
                uri: uri.into(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Rest {
            base,
            auth: Auth::from_env(),
            retry: Retry::from_env(),
            http,
        })
    }

    pub fn with_retry(mut self, retry: Retry) -> Rest {
        self.retry = retry;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A JSON call of the tracking API: `path` after `/api/2.0/mlflow/`.
    pub fn call(&self, method: Method, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let resp = if method == Method::GET {
            let query: Vec<(String, String)> = body
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                            (k.clone(), v)
                        })
                        .collect()
                })
                .unwrap_or_default();
            self.send(Method::GET, &url, &query, Body::None, path)?
        } else {
            self.send(method, &url, &[], Body::Json(body), path)?
        };
        Ok(resp.json::<Value>().unwrap_or(Value::Null))
    }

    /// Uploads `bytes` as the artifact at `path` under the server's artifact root.
    pub fn put_artifact(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base,
            encode_path(path)
        );
        self.send(
            Method::PUT,
            &url,
            &[],
            Body::Bytes(bytes),
            "artifact upload",
        )?;
        Ok(())
    }

    /// Downloads the artifact at `path` under the server's artifact root.
    pub fn get_artifact(&self, path: &str) -> Result<Vec<u8>> {
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base,
            encode_path(path)
        );
        let resp = self.send(Method::GET, &url, &[], Body::None, "artifact download")?;
        resp.bytes()
            .map(|b| b.to_vec())
            .map_err(|e| self.unreachable("artifact download", &e))
    }

    /// Lists the artifact directory at `path`: (path relative to `path`, is a directory).
    pub fn list_artifacts(&self, path: &str) -> Result<Vec<(String, bool)>> {
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base);
        let resp = self.send(
            Method::GET,
            &url,
            &[("path".into(), path.into())],
            Body::None,
            "artifact listing",
        )?;
        let v: Value = resp
            .json()
            .map_err(|e| self.unreachable("artifact listing", &e))?;
        Ok(v["files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| {
                        Some((
                            f["path"].as_str()?.to_owned(),
                            f["is_dir"].as_bool().unwrap_or(false),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn unreachable(&self, call: &str, e: &dyn std::fmt::Display) -> Error {
        Error::Unreachable {
            server: self.base.clone(),
            call: call.into(),
            reason: e.to_string(),
        }
    }

    fn send(
        &self,
        method: Method,
        url: &str,
        query: &[(String, String)],
        body: Body,
        call: &str,
    ) -> Result<Response> {
        let mut wait = self.retry.first;
        let mut attempt = 1;
        loop {
            let mut req = self.http.request(method.clone(), url);
            if !query.is_empty() {
                req = req.query(query);
            }
            req = match &body {
                Body::None => req,
                Body::Json(v) => req.json(v),
                Body::Bytes(b) => req.body(b.clone()),
            };
            let outcome = self.auth.apply(req).send();
            let transient = match &outcome {
                Err(e) => e.is_connect() || e.is_timeout() || e.is_request(),
                Ok(r) => matches!(
                    r.status(),
                    StatusCode::TOO_MANY_REQUESTS
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                ),
            };
            if transient && attempt < self.retry.attempts {
                tracing::warn!(
                    server = %self.base,
                    call,
                    attempt,
                    "MLflow call failed ({}), retrying in {:.1} s",
                    match &outcome {
                        Err(e) => e.to_string(),
                        Ok(r) => r.status().to_string(),
                    },
                    wait.as_secs_f64()
                );
                std::thread::sleep(wait);
                wait *= 2;
                attempt += 1;
                continue;
            }
            let resp = outcome.map_err(|e| self.unreachable(call, &error_chain(&e)))?;
            if resp.status().is_success() {
                return Ok(resp);
            }
            let status = resp.status().as_u16();
            let text = resp.text().unwrap_or_default();
            let (code, message) = match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.get("error_code").is_some() => (
                    v["error_code"].as_str().unwrap_or("").to_owned(),
                    v["message"].as_str().unwrap_or("").to_owned(),
                ),
                _ => (
                    "HTTP".into(),
                    text.chars().take(300).collect::<String>().trim().to_owned(),
                ),
            };
            return Err(Error::Api {
                server: self.base.clone(),
                call: call.into(),
                status,
                code,
                message,
            });
        }
    }
}

/// The error and its causes ("error sending request: ... Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Percent-encodes each segment of a '/'-separated path.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The path under the server's artifact root of an `mlflow-artifacts:` URI
/// (`mlflow-artifacts:/1/abc/artifacts` or `mlflow-artifacts://host:port/1/abc/artifacts`).
pub fn proxied_path(artifact_uri: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(path.trim_matches('/').to_owned())
}

/// Runs on an MLflow server.
#[derive(Debug)]
pub struct RestStore {
    rest: Rest,
}

impl RestStore {
    pub fn new(rest: Rest) -> RestStore {
        RestStore { rest }
    }

    pub fn rest(&self) -> &Rest {
        &self.rest
    }
}

fn kv(pairs: &[(String, String)]) -> Vec<Value> {
    pairs
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

impl Store for RestStore {
    fn describe(&self) -> String {
        format!("MLflow server {}", self.rest.base)
    }

    fn experiment(&mut self, name: &str) -> Result<String> {
        let get = |r: &Rest| {
            r.call(
                Method::GET,
                "experiments/get-by-name",
                &json!({ "experiment_name": name }),
            )
        };
        let id_of = |v: &Value| v["experiment"]["experiment_id"].as_str().map(str::to_owned);
        match get(&self.rest) {
            Ok(v) => {
                if v["experiment"]["lifecycle_stage"].as_str() == Some("deleted") {
                    return Err(Error::Invalid(format!(
                        "experiment {name:?} is deleted on {}; restore it or choose another name",
                        self.rest.base
                    )));
                }
                return id_of(&v).ok_or_else(|| {
                    Error::Invalid(format!("{}: experiment without an id", self.rest.base))
                });
            }
            Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => {}
            Err(e) => return Err(e),
        }
        match self
            .rest
            .call(Method::POST, "experiments/create", &json!({ "name": name }))
        {
            Ok(v) => v["experiment_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::Invalid(format!("{}: no experiment id", self.rest.base))),
            // Created meanwhile by another client.
            Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => id_of(&get(&self.rest)?)
                .ok_or_else(|| Error::Invalid(format!("{}: no experiment id", self.rest.base))),
            Err(e) => Err(e),
        }
    }

    fn create_run(&mut self, run: NewRun) -> Result<RunInfo> {
        let v = self.rest.call(
            Method::POST,
            "runs/create",
            &json!({
                "experiment_id": run.experiment_id,
                "run_name": run.name,
                "start_time": run.start_ms,
                "user_id": run.user,
                "tags": kv(run.tags),
            }),
        )?;
        let info = &v["run"]["info"];
        let field = |k: &str| {
            info[k].as_str().map(str::to_owned).ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: runs/create answered without {k}",
                    self.rest.base
                ))
            })
        };
        Ok(RunInfo {
            run_id: field("run_id")?,
            experiment_id: field("experiment_id")?,
            artifact_uri: field("artifact_uri")?,
        })
    }

    fn log_batch(
        &mut self,
        run: &RunInfo,
        metrics: &[Metric],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<()> {
        let mut m = metrics.chunks(BATCH_METRICS);
        let mut p = params.chunks(BATCH_PARAMS);
        let mut t = tags.chunks(BATCH_TAGS);
        loop {
            let (mc, pc, tc) = (m.next(), p.next(), t.next());
            if mc.is_none() && pc.is_none() && tc.is_none() {
                return Ok(());
            }
            // At most 1000 entities in all: metrics go alone when they fill a batch.
            let (mc, pc, tc) = match mc {
                Some(mc)
                    if mc.len() + pc.map_or(0, <[_]>::len) + tc.map_or(0, <[_]>::len) > 1000 =>
                {
                    self.batch(run, mc, &[], &[])?;
                    (None, pc, tc)
                }
                _ => (mc, pc, tc),
            };
            self.batch(
                run,
                mc.unwrap_or_default(),
                pc.unwrap_or_default(),
                tc.unwrap_or_default(),
            )?;
        }
    }

    fn upload(&mut self, run: &RunInfo, rel: &str, src: &Path) -> Result<()> {
        let root = proxied_path(&run.artifact_uri).ok_or_else(|| {
            Error::Invalid(format!(
                "the run's artifact location {} is not served by {}; start the server with \
                 --serve-artifacts (the default) so that artifacts go through it",
                run.artifact_uri, self.rest.base
            ))
        })?;
        let bytes = std::fs::read(src).map_err(Error::io(src))?;
        self.rest.put_artifact(&format!("{root}/{rel}"), bytes)
    }

    fn end_run(&mut self, run: &RunInfo, status: Status, end_ms: i64) -> Result<()> {
        self.rest.call(
            Method::POST,
            "runs/update",
            &json!({"run_id": run.run_id, "status": status.name(), "end_time": end_ms}),
        )?;
        Ok(())
    }

    fn rest(&self) -> Option<&Rest> {
        Some(&self.rest)
    }

    fn run_link(&self, run: &RunInfo) -> String {
        format!(
            "{}/#/experiments/{}/runs/{}",
            self.rest.base, run.experiment_id, run.run_id
        )
    }
}

impl RestStore {
    fn batch(
        &self,
        run: &RunInfo,
        metrics: &[Metric],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<()> {
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            return Ok(());
        }
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|m| {
                json!({"key": m.key, "value": finite(m.value), "timestamp": m.timestamp, "step": m.step})
            })
            .collect();
        self.rest.call(
            Method::POST,
            "runs/log-batch",
            &json!({"run_id": run.run_id, "metrics": metrics, "params": kv(params), "tags": kv(tags)}),
        )?;
        Ok(())
    }
}

/// MLflow's JSON API takes NaN and infinities as strings.
fn finite(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxied_paths() {
        assert_eq!(
            proxied_path("mlflow-artifacts:/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(
            proxied_path("mlflow-artifacts://h:5000/1/abc/artifacts").as_deref(),
            Some("1/abc/artifacts")
        );
        assert_eq!(proxied_path("s3://bucket/1/abc"), None);
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let a = Auth::Bearer("s3cr3t".into());
        assert!(!format!("{a:?}").contains("s3cr3t"));
        let b = Auth::Basic("user".into(), "pw".into());
        assert!(!format!("{b:?}").contains("pw"));
    }

    #[test]
    fn paths_are_encoded_by_segment() {
        assert_eq!(encode_path("1/a b/c%d"), "1/a%20b/c%25d");
    }

    #[test]
    fn non_http_uris_are_refused() {
        let e = Rest::new("ftp://x").unwrap_err().to_string();
        assert!(e.contains("ftp://x"), "{e}");
    }
}
