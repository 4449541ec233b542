//! The scheduler's contract, as pure functions of a job and the time (tests give a fixed
//! clock). The server's loop (`control::api::jobs`) is woken every second by
//! tokio-cron-scheduler's ticker and asks the store for jobs whose `next_fire_at` has come;
//! what to do with each is decided here:
//!
//! - a once-job fires at its start time (at creation when it has none), then has no next fire;
//! - a periodic job fires at each cron time in its zone (daylight-saving gaps and repeats fire
//!   once: [`super::schedule`]), not before its start time;
//! - fires that passed while no server ran are recorded as missed; the latest of them still
//!   runs, late, if it is within the grace window (default one hour);
//! - a fire while a run of the job is going is skipped and recorded (the store decides that,
//!   in the same transaction that moves the next fire time on);
//! - pausing clears the next fire time and resuming computes it afresh, as an edit does, so
//!   neither needs a restart.

use chrono::{DateTime, Duration, Utc};

use super::schedule::Schedule;
use crate::domain::{JobSpec, Trigger, job::parse_time};

/// Default grace window for a fire missed while the server was down.
pub const GRACE: Duration = Duration::hours(1);
/// A fire this late is a catch-up (the server was down or stalled), not an ordinary one.
const LATE: Duration = Duration::seconds(60);
/// The most missed fires recorded one by one; beyond, the count is summarised.
const MAX_MISSED: usize = 100;

/// What one due job does now.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Fire now, for this scheduled time, as this trigger.
    pub fire: Option<(DateTime<Utc>, Trigger)>,
    /// Earlier fire times that will not run.
    pub missed: Vec<DateTime<Utc>>,
    /// The next fire time after now (`None`: nothing more to fire).
    pub next: Option<DateTime<Utc>>,
}

/// The spec's schedule, parsed (a once-job has none).
pub fn schedule(spec: &JobSpec) -> Result<Option<Schedule>, String> {
    spec.cron
        .as_deref()
        .map(|c| Schedule::parse(c, &spec.tz))
        .transpose()
}

/// The start time, if any.
pub fn start(spec: &JobSpec) -> Result<Option<DateTime<Utc>>, String> {
    spec.start_at
        .as_deref()
        .map(|t| parse_time(t).ok_or_else(|| format!("{t:?} is not a time")))
        .transpose()
}

/// The first fire of a job created (or edited, or resumed) at `now`.
pub fn first_fire(spec: &JobSpec, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let start = start(spec)?;
    Ok(match schedule(spec)? {
        None => Some(start.unwrap_or(now)),
        Some(s) => {
            let from = match start {
                Some(t) if t > now => t - Duration::seconds(1),
                _ => now,
            };
            s.next_after(from)
        }
    })
}

