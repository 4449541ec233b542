//! Services: list, show (the key only for operators who ask), deploy, delete, new key.

use http::StatusCode;
use serde_json::Value;

use super::super::{Api, Caller};
use super::{Answer, ApiBodyIn, read_json};
use crate::control::api::reply::{ApiError, json_response, ok};
use crate::control::contract::{
    Deleted, DeployCall, ServiceList, ServiceView, Serving, UpstreamState,
};
use crate::control::{ControlError, DeployRequest};
use crate::domain::{
    CONCURRENCY, MAX_BATCH_ROWS, ModelRef, Resources, Scope, Service, Setting, THREADS, TIMEOUT_MS,
};
use crate::gateway::routing::State;
use crate::runtime::Serving as Engine;
use crate::runtime::upstream::Seen;

pub fn list(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    let services = api.core.services()?;
    ok(&ServiceList {
        services: services
            .iter()
            .map(|s| view(api, s, false, false))
            .collect(),
    })
}

pub fn show(api: &Api, caller: &Caller, name: &str, show_key: bool) -> Answer {
    caller.require(if show_key {
        Scope::Operator
    } else {
        Scope::Viewer
    })?;
    ok(&view(api, &api.core.service(name)?, show_key, true))
}

pub async fn delete(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Operator)?;
    api.core.delete_service(caller.actor(), name).await?;
    api.changed().await?;
    ok(&Deleted {
        deleted: name.to_string(),
    })
}

pub async fn rotate_key(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Operator)?;
    let s = api.core.rotate_key(caller.actor(), name).await?;
    api.changed().await?;
    ok(&view(api, &s, true, false))
}

/// A JSON value as a setting's value: a whole number in range, or the setting's error (which
/// names the field and its range whatever was sent: a string, a fraction, 1e30).
fn setting(s: &Setting, v: Option<Value>) -> Result<Option<u64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let value = v.as_u64().ok_or_else(|| s.refuse(v.to_string()));
    let value = value.and_then(|n| s.check(n)).map_err(ControlError::from)?;
    Ok(Some(value))
}

pub async fn deploy<B: ApiBodyIn>(api: &Api, caller: &Caller, body: B) -> Answer {
    caller.require(Scope::Operator)?;
    let req: DeployCall = read_json(api, body).await?;
    let model: ModelRef = req.model.parse().map_err(ControlError::from)?;
    let resources = Resources::from_values(
        setting(&THREADS, req.threads)?,
        setting(&CONCURRENCY, req.concurrency)?,
        setting(&TIMEOUT_MS, req.timeout_ms)?,
        setting(&MAX_BATCH_ROWS, req.max_batch_rows)?,
    )
    .map_err(ControlError::from)?;
    let sent = match &req.upstream {
        Some(text) => crate::registry::formats::upstream::named(text, model.name.as_str())
            .ok()
            .and_then(|s| s.auth_secret),
        None => api
            .core
            .secret_sent_by(model.name.as_str(), model.version)?,
    };
    admin_for_secrets(caller, sent)?;
    let request = DeployRequest {
        name: req.name,
        model,
        resources,
        upstream: req.upstream,
    };
    let (s, model) = api.core.deploy_compiled(caller.actor(), request).await?;
    let d = &s.deployments[0];
    api.changed_with(Some((s.name.as_str(), &d.model, d.version, model)))
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &view(api, &s, true, true),
    ))
}

/// Refuses a non-admin caller a version that sends secret `sent` (before anything says
/// whether that secret exists).
fn admin_for_secrets(caller: &Caller, sent: Option<String>) -> Result<(), ApiError> {
    match sent {
        Some(secret) if caller.require(Scope::Admin).is_err() => Err(ControlError::Forbidden(
            format!(
                "this version is an upstream that sends secret {secret:?}: deploying it (or adding it to a service) needs an admin token, since it sends the secret where the version says"
            ),
        )
        .into()),
        _ => Ok(()),
    }
}

