//! The model repository: list, show, remove (imports are in [`super::import`]).

use super::super::{Api, Caller};
use super::Answer;
use crate::control::ControlError;
use crate::control::api::reply::ok;
use crate::control::contract::{ModelDetail, ModelList, Removed, VersionRef};
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
