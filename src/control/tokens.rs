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

/// Which token an identity proof is for, without saying which: a short digest of the token's
/// stored hash, which client and server can both compute.
pub fn key_id(token_hash: &str) -> String {
    let digest = Sha256::digest(format!("modeldeck key id|{token_hash}").as_bytes());
    hex::encode(&digest[..8])
}

/// The proof that a server holds the hash of a client's token, for a challenge the client
/// chose: HMAC-SHA256 keyed with the hash, over the directory's id and the challenge. Only the
/// data directory's own server (or someone with its database) can answer; the token itself
/// never travels.
pub fn identity_proof(token_hash: &str, id: &str, challenge: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(token_hash.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("modeldeck identity|{id}|{challenge}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Core {
    /// The identity proof for the live token whose [`key_id`] is `key`, if there is one.
    pub fn prove(&self, key: &str, challenge: &str) -> Result<Option<String>, ControlError> {
        let id = &self.id;
        Ok(self
            .store
            .live_token_hashes()?
            .iter()
            .find(|h| key_id(h) == key)
            .map(|h| identity_proof(h, id, challenge)))
    }

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
