//! Batch prediction: reading records, scoring them through a model, writing the results.
//!
//! [`score`] is the offline scorer behind `modeldeck score` (no server involved); the
//! scheduled batch jobs of a later issue run the same code in a worker process.

pub mod chain;
pub mod expr;
pub mod guard;
pub mod input;
pub mod records;
pub mod remote;
pub mod run;
pub mod schedule;
pub mod scheduler;
pub mod score;

pub use score::{ScoreOptions, ScoreSummary, score_file};

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Input(String),
    #[error(
        "the input has no column for {}, which the model needs; nothing was written",
        .0.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ")
    )]
    MissingColumns(Vec<String>),
    #[error("{0}")]
    Model(String),
    /// The reader of our output went away (`modeldeck score … --output - | head`).
    #[error("the output was closed")]
    Closed,
}

impl From<std::io::Error> for ScoreError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            ScoreError::Closed
        } else {
            ScoreError::Io(format!("cannot write the output: {e}"))
        }
    }
}
