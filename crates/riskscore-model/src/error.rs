/// What can go wrong while training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Features(#[from] riskscore_features::Error),
    #[error("{context}: {}", riskscore_data::error::brief(.source))]
    Polars {
        context: String,
        source: polars::error::PolarsError,
    },
    #[error("LightGBM, {context}: {message}")]
    Lightgbm { context: String, message: String },
    #[error("invalid parameter {name}: {message}")]
    Param { name: String, message: String },
    #[error("training data: {0}")]
    Data(String),
    /// A bug of ours (a worker thread's panic), not the input's.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("model bundle {path}: {message}")]
    Bundle { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn lightgbm(context: impl Into<String>) -> impl FnOnce(lightgbm3::Error) -> Self {
        let context = context.into();
        move |e| Error::Lightgbm {
            context,
            message: e.to_string(),
        }
    }

    pub(crate) fn polars(
        context: impl Into<String>,
    ) -> impl FnOnce(polars::error::PolarsError) -> Self {
        let context = context.into();
        move |source| Error::Polars { context, source }
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn param(name: &str, message: impl Into<String>) -> Self {
        Error::Param {
            name: name.to_string(),
            message: message.into(),
        }
    }

    /// True when the error comes from the input or the configuration (exit code 1), false for
    /// internal failures (exit code 2).
    pub fn is_input(&self) -> bool {
        !matches!(
            self,
            Error::Polars { .. } | Error::Lightgbm { .. } | Error::Internal(_)
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
