//! Periods the monitor answers for: the last 15 minutes, hour, six hours, day or week, or any
//! from–to, and the step a chart of that period is drawn at.

use serde::{Deserialize, Serialize};

/// A closed-open span of unix seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

/// The windows the console's `+`/`-` step through, in seconds.
pub const WINDOWS: [i64; 5] = [15 * 60, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600];

/// The longest period a query may span: what the retention keeps, and a bound on the work.
pub const MAX_SECONDS: i64 = 400 * 24 * 3600;

impl Period {
    /// The `seconds` before `now`.
    pub fn last(seconds: i64, now: i64) -> Period {
        Period {
            from: now - seconds,
            to: now,
        }
    }

    pub fn seconds(&self) -> i64 {
        self.to - self.from
    }

    /// From the CLI's and the API's words: `since` (`15m`, `1h`, `7d`), or `from` and `to`
    /// (RFC 3339 or unix seconds; `to` defaults to now). The error says what to write.
    pub fn parse(
        since: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: i64,
    ) -> Result<Period, String> {
        let period = match (since, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(
                    "give either a length (--since, the API's window) or from (and to), not both"
                        .into(),
                );
            }
            (None, None, Some(_)) => return Err("to needs a from: the period starts there".into()),
            (Some(s), None, None) => Period::last(duration(s)?, now),
            (None, Some(f), _) => Period {
                from: instant(f)?,
                to: to.map(instant).transpose()?.unwrap_or(now),
            },
            (None, None, None) => Period::last(WINDOWS[0], now),
        };
        if period.to <= period.from {
            return Err(format!(
                "the period is empty or ends before it starts ({} → {}): `to` must be after `from`",
                label(period.from),
                label(period.to)
            ));
        }
        if period.seconds() > MAX_SECONDS {
            return Err("the period is longer than 400 days; ask for a shorter one".into());
        }
        Ok(period)
    }

    /// The chart step for this period: about `points` steps, on a whole number of seconds that
    /// divides a minute, or of minutes.
    pub fn step(&self, points: i64) -> i64 {
        let raw = (self.seconds() / points.max(1)).max(1);
        const STEPS: [i64; 14] = [
            1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
        ];
        STEPS
            .into_iter()
            .find(|s| *s >= raw)
            .unwrap_or(((raw + 3599) / 3600) * 3600)
    }
}

/// `90s`, `15m`, `1h`, `24h`, `7d` as seconds.
pub fn duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bad = || {
        format!("{text:?} is not a period: write a number and a unit, like 90s, 15m, 1h, 24h or 7d")
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    if n == 0 || n > MAX_SECONDS / unit {
        return Err(format!(
            "{text:?}: the period must be longer than nothing and at most 400 days"
        ));
    }
    Ok(n * unit)
}

/// The last second a time may name (9999-12-31T23:59:59Z): far past any data, and small enough
/// that differences of two times never overflow.
const LATEST: i64 = 253_402_300_799;

/// An RFC 3339 time (`2026-12-01T10:00:00Z`) or unix seconds, from 1970 to 9999.
pub fn instant(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let t = match text.parse::<i64>() {
        Ok(n) => n,
        Err(_) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp())
            .map_err(|_| {
                format!(
                    "{text:?} is not a time: write RFC 3339 (2026-12-01T10:00:00Z) or unix seconds"
                )
            })?,
    };
    if !(0..=LATEST).contains(&t) {
        return Err(format!(
            "{text:?} is outside 1970-01-01 to 9999-12-31: write a time in that span"
        ));
    }
    Ok(t)
}

/// A unix time as RFC 3339 UTC.
pub fn label(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_from_the_words_people_use() {
        assert_eq!(duration("15m"), Ok(900));
        assert_eq!(duration("7d"), Ok(604_800));
        assert!(duration("1y").unwrap_err().contains("15m"));
        assert!(duration("0s").is_err());
        assert!(duration("99999999999d").is_err());
        let p = Period::parse(Some("1h"), None, None, 10_000).unwrap();
        assert_eq!((p.from, p.to), (6_400, 10_000));
        let p = Period::parse(None, Some("2026-12-01T10:00:00Z"), Some("1796126400"), 0);
        assert!(p.is_ok(), "{p:?}");
        assert!(
            Period::parse(None, Some("200"), Some("100"), 0)
                .unwrap_err()
                .contains("after")
        );
        assert!(Period::parse(Some("1h"), Some("1"), None, 0).is_err());
        assert!(
            Period::parse(None, None, Some("100"), 0)
                .unwrap_err()
                .contains("from")
        );
        assert!(Period::parse(None, Some("100"), Some("100"), 0).is_err());
    }

    /// Times far apart cannot overflow the period's length past its bound (a query once
    /// asked for 10^19 seconds of chart and took the server's memory).
    #[test]
    fn times_outside_1970_to_9999_are_refused() {
        for (from, to) in [
            ("-5000000000000000000", "5000000000000000000"),
            ("-9223372036854775808", "9223372036854775807"),
            ("-100", "100"),
            ("0", "253402300800"),
        ] {
            let e = Period::parse(None, Some(from), Some(to), 0).unwrap_err();
            assert!(
                e.contains("outside 1970-01-01 to 9999-12-31"),
                "{from} {to}: {e}"
            );
        }
        let e = Period::parse(None, Some("0"), Some("253402300799"), 0).unwrap_err();
        assert!(e.contains("400 days"), "{e}");
    }

    #[test]
    fn steps_keep_a_chart_near_its_width() {
        assert_eq!(Period::last(900, 0).step(120), 10);
        assert_eq!(Period::last(3600, 0).step(60), 60);
        assert_eq!(Period::last(7 * 86_400, 0).step(120), 7200);
        assert_eq!(Period::last(60, 0).step(120), 1);
    }
}
