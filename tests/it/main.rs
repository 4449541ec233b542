//! modeldeck's integration tests: one crate, so one binary to link. They drive the real
//! binary and real parts — SQLite files, HTTP servers and an S3 API server on loopback.

mod angel;
mod clients;
mod common;
mod console;
mod control;
mod gateway;
mod hostile;
mod import_http;
mod import_local;
mod import_s3;
#[cfg(feature = "test-runtimes")]
mod jobs;
#[cfg(feature = "test-runtimes")]
mod limits;
#[cfg(feature = "test-runtimes")]
mod monitor;
mod names;
mod operate;
mod ownership;
mod peers;
mod pmml_conformance;
mod pmml_errors;
mod races;
mod score;
mod server;
mod store;
mod traffic;
mod upstream;
