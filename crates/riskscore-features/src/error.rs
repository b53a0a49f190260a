/// What can go wrong while building features.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Data(#[from] riskscore_data::Error),
    #[error("{context}: {}", riskscore_data::error::brief(.source))]
    Polars {
        context: String,
        source: polars::error::PolarsError,
    },
    #[error("the fitted pipeline has no vocabulary for {0}; was it fitted on another layout?")]
    NoVocabulary(String),
    #[error("{path}: {message}")]
    Pipeline { path: String, message: String },
    #[error("column {column:?}: {message}")]
    Column { column: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn polars(
        context: impl Into<String>,
    ) -> impl FnOnce(polars::error::PolarsError) -> Self {
        let context = context.into();
        move |source| Error::Polars { context, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
