//! What the control API answers with: JSON bodies, errors that carry a stable code, and the
//! streamed body the change stream needs.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};

use crate::control::ControlError;
use crate::control::contract::{ErrorAnswer, ErrorBody};
use crate::registry::ImportError;

pub type ApiBody = BoxBody<Bytes, Infallible>;

/// An error as the API reports it: `{"error": {"code", "message", "field"?}}` with the status
/// its [`ControlError`] variant carries.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            field: None,
        }
    }

    /// A request that is not what the call takes (400, `bad_request`).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn into_response(self) -> Response<ApiBody> {
        if self.status.is_server_error() {
            tracing::warn!(
                code = %self.code, reason = ?crate::domain::clip(&self.message, 500), "control API error"
            );
        }
        let body = ErrorAnswer {
            error: ErrorBody {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        json_response(self.status, &body)
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        ApiError {
            status: e.status(),
            code: e.code().to_string(),
            field: e.field_at_fault().map(str::to_string),
            message: e.to_string(),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> ApiError {
        ControlError::Import(e).into()
    }
}

pub fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<ApiBody> {
    let text = serde_json::to_string(value).unwrap_or_else(|e| {
        format!(r#"{{"error":{{"code":"internal","message":"cannot write the answer: {e}"}}}}"#)
    });
    let mut r = Response::new(full(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn ok(value: &impl serde::Serialize) -> Result<Response<ApiBody>, ApiError> {
    Ok(json_response(StatusCode::OK, value))
}

pub fn full(body: impl Into<Bytes>) -> ApiBody {
    Full::new(body.into()).boxed()
}

/// A body fed by a channel: each message is one chunk, and the body ends when every sender
/// is gone.
pub struct ChannelBody(pub tokio::sync::mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}
