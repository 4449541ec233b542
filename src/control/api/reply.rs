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
use serde_json::{Value, json};

use crate::control::ControlError;
use crate::registry::ImportError;

pub type ApiBody = BoxBody<Bytes, Infallible>;

/// An error as the API reports it: `{"error": {"code", "message"}}` with a fitting status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn into_response(self) -> Response<ApiBody> {
        if self.status.is_server_error() {
            tracing::warn!(code = %self.code, message = %self.message, "control API error");
        }
        json_response(
            self.status,
            &json!({"error": {"code": self.code, "message": self.message}}),
        )
    }
}

/// The status a core error deserves, by its stable code.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "not_found" => StatusCode::NOT_FOUND,
        "exists" | "in_service" => StatusCode::CONFLICT,
        "store" | "io" | "config" | "data_dir_in_use" => StatusCode::INTERNAL_SERVER_ERROR,
        "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> ApiError {
        let code = e.code().to_string();
        ApiError {
            status: status_of(&code),
            code,
            message: e.to_string(),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> ApiError {
        ControlError::Import(e).into()
    }
}

pub fn json_response(status: StatusCode, value: &Value) -> Response<ApiBody> {
    let mut r = Response::new(full(format!("{value}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

pub fn ok(value: &Value) -> Result<Response<ApiBody>, ApiError> {
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
