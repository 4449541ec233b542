//! Secrets for upstream versions: set from an environment variable or a file by the CLI (a
//! flag's value would show in `ps`), stored, listed by name only, and pushed to the gateway's
//! copy on every change so a rotated token is sent from the next request.

use super::{ControlError, Core};
use crate::control::contract::SecretInfo;
use crate::domain::{ModelKind, secret_name, secret_value};

impl Core {
    /// Sets a secret; says whether it replaced one. The value is checked as a header value
    /// and never echoed.
    pub async fn set_secret(
        &self,
        actor: &str,
        name: &str,
        value: &str,
    ) -> Result<bool, ControlError> {
        secret_name(name).map_err(|e| ControlError::invalid("invalid_name", e))?;
        let value = secret_value(value).map_err(|e| ControlError::field("value", e))?;
        Ok(self
            .store
            .set_secret(actor, name, value.to_string())
            .await?)
    }

    pub fn secrets(&self) -> Result<Vec<SecretInfo>, ControlError> {
        Ok(self
            .store
            .secret_names()?
            .into_iter()
            .map(|(name, updated_at)| SecretInfo { name, updated_at })
            .collect())
    }

    /// Removes a secret no live service sends: removing one that is in use would turn its
    /// service's answers into 503s, so that is refused, naming the service.
    pub async fn remove_secret(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        secret_name(name).map_err(|e| ControlError::invalid("invalid_name", e))?;
        for s in self.store.services()? {
            for d in s
                .deployments
                .iter()
                .filter(|d| d.kind == ModelKind::Upstream)
            {
                if self.upstream_secret(&d.artifact).as_deref() == Some(name) {
                    return Err(ControlError::invalid(
                        "secret_in_use",
                        format!(
                            "service {} sends secret {name:?} to its upstream (version {} of {}): take that version out of the service first; to change the value, set the secret again",
                            s.name, d.version, d.model
                        ),
                    ));
                }
            }
        }
        if self.store.remove_secret(actor, name).await? {
            Ok(())
        } else {
            Err(ControlError::NotFound(format!(
                "no secret named {name:?}: see `modeldeck secrets list`"
            )))
        }
    }

    /// The secret version `version` of `model` (its newest when none) sends, if it is an
    /// upstream that names one. Putting such a version in a service makes the gateway send the
    /// secret to the URL the version names, so only an admin (who may read secrets anyway) may.
    pub fn secret_sent_by(
        &self,
        model: &str,
        version: Option<u32>,
    ) -> Result<Option<String>, ControlError> {
        let Some(versions) = self.store.model_versions(model)? else {
            return Ok(None);
        };
        let v = match version {
            Some(n) => versions.iter().find(|v| v.version == n),
            None => versions.last(),
        };
        Ok(v.map(|v| v.serving())
            .filter(|(kind, _)| *kind == ModelKind::Upstream)
            .and_then(|(_, artifact)| self.upstream_secret(artifact)))
    }

    /// The secret the upstream file `artifact` (relative to the data directory) names.
    fn upstream_secret(&self, artifact: &str) -> Option<String> {
        crate::registry::formats::upstream::check(&self.data_dir().root().join(artifact))
            .ok()?
            .auth_secret
    }

    /// Every secret with its value, for the gateway.
    pub fn secret_values(&self) -> Result<Vec<(String, String)>, ControlError> {
        Ok(self.store.secret_values()?)
    }
}
