//! What every resource shares: the state's settings, the extractors whose rejections answer in
//! the API's JSON error shape (client id, query, body, request id), the known-client lookup,
//! blocking work off the async threads, and the journal record of a decision.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::AppState;
use crate::error::{ApiError, FieldError};
use crate::journal::{hmac_sha256, input_hash, now_rfc3339, Decided};
use crate::scorer::Scorer;

/// Largest accepted body.
pub const MAX_BODY: usize = 1 << 20;

pub(crate) type ApiResult<T> = std::result::Result<T, ApiError>;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Accepted API keys; open when empty.
    pub api_keys: Vec<String>,
    /// Key of the client-id pseudonyms in the journal (ids stored as such when None).
    pub journal_key: Option<Vec<u8>>,
    /// Most applications in one batch request.
    pub batch_max: usize,
    /// Time limit of a request.
    pub timeout: Duration,
    /// Who sends the adverse-action notices.
    pub lender: crate::notice::Lender,
    /// Reviewers: a name and its own API key (the only keys that can decide a review).
    pub reviewers: Vec<Reviewer>,
    /// Every refusal enters the review queue too.
    pub review_refusals: bool,
    /// The share of the other decisions drawn into the review queue for audit (0 to 1).
    pub audit_share: f64,
}

/// A reviewer: the name journaled with each decision, and the key that authenticates it.
#[derive(Clone, PartialEq)]
pub struct Reviewer {
    pub name: String,
    pub key: String,
}

impl std::fmt::Debug for Reviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reviewer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Reviewer {
    /// `NAME=KEY,NAME=KEY` (as in `RISKSCORE_REVIEWERS`); the error names the bad part.
    pub fn parse_list(text: &str) -> std::result::Result<Vec<Reviewer>, String> {
        let mut out: Vec<Reviewer> = Vec::new();
        for (i, part) in text.split(',').map(str::trim).enumerate() {
            if part.is_empty() {
                continue;
            }
            let Some((name, key)) = part.split_once('=') else {
                return Err(format!("reviewer {}: give NAME=KEY", i + 1));
            };
            let (name, key) = (name.trim(), key.trim());
            if name.is_empty() || key.is_empty() {
                return Err(format!("reviewer {}: a name and a key are required", i + 1));
            }
            if out.iter().any(|r| r.name == name) {
                return Err(format!("reviewer `{name}` is given twice"));
            }
            if out.iter().any(|r| r.key == key) {
                return Err(format!("reviewer `{name}`: the key is another reviewer's"));
            }
            out.push(Reviewer {
                name: name.to_owned(),
                key: key.to_owned(),
            });
        }
        Ok(out)
    }
}

/// Who called, as the API key says (set by the key check).
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    /// The reviewer whose key was given.
    pub reviewer: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_keys: Vec::new(),
            journal_key: None,
            batch_max: 100,
            timeout: Duration::from_secs(10),
            lender: crate::notice::Lender::default(),
            reviewers: Vec::new(),
            review_refusals: false,
            audit_share: 0.0,
        }
    }
}

/// The request's id (the caller's `X-Request-Id`, or one of ours), set by the outer layer.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_default())
    }
}

/// The `{id}` of a client's path: an integer, else 422 naming `id`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ClientId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rej| ApiError::bad_request(rej.body_text()))?;
        raw.parse::<i64>().map(ClientId).map_err(|_| {
            ApiError::invalid_field("id", format!("`{raw}` is not an integer client id"))
        })
    }
}

/// Query parameters whose rejection (`?top=abc`, a parameter given twice) is answered in the
/// API's JSON error shape, 400, not axum's plain text.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|rej| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rej.body_text()))
    }
}

/// A JSON body, read whatever its content type says: too large is 413, not JSON is 400, both
/// in the API's error shape.
#[derive(Debug)]
pub(crate) struct ApiBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request(rej.body_text())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(ApiBody)
            .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
    }
}

/// A body object with only the `allowed` keys, else 422 naming each other key.
pub(crate) fn only_keys(body: &Value, allowed: &[&str]) -> ApiResult<()> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::invalid_field(
            "",
            "the body must be a JSON object",
        ));
    };
    let unknown: Vec<FieldError> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| FieldError {
            field: k.clone(),
            message: format!("unknown field (expected: {})", allowed.join(", ")),
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(unknown))
    }
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is larger than {MAX_BODY} bytes"),
    )
}

