//! What can go wrong in a control call, as variants that say what happened. Each carries its
//! stable code (for scripts and the API's `{"error":{"code"}}`) and its HTTP status, so the
//! server, the CLI and the console report one failure the same way, and an answer from a
//! remote server comes back as the very variant it left as.

use http::StatusCode;

use crate::config::ConfigError;
use crate::registry::ImportError;
use crate::store::StoreError;

use super::OwnerError;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Owner(#[from] OwnerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The thing named does not exist (the message says where to look).
    #[error("{0}")]
    NotFound(String),
    /// The change contradicts the current state (exists already, in use).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// What was sent is not what the call takes; `field` names the part at fault, when one is.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    /// A service setting outside its range (the message names the field and the range).
    #[error(transparent)]
    Setting(#[from] crate::domain::SettingError),
    /// A name that breaks its kind's rules (the message says which and what is allowed).
    #[error("{0}")]
    InvalidName(String),
    /// The caller's token may not make this call.
    #[error("{0}")]
    Forbidden(String),
    /// The server cannot do it now (stopping, out of memory, not reachable); trying later may.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// The machine failed us: a file, a socket, the random source.
    #[error("{0}")]
    Io(String),
    /// An error a remote control API answered with that this build has no variant for.
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    },
}

impl ControlError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> ControlError {
        ControlError::Invalid {
            code,
            field: None,
            message: message.into(),
        }
    }

    /// A refusal of one field of a form or body; consoles put the cursor there.
    pub fn field(field: &'static str, message: impl Into<String>) -> ControlError {
        ControlError::Invalid {
            code: "invalid_field",
            field: Some(field),
            message: message.into(),
        }
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> ControlError {
        ControlError::Unavailable {
            code,
            message: message.into(),
        }
    }

    /// A stable, machine-readable code for scripts and the control API.
    pub fn code(&self) -> &str {
        match self {
            ControlError::Config(_) => "config",
            ControlError::Owner(_) => "data_dir_in_use",
            ControlError::Store(StoreError::InService { .. }) => "in_service",
            ControlError::Store(StoreError::Exists(_)) => "exists",
            ControlError::Store(StoreError::Missing(_)) => "not_found",
            ControlError::Store(StoreError::Stale(_)) => "stale_revision",
            ControlError::Store(StoreError::Refused { code, .. }) => code,
            ControlError::Store(_) => "store",
            ControlError::Import(e) => e.code(),
            ControlError::NotFound(_) => "not_found",
            ControlError::Conflict { code, .. }
            | ControlError::Invalid { code, .. }
            | ControlError::Unavailable { code, .. } => code,
            ControlError::InvalidName(_) => "invalid_name",
            ControlError::Setting(_) => "invalid_setting",
            ControlError::Forbidden(_) => "forbidden",
            ControlError::Io(_) => "io",
            ControlError::Api { code, .. } => code,
        }
    }

    /// The HTTP status the control API answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            ControlError::NotFound(_) | ControlError::Store(StoreError::Missing(_)) => {
                StatusCode::NOT_FOUND
            }
            ControlError::Conflict { .. }
            | ControlError::Owner(_)
            | ControlError::Store(
                StoreError::InService { .. }
                | StoreError::Exists(_)
                | StoreError::Stale(_)
                | StoreError::Refused { .. },
            ) => StatusCode::CONFLICT,
            ControlError::Invalid { .. }
            | ControlError::Setting(_)
            | ControlError::InvalidName(_) => StatusCode::BAD_REQUEST,
            ControlError::Forbidden(_) => StatusCode::FORBIDDEN,
            ControlError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ControlError::Import(e) => match e {
                ImportError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                ImportError::Read { .. } | ImportError::Io { .. } | ImportError::Store(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                ImportError::HttpStatus { .. }
                | ImportError::Network { .. }
                | ImportError::Truncated { .. }
                | ImportError::S3 { .. } => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            },
            ControlError::Config(_) | ControlError::Store(_) | ControlError::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ControlError::Api { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
        }
    }

    /// The field at fault, when the error is about one.
    pub fn field_at_fault(&self) -> Option<&str> {
        match self {
            ControlError::Invalid { field, .. } => *field,
            ControlError::Setting(e) => Some(e.setting.key),
            ControlError::Api { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The error a remote server answered with, as the variant it left as where the code says
    /// which (so `status()` and matching work the same on both sides).
    pub fn from_answer(
        status: u16,
        code: String,
        message: String,
        field: Option<String>,
    ) -> ControlError {
        match code.as_str() {
            "not_found" => ControlError::NotFound(message),
            "invalid_name" => ControlError::InvalidName(message),
            "forbidden" => ControlError::Forbidden(message),
            "io" => ControlError::Io(message),
            _ => ControlError::Api {
                status,
                code,
                message,
                field,
            },
        }
    }
}

/// A name that breaks its kind's rules, whichever kind: the domain's message says which.
macro_rules! invalid_name_from {
    ($($error:ty),*) => {$(
        impl From<$error> for ControlError {
            fn from(e: $error) -> Self {
                ControlError::InvalidName(e.to_string())
            }
        }
    )*};
}

invalid_name_from!(
    crate::domain::NameError,
    crate::domain::ServiceNameError,
    crate::domain::TokenNameError
);

impl From<crate::domain::ModelRefError> for ControlError {
    fn from(e: crate::domain::ModelRefError) -> Self {
        match e {
            crate::domain::ModelRefError::Name(n) => ControlError::InvalidName(n.to_string()),
            other => ControlError::field("model", other.to_string()),
        }
    }
}
