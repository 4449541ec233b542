//! A pool of HTTP/1.1 connections to one plain-`http://` upstream, each driven by the request
//! that holds it: the request is written and its answer read on the caller's own task, with
//! no connection task to hand off to and no cross-thread wake-up on the way. On a loaded
//! two-core machine those hand-offs were a quarter of what forwarding cost (measured in
//! `benches/upstream`), so the common case — a cluster-internal plain-HTTP model server — gets
//! this path; HTTPS and HTTP/2 upstreams go through reqwest.
//!
//! An idle connection is not polled; one the server closed meanwhile is found on its next use,
//! and a request it could not carry (never written) is retried once on a fresh connection.

use std::pin::Pin;
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{Failure, MAX_REPLY};

type Conn = Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

struct Idle {
    sender: SendRequest<Full<Bytes>>,
    conn: Conn,
    /// The connection future has completed (closed): never poll it again.
    done: bool,
}

pub struct Pool {
    /// `host:port`, as connected to and sent as `Host`.
    pub authority: String,
    idle: Mutex<Vec<Idle>>,
    max_idle: usize,
}

impl Pool {
    pub fn new(authority: String, max_idle: usize) -> Pool {
        Pool {
            authority,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// An idle connection still open. Each is polled once here, on the task that will use
    /// it: a close the server sent while it sat idle is seen now (nobody polled it then), and
    /// the connection registers this task to be woken, not the one that pooled it.
    async fn take(&self) -> Option<Idle> {
        loop {
            let mut c = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if poll_once(c.conn.as_mut()).await.is_some() {
                continue;
            }
            if !c.sender.is_closed() {
                return Some(c);
            }
        }
    }

    fn give(&self, c: Idle) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push(c);
        }
    }

    async fn connect(&self) -> Result<Idle, Failure> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| Failure::Unreachable(format!("cannot connect: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Unreachable(format!("cannot connect: {e}")))?;
        Ok(Idle {
            sender,
            conn: Box::pin(conn),
            done: false,
        })
    }

    /// Sends `request` and reads its whole answer (at most [`MAX_REPLY`]).
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes), Failure> {
        let (mut c, reused) = match self.take().await {
            Some(c) => (c, true),
            None => (self.connect().await?, false),
        };
        // A reused connection the server closed as the request went out fails before any
        // answer: the request is sent once more on a fresh connection (a prediction has no
        // side effects to repeat).
        let retry = reused.then(|| request_copy(&request));
        let request = match (exchange(&mut c, request).await, retry) {
            (Ok(answer), _) => return self.finish(c, answer).await,
            (Err(Sent::No(request)), Some(_)) => *request,
            (Err(Sent::Failed(_)), Some(Some(copy))) => copy,
            (Err(Sent::No(_)), None) => {
                return Err(Failure::Unreachable("the connection closed".into()));
            }
            (Err(Sent::Failed(f)), _) => return Err(f),
        };
        let mut c = self.connect().await?;
        match exchange(&mut c, request).await {
            Ok(answer) => self.finish(c, answer).await,
            Err(Sent::No(_)) => Err(Failure::Unreachable("the connection closed".into())),
            Err(Sent::Failed(f)) => Err(f),
        }
    }

    /// Reads the body, still driving the connection, and pools the connection again when the
    /// exchange left it usable.
    async fn finish(
        &self,
        mut c: Idle,
        response: Response<Incoming>,
    ) -> Result<(http::response::Parts, Bytes), Failure> {
        let (parts, mut body) = response.into_parts();
        let mut out = BytesMut::new();
        loop {
            let frame = if c.done {
                body.frame().await
            } else {
                tokio::select! {
                    biased;
                    f = body.frame() => f,
                    _ = c.conn.as_mut() => { c.done = true; continue; }
                }
            };
            match frame {
                None => break,
                Some(Err(e)) => {
                    return Err(Failure::Unreachable(format!("the answer broke off: {e}")));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if out.len() + data.len() > MAX_REPLY {
                            return Err(Failure::Bad(format!(
                                "its answer is larger than {} MiB",
                                MAX_REPLY >> 20
                            )));
                        }
                        out.extend_from_slice(&data);
                    }
                }
            }
        }
        // Pooled again only after a success: servers close after errors (uvicorn does after a
        // 500), and a connection found closed costs a retry.
        if !c.done && parts.status.is_success() {
            // Let the dispatcher see the end of the message (and a `Connection: close`).
            if poll_once(c.conn.as_mut()).await.is_some() {
                c.done = true;
            }
            if !c.done && !c.sender.is_closed() {
                self.give(c);
            }
        }
        Ok((parts, out.freeze()))
    }
}

