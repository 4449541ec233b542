//! The monitoring calls: `GET /monitor` (everything a console screen or `modeldeck monitor`
//! needs, in one answer) and `PUT /services/{name}/thresholds`.

use serde::{Deserialize, Serialize};

use crate::domain::{Figures, Level, Outputs, Period, Sample, Thresholds};

/// `GET /monitor?since=T[&service=S&window=1h|from=&to=][&points=N]`.
///
/// Every service's one-second samples newer than `since` (unix seconds; at most the last
/// [`SPARK`] of them), and with `service`, that service's history over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorView {
    /// The newest sample's second: pass it as `since` next time to get only what is new.
    pub at: i64,
    pub process: ProcessView,
    pub services: Vec<ServiceLive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<ServiceHistory>,
}

/// How many recent samples a service's sparkline holds.
pub const SPARK: usize = 120;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessView {
    /// CPU of the whole server process, percent of one core, over the last second.
    pub cpu_pct: f64,
    pub rss_bytes: u64,
    /// `[t, cpu_pct]` newer than `since`.
    pub cpu: Vec<(i64, f32)>,
}

/// One service, live.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceLive {
    pub service: String,
    pub concurrency: u32,
    pub level: Level,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The levels the service is judged by.
    pub thresholds: Thresholds,
    /// The service's client traffic, one sample a second, oldest first.
    pub samples: Vec<Sample>,
    pub versions: Vec<VersionLive>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionLive {
    pub model: String,
    pub version: u32,
    pub weight: u8,
    /// The newest second.
    pub last: Sample,
}

/// One service over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceHistory {
    pub service: String,
    pub period: Period,
    /// Seconds each point spans.
    pub step: i64,
    pub thresholds: Thresholds,
    /// All the service's versions together.
    pub total: Figures,
    pub versions: Vec<VersionHistory>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionHistory {
    pub model: String,
    pub version: u32,
    pub figures: Figures,
    /// One per step, oldest first; a step with no traffic is a sample of zeros.
    pub points: Vec<Sample>,
    /// What the version answered over the whole period.
    pub outputs: Outputs,
    /// What it answered step by step (the top classes' shares, or mean and spread).
    pub output_points: Vec<OutputPoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputPoint {
    pub t: i64,
    /// Records the point covers.
    pub n: u64,
    /// Class → share (0..=1), the top classes then `other`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<(String, f64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
}

/// `PUT /services/{name}/thresholds`: the service's own levels, or `null` for the server's.
/// The server reads it with [`ThresholdsCall::read`], not serde: serde would take `[1, 2]` for
/// a struct, and an empty body must not quietly reset a service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdsCall {
    pub thresholds: Option<Thresholds>,
}

const THRESHOLDS_SHAPE: &str = "send {\"thresholds\": {\"p99_ms\": {\"warn\": 250, \"critical\": 1000}}} \
     (any of error_pct, p99_ms, utilisation_pct), or {\"thresholds\": null} for the server's levels";

impl ThresholdsCall {
    /// Reads a body strictly — objects where objects belong, numbers where numbers do, no
    /// unknown names — on top of `current`, the levels in force: a figure the body leaves out
    /// keeps its level. `None`: follow the server's levels. The error says what to send.
    pub fn read(
        body: &serde_json::Value,
        current: Thresholds,
    ) -> Result<Option<Thresholds>, String> {
        use serde_json::Value;
        let shape = |what: &str| format!("{what}: {THRESHOLDS_SHAPE}");
        let clip = |name: &str| crate::domain::clip(name, 40).into_owned();
        let Value::Object(call) = body else {
            return Err(shape("the body is not an object"));
        };
        if let Some(name) = call.keys().find(|k| *k != "thresholds") {
            return Err(shape(&format!(
                "{:?} is not a field of this call",
                clip(name)
            )));
        }
        let figures = match call.get("thresholds") {
            None => return Err(shape("thresholds is missing")),
            Some(Value::Null) => return Ok(None),
            Some(Value::Object(figures)) => figures,
            Some(_) => return Err(shape("thresholds is not an object")),
        };
        let mut out = current;
        for (name, levels) in figures {
            let limit = match name.as_str() {
                "error_pct" => &mut out.error_pct,
                "p99_ms" => &mut out.p99_ms,
                "utilisation_pct" => &mut out.utilisation_pct,
                _ => {
                    return Err(shape(&format!(
                        "{:?} is not a figure with levels",
                        clip(name)
                    )));
                }
            };
            let Value::Object(levels) = levels else {
                return Err(shape(&format!(
                    "{name} is not an object of warn and critical"
                )));
            };
            for (level, value) in levels {
                let slot = match level.as_str() {
                    "warn" => &mut limit.warn,
                    "critical" => &mut limit.critical,
                    _ => {
                        let level = clip(level);
                        return Err(shape(&format!(
                            "{name}.{level}: levels are warn and critical"
                        )));
                    }
                };
                *slot = value.as_f64().ok_or_else(|| {
                    let shown = crate::domain::clip(&value.to_string(), 40).into_owned();
                    format!("{name}.{level} is {shown}, not a number")
                })?;
            }
        }
        Ok(Some(out))
    }
}

