//! The gateway's HTTP/1.1 server on hyper: bounded bodies, timeouts against slow clients, and
//! a graceful stop that lets in-flight requests finish.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::handler::Gateway;
use super::predict::error_body;

/// Bodies above this are refused (413) before any parsing.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// A client has this long to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight requests get this long to finish once a stop is asked for.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves the gateway on `listener` until `stop` resolves, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    stop: impl std::future::Future<Output = ()>,
) {
    let handle = move |req| {
        let gateway = Arc::clone(&gateway);
        async move { respond(&gateway, req).await }
    };
    run(listener, "gateway", handle, stop).await;
}

/// The HTTP/1.1 accept loop both planes share: header timeout, no Nagle delay, and a graceful
/// stop that waits up to [`DRAIN`] for in-flight requests (long-lived responses such as the
/// control API's change stream end themselves on the same stop signal).
pub async fn run<F, Fut, B>(
    listener: TcpListener,
    label: &'static str,
    handle: F,
    stop: impl std::future::Future<Output = ()>,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, listener = label, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        let service = service_fn(move |req| {
            let answer = handle(req);
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = label,
            "stopped with requests still running after the drain period"
        );
    }
}

async fn respond(gateway: &Gateway, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                error_body(&format!(
                    "the request body is larger than {} MiB; send fewer records per request",
                    MAX_BODY_BYTES >> 20
                )),
                None,
            );
        }
        Err(_) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                error_body("the request body could not be read"),
                None,
            );
        }
    };
    let answer = gateway
        .handle(
            parts.method.as_str(),
            parts.uri.path(),
            &parts.headers,
            body,
        )
        .await;
    json_response(answer.status, answer.body, answer.version)
}

fn json_response(status: StatusCode, body: String, version: Option<u32>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some(v) = version {
        headers.insert("x-modeldeck-version", http::HeaderValue::from(v));
    }
    response
}
