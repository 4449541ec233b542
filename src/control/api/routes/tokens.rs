//! Control API tokens (admin only): list, create (the secret is shown once), revoke.

use http::StatusCode;

use super::super::{Api, Caller};
use super::{Answer, ApiBodyIn, read_json};
use crate::control::ControlError;
use crate::control::api::reply::{json_response, ok};
use crate::control::contract::{Revoked, TokenCall, TokenCreated, TokenList};
use crate::domain::Scope;

pub fn list(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Admin)?;
    ok(&TokenList {
        tokens: api.core.tokens()?,
    })
}

pub async fn create<B: ApiBodyIn>(api: &Api, caller: &Caller, body: B) -> Answer {
    caller.require(Scope::Admin)?;
    let req: TokenCall = read_json(api, body).await?;
    let scope = req
        .scope
        .parse::<Scope>()
        .map_err(|e| ControlError::field("scope", e))?;
    let (info, token) = api
        .core
        .create_token(caller.actor(), &req.name, scope)
        .await?;
    api.changed().await?;
    Ok(json_response(
        StatusCode::CREATED,
        &TokenCreated { info, token },
    ))
}

pub async fn revoke(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Admin)?;
    api.core.revoke_token(caller.actor(), name).await?;
    api.changed().await?;
    ok(&Revoked {
        revoked: name.to_string(),
    })
}
