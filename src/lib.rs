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
//! - [`control`]: the operations users ask for (import, list, show, remove). The CLI calls these
//!   in-process when it owns the data directory; the control API will call the same functions.
//! - [`runtime`]: one `Predictor` interface; the native PMML evaluator behind it.
//! - [`batch`]: reading, scoring and writing records (`modeldeck score`).
//! - [`cli`]: the `modeldeck` command line, a thin layer over [`control`] and [`batch`].
//!
//! Modules still to come, in the same layout: `gateway/` (the TF Serving-compatible data
//! plane), `monitor/` and `tui/` (the console).

pub mod batch;
pub mod cli;
pub mod config;
pub mod control;
pub mod domain;
pub mod gateway;
pub mod registry;
pub mod runtime;
pub mod store;
