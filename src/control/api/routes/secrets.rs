//! Secrets (admin only): list names, set one (`PUT`, its value in the body), remove one. The
//! value is never in an answer; each change refreshes the gateway's copy before it returns.

use http::StatusCode;

use super::super::{Api, Caller};
use super::{Answer, ApiBodyIn, read_json};
use crate::control::api::reply::{json_response, ok};
use crate::control::contract::{SecretCall, SecretList, SecretSet};
use crate::domain::Scope;

pub fn list(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Admin)?;
    ok(&SecretList {
        secrets: api.core.secrets()?,
    })
}

pub async fn set<B: ApiBodyIn>(api: &Api, caller: &Caller, name: &str, body: B) -> Answer {
    caller.require(Scope::Admin)?;
    let req: SecretCall = read_json(api, body).await?;
    let serde_json::Value::String(value) = req.value else {
        return Err(crate::control::ControlError::field(
            "value",
            "the secret's value must be a JSON string",
        )
        .into());
    };
    let replaced = api.core.set_secret(caller.actor(), name, &value).await?;
    refresh(api)?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_response(
        status,
        &SecretSet {
            name: name.to_string(),
            replaced,
        },
    ))
}

pub async fn remove(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Admin)?;
    api.core.remove_secret(caller.actor(), name).await?;
    refresh(api)?;
    ok(&SecretSet {
        name: name.to_string(),
        replaced: false,
    })
}

/// Pushes the store's secrets to the gateway, then announces the change.
fn refresh(api: &Api) -> Result<(), super::ApiError> {
    api.routing.secrets.replace(api.core.secret_values()?);
    api.announce_now();
    Ok(())
}
