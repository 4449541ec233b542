//! Whether an upstream answers, as the console shows it: probed at load and every
//! [`PERIOD`], and updated by every forwarded request's outcome (a refused connection marks it
//! down at once; an answer marks it up), so the console never waits a period to learn either.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::Upstream;

/// Time between probes.
pub const PERIOD: Duration = Duration::from_secs(5);
/// How long a probe waits for its whole answer, body included.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of a probe's answer read: a status is a few hundred bytes.
const PROBE_BODY: usize = 64 << 10;

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
            // The upstream is held only to read and record: an undeployed version's probe
            // never keeps it alive across a request.
            let Some(u) = weak.upgrade() else { return };
            let url = u.ready_url();
            let mut probe = u.client.get(&url);
            // A server that wants a token for predictions wants it for its status too.
            if let Some((header, name)) = &u.auth
                && let Some(value) = u.secrets.get(name)
            {
                probe = probe.header(header.clone(), value);
            }
            let v2 = u.speaks_v2();
            drop(u);
            let outcome = tokio::time::timeout(PROBE_TIMEOUT, read(probe, &url)).await;
            let Some(u) = weak.upgrade() else { return };
            match outcome {
                Err(_) => u.health.down(&format!(
                    "no answer to {url} within {} s",
                    PROBE_TIMEOUT.as_secs()
                )),
                Ok(Err(why)) => u.health.down(&why),
                Ok(Ok((status, body))) if status.is_success() => {
                    if v2 || super::ready_in(&body) {
                        u.health.up();
                    } else {
                        u.health.down(&format!("{url} says the model is not ready"));
                    }
                }
                Ok(Ok((status, _))) => u
                    .health
                    .down(&format!("{url} answered {}", status.as_u16())),
            }
            drop(u);
            tokio::time::sleep(PERIOD).await;
        }
    });
}

/// A probe's status and body, the body read within [`PROBE_BODY`].
async fn read(
    probe: reqwest::RequestBuilder,
    url: &str,
) -> Result<(reqwest::StatusCode, bytes::Bytes), String> {
    let mut r = probe.send().await.map_err(|e| super::reason(&e))?;
    let body = super::read_within(&mut r, PROBE_BODY)
        .await
        .map_err(|e| super::reason(&e))?
        .ok_or_else(|| format!("{url} answered more than {} KiB", PROBE_BODY >> 10))?;
    Ok((r.status(), body))
}
