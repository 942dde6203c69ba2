/// Why a fetch or a build failed, typed so the pipeline can tell the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the repository {url} cannot be read: {message}")]
    Repository { url: String, message: String },
    #[error("{what} {name} does not exist in the repository")]
    MissingRef { what: &'static str, name: String },
    #[error("{what} {path} does not exist in the repository")]
    MissingPath { what: &'static str, path: String },
    #[error("{what} {path} leads outside the repository")]
    PathEscapes { what: &'static str, path: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("the Docker engine is not reachable: {0}")]
    Engine(String),
    #[error("the build failed at {step}: {message}")]
    Failed { step: String, message: String },
    #[error("the build was cancelled")]
    Cancelled,
    #[error("the build did not finish within {after_s} s and was stopped")]
    TimedOut { after_s: u64 },
    #[error("the image {0} does not exist on this engine")]
    MissingImage(String),
    /// A pull found no such image (or was refused it) where the reference points.
    #[error("the image {image} cannot be pulled: {message}")]
    Pull { image: String, message: String },
    #[error("the Dockerfile cannot be built: {0}")]
    Dockerfile(String),
    #[error("{what} is larger than {limit_mb} MiB, the most berth takes ({setting})")]
    TooLarge {
        what: &'static str,
        limit_mb: u64,
        setting: &'static str,
    },
    #[error("i/o error while {doing}: {source}")]
    Io {
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(doing: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { doing, source }
    }
}
