//! Audit events: who changed what, when. Their revision numbers order every change the core
//! makes, which is what the change stream will hand to consoles.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Strictly increasing across the data directory's life.
    pub revision: i64,
    /// RFC 3339, UTC.
    pub at: String,
    /// The token name or `cli:<user>` that made the change.
    pub actor: String,
    /// What happened, e.g. `model.imported`.
    pub kind: String,
    /// What it happened to, e.g. `iris:2`.
    pub subject: String,
    pub detail: serde_json::Value,
}
