//! The one error type of the suite's library.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in `lockstep-repro`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (a worker's spec or result, a report, COCO annotations) could not be
    /// written or read back.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
    /// An image could not be encoded or decoded.
    #[error("image {path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The codec's error.
        #[source]
        source: image::ImageError,
    },
    /// A plot could not be drawn.
    #[error("plot {path}: {source}")]
    Plot {
        /// The file.
        path: PathBuf,
        /// The plotting library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// A draw from the seed tree failed.
    #[error(transparent)]
    Seeding(#[from] lockstep_seeding::Error),
    /// The collective layer failed (joining the ranks of a distributed run).
    #[error(transparent)]
    Distributed(#[from] lockstep_distributed::Error),
    /// A distributed run was asked for, but MPI cannot be used.
    #[error("a run at {world} ranks needs MPI: {reason}")]
    MpiUnavailable {
        /// The world size asked for.
        world: u32,
        /// Why MPI cannot be used (built without the `mpi` feature, no `mpiexec`).
        reason: String,
    },
    /// A thread pool could not be built.
    #[error("a pool of {threads} threads: {source}")]
    ThreadPool {
        /// The threads asked for.
        threads: u32,
        /// rayon's error.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// A worker process failed.
    #[error("worker `{name}` failed: it exited with an error; the end of {}:\n{tail}", log.display())]
    WorkerFailed {
        /// The run's name.
        name: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// A worker finished, but the suite got no result for it.
    #[error("no result for worker `{name}`")]
    MissingResult {
        /// The run's name.
        name: String,
    },
    /// An option the command line does not know.
    #[error("unknown option `{option}`; see --help")]
    UnknownOption {
        /// The argument as given.
        option: String,
    },
    /// An option given without its value, or `worker` without its spec file.
    #[error("{option} needs a value{hint}")]
    MissingValue {
        /// The option (`--seed`, `worker`).
        option: &'static str,
        /// How to give it, where that helps.
        hint: &'static str,
    },
    /// An option's value that does not parse.
    #[error("{option} takes {expected}, got `{value}`")]
    InvalidValue {
        /// The option.
        option: &'static str,
        /// The value as given.
        value: String,
        /// What it takes.
        expected: &'static str,
    },
    /// A number outside its allowed range: an option, a worker spec's field or a
    /// dataset size.
    #[error("{what} must be in {min}..={max}, got {value}")]
    OutOfRange {
        /// What the number is (`--steps`, `worker `run-a`: threads`).
        what: String,
        /// The value given.
        value: u64,
        /// The least allowed.
        min: u64,
        /// The most allowed.
        max: u64,
    },
    /// `steps` batches of `batch_size` samples do not fit a `u64`.
    #[error("{steps} steps of {batch_size} samples overflow")]
    TooManySamples {
        /// The steps asked for.
        steps: u64,
        /// Samples per step.
        batch_size: u64,
    },
    /// The sampler had no samples left for a step's batch (the worker sizes its
    /// epochs so that this cannot happen).
    #[error("step {step}: the sampler ran out of samples")]
    SamplerExhausted {
        /// The step.
        step: u64,
    },
    /// A COCO split the worker cannot train or evaluate on.
    #[error("{path}: {reason}")]
    Split {
        /// The split's annotation file.
        path: PathBuf,
        /// What is wrong.
        reason: SplitProblem,
    },
    /// An annotation's category is not among the class map's (the training split's)
    /// categories.
    #[error(
        "image {image_id} ({file_name}): category {category} is not among the training \
         split's categories {known:?}"
    )]
    UnknownCategory {
        /// The image's COCO id.
        image_id: u64,
        /// The image's file name.
        file_name: String,
        /// The annotation's category id.
        category: u64,
        /// The class map's category ids, sorted.
        known: Vec<u64>,
    },
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
    /// The start-up check of the dataset found problems (every one of them is listed,
    /// each naming its split, file, image id and annotation id where it has them);
    /// nothing was trained.
    #[error("{}", crate::dataset_check::describe(problems))]
    BadDataset {
        /// Every problem found, in split and file order.
        problems: Vec<crate::dataset_check::Problem>,
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

/// Why a COCO split cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitProblem {
    /// It has no images.
    #[error("the split has no images")]
    NoImages,
    /// It has more categories than a `u32` class id can number.
    #[error("the split has more categories than a u32 class id can number")]
    TooManyCategories,
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn json(path: &Path, source: serde_json::Error) -> Self {
        Self::Json {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn out_of_range(what: impl Into<String>, value: u64, min: u64, max: u64) -> Self {
        Self::OutOfRange {
            what: what.into(),
            value,
            min,
            max,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