/// The answer: the levels now in force and whether they are the service's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdsView {
    pub service: String,
    pub thresholds: Thresholds,
    pub own: bool,
}

/// What `GET /monitor` is asked, as its query string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitorQuery {
    /// Only samples newer than this second.
    pub since: Option<i64>,
    pub service: Option<String>,
    pub version: Option<u32>,
    /// `15m`, `1h`, `7d`…; or `from` (and `to`).
    pub window: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// About how many chart points the history should have.
    pub points: Option<u32>,
}

/// Chart points a history may ask for.
pub const MAX_POINTS: u32 = 2000;

impl MonitorQuery {
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(s) = self.since {
            pairs.push(("since", s.to_string()));
        }
        if let Some(s) = &self.service {
            pairs.push(("service", s.clone()));
        }
        if let Some(v) = self.version {
            pairs.push(("version", v.to_string()));
        }
        for (k, v) in [
            ("window", &self.window),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v {
                pairs.push((k, v.clone()));
            }
        }
        if let Some(p) = self.points {
            pairs.push(("points", p.to_string()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Reads a query string; the error names the parameter at fault.
    pub fn parse(
        param: impl Fn(&str) -> Option<String>,
    ) -> Result<MonitorQuery, (&'static str, String)> {
        let number = |name: &'static str| -> Result<Option<i64>, (&'static str, String)> {
            param(name)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|_| (name, format!("{name}={v:?} is not a whole number")))
                })
                .transpose()
        };
        let version = number("version")?
            .map(|v| {
                u32::try_from(v)
                    .map_err(|_| ("version", format!("version={v} is not a version number")))
            })
            .transpose()?;
        let points = number("points")?
            .map(|p| {
                u32::try_from(p)
                    .ok()
                    .filter(|p| (1..=MAX_POINTS).contains(p))
                    .ok_or(("points", format!("points={p}: ask for 1 to {MAX_POINTS}")))
            })
            .transpose()?;
        Ok(MonitorQuery {
            since: number("since")?
                .map(|s| {
                    (s >= 0).then_some(s).ok_or((
                        "since",
                        format!("since={s}: give a unix second, 0 or later"),
                    ))
                })
                .transpose()?,
            service: param("service"),
            version,
            window: param("window"),
            from: param("from"),
            to: param("to"),
            points,
        })
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(body: serde_json::Value) -> Result<Option<Thresholds>, String> {
        ThresholdsCall::read(&body, Thresholds::default())
    }

    /// serde would read `[[1, 2]]` as levels by position and `[null]` as a reset.
    #[test]
    fn threshold_bodies_are_read_strictly() {
        for bad in [
            json!([null]),
            json!({}),
            json!({"thresholds": []}),
            json!({"thresholds": [[1, 2]]}),
            json!({"thresholds": {"p99_ms": [5, 6]}}),
            json!({"thresholds": {"p99": {"warn": 1, "critical": 2}}}),
            json!({"thresholds": {"p99_ms": {"warn": 1, "max": 2}}}),
            json!({"thresholds": null, "extra": 1}),
        ] {
            let e = read(bad.clone()).unwrap_err();
            assert!(e.contains("{\"thresholds\":"), "{bad}: {e}");
        }
        let e = read(json!({"thresholds": {"p99_ms": {"warn": "a"}}})).unwrap_err();
        assert_eq!(e, "p99_ms.warn is \"a\", not a number");
        assert_eq!(read(json!({"thresholds": null})), Ok(None));
    }

    #[test]
    fn figures_left_out_keep_their_levels() {
        let mut current = Thresholds::default();
        current.error_pct.warn = 2.0;
        let body = json!({"thresholds": {"p99_ms": {"critical": 20}}});
        let t = ThresholdsCall::read(&body, current).unwrap().unwrap();
        assert_eq!(
            (t.error_pct.warn, t.p99_ms.warn, t.p99_ms.critical),
            (2.0, 250.0, 20.0)
        );
    }
}