/// Whether a request was written.
enum Sent {
    No(Box<Request<Full<Bytes>>>),
    Failed(Failure),
}

/// Writes `request` on `c` and waits for the answer's head, driving the connection meanwhile.
async fn exchange(c: &mut Idle, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, Sent> {
    let sending = c.sender.try_send_request(request);
    tokio::pin!(sending);
    let result = loop {
        if c.done {
            break sending.await;
        }
        tokio::select! {
            biased;
            r = &mut sending => break r,
            _ = c.conn.as_mut() => c.done = true,
        }
    };
    result.map_err(|mut e| match e.take_message() {
        Some(request) => Sent::No(Box::new(request)),
        None => Sent::Failed(Failure::Unreachable(format!(
            "the connection failed: {}",
            e.into_error()
        ))),
    })
}

/// A copy of a request whose body is in memory, for sending again.
fn request_copy(r: &Request<Full<Bytes>>) -> Option<Request<Full<Bytes>>> {
    let mut b = Request::builder()
        .method(r.method().clone())
        .uri(r.uri().clone());
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    // `Full` holds its bytes until polled: a request not yet written still has them.
    let body = r.body().clone();
    b.body(body).ok()
}

/// Polls `f` once (to let a connection process what is already buffered), without waiting.
async fn poll_once<F: std::future::Future + ?Sized>(f: Pin<&mut F>) -> Option<F::Output> {
    let mut f = Some(f);
    std::future::poll_fn(|cx| {
        let out = match f.take() {
            Some(mut f) => match f.as_mut().poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            },
            None => None,
        };
        std::task::Poll::Ready(out)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A keep-alive HTTP/1.1 server answering each request with its number.
    async fn server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            loop {
                let (s, _) = listener.accept().await.unwrap();
                let n = n.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                        let k = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        async move {
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from(k.to_string()),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_connection_is_used_again_and_again() {
        let addr = server().await;
        let pool = Pool::new(addr.clone(), 4);
        for k in 0..5 {
            let req = Request::post("/x")
                .header(http::header::HOST, addr.as_str())
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap();
            let (parts, body) = tokio::time::timeout(Duration::from_secs(2), pool.send(req))
                .await
                .unwrap_or_else(|_| panic!("request {k} hung"))
                .unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(parts.status, 200);
            assert_eq!(body, k.to_string());
        }
        assert_eq!(pool.idle.lock().unwrap().len(), 1, "one connection, reused");
    }

    /// A server that answers one request per connection and then closes it without saying so
    /// (as uvicorn does after an error, or after its keep-alive timeout): the next request,
    /// on another task, finds the pooled connection closed and is answered on a fresh one
    /// instead of waiting forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_the_server_closed_while_idle_is_not_waited_on() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                });
            }
        });
        let pool = std::sync::Arc::new(Pool::new(addr.clone(), 4));
        for k in 0..3 {
            let (pool, addr) = (pool.clone(), addr.clone());
            let answer = tokio::spawn(async move {
                let req = Request::post("/x")
                    .header(http::header::HOST, addr.as_str())
                    .body(Full::new(Bytes::from_static(b"{}")))
                    .unwrap();
                tokio::time::timeout(Duration::from_secs(2), pool.send(req)).await
            })
            .await
            .unwrap();
            let (parts, body) = answer
                .unwrap_or_else(|_| panic!("request {k} hung"))
                .unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!((parts.status.as_u16(), &body[..]), (200, &b"ok"[..]));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
