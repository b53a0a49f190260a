//! Tracking errors, each naming the server or directory and the call that failed.

/// Result of a tracking call.
pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tracking URI {uri:?}: {reason}")]
    Uri { uri: String, reason: String },
    #[error("MLflow server {server} is unreachable ({call}): {reason}")]
    Unreachable {
        server: String,
        call: String,
        reason: String,
    },
    #[error("MLflow server {server} answered {status} to {call}: {code}: {message}")]
    Api {
        server: String,
        call: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |e| Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// The MLflow error code of an API error (`RESOURCE_DOES_NOT_EXIST`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}