/// A service as the API shows it: the key masked unless asked for, its state as the gateway
/// holds it, and (for one service) what its model takes and gives.
pub fn view(api: &Api, s: &Service, show_key: bool, signature: bool) -> ServiceView {
    let table = api.routing.table();
    let route = table.by_name(s.name.as_str());
    let cells: Vec<_> = route
        .map(|r| r.versions.iter().map(|(c, _)| c.state()).collect())
        .unwrap_or_default();
    let failed = cells.iter().find_map(|c| match c {
        State::Failed(why) => Some(why.clone()),
        _ => None,
    });
    let (state, reason) = match (failed, route) {
        (Some(why), _) => ("failed", Some(why)),
        (None, None) => ("loading", None),
        (None, Some(_)) if cells.iter().any(|c| matches!(c, State::Loading)) => ("loading", None),
        (None, Some(_)) => ("ready", None),
    };
    let upstreams: Vec<UpstreamState> = route
        .map(|r| {
            r.versions
                .iter()
                .filter_map(|(c, _)| match c.state() {
                    State::Ready(Engine::Upstream(u)) => {
                        let (health, reason) = match u.health.seen() {
                            Seen::Up => ("up", None),
                            Seen::Checking => ("checking", None),
                            Seen::Down(why) => ("down", Some(why)),
                        };
                        Some(UpstreamState {
                            version: c.version,
                            target: u.name(),
                            health: health.into(),
                            reason,
                        })
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let (state, reason) = match upstreams.iter().find(|u| u.health == "down") {
        Some(u) if state == "ready" => (
            "upstream down",
            Some(format!(
                "{}: {}",
                u.target,
                u.reason.clone().unwrap_or_default()
            )),
        ),
        _ => (state, reason),
    };
    let signature = signature
        .then(|| {
            cells.iter().find_map(|c| match c {
                State::Ready(Engine::Native(p)) => Some(crate::runtime::describe(p.as_ref())),
                State::Ready(_) => None,
                _ => None,
            })
        })
        .flatten();
    ServiceView {
        service: s.clone(),
        key: if show_key {
            s.key.clone()
        } else {
            s.masked_key()
        },
        gateway: api.gateway_url.clone(),
        serving: Serving {
            state: state.into(),
            reason,
            signature,
            upstreams,
        },
    }
}

/// `GET /services/{name}/shadow`: the service's mirroring and what it found since the start.
pub fn shadow(api: &Api, caller: &Caller, name: &str) -> Answer {
    use std::sync::atomic::Ordering::Relaxed;
    caller.require(Scope::Viewer)?;
    let service = api.core.service(name)?;
    let table = api.routing.table();
    let mut view = crate::control::contract::ShadowView {
        service: name.to_string(),
        shadow: service.traffic.shadow,
        ..Default::default()
    };
    if let Some(route) = table.by_name(name) {
        let m = &route.meter.shadow;
        view.mirrored = m.mirrored.load(Relaxed);
        view.same = m.same.load(Relaxed);
        view.differed = m.differed.load(Relaxed);
        view.failed = m.failed.load(Relaxed);
        view.skipped = m.skipped.load(Relaxed);
        // Samples hold callers' requests and the model's answers: an operator's to read.
        if caller.require(Scope::Operator).is_ok() {
            view.samples = m.samples();
        }
    }
    ok(&view)
}

/// `GET /services/{name}/traffic`.
pub fn traffic(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&api.core.traffic(name)?)
}

/// `POST /services/{name}/traffic`: one change, answered once the gateway serves it.
pub async fn change_traffic<B: ApiBodyIn>(
    api: &Api,
    caller: &Caller,
    name: &str,
    body: B,
) -> Answer {
    caller.require(Scope::Operator)?;
    let call: crate::control::contract::TrafficCall = read_json(api, body).await?;
    // A version joining the service: one that sends a secret needs an admin.
    let joining = match &call {
        crate::control::contract::TrafficCall::AddVersion { version } => Some(*version),
        crate::control::contract::TrafficCall::Upgrade { to, .. }
        | crate::control::contract::TrafficCall::CanaryStart { to, .. } => Some(Some(*to)),
        _ => None,
    };
    if let Some(version) = joining
        && let Some(model) = api
            .core
            .service(name)?
            .deployments
            .first()
            .map(|d| d.model.clone())
    {
        admin_for_secrets(caller, api.core.secret_sent_by(&model, version)?)?;
    }
    let view = api.core.change_traffic(caller.actor(), name, call).await?;
    api.changed().await?;
    ok(&view)
}
