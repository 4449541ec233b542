//! Traffic calls: `GET /services/{name}/traffic` shows a service's split, its rules and its
//! history; `POST /services/{name}/traffic` makes one change, named by `op` — the changes are
//! data, so the CLI, the console and scripts send the same few shapes to one route.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Split, TrafficChange};

/// One change to a service's versions, split or routing rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum TrafficCall {
    /// New weights for every version (`{"1": 70, "2": 30}`: JSON keys are text, and a tagged
    /// call cannot read them as numbers, so they are checked as versions on arrival);
    /// `revision` is the split they were edited from (a newer one in force refuses, 409).
    Split {
        /// Values are read as whole percents on arrival, so that a wrong one is refused in the
        /// product's words rather than serde's.
        weights: BTreeMap<String, serde_json::Value>,
        #[serde(default)]
        revision: Option<i64>,
        #[serde(default)]
        reason: String,
    },
    /// A version of the service's model at 0% (default: the model's latest).
    AddVersion {
        #[serde(default)]
        version: Option<u32>,
    },
    /// A version out of the service; refused while it has traffic.
    RemoveVersion { version: u32 },
    /// `percent` points (default all 100) to version `to`, added first if the service does not
    /// hold it; the others keep their proportions.
    Upgrade {
        to: u32,
        #[serde(default)]
        percent: Option<u8>,
        #[serde(default)]
        reason: String,
    },
    /// Back to the split before the newest change that was not a rollback; again, one further.
    /// `revision`: the split the caller saw (the console shows the exact rollback first); a
    /// change since refuses it, 409.
    Rollback {
        #[serde(default)]
        reason: String,
        #[serde(default)]
        revision: Option<i64>,
    },
    /// Names for versions, as TF Serving's `/labels/{label}` addresses them (replaces all).
    Labels { labels: BTreeMap<String, u32> },
    /// Route by this request header's value, so a caller stays on one version (`None`: off).
    Sticky { header: Option<String> },
    /// Takes version `to` through `steps` (`5,25,pause,50,100`), each judged once the candidate
    /// has served `min_requests` client requests and `interval_secs` have passed.
    CanaryStart {
        to: u32,
        steps: String,
        interval_secs: u64,
        min_requests: u64,
        max_error_pct: f64,
        max_p99_ms: f64,
    },
    /// Steers the running canary.
    Canary { action: CanaryAction },
    /// Mirrors `percent` (1 to 100, default 100) of client requests to version `to`, held at
    /// 0%; `to: null` stops it.
    Shadow {
        to: Option<u32>,
        #[serde(default)]
        percent: Option<u8>,
    },
}

/// `GET /services/{name}/shadow`: what the mirrored calls found since the server started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowView {
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<crate::domain::Shadow>,
    /// Requests mirrored, and how their answers compared with the live ones.
    pub mirrored: u64,
    pub same: u64,
    pub differed: u64,
    /// The shadow version failed (an error status) where the live one answered.
    pub failed: u64,
    /// Not mirrored: the shadow version was not ready, or the service was busy.
    pub skipped: u64,
    /// The newest disagreements: the request, the live answer, the shadow's (each cut).
    pub samples: Vec<ShadowSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowSample {
    pub request: String,
    pub live: String,
    pub shadow: String,
}

/// What a person can do to a canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CanaryAction {
    /// Hold at this step.
    Pause,
    /// Go on: measure this step afresh, or past a `pause` step to the next.
    Resume,
    /// All traffic to the candidate now.
    Promote,
    /// Stop; the split stays as it is.
    Abort,
}

/// A service's traffic: the split in force with its revision, the rules, and the changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficView {
    pub service: String,
    pub model: String,
    pub revision: i64,
    pub split: Split,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_header: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, u32>,
    /// Oldest first; the newest 200 changes.
    pub history: Vec<TrafficChange>,
    /// The service's canary, running or the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::domain::canary::Canary>,
}