/// A bounded integer query parameter (read as text so that any value gets a named 422).
pub(crate) fn bounded(
    field: &str,
    raw: Option<&str>,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> ApiResult<usize> {
    match raw {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_field(
                field,
                format!(
                    "must be an integer from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

/// The client's row and its features, or 404.
pub(crate) fn known(scorer: &Scorer, id: i64) -> ApiResult<(usize, Vec<f64>)> {
    scorer
        .row(id)
        .ok_or_else(|| ApiError::not_found(format!("unknown client {id}")))
}

/// The client's row, or 404.
pub(crate) fn known_index(scorer: &Scorer, id: i64) -> ApiResult<usize> {
    scorer
        .index(id)
        .ok_or_else(|| ApiError::not_found(format!("unknown client {id}")))
}

/// CPU-bound work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))?
}

/// Client `i`'s application (the input of a what-if or a recourse search): 409 when the server
/// was started on a feature matrix, 503 when its record cannot be read again (the file changed
/// since the start or went away).
pub(crate) fn application(
    s: &AppState,
    i: usize,
) -> ApiResult<serde_json::Map<String, serde_json::Value>> {
    match s.scorer.application_of(i) {
        Ok(Some(app)) => Ok(app),
        Ok(None) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_application",
            "the server was started on a feature matrix: the clients' applications are not known",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "application_unavailable",
            e.to_string(),
        )),
    }
}

/// An application the pipeline cannot take is the caller's (422); anything else is ours.
pub(crate) fn transform_error(e: crate::Error) -> ApiError {
    if e.is_input() {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_application",
            e.to_string(),
        )
    } else {
        ApiError::internal(&e)
    }
}

/// What a journal entry records of a decision besides its time and request.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    pub client: i64,
    pub kind: &'a str,
    pub p: f64,
    /// The principal reasons' features, most important first (see
    /// [`crate::notice::features`]).
    pub reasons: Vec<String>,
    /// Why the intake sent it to review, if it did.
    pub review: Vec<String>,
    /// A refusal's notice statements as sent (empty when none was sent).
    pub notice: Vec<String>,
    pub row: ScoredRow<'a>,
    /// A posted application's body (the challenger scores it with its own pipeline).
    pub posted: Option<&'a Value>,
}

/// The feature row a decision scored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScoredRow<'a> {
    /// A known client's, by its row index: its input hash is computed once, and the row is
    /// made only when the journal has not stored it yet.
    Known(usize),
    /// A posted application's.
    Posted(&'a [f64]),
}

/// Journals a decision; the answer waits for the commit.
pub(crate) async fn record(s: &AppState, rid: &str, r: Record<'_>) -> ApiResult<i64> {
    let Record {
        client,
        kind,
        p,
        reasons,
        review,
        notice,
        row,
        posted,
    } = r;
    let id = client;
    let client = match &s.settings.journal_key {
        Some(key) => hmac_sha256(key, client.to_string().as_bytes()),
        None => client.to_string(),
    };
    let d = Decided {
        time: now_rfc3339(),
        request_id: rid.to_owned(),
        client,
        kind: kind.to_owned(),
        model_version: s.scorer.model_version.clone(),
        probability: p,
        decision: match s.scorer.explainer.manifest.decide(p) {
            riskscore_model::bundle::Decision::Granted => "granted".into(),
            riskscore_model::bundle::Decision::Refused => "refused".into(),
        },
        reasons,
        input_hash: match row {
            ScoredRow::Known(i) => s
                .scorer
                .input_hash(i)
                .ok_or_else(|| ApiError::internal(&format!("no client at row {i}")))?,
            ScoredRow::Posted(x) => input_hash(x),
        },
        review,
        notice,
        champion: None,
        reviewed: None,
    };
    let client = d.client.clone();
    let (queue, audit) = if matches!(kind, "known" | "new") {
        (review_queue(s, &d), s.settings.audit_share)
    } else {
        (Vec::new(), 0.0)
    };
    let seq = s
        .journal
        .record_queued(
            d,
            || match row {
                ScoredRow::Known(i) => s.scorer.row_at(i),
                ScoredRow::Posted(x) => x.to_vec(),
            },
            queue,
            audit,
        )
        .await
        .map_err(|e| ApiError::journal(&e))?;
    if let Some(c) = &s.challenger {
        let input = match (kind, posted) {
            ("known", _) => Some(crate::challenger::Input::Known(id)),
            ("new", Some(body)) => Some(crate::challenger::Input::New(body.clone())),
            _ => None,
        };
        if let Some(input) = input {
            c.offer(crate::challenger::Job {
                champion: seq,
                request_id: rid.to_owned(),
                client,
                input,
            });
        }
    }
    Ok(seq)
}

/// Why a decision enters the review queue (empty: it does not): inside the review band, sent
/// to review at intake, or a refusal when every refusal is reviewed. The audit draw is the
/// journal writer's (it hashes the entry's final time).
fn review_queue(s: &AppState, d: &Decided) -> Vec<String> {
    use crate::journal::reviews::{BAND, INTAKE, REFUSAL};
    let mut why = Vec::new();
    if s.scorer.explainer.manifest.in_review_band(d.probability) {
        why.push(BAND.to_owned());
    }
    if !d.review.is_empty() {
        why.push(INTAKE.to_owned());
    }
    if s.settings.review_refusals && d.decision == "refused" {
        why.push(REFUSAL.to_owned());
    }
    why
}
