//! Whether an upstream answers, as the console shows it: probed at load and every
//! [`PERIOD`], and updated by every forwarded request's outcome (a refused connection marks it
//! down at once; an answer marks it up), so the console never waits a period to learn either.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::Upstream;

/// Time between probes.
pub const PERIOD: Duration = Duration::from_secs(5);
/// How long a probe waits for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// 0: not probed yet (checking).
const UP: u8 = 1;
const DOWN: u8 = 2;

/// An upstream's health: a state read on every view, and the reason it is down.
#[derive(Default)]
pub struct Health {
    state: AtomicU8,
    reason: Mutex<String>,
}

/// What the console and the API show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Checking,
    Up,
    Down(String),
}

impl Health {
    pub fn seen(&self) -> Seen {
        match self.state.load(Ordering::Relaxed) {
            UP => Seen::Up,
            DOWN => Seen::Down(self.reason.lock().map(|r| r.clone()).unwrap_or_default()),
            _ => Seen::Checking,
        }
    }

    pub fn up(&self) {
        self.state.store(UP, Ordering::Relaxed);
    }

    pub fn down(&self, reason: &str) {
        if let Ok(mut r) = self.reason.lock() {
            reason.clone_into(&mut r);
        }
        self.state.store(DOWN, Ordering::Relaxed);
    }
}

/// Probes `upstream` now and every [`PERIOD`] until it is dropped (its version undeployed).
pub fn watch(upstream: &Arc<Upstream>, rt: &tokio::runtime::Handle) {
    let weak: Weak<Upstream> = Arc::downgrade(upstream);
    rt.spawn(async move {
        loop {
            let Some(u) = weak.upgrade() else { return };
            let url = u.ready_url();
            let mut probe = u.client.get(&url);
            // A server that wants a token for predictions wants it for its status too.
            if let Some((header, name)) = &u.auth
                && let Some(value) = u.secrets.get(name)
            {
                probe = probe.header(header.clone(), value);
            }
            let outcome = tokio::time::timeout(PROBE_TIMEOUT, probe.send()).await;
            match outcome {
                Err(_) => u.health.down(&format!(
                    "no answer to {url} within {} s",
                    PROBE_TIMEOUT.as_secs()
                )),
                Ok(Err(e)) => u.health.down(&super::reason(&e)),
                Ok(Ok(r)) if r.status().is_success() => match r.bytes().await {
                    Ok(body) if u.ready_in(&body) => u.health.up(),
                    Ok(_) => u.health.down(&format!("{url} says the model is not ready")),
                    Err(e) => u.health.down(&super::reason(&e)),
                },
                Ok(Ok(r)) => u
                    .health
                    .down(&format!("{url} answered {}", r.status().as_u16())),
            }
            drop(u);
            tokio::time::sleep(PERIOD).await;
        }
    });
}
