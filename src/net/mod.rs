//! HTTP/1.1 serving shared by both planes (the gateway and the control API): what a client may
//! cost the server before any handler sees its request.
//!
//! - [`listener`]: the accept loop: a connection cap per listener (so a flood on the gateway
//!   cannot take the control API's file descriptors), back-off and rate-limited logging when
//!   accepting fails, a header deadline, half-closed clients still answered, and a stop that
//!   drains requests in progress while closing idle and stalled connections at once.
//! - [`body`]: reading a request body against a size limit, a deadline and a minimum rate, and
//!   the stop signal, so a client that trickles or stalls is cut off and frees what it held.
//!
//! Both take a [`Stopping`] signal, so a server's stop reaches every connection and every body
//! being read (mini-redis's "servers take their shutdown").

pub mod body;
pub mod listener;

pub use body::{BodyError, BodyLimits, Paced, read};
pub use listener::{ListenerConfig, Peer, serve};

use tokio::sync::watch;

/// The server's stop signal, as every connection and body reader sees it.
#[derive(Clone, Debug)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// A signal and the sender that raises it (`send(true)`).
    pub fn channel() -> (watch::Sender<bool>, Stopping) {
        let (tx, rx) = watch::channel(false);
        (tx, Stopping(rx))
    }

    /// Resolves once the stop is raised (at once if it already was, or if the sender is gone).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }
}
