//! Named bearer tokens for the control API.
//!
//! A token is `mdt_` + 128 random bits in hex; only its SHA-256 is stored. The server makes
//! sure, each time it starts, that `DATA_DIR/control.token` (mode 0600) holds a live admin
//! token named `local-admin`: that file is how the CLI and the console on the same machine
//! get in, so deleting it or revoking that token is repaired by a restart, never a lock-out.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{ControlError, Core};
use crate::domain::{Scope, TokenInfo, token_name};

/// The token the server keeps in `DATA_DIR/control.token`.
pub const LOCAL_ADMIN: &str = "local-admin";
const PREFIX: &str = "mdt_";

/// SHA-256 of a token, as stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

impl Core {
    /// Creates a token and returns it with its secret, which is shown once and never again.
    pub async fn create_token(
        &self,
        actor: &str,
        name: &str,
        scope: Scope,
    ) -> Result<(TokenInfo, String), ControlError> {
        token_name(name)?;
        let secret = format!("{PREFIX}{}", super::new_key()?);
        let info = self
            .store
            .create_token(actor, name, scope, hash(&secret), false)
            .await?;
        Ok((info, secret))
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>, ControlError> {
        Ok(self.store.tokens()?)
    }

    pub async fn revoke_token(&self, actor: &str, name: &str) -> Result<(), ControlError> {
        token_name(name)?;
        if self.store.revoke_token(actor, name).await? {
            Ok(())
        } else {
            Err(ControlError::NotFound(format!(
                "no live token named {name:?}: see `modeldeck tokens list`"
            )))
        }
    }

    /// The live token `secret` belongs to, if any.
    pub fn authenticate(&self, secret: &str) -> Result<Option<TokenInfo>, ControlError> {
        Ok(self.store.token_by_hash(&hash(secret))?)
    }

    /// Makes `path` hold a live admin token, creating (or renewing) one when the file is
    /// missing, unreadable or names a revoked token.
    pub async fn ensure_local_admin(&self, path: &Path) -> Result<(), ControlError> {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some(t) = self.authenticate(&text)?
            && t.scope == Scope::Admin
        {
            return Ok(());
        }
        let secret = format!("{PREFIX}{}", super::new_key()?);
        let tmp = path.with_extension("token.tmp");
        let write = || -> std::io::Result<()> {
            let _ = std::fs::remove_file(&tmp);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            writeln!(f, "{secret}")?;
            f.sync_all()
        };
        write().map_err(|e| ControlError::Io(format!("cannot write {}: {e}", tmp.display())))?;
        self.store
            .create_token("server", LOCAL_ADMIN, Scope::Admin, hash(&secret), true)
            .await?;
        std::fs::rename(&tmp, path)
            .map_err(|e| ControlError::Io(format!("cannot write {}: {e}", path.display())))
    }
}
