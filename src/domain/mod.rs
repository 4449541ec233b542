//! Pure types of the product and their invariants. Nothing here does IO, so every rule about a
//! name or a version can be tested as a plain function and reused by the CLI, the control API
//! and the console alike.

mod event;
mod model;
mod name;
mod service;
mod token;

pub use event::Event;
pub use model::{
    ModelKind, ModelRef, ModelRefError, ModelSummary, ModelVersion, ServiceUse, human_size,
};
pub use name::{ModelName, NameError};
pub use service::{Deployment, Resources, Service, ServiceName, ServiceNameError};
pub use token::{Scope, TokenInfo};
