//! Test runtimes (cargo feature `test-runtimes`): ordinary PMML models whose header asks for
//! misbehaviour, so the gateway's limits and error paths can be tested before slow or flaky
//! engines exist. A model opts in with an extension in its `<Header>`:
//!
//! ```xml
//! <Extension name="modeldeck-test-runtime" value="sleep 500"/>      <!-- each call sleeps 500 ms -->
//! <Extension name="modeldeck-test-runtime" value="fail-every 3"/>   <!-- every 3rd call panics -->
//! <Extension name="modeldeck-test-runtime" value="echo"/>           <!-- answers with its inputs -->
//! <Extension name="modeldeck-test-runtime" value="sleep-input"/>    <!-- sleeps the first input's value in ms -->
//! ```
//!
//! Release builds leave the feature off, so such a file is just a PMML model there.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{OutputRole, OutputSpec, Predictor, RecordError, SharedPredictor, Signature, Value};

const MARK: &str = "name=\"modeldeck-test-runtime\" value=\"";

enum Behaviour {
    Sleep(Duration),
    /// Sleeps as many milliseconds as the first record's first input says (a latency mix
    /// chosen by the requests).
    SleepInput,
    FailEvery(u64),
    Echo(Signature),
}

struct TestModel {
    inner: SharedPredictor,
    behaviour: Behaviour,
    calls: AtomicU64,
}

/// Wraps `model` when `text` (the artifact) asks for a test behaviour.
pub fn wrap(model: SharedPredictor, text: &str) -> Result<SharedPredictor, String> {
    let Some(start) = text.find(MARK).map(|i| i + MARK.len()) else {
        return Ok(model);
    };
    let spec = &text[start..start + text[start..].find('"').unwrap_or(0)];
    let mut words = spec.split_whitespace();
    let number = |w: Option<&str>| {
        w.and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("test runtime {spec:?} needs a positive number"))
    };
    let behaviour = match words.next() {
        Some("sleep") => Behaviour::Sleep(Duration::from_millis(number(words.next())?)),
        Some("fail-every") => Behaviour::FailEvery(number(words.next())?),
        Some("sleep-input") => Behaviour::SleepInput,
        Some("echo") => {
            let sig = model.signature();
            Behaviour::Echo(Signature {
                inputs: sig.inputs.clone(),
                outputs: sig
                    .inputs
                    .iter()
                    .map(|f| OutputSpec {
                        field: f.clone(),
                        role: OutputRole::Other,
                    })
                    .collect(),
                feature_order: sig.feature_order.clone(),
            })
        }
        _ => {
            return Err(format!(
                "unknown test runtime {spec:?}: use sleep MS, sleep-input, fail-every N or echo"
            ));
        }
    };
    Ok(Arc::new(TestModel {
        inner: model,
        behaviour,
        calls: AtomicU64::new(0),
    }))
}

impl Predictor for TestModel {
    fn signature(&self) -> &Signature {
        match &self.behaviour {
            Behaviour::Echo(sig) => sig,
            _ => self.inner.signature(),
        }
    }

    fn predict(&self, inputs: &[Vec<Value>]) -> Vec<Result<Vec<Value>, RecordError>> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.behaviour {
            Behaviour::Sleep(d) => std::thread::sleep(*d),
            Behaviour::SleepInput => {
                if let Some(Value::Number(ms)) = inputs.first().and_then(|r| r.first()) {
                    std::thread::sleep(Duration::from_secs_f64(ms.clamp(0.0, 60_000.0) / 1000.0));
                }
            }
            Behaviour::FailEvery(n) if call.is_multiple_of(*n) => {
                panic!("test runtime: call {call} fails by design (fail-every {n})")
            }
            Behaviour::FailEvery(_) => {}
            Behaviour::Echo(_) => return inputs.iter().map(|r| Ok(r.clone())).collect(),
        }
        self.inner.predict(inputs)
    }
}
