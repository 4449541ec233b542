//! The server itself: its status and identity, the audit log, operations in progress, and a
//! graceful stop.

use super::super::{Api, Caller};
use super::{Answer, query_param};
use crate::control::ControlError;
use crate::control::api::reply::ok;
use crate::control::contract::{CallerInfo, EventList, Identity, OperationList, Status, Stopping};
use crate::domain::Scope;

pub fn status(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    let core = &api.core;
    ok(&Status {
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        started_at: api.started_at.clone(),
        revision: *api.revision.borrow(),
        gateway: api.gateway_url.clone(),
        environment: core.settings().environment.clone(),
        domain: core.settings().domain.clone(),
        models: core.list_models()?.len(),
        services: core.services()?.len(),
        id: api.core.id().to_string(),
        caller: CallerInfo {
            name: caller.token.name.clone(),
            scope: caller.token.scope,
        },
    })
}

/// Answered without a token (see [`Identity`]); with a challenge and a key id, it proves the
/// server holds that token's hash.
pub fn identity(api: &Api, query: &str) -> Answer {
    let proof = match (query_param(query, "challenge"), query_param(query, "key")) {
        (Some(c), Some(k)) if (16..=128).contains(&c.len()) && k.len() <= 64 => {
            api.core.prove(&k, &c)?
        }
        _ => None,
    };
    ok(&Identity {
        id: api.core.id().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
        proof,
    })
}

/// Answers, then the server drains and exits (as on SIGTERM).
pub fn stop(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Admin)?;
    tracing::info!(actor = %caller.actor(), "stop requested");
    api.request_stop();
    ok(&Stopping {
        pid: std::process::id(),
        drain_secs: api.core.settings().limits.drain_secs,
    })
}

pub fn events(api: &Api, caller: &Caller, query: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    let number = |name: &'static str, default: u64| -> Result<u64, ControlError> {
        match query_param(query, name) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().map_err(|_| {
                ControlError::field(name, format!("{name} must be a whole number, not {v:?}"))
            }),
        }
    };
    let since = i64::try_from(number("since", 0)?).unwrap_or(i64::MAX);
    let limit = usize::try_from(number("limit", 1000)?).unwrap_or(usize::MAX);
    let mut events = api
        .core
        .store()
        .events_since(since)
        .map_err(ControlError::from)?;
    events.truncate(limit);
    ok(&EventList {
        revision: *api.revision.borrow(),
        events,
    })
}

pub fn operations(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&OperationList {
        operations: api.operations.list().iter().map(|o| o.view()).collect(),
    })
}

pub fn operation(api: &Api, caller: &Caller, id: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    let op = id
        .parse()
        .ok()
        .and_then(|id| api.operations.get(id))
        .ok_or_else(|| {
            ControlError::NotFound(format!(
                "no operation {id} (operations are kept in memory until the server restarts)"
            ))
        })?;
    ok(&op.view())
}
