//! A canary: a candidate version taken through steps of traffic (5% → 25% → 50% → 100%), each
//! judged on the candidate's own client requests in that step — against absolute gates (error
//! rate, p99) and against the baseline versions over the same interval — before the next. A
//! breach goes back to the split from before the canary; a `pause` step waits for a person.
//! Pure rules here; the server's driver feeds them counts and applies what they decide.

use serde::{Deserialize, Serialize};

use super::metrics::{Counts, Figures};

/// One step: a weight for the candidate, or a pause for a person to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Step {
    Percent(u8),
    Pause(PauseWord),
}

/// The word `pause` in a step list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PauseWord {
    Pause,
}

/// Steps a canary may have.
const MAX_STEPS: usize = 20;

/// Reads `5,25,pause,50,100`: rising percents from 1 to 100, ending at 100, with single pauses
/// between them (a pause waits after a step held, before the next).
pub fn parse_steps(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut last = 0u8;
    for word in text.split(',').map(str::trim) {
        if steps.len() == MAX_STEPS {
            return Err(format!("at most {MAX_STEPS} steps"));
        }
        if word.eq_ignore_ascii_case("pause") {
            match steps.last() {
                None => return Err("a pause comes after a step: start with a percent".into()),
                Some(Step::Pause(_)) => return Err("one pause between two steps is enough".into()),
                Some(_) => {}
            }
            steps.push(Step::Pause(PauseWord::Pause));
            continue;
        }
        let p: u8 = word
            .trim_end_matches('%')
            .parse()
            .ok()
            .filter(|p| (1..=100).contains(p))
            .ok_or_else(|| format!("step {word:?} is not a percent from 1 to 100 or `pause`"))?;
        if p <= last {
            return Err(format!("steps must rise: {p} comes after {last}"));
        }
        last = p;
        steps.push(Step::Percent(p));
    }
    if last != 100 || matches!(steps.last(), Some(Step::Pause(_))) {
        return Err("the last step must be 100 (the candidate takes all the traffic)".into());
    }
    Ok(steps)
}

/// What a step is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    /// Seconds a step lasts at least.
    pub interval_secs: u64,
    /// Client requests the candidate must serve in a step before it is judged.
    pub min_requests: u64,
    pub max_error_pct: f64,
    pub max_p99_ms: f64,
}

/// Where a canary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CanaryState {
    /// In a step, being measured.
    Running,
    /// Stopped by a person, a `pause` step, or a manual traffic change; `resume` goes on.
    Paused,
    /// The candidate has all the traffic.
    Promoted,
    /// A gate was breached: the split went back to the one before the canary.
    RolledBack,
    /// A person ended it; the split stays as it is.
    Aborted,
}

impl CanaryState {
    pub fn done(self) -> bool {
        matches!(
            self,
            CanaryState::Promoted | CanaryState::RolledBack | CanaryState::Aborted
        )
    }
}

/// A canary as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub candidate: u32,
    pub steps: Vec<Step>,
    /// The step in force (an index into `steps`).
    pub step: usize,
    pub gates: Gates,
    pub state: CanaryState,
    /// The split before the canary: where a breach goes back to.
    pub baseline: std::collections::BTreeMap<u32, u8>,
    /// What the last judgement said, or why it stopped.
    pub verdict: String,
    pub started_by: String,
    pub started_at: String,
}

impl Canary {
    /// The candidate's weight at step `i` (a pause keeps the step before it).
    pub fn percent_at(&self, i: usize) -> u8 {
        self.steps[..=i.min(self.steps.len().saturating_sub(1))]
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Percent(p) => Some(*p),
                Step::Pause(_) => None,
            })
            .unwrap_or(0)
    }

    /// `5 → 25 → [50] → 100`: the steps with the one in force marked.
    pub fn steps_words(&self) -> String {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let w = match s {
                    Step::Percent(p) => format!("{p}%"),
                    Step::Pause(_) => "pause".to_string(),
                };
                if i == self.step { format!("[{w}]") } else { w }
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// A step's judgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Too early, or too few candidate requests: not judged yet (the words say which).
    Wait(String),
    /// The gates held: go on (with the figures, for the record).
    Pass(String),
    /// A gate was breached (and which).
    Breach(String),
}

