//! When a periodic job fires: a cron expression — the 5-field crontab form or the 6-field one
//! with seconds first — in a time zone, computed in our own code so that each job's next fire
//! time can be kept in the store (the scheduler crate's own ticker only wakes us).
//!
//! The contract across daylight-saving changes: a fire time that falls in a gap (the clock
//! jumps from 02:00 to 03:00) fires once, at the first moment after the gap; a fire time that
//! falls in a repeated hour (02:00–02:59 twice) fires once, at its first occurrence.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    pub zone: Tz,
    pub text: String,
}

impl Schedule {
    /// Reads `*/15 * * * *` or `0 */15 * * * *` in a zone named as the tz database does
    /// (`Europe/Berlin`, `UTC`). The error says what to write.
    pub fn parse(expr: &str, zone: &str) -> Result<Schedule, String> {
        let text = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        let fields = text.split(' ').filter(|w| !w.is_empty()).count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "{:?} has {fields} fields: write 5 (minute hour day month weekday, e.g. \"30 2 * * *\") or 6 with seconds first",
                crate::domain::clip(expr, 80)
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(&text)
            .map_err(|e| {
                format!(
                    "{:?} is not a cron expression ({e}): fields are minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6, with seconds 0-59 first in the 6-field form",
                    crate::domain::clip(expr, 80)
                )
            })?;
        let zone: Tz = zone.parse().map_err(|_| {
            format!(
                "{:?} is not a time zone: name one as the tz database does (Europe/Berlin, America/New_York, UTC)",
                crate::domain::clip(zone, 80)
            )
        })?;
        Ok(Schedule { cron, zone, text })
    }

    /// The first fire time after `after`. croner follows the Open Cron Pattern Specification's
    /// daylight-saving rules, which are this module's contract; the tests below pin them.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc))
    }

    /// The next `n` fire times after `after` (the CLI shows five before a job is saved).
    pub fn next_fires(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut at = after;
        while out.len() < n {
            let Some(next) = self.next_after(at) else {
                break;
            };
            out.push(next);
            at = next;
        }
        out
    }
}

/// `2026-03-29T03:00:00+02:00` in the schedule's zone, for people.
pub fn local_text(t: DateTime<Utc>, zone: Tz) -> String {
    zone.from_utc_datetime(&t.naive_utc()).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(s: &Schedule, times: &[DateTime<Utc>]) -> Vec<String> {
        times.iter().map(|t| local_text(*t, s.zone)).collect()
    }

    #[test]
    fn five_and_six_field_forms_in_a_zone() {
        let s = Schedule::parse("*/15 9 * * 1-5", "Europe/Berlin").unwrap();
        // Friday 2026-12-04 09:40 Berlin: 09:45, then Monday.
        let fires = s.next_fires(utc("2026-12-04T08:40:00Z"), 3);
        assert_eq!(
            local(&s, &fires),
            [
                "2026-12-04T09:45:00+01:00",
                "2026-12-07T09:00:00+01:00",
                "2026-12-07T09:15:00+01:00"
            ]
        );
        let s = Schedule::parse("30 0 12 * * *", "UTC").unwrap();
        assert_eq!(
            s.next_after(utc("2026-12-04T12:00:00Z")),
            Some(utc("2026-12-04T12:00:30Z"))
        );
        for (expr, zone, says) in [
            ("* * *", "UTC", "has 3 fields"),
            ("61 * * * *", "UTC", "not a cron expression"),
            ("* * * * *", "Mars/Olympus", "not a time zone"),
        ] {
            let e = Schedule::parse(expr, zone).unwrap_err();
            assert!(e.contains(says), "{expr}: {e}");
        }
    }

    /// A fire time in the spring-forward gap fires once, just after it; one in the repeated
    /// autumn hour fires once, at its first pass.
    #[test]
    fn daylight_saving_changes_fire_once() {
        let s = Schedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        // 2026-03-29: 02:00 → 03:00.
        let fires = s.next_fires(utc("2026-03-28T12:00:00Z"), 3);
        assert_eq!(
            local(&s, &fires),
            [
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
                "2026-03-31T02:30:00+02:00"
            ]
        );
        // 2026-10-25: 03:00 → 02:00, 02:30 happens twice.
        let fires = s.next_fires(utc("2026-10-24T12:00:00Z"), 2);
        assert_eq!(
            local(&s, &fires),
            ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]
        );
        // From within the first pass (02:45 summer time), 02:30 winter time is not a new fire.
        let next = s.next_after(utc("2026-10-25T00:45:00Z")).unwrap();
        assert_eq!(local_text(next, s.zone), "2026-10-26T02:30:00+01:00");
    }
}
