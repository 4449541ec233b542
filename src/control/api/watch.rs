//! `GET /api/v1/watch`: the change stream, as server-sent events.
//!
//! Each event is one row of the audit log with its revision as the SSE `id`, so a client that
//! reconnects with `Last-Event-ID` (browsers and SSE libraries do it for them) or `?since=N`
//! misses nothing: the store is the source of truth and the stream only replays it. A fresh
//! connection first gets a `hello` event carrying the current revision, so a console can load
//! a snapshot and then apply changes after exactly that point. A comment line every 5 s keeps
//! proxies and SSH tunnels from closing an idle stream, and finds out soon when the client has
//! gone. At most half of the control API's connections may be streams, so consoles (or a
//! viewer token opening streams in a loop) cannot take every connection from the CLI.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::json;

use super::Api;
use super::reply::{ApiError, ChannelBody};
use super::routes::query_param;

const KEEPALIVE: Duration = Duration::from_secs(5);

pub fn stream(
    api: &Arc<Api>,
    headers: &HeaderMap,
    query: &str,
) -> Result<Response<super::reply::ApiBody>, ApiError> {
    let current = *api.revision.borrow();
    let since = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query_param(query, "since"))
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("{s:?} is not a revision number")))
        })
        .transpose()?
        .unwrap_or(current);
    let Ok(slot) = Arc::clone(&api.streams).try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "every change-stream slot is taken (half of limits.control_connections): close a console or raise the limit",
        ));
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let api = Arc::clone(api);
    tokio::spawn(async move {
        let _slot = slot;
        let hello = json!({"revision": current});
        if tx
            .send(Bytes::from(format!(
                "retry: 2000\nevent: hello\ndata: {hello}\n\n"
            )))
            .await
            .is_err()
        {
            return;
        }
        let mut changes = api.revision.subscribe();
        let mut stopping = api.stopping.clone();
        let stopped = async move {
            stopping.wait().await;
        };
        tokio::pin!(stopped);
        let mut last = since;
        loop {
            match api.core.store().events_since(last) {
                Ok(events) => {
                    for e in events {
                        last = e.revision;
                        let frame =
                            format!("id: {}\nevent: change\ndata: {}\n\n", e.revision, json!(e));
                        if tx.send(Bytes::from(frame)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "change stream cannot read events"),
            }
            changes.mark_unchanged();
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                () = &mut stopped => return,
                () = tokio::time::sleep(KEEPALIVE) => {
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let mut r = Response::new(ChannelBody(rx).boxed());
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    Ok(r)
}
