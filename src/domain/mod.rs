//! Pure types of the product and their invariants. Nothing here does IO, so every rule about a
//! name or a version can be tested as a plain function and reused by the CLI, the control API
//! and the console alike.

pub mod canary;
mod event;
pub mod job;
pub mod latency;
pub mod metrics;
mod model;
mod name;
pub mod period;
mod redact;
pub mod secret;
mod service;
mod signature;
pub mod spark;
pub mod step;
pub mod thresholds;
mod token;
mod traffic;

pub use event::Event;
pub use job::{
    FailurePolicy, Job, JobKind, JobSpec, Run, RunCounts, RunState, StepProgress, Target, Trigger,
};
pub use metrics::{Counts, Figures, Metric, Outcome, Outputs, Sample, Source};
pub use model::{
    ModelKind, ModelRef, ModelRefError, ModelSummary, ModelVersion, ServedBy, ServiceUse,
    human_size,
};
pub use name::{ModelName, NameError, TextError, check_text};
pub use period::Period;
pub use redact::{clip, redact, redact_strict};
pub use secret::{MAX_SECRET, secret_name, secret_value};
pub use service::{
    CONCURRENCY, Deployment, MAX_BATCH_ROWS, Resources, Service, ServiceName, ServiceNameError,
    Setting, SettingError, THREADS, TIMEOUT_MS,
};
pub use signature::{InputField, ModelSignature, OutputField, curl_line, shell_quote};
pub use step::{CastType, Fill, Step};
pub use thresholds::{Level, Limit, Thresholds};
pub use token::{Scope, TokenInfo, TokenNameError, token_name};
pub use traffic::{
    ChangeKind, Shadow, Split, SplitError, TrafficChange, TrafficRules, rollback_target,
};
