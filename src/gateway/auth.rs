//! Which service a request is for and whether its caller may use it: the route by Host, else
//! by the model named in the path, else (for KServe's model list) by the key it carries; then
//! the access key checked against that service's. Keys are compared in constant time.

use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use super::handler::Answer;
use super::path::Call;
use super::routing::{Route, Table};

/// The service a request is for: its Host, else the service named in the path, else (for
/// KServe's model list, whose path names none) the service whose key the caller holds.
pub(super) fn route_for<'t>(
    table: &'t Table,
    headers: &HeaderMap,
    call: &Call,
) -> Option<&'t Arc<Route>> {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| table.by_host(h));
    host.or_else(|| call.model().and_then(|m| table.by_name(m)))
        .or_else(|| match (call, access_key(headers)) {
            (Call::List, Ok(Some(given))) => table
                .routes()
                .find(|r| bool::from(r.key.as_bytes().ct_eq(given.as_bytes()))),
            _ => None,
        })
}

/// The key a request carries (`Authorization: <key>` or `Bearer <key>`); `Err` when the header
/// is there but is not plain text.
fn access_key(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = value.to_str().map_err(|_| ())?.trim();
    let key = match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
        _ => v,
    };
    Ok(Some(key).filter(|k| !k.is_empty()))
}

/// 401 without a key or with one no service has; 403 with another service's key.
pub(super) fn authorize(table: &Table, route: &Route, headers: &HeaderMap) -> Result<(), Answer> {
    let invalid = || {
        Answer::error(
            StatusCode::UNAUTHORIZED,
            "invalid access key: check the key (`modeldeck services show NAME --show-key`)",
        )
    };
    let Some(given) = access_key(headers).map_err(|()| invalid())? else {
        return Err(Answer::error(
            StatusCode::UNAUTHORIZED,
            "missing access key: send the service's key as `Authorization: <key>`",
        ));
    };
    let matches = |key: &str| bool::from(key.as_bytes().ct_eq(given.as_bytes()));
    if matches(&route.key) {
        return Ok(());
    }
    if table.routes().any(|r| matches(&r.key)) {
        return Err(Answer::error(
            StatusCode::FORBIDDEN,
            &format!("this key belongs to another service, not to {}", route.name),
        ));
    }
    Err(invalid())
}