/// What a job whose next fire time `due` has come does at `now`.
pub fn decide(
    spec: &JobSpec,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Decision, String> {
    let Some(schedule) = schedule(spec)? else {
        return Ok(if now - due <= grace {
            Decision {
                fire: Some((due, trigger(due, now))),
                missed: vec![],
                next: None,
            }
        } else {
            Decision {
                fire: None,
                missed: vec![due],
                next: None,
            }
        });
    };
    // Every fire time from `due` up to now; only the latest may still run.
    let mut fires = vec![due];
    let mut at = due;
    while let Some(t) = schedule.next_after(at) {
        if t > now {
            break;
        }
        fires.push(t);
        at = t;
        if fires.len() > 100_000 {
            break;
        }
    }
    let latest = fires.pop().unwrap_or(due);
    let (fire, mut missed) = if now - latest <= grace {
        (Some((latest, trigger(latest, now))), fires)
    } else {
        fires.push(latest);
        (None, fires)
    };
    if missed.len() > MAX_MISSED {
        missed.drain(..missed.len() - MAX_MISSED);
    }
    Ok(Decision {
        fire,
        missed,
        next: schedule.next_after(now.max(latest)),
    })
}

/// The schedule in words, for lists: "every day at 02:30 (Europe/Berlin)"; the cron itself
/// when it says something more particular.
pub fn describe(spec: &JobSpec) -> String {
    let Some(cron) = spec.cron.as_deref() else {
        return match &spec.start_at {
            Some(t) => format!("once at {t}"),
            None => "once".into(),
        };
    };
    let f: Vec<&str> = cron.split_whitespace().collect();
    let zone = if spec.tz == "UTC" {
        " UTC".to_string()
    } else {
        format!(" ({})", spec.tz)
    };
    let every = |n: &str, unit: &str| match n {
        "*" | "*/1" => format!("every {unit}"),
        _ => match n.strip_prefix("*/") {
            Some(k) => format!("every {k} {unit}s"),
            None => String::new(),
        },
    };
    let num = |x: &str| x.parse::<u32>().ok();
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let words = match f.as_slice() {
        [s, "*", "*", "*", "*", "*"] => every(s, "second"),
        [m, "*", "*", "*", "*"] | ["0", m, "*", "*", "*", "*"] if m.starts_with('*') => {
            every(m, "minute")
        }
        [m, "*", "*", "*", "*"] | ["0", m, "*", "*", "*", "*"] => match num(m) {
            Some(m) => format!("every hour at :{m:02}"),
            None => String::new(),
        },
        [m, h, "*", "*", d] | ["0", m, h, "*", "*", d] => match (num(m), num(h), *d) {
            (Some(m), Some(h), "*") => format!("every day at {h:02}:{m:02}{zone}"),
            (Some(m), Some(h), d) => match num(d).and_then(|d| DAYS.get(d as usize % 7)) {
                Some(day) => format!("every {day} at {h:02}:{m:02}{zone}"),
                None => String::new(),
            },
            _ => String::new(),
        },
        _ => String::new(),
    };
    if words.is_empty() {
        format!("cron {cron}{zone}")
    } else {
        words
    }
}

fn trigger(at: DateTime<Utc>, now: DateTime<Utc>) -> Trigger {
    if now - at > LATE {
        Trigger::Catchup
    } else {
        Trigger::Schedule
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FailurePolicy, Target};

    fn t(text: &str) -> DateTime<Utc> {
        parse_time(text).unwrap()
    }

    fn job(cron: Option<&str>, tz: &str, start: Option<&str>) -> JobSpec {
        JobSpec {
            target: Target::Model {
                name: "m".into(),
                version: None,
            },
            input: "in.csv".into(),
            output: "out.csv".into(),
            steps: vec![],
            cron: cron.map(str::to_string),
            tz: tz.into(),
            start_at: start.map(str::to_string),
            threads: None,
            policy: FailurePolicy::Reject,
        }
    }

    #[test]
    fn a_once_job_fires_at_its_start_or_when_created() {
        let now = t("2026-12-02T10:00:00Z");
        assert_eq!(first_fire(&job(None, "UTC", None), now), Ok(Some(now)));
        let later = job(None, "UTC", Some("2026-12-03T01:00:00Z"));
        assert_eq!(first_fire(&later, now), Ok(Some(t("2026-12-03T01:00:00Z"))));
        let d = decide(
            &later,
            t("2026-12-03T01:00:00Z"),
            t("2026-12-03T01:00:01Z"),
            GRACE,
        )
        .unwrap();
        assert_eq!(d.fire, Some((t("2026-12-03T01:00:00Z"), Trigger::Schedule)));
        assert_eq!(d.next, None);
    }

    #[test]
    fn a_periodic_job_starts_no_earlier_than_its_start_time() {
        let spec = job(
            Some("0 2 * * *"),
            "Europe/Berlin",
            Some("2026-12-05T00:00:00Z"),
        );
        // 02:00 in Berlin is 01:00 UTC in winter.
        assert_eq!(
            first_fire(&spec, t("2026-12-02T10:00:00Z")),
            Ok(Some(t("2026-12-05T01:00:00Z")))
        );
        let every_10s = job(Some("*/10 * * * * *"), "UTC", None);
        assert_eq!(
            first_fire(&every_10s, t("2026-12-02T10:00:03Z")),
            Ok(Some(t("2026-12-02T10:00:10Z")))
        );
    }

    #[test]
    fn fires_missed_while_down_are_recorded_and_the_latest_runs_within_grace() {
        let hourly = job(Some("0 * * * *"), "UTC", None);
        // Down from 07:30 to 10:20: 08:00, 09:00, 10:00 passed; 10:00 is 20 minutes old.
        let d = decide(
            &hourly,
            t("2026-12-02T08:00:00Z"),
            t("2026-12-02T10:20:00Z"),
            GRACE,
        )
        .unwrap();
        assert_eq!(
            d.missed,
            [t("2026-12-02T08:00:00Z"), t("2026-12-02T09:00:00Z")]
        );
        assert_eq!(d.fire, Some((t("2026-12-02T10:00:00Z"), Trigger::Catchup)));
        assert_eq!(d.next, Some(t("2026-12-02T11:00:00Z")));
        // Past the grace window, nothing runs late.
        let d = decide(
            &hourly,
            t("2026-12-02T08:00:00Z"),
            t("2026-12-02T10:20:00Z"),
            Duration::minutes(10),
        )
        .unwrap();
        assert_eq!(d.fire, None);
        assert_eq!(d.missed.len(), 3);
        // A once-job missed by more than the window does not run.
        let once = job(None, "UTC", Some("2026-12-02T08:00:00Z"));
        let d = decide(
            &once,
            t("2026-12-02T08:00:00Z"),
            t("2026-12-02T10:00:00Z"),
            GRACE,
        )
        .unwrap();
        assert_eq!((d.fire, d.missed.len(), d.next), (None, 1, None));
        // On time, a fire is an ordinary one with no misses.
        let d = decide(
            &hourly,
            t("2026-12-02T11:00:00Z"),
            t("2026-12-02T11:00:01Z"),
            GRACE,
        )
        .unwrap();
        assert_eq!(d.fire, Some((t("2026-12-02T11:00:00Z"), Trigger::Schedule)));
        assert!(d.missed.is_empty());
    }

    #[test]
    fn schedules_read_in_words() {
        let d = |c: Option<&str>, tz: &str| describe(&job(c, tz, None));
        assert_eq!(
            d(Some("30 2 * * *"), "Europe/Berlin"),
            "every day at 02:30 (Europe/Berlin)"
        );
        assert_eq!(d(Some("*/15 * * * *"), "UTC"), "every 15 minutes");
        assert_eq!(d(Some("*/10 * * * * *"), "UTC"), "every 10 seconds");
        assert_eq!(d(Some("5 * * * *"), "UTC"), "every hour at :05");
        assert_eq!(d(Some("0 6 * * 1"), "UTC"), "every Monday at 06:00 UTC");
        assert_eq!(d(Some("0 6 1 * *"), "UTC"), "cron 0 6 1 * * UTC");
        assert_eq!(d(None, "UTC"), "once");
    }

    #[test]
    fn daylight_saving_days_fire_once() {
        // 02:30 every day in Berlin: on 2026-03-29 02:30 does not exist, on 2026-10-25 it
        // happens twice. The scheduler walks next fires from one to the next.
        let spec = job(Some("30 2 * * *"), "Europe/Berlin", None);
        let walk = |from: &str, to: &str| {
            let (mut at, end) = (t(from), t(to));
            let mut fires = Vec::new();
            while let Some(d) = decide(&spec, at, at, GRACE).unwrap().next {
                if d > end {
                    break;
                }
                fires.push(d);
                at = d;
            }
            fires
        };
        let spring = walk("2026-03-27T12:00:00Z", "2026-03-31T00:00:00Z");
        assert_eq!(
            spring,
            [
                t("2026-03-28T01:30:00Z"),
                t("2026-03-29T01:00:00Z"),
                t("2026-03-30T00:30:00Z")
            ]
        );
        let autumn = walk("2026-10-23T12:00:00Z", "2026-10-27T00:00:00Z");
        assert_eq!(
            autumn,
            [
                t("2026-10-24T00:30:00Z"),
                t("2026-10-25T00:30:00Z"),
                t("2026-10-26T01:30:00Z")
            ]
        );
    }
}
