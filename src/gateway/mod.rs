//! The data plane: predictions only, spoken as TF Serving's REST API (plus KServe V1's model
//! list and the Open Inference Protocol), routed by Host header or by the name
//! in the path, authorised by the service's access key.
//!
//! Module map: [`path`] (the URL grammar), [`json`] (TF Serving's JSON dialect), [`predict`]
//! (request bodies to records and back), [`meter`] (the counters a
//! request adds to), [`examples`] (`:classify`/`:regress`), [`v2`] (the Open
//! Inference Protocol), [`routing`] (the swappable table and its long-lived
//! cells), [`handler`] (admission: everything decided from the headers, before the body),
//! [`auth`] (which service a request is for, and its access key), [`status`] (the answers that
//! take no body: model status, metadata, unknown models and labels), [`scoring`] (an admitted
//! prediction from body to answer), [`server`] (the HTTP side: the body read within its limits
//! between the two), [`forward`] (an upstream version's call: passed on, or
//! translated between protocols).

pub mod auth;
pub mod examples;
pub mod forward;
pub mod handler;
pub mod json;
pub mod meter;
pub mod path;
pub mod predict;
pub mod routing;
pub mod scoring;
pub mod server;
pub mod shadow;
pub mod status;
pub mod v2;

pub use handler::Gateway;
pub use routing::Routing;
