//! The one error type of the suite's library.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in `lockstep-repro`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An image could not be encoded or decoded.
    #[error("image {path}: {message}")]
    Image {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Training failed.
    #[error(transparent)]
    Nn(#[from] lockstep_nn::Error),
    /// Loading or ordering data failed.
    #[error(transparent)]
    Data(#[from] lockstep_data::Error),
    /// Augmenting failed.
    #[error(transparent)]
    Augment(#[from] lockstep_augment::Error),
    /// NMS or evaluation failed.
    #[error(transparent)]
    Postprocess(#[from] lockstep_postprocess::Error),
    /// A worker process failed.
    #[error("worker `{name}` failed: {message}")]
    Worker {
        /// The run's name.
        name: String,
        /// What went wrong, with the tail of its log.
        message: String,
    },
    /// A bad option or configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// A folder the suite would write into or replace holds things it did not make
    /// (it lacks the suite's marker file), so the suite refuses to touch it.
    #[error(
        "{path}: {reason}; lockstep-repro only replaces folders it made itself (they hold a \
         `{marker}` file). Choose another --out (a new or empty folder), or move your files \
         out of {path} first",
        marker = crate::owned::MARKER
    )]
    NotOurs {
        /// The folder.
        path: PathBuf,
        /// What is in the way.
        reason: String,
    },
    /// A generated dataset's file is not what its manifest says.
    #[error("dataset {path}: {reason}")]
    Dataset {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
