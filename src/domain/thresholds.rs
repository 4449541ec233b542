//! Warn and critical levels for a service's error %, p99 and utilisation: defaults from the
//! server settings, overridden per service. A crossing becomes an event and colours the console.

use serde::{Deserialize, Serialize};

use super::metrics::{Figures, number};

/// One figure's two levels; a figure at or above a level has reached it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = r#"a figure's levels, {"warn": number, "critical": number}"#
)]
pub struct Limit {
    pub warn: f64,
    pub critical: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    deny_unknown_fields,
    expecting = r#"levels by figure, {"error_pct": …, "p99_ms": …, "utilisation_pct": …}"#
)]
pub struct Thresholds {
    pub error_pct: Limit,
    pub p99_ms: Limit,
    /// Mean requests in flight ÷ the concurrency limit, in percent.
    pub utilisation_pct: Limit,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            error_pct: Limit {
                warn: 1.0,
                critical: 5.0,
            },
            p99_ms: Limit {
                warn: 250.0,
                critical: 1000.0,
            },
            utilisation_pct: Limit {
                warn: 70.0,
                critical: 90.0,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Ok,
    Warn,
    Critical,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

impl Limit {
    pub fn level(&self, value: f64) -> Level {
        if value >= self.critical {
            Level::Critical
        } else if value >= self.warn {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    /// `max`: the largest level that can mean anything (100 for a percent).
    pub fn check(&self, what: &str, max: f64) -> Result<(), String> {
        if !(self.warn.is_finite() && self.critical.is_finite() && self.warn >= 0.0) {
            return Err(format!("{what}: levels must be numbers of 0 or more"));
        }
        if self.critical > max {
            return Err(format!(
                "{what}: {} is past {max}, the most this figure can reach; give a level up to {max}",
                number(self.critical)
            ));
        }
        if self.critical < self.warn {
            return Err(format!(
                "{what}: critical ({}) is below warn ({}); critical must be the higher level",
                self.critical, self.warn
            ));
        }
        Ok(())
    }
}

/// A figure beside a level: as [`number`] shows it, with the digits a small level needs
/// (`0.0031` beside `0.002`, never `0.00 >= 0.00`).
fn figure(v: f64) -> String {
    if v == 0.0 || v.abs() >= 0.01 {
        return number(v);
    }
    let decimals = ((-v.abs().log10()).ceil() as usize + 1).min(9);
    format!("{v:.decimals$}")
}

/// Fewer client requests than this in the judged window say nothing about an error rate.
pub const MIN_REQUESTS: u64 = 20;

impl Thresholds {
    pub fn check(&self) -> Result<(), String> {
        self.error_pct.check("error_pct", 100.0)?;
        self.p99_ms.check("p99_ms", f64::MAX)?;
        self.utilisation_pct.check("utilisation_pct", 100.0)
    }

    /// The same levels with `-0` written as `0`, as they are stored and shown.
    pub fn normalised(mut self) -> Thresholds {
        for limit in [
            &mut self.error_pct,
            &mut self.p99_ms,
            &mut self.utilisation_pct,
        ] {
            limit.warn += 0.0;
            limit.critical += 0.0;
        }
        self
    }

    /// The worst level `figures` reach, with the figures that reach it (`error 7.1% >= 5%`).
    pub fn judge(&self, f: &Figures) -> (Level, Vec<String>) {
        let mut found: Vec<(Level, String)> = Vec::new();
        if f.requests >= MIN_REQUESTS {
            let l = self.error_pct.level(f.error_pct);
            if l > Level::Ok {
                let bound = self.bound(&self.error_pct, l);
                found.push((l, format!("error {}% >= {bound}%", figure(f.error_pct))));
            }
        }
        if let Some(p99) = f.p99_ms.filter(|_| f.requests > 0) {
            let l = self.p99_ms.level(p99);
            if l > Level::Ok {
                let bound = self.bound(&self.p99_ms, l);
                found.push((l, format!("p99 {} ms >= {bound} ms", figure(p99))));
            }
        }
        if let Some(u) = f.saturation_pct {
            let l = self.utilisation_pct.level(u);
            if l > Level::Ok {
                let bound = self.bound(&self.utilisation_pct, l);
                found.push((l, format!("utilisation {}% >= {bound}%", figure(u))));
            }
        }
        let worst = found.iter().map(|(l, _)| *l).max().unwrap_or(Level::Ok);
        (
            worst,
            found
                .into_iter()
                .filter(|(l, _)| *l == worst)
                .map(|(_, why)| why)
                .collect(),
        )
    }

    fn bound(&self, limit: &Limit, level: Level) -> f64 {
        if level == Level::Critical {
            limit.critical
        } else {
            limit.warn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_level_reached_is_reported_with_its_reasons() {
        let t = Thresholds::default();
        let mut f = Figures {
            requests: 100,
            error_pct: 2.0,
            p99_ms: Some(1500.0),
            ..Figures::default()
        };
        let (level, why) = t.judge(&f);
        assert_eq!(level, Level::Critical);
        assert_eq!(why, vec!["p99 1500 ms >= 1000 ms".to_string()]);
        f.p99_ms = Some(10.0);
        assert_eq!(t.judge(&f).0, Level::Warn);
        // A handful of requests cannot make an error rate.
        f.requests = 3;
        assert_eq!(t.judge(&f).0, Level::Ok);
    }

    #[test]
    fn levels_must_be_ordered() {
        let mut t = Thresholds::default();
        t.p99_ms.critical = 10.0;
        assert!(t.check().unwrap_err().contains("critical"));
        t.p99_ms.warn = f64::NAN;
        assert!(t.check().is_err());
        let mut t = Thresholds::default();
        t.error_pct.critical = 101.0;
        assert!(t.check().unwrap_err().contains("up to 100"));
        t.error_pct.critical = 100.0;
        t.utilisation_pct.warn = -0.0;
        let t = t.normalised();
        assert!(t.check().is_ok());
        assert!(t.utilisation_pct.warn.is_sign_positive());
    }

    /// A level below a millisecond is shown with the figure's own precision, not rounded to
    /// `p99 0 ms >= 0.02 ms`.
    #[test]
    fn reasons_keep_the_precision_of_small_figures() {
        let t = Thresholds {
            p99_ms: Limit {
                warn: 0.01,
                critical: 0.02,
            },
            ..Thresholds::default()
        };
        let f = Figures {
            requests: 100,
            p99_ms: Some(0.4),
            ..Figures::default()
        };
        assert_eq!(t.judge(&f).1, vec!["p99 0.40 ms >= 0.02 ms".to_string()]);
        let t = Thresholds {
            p99_ms: Limit {
                warn: 0.001,
                critical: 0.002,
            },
            ..Thresholds::default()
        };
        let f = Figures {
            p99_ms: Some(0.0031),
            ..f
        };
        assert_eq!(t.judge(&f).1, vec!["p99 0.0031 ms >= 0.002 ms".to_string()]);
    }
}
