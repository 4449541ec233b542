//! The gateway over HTTP: admission from the request line and headers, then — only for an
//! admitted prediction — the body, read within its size, deadline and rate limits, then the
//! answer. A refused request is answered without a byte of its body being read.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use super::handler::{Admission, Gateway};
use super::predict::error_body;
use crate::domain::clip;
use crate::net::{self, BodyError, BodyLimits, ListenerConfig, Stopping};

/// Serves the gateway on `listener` until `stop` is raised, then drains requests in progress.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    config: ListenerConfig,
    body: BodyLimits,
    access_log: bool,
    stop: Stopping,
) {
    let stopping = stop.clone();
    let handle = move |req: Request<Incoming>| {
        let (gateway, stop) = (Arc::clone(&gateway), stopping.clone());
        async move {
            if !access_log {
                return respond(&gateway, req, body, stop).await;
            }
            let started = std::time::Instant::now();
            let client = req
                .extensions()
                .get::<net::Peer>()
                .map_or_else(String::new, |p| p.0.to_string());
            let (method, path) = (req.method().clone(), req.uri().path().to_string());
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_string();
            let response = respond(&gateway, req, body, stop).await;
            let version = response
                .headers()
                .get("x-modeldeck-version")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            // Path and Host are quoted and cut: a client chooses them.
            tracing::info!(
                %client, %method, path = ?clip(&path, 256), host = ?clip(&host, 256),
                status = response.status().as_u16(), %version,
                micros = started.elapsed().as_micros() as u64, "request"
            );
            response
        }
    };
    net::serve(listener, config, handle, stop).await;
}

async fn respond(
    gateway: &Gateway,
    req: Request<Incoming>,
    limits: BodyLimits,
    stop: Stopping,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let admitted = match gateway.admit(parts.method.as_str(), parts.uri.path(), &parts.headers) {
        Admission::Answered(a) => {
            let mut response = json_response(a.status, a.body, a.version);
            // Answered before the body was read (a wrong key, an unknown service): the body
            // stays unread, so the connection can carry nothing more — the answer says so,
            // rather than a keep-alive client finding out on its next request.
            if !hyper::body::Body::is_end_stream(&body) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            }
            return response;
        }
        Admission::Admitted(call) => call,
    };
    let body = match net::read(body, limits, stop).await {
        Ok(b) => b,
        Err(e) => {
            let message = match e {
                BodyError::TooLarge { .. } => format!("{e}; send fewer records per request"),
                _ => e.to_string(),
            };
            let mut response = json_response(e.status(), error_body(&message), None);
            admitted.refused(e.status().as_u16(), message.len());
            // The rest of the body is not wanted: say so, and hyper closes after answering.
            response
                .headers_mut()
                .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
            return response;
        }
    };
    // A mirrored request runs on the shadow version after the client has its answer.
    let shadow = gateway.shadow_of(&admitted);
    let mirror = shadow.as_ref().map(|_| body.clone());
    let answer = admitted.answer(&parts.headers, body).await;
    if let (Some(shadow), Some(body)) = (shadow, mirror) {
        let live = (
            answer.status.as_u16(),
            answer.body.clone(),
            answer.version.unwrap_or(0),
        );
        let headers = parts.headers.clone();
        tokio::spawn(async move {
            let route = std::sync::Arc::clone(&shadow.route);
            let got = shadow.answer(&headers, body.clone()).await;
            route.meter.shadow.compare(
                &body,
                (live.0, &live.1, live.2),
                (got.status.as_u16(), &got.body, got.version.unwrap_or(0)),
            );
        });
    }
    match answer.raw {
        Some(raw) => {
            let mut response = json_response(answer.status, String::new(), answer.version);
            *response.body_mut() = Full::new(raw.body);
            let headers = response.headers_mut();
            if let Some(ct) = raw.content_type {
                headers.insert(header::CONTENT_TYPE, ct);
            }
            if let Some(len) = raw.header_len {
                headers.insert(crate::runtime::upstream::HEADER_LEN, len);
            }
            response
        }
        None => json_response(answer.status, answer.body, answer.version),
    }
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
