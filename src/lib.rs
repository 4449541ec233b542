//! modeldeck: a terminal operations console for machine-learning model services, with the
//! serving platform it operates embedded in the same binary.
//!
//! The crate is laid out so that dependence only flows one way (see `DESIGN.md`):
//!
//! - [`domain`]: pure types and their invariants (model names, model kinds, versions). No IO.
//! - [`config`]: where the data directory is, and the server settings in `config.toml`.
//! - [`store`]: the SQLite database. The only code that writes SQL; one writer thread, every
//!   change and its event row in one transaction.
//! - [`registry`]: the model repository's files: import sources (file, folder, http(s), S3/COS),
//!   the content-addressed artifact store, and format validation.
//! - [`control`]: the operations users ask for (models, services, tokens), `serve`, and the
//!   control API over them. The CLI calls them in-process when it owns the data directory and
//!   through the running server's API when not.
//! - [`gateway`]: the data plane: TF Serving REST, KServe V1 and the Open Inference Protocol,
//!   routed by host or path, authorised by access key.
//! - [`monitor`]: what the gateway counted, as live one-second series, minute rollups over
//!   any period, threshold levels and Prometheus text.
//! - [`net`]: HTTP/1.1 serving both planes share: connection caps, body deadlines and rates,
//!   and a stop that drains requests in progress but not idle or stalled connections.
//! - [`runtime`]: one `Predictor` interface; the native PMML evaluator behind it.
//! - [`batch`]: reading, scoring and writing records (`modeldeck score`).
//! - [`tui`]: the console, which talks only to the control API.
//! - [`cli`]: the `modeldeck` command line, a thin layer over [`control`], [`batch`] and [`tui`].

pub mod batch;
pub mod cli;
pub mod config;
pub mod control;
pub mod domain;
pub mod gateway;
pub mod monitor;
pub mod net;
pub mod registry;
pub mod runtime;
pub mod store;
pub mod tui;
