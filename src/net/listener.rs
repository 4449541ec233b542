//! The accept loop both planes run.
//!
//! Each listener has its own cap on open connections: at the cap it stops accepting (clients
//! wait in the kernel's backlog) instead of running the process out of file descriptors, and
//! since the caps are separate, a flood of gateway connections leaves the control API
//! reachable. Accept errors (EMFILE and friends) back off exponentially and are logged at most
//! once per [`LOG_EVERY`], with a count of what was not logged.
//!
//! Stopping is graceful for requests and only for requests: each connection is told to stop,
//! a connection with a request in progress (from its headers until the last byte of its
//! answer is in the kernel's hands) finishes it, and an idle, half-sent or stalled connection
//! is closed at once.
//!
//! A client that stops reading its answer is cut off after `send_timeout` without progress
//! (nginx's `send_timeout`), so it cannot keep an answer, and its memory, forever.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use super::Stopping;

/// An accept-error line is written at most this often per listener.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// How often a stopping connection checks whether its request has ended.
const DRAIN_POLL: Duration = Duration::from_millis(20);

/// How one listener behaves.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// `gateway` or `control`, for logs.
    pub label: &'static str,
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// How long a stop waits for requests in progress.
    pub drain: Duration,
    /// How long a client may leave its answer unread before the connection is closed.
    pub send_timeout: Duration,
    /// Put the client's address into each request's extensions ([`Peer`]), for an access
    /// log; off by default, as it costs an allocation per request.
    pub tag_peer: bool,
}

/// The address of the client a request came from (see [`ListenerConfig::tag_peer`]).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

/// Serves HTTP/1.1 on `listener` with `handle` until `stop` is raised, then drains.
pub async fn serve<F, Fut, B>(
    listener: TcpListener,
    config: ListenerConfig,
    handle: F,
    mut stop: Stopping,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let slots = Arc::new(Semaphore::new(config.max_connections));
    // Every connection holds a sender; the drain ends when the last one is dropped.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let mut errors = AcceptErrors::new(config.label);
    let mut full_logged = Throttle::default();
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if full_logged.due() {
                    tracing::warn!(
                        listener = config.label,
                        limit = config.max_connections,
                        "connection limit reached; new clients wait until one closes"
                    );
                }
                tokio::select! {
                    p = Arc::clone(&slots).acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = stop.wait() => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    errors.succeeded();
                    stream
                }
                Err(e) => {
                    let pause = errors.failed(&e);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => continue,
                        () = stop.wait() => break,
                    }
                }
            },
            () = stop.wait() => break,
        };
        let (handle, stop, open) = (handle.clone(), stop.clone(), open_tx.clone());
        let config = config.clone();
        tokio::spawn(async move {
            connection(stream, handle, &config, stop).await;
            drop(permit);
            drop(open);
        });
    }
    drop(listener);
    drop(open_tx);
    // Connections drain themselves (each bounded by `drain`); this waits for the last.
    let _ = tokio::time::timeout(config.drain + Duration::from_secs(1), open_rx.recv()).await;
}

async fn connection<F, Fut, B>(
    stream: TcpStream,
    handle: F,
    config: &ListenerConfig,
    mut stop: Stopping,
) where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let _ = stream.set_nodelay(true);
    let peer = config
        .tag_peer
        .then(|| stream.peer_addr().ok())
        .flatten()
        .map(Peer);
    let busy = Arc::new(AtomicUsize::new(0));
    let tracked = Arc::clone(&busy);
    let service = service_fn(move |mut req: Request<Incoming>| {
        if let Some(p) = peer {
            req.extensions_mut().insert(p);
        }
        let guard = Busy::enter(&tracked);
        let answer = handle(req);
        async move {
            let response = answer.await;
            Ok::<_, Infallible>(response.map(|body| Tracked {
                body,
                _guard: guard,
            }))
        }
    });
    let socket = Watched::new(stream, config.send_timeout);
    let unsent = socket.blocked();
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        // A client that shuts its write side after sending still gets its answer.
        .half_close(true)
        .serve_connection(TokioIo::new(socket), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = stop.wait() => {}
    }
    conn.as_mut().graceful_shutdown();
    let give_up = Instant::now() + config.drain;
    loop {
        let in_progress = busy.load(Ordering::Acquire) > 0 || unsent.load(Ordering::Acquire);
        if !in_progress || Instant::now() >= give_up {
            return; // idle, half-sent or stalled: close now
        }
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep(DRAIN_POLL) => {}
        }
    }
}

/// A connection's socket, watched on the way out: whether a write is waiting for the client
/// to make room (so an answer is still being sent), and a deadline on that wait.
struct Watched {
    stream: TcpStream,
    send_timeout: Duration,
    /// Armed when a write finds the socket full; cleared by any write that goes through.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    blocked: Arc<AtomicBool>,
}

impl Watched {
    fn new(stream: TcpStream, send_timeout: Duration) -> Watched {
        Watched {
            stream,
            send_timeout,
            stalled: None,
            blocked: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True while an answer waits for the client to read.
    fn blocked(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.blocked)
    }

    /// Passes a write's outcome through, keeping the watch: a full socket arms the deadline
    /// (its timer wakes this task, so a write that never proceeds still fails), progress
    /// disarms it.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if outcome.is_ready() {
            self.blocked.store(false, Ordering::Release);
            self.stalled = None;
            return outcome;
        }
        self.blocked.store(true, Ordering::Release);
        let timeout = self.send_timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client left its answer unread",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Counts a request as in progress until its answer's body is dropped (sent, or abandoned).
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(count))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress while it is being written.
struct Tracked<B> {
    body: B,
    _guard: Busy,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A log line at most once per [`LOG_EVERY`].
#[derive(Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    /// Whether a line may be written now (and, if so, that one is).
    fn due(&mut self) -> bool {
        let due = self.0.is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if due {
            self.0 = Some(Instant::now());
        }
        due
    }
}

/// Back-off and rate-limited logging for failing accepts.
struct AcceptErrors {
    label: &'static str,
    pause: Duration,
    logged: Throttle,
    unlogged: u64,
}

impl AcceptErrors {
    fn new(label: &'static str) -> AcceptErrors {
        AcceptErrors {
            label,
            pause: Duration::ZERO,
            logged: Throttle::default(),
            unlogged: 0,
        }
    }

    fn succeeded(&mut self) {
        self.pause = Duration::ZERO;
    }

    /// Logs (at most once per [`LOG_EVERY`]) and says how long to wait before the next accept.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        // A connection that died in the backlog is its own problem, not the listener's.
        let transient = matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::Interrupted
        );
        if transient {
            return Duration::ZERO;
        }
        self.pause = (self.pause * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        if self.logged.due() {
            tracing::warn!(
                listener = self.label,
                error = %e,
                not_logged = self.unlogged,
                retry_in_ms = self.pause.as_millis() as u64,
                "cannot accept connections (out of file descriptors? raise `ulimit -n` or lower limits.*_connections)"
            );
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        self.pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off_and_log_rarely() {
        let mut e = AcceptErrors::new("gateway");
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let pauses: Vec<u128> = (0..10).map(|_| e.failed(&emfile).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        assert_eq!(e.unlogged, 9, "one line for ten failures");
        e.succeeded();
        assert_eq!(e.failed(&emfile).as_millis(), 10, "back-off resets");
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(e.failed(&aborted), Duration::ZERO);
    }
}