/// Judges a step from the candidate's and the baselines' client counts since it began.
pub fn judge(gates: &Gates, elapsed_secs: u64, candidate: &Counts, baseline: &Counts) -> Verdict {
    let seconds = elapsed_secs.max(1) as f64;
    let c = Figures::of(candidate, candidate, seconds, None);
    let b = Figures::of(baseline, baseline, seconds, None);
    if c.requests < gates.min_requests {
        return Verdict::Wait(format!(
            "waiting for traffic: the candidate has served {} of {} client requests in this step",
            c.requests, gates.min_requests
        ));
    }
    let p99 = c.p99_ms.unwrap_or(0.0);
    // The gate is over the baseline's own rate in the same interval, when there is one to
    // compare: callers' bad requests fail on every version alike and are not the candidate's
    // doing; what the candidate adds beyond the gate is.
    let measured = b.requests >= gates.min_requests;
    let baseline_pct = if measured { b.error_pct } else { 0.0 };
    // ...and only a difference the numbers bear out: a handful of requests either way is not
    // a regression (a one-sided two-proportion z-test at 99%).
    let real = !measured || significant(c.errors, c.requests, b.errors, b.requests);
    if c.error_pct > gates.max_error_pct + baseline_pct && real {
        let against = match measured {
            true => format!(
                " (the gate {}% over the baseline's {baseline_pct:.2}%)",
                gates.max_error_pct
            ),
            false => String::new(),
        };
        return Verdict::Breach(format!(
            "error rate {:.2}% > {:.2}%{against} over {} requests",
            c.error_pct,
            gates.max_error_pct + baseline_pct,
            c.requests
        ));
    }
    if p99 > gates.max_p99_ms {
        return Verdict::Breach(format!("p99 {p99:.2} ms > {} ms", gates.max_p99_ms));
    }
    if elapsed_secs < gates.interval_secs {
        return Verdict::Wait(format!(
            "in step for {elapsed_secs} of {} s (error {:.2}%, p99 {p99:.2} ms so far)",
            gates.interval_secs, c.error_pct
        ));
    }
    Verdict::Pass(format!(
        "error {:.2}% (baseline {:.2}%), p99 {p99:.2} ms over {} requests",
        c.error_pct, b.error_pct, c.requests
    ))
}

/// Whether `a_errors / a_n` is above `b_errors / b_n` by more than chance explains (z > 2.33).
fn significant(a_errors: u64, a_n: u64, b_errors: u64, b_n: u64) -> bool {
    let (a_n, b_n) = (a_n.max(1) as f64, b_n.max(1) as f64);
    let (pa, pb) = (a_errors as f64 / a_n, b_errors as f64 / b_n);
    let pooled = (a_errors + b_errors) as f64 / (a_n + b_n);
    let se = (pooled * (1.0 - pooled) * (1.0 / a_n + 1.0 / b_n)).sqrt();
    if se == 0.0 {
        return pa > pb;
    }
    (pa - pb) / se > 2.33
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Outcome;

    fn counts(ok: u64, errors: u64, latency_us: u64) -> Counts {
        let mut c = Counts::default();
        c.outcomes[Outcome::Ok.index()] = ok;
        c.outcomes[Outcome::ServerError.index()] = errors;
        c.latency[crate::domain::latency::bucket(latency_us)] = ok + errors;
        c
    }

    #[test]
    fn steps_rise_to_100_with_pauses_between() {
        assert_eq!(
            parse_steps("5, 25,pause,100").unwrap(),
            vec![
                Step::Percent(5),
                Step::Percent(25),
                Step::Pause(PauseWord::Pause),
                Step::Percent(100)
            ]
        );
        for (bad, says) in [
            ("5,50", "last step must be 100"),
            ("50,25,100", "must rise"),
            ("0,100", "1 to 100"),
            ("5,x,100", "not a percent"),
            ("pause,5,100", "start with a percent"),
            ("5,pause,pause,100", "one pause"),
            ("5,100,pause", "last step must be 100"),
        ] {
            assert!(parse_steps(bad).unwrap_err().contains(says), "{bad}");
        }
    }

    fn gates_of(min_requests: u64) -> Gates {
        Gates {
            interval_secs: 60,
            min_requests,
            max_error_pct: 1.0,
            max_p99_ms: 200.0,
        }
    }

    #[test]
    fn a_step_waits_for_traffic_then_passes_or_breaches() {
        let gates = Gates {
            interval_secs: 60,
            min_requests: 200,
            max_error_pct: 1.0,
            max_p99_ms: 200.0,
        };
        let base = counts(1000, 0, 900);
        assert!(
            matches!(judge(&gates, 120, &counts(150, 0, 900), &base), Verdict::Wait(w) if w.contains("150 of 200"))
        );
        assert!(matches!(
            judge(&gates, 30, &counts(300, 0, 900), &base),
            Verdict::Wait(_)
        ));
        assert!(matches!(
            judge(&gates, 60, &counts(300, 0, 900), &base),
            Verdict::Pass(_)
        ));
        assert!(
            matches!(judge(&gates, 10, &counts(200, 100, 900), &base), Verdict::Breach(b) if b.contains("error rate"))
        );
        assert!(
            matches!(judge(&gates, 60, &counts(300, 0, 500_000), &base), Verdict::Breach(b) if b.contains("p99"))
        );
        // Two bad requests in 68 against one in 68 is chance, not a regression.
        assert!(!matches!(
            judge(&gates_of(50), 60, &counts(66, 2, 900), &counts(67, 1, 900)),
            Verdict::Breach(_)
        ));
        // Callers' bad requests fail everywhere: 2% on both sides is not the candidate's.
        let noisy = counts(980, 20, 900);
        assert!(matches!(
            judge(&gates, 60, &counts(294, 6, 900), &noisy),
            Verdict::Pass(_)
        ));
        assert!(
            matches!(judge(&gates, 60, &counts(280, 20, 900), &noisy), Verdict::Breach(b) if b.contains("baseline"))
        );
    }
}
