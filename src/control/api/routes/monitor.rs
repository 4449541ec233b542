//! The monitor's calls: `GET /monitor` (live samples and a period's history in one answer),
//! `PUT /services/{name}/thresholds`, and the Prometheus text at `/metrics`.

use std::sync::Arc;

use http::{Response, StatusCode, header};

use super::super::{Api, Caller};
use super::{Answer, ApiBodyIn, query_param, read_json};
use crate::control::ControlError;
use crate::control::api::reply::{ApiError, full, ok};
use crate::control::contract::{MonitorQuery, ThresholdsCall};
use crate::domain::Scope;
use crate::monitor::{prometheus, ticker};

pub fn monitor(api: &Api, caller: &Caller, query: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    let q = MonitorQuery::parse(|name| query_param(query, name))
        .map_err(|(field, message)| ControlError::field(field, message))?;
    ok(&api
        .core
        .monitor(api.monitor.as_deref(), &q, ticker::unix_now())?)
}

pub async fn thresholds<B: ApiBodyIn>(
    api: &Arc<Api>,
    caller: &Caller,
    name: &str,
    body: B,
) -> Answer {
    caller.require(Scope::Operator)?;
    let body: serde_json::Value = read_json(api, body).await?;
    let current = api.core.thresholds_of(api.core.service(name)?.thresholds);
    let thresholds =
        ThresholdsCall::read(&body, current).map_err(|e| ControlError::field("thresholds", e))?;
    let view = api
        .core
        .set_thresholds(caller.actor(), name, thresholds)
        .await?;
    api.changed().await?;
    ok(&view)
}

/// Prometheus text: a viewer token is enough (Prometheus sends it from `bearer_token_file`).
pub fn metrics(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    let Some(monitor) = &api.monitor else {
        return Err(ApiError::from(ControlError::unavailable(
            "unavailable",
            "this process does not run the gateway, so it has no metrics",
        )));
    };
    let mut response = Response::new(full(prometheus::render(monitor)));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(prometheus::CONTENT_TYPE),
    );
    Ok(response)
}
