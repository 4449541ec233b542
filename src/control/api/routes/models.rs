//! The model repository: list, show, remove (imports are in [`super::import`]).

use super::super::{Api, Caller};
use super::{Answer, ApiBodyIn, read_json};
use crate::control::ControlError;
use crate::control::api::reply::{ApiError, ok};
use crate::control::contract::{ModelDetail, ModelList, Removed, ServeByCall, VersionRef};
use crate::domain::{ModelName, ModelRef, Scope};

pub fn list(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&ModelList {
        models: api.core.list_models()?,
    })
}

pub fn show(api: &Api, caller: &Caller, name: &str) -> Answer {
    caller.require(Scope::Viewer)?;
    ok(&ModelDetail {
        name: name.to_string(),
        versions: api.core.show_model(name)?,
        description: api.core.model_description(name)?,
    })
}

pub async fn remove(api: &Api, caller: &Caller, name: &str, version: Option<u32>) -> Answer {
    caller.require(Scope::Operator)?;
    let target = ModelRef {
        name: ModelName::parse(name).map_err(ControlError::from)?,
        version,
    };
    let removed = api.core.remove_model(caller.actor(), &target).await?;
    api.changed().await?;
    ok(&Removed {
        removed: removed
            .into_iter()
            .map(|v| VersionRef {
                name: v.name,
                version: v.version,
            })
            .collect(),
    })
}

/// `PUT /models/{name}/versions/{v}/upstream`: names the upstream that serves a SavedModel.
/// One that sends a secret needs an admin, as a deploy of it does.
pub async fn serve_by<B: ApiBodyIn>(
    api: &Api,
    caller: &Caller,
    name: &str,
    version: u32,
    body: B,
) -> Answer {
    caller.require(Scope::Operator)?;
    let call: ServeByCall = read_json(api, body).await?;
    let target = ModelRef {
        name: ModelName::parse(name).map_err(ControlError::from)?,
        version: Some(version),
    };
    let secret = crate::registry::formats::upstream::named(&call.upstream, name)
        .ok()
        .and_then(|s| s.auth_secret);
    if secret.is_some() && caller.require(Scope::Admin).is_err() {
        return Err(ApiError::from(ControlError::Forbidden(
            "this upstream sends a stored secret: naming it needs an admin token, since the gateway sends the secret where the upstream says".into(),
        )));
    }
    let v = api
        .core
        .serve_saved_model(caller.actor(), &target, &call.upstream)
        .await?;
    api.changed().await?;
    ok(&v)
}
