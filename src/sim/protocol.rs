//! AWS JSON 1.1 on the wire: operation from `X-Amz-Target`, region from the SigV4 scope, and errors as AWS sends them.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
pub const TARGET_PREFIX: &str = "OvertureService.";

/// An error response: HTTP status, error code (sent as `x-amzn-ErrorType` and `__type`) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// The service's 400 for a bad request.
    pub fn client(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "DirectConnectClientException",
            message: message.into(),
        }
    }

    pub fn other(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "__type": self.code, "message": self.message });
        let mut resp = (self.status, body.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        resp
    }
}

/// A successful JSON 1.1 response.
pub fn ok(body: Value) -> Response {
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    resp
}

/// The operation named by `X-Amz-Target: OvertureService.<Op>`.
pub fn operation(headers: &HeaderMap) -> Result<String, ApiError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::other(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                "Missing X-Amz-Target header",
            )
        })?;
    target
        .strip_prefix(TARGET_PREFIX)
        .filter(|op| !op.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::other(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!("Unknown target {target}"),
            )
        })
}

/// The region from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
pub fn region(headers: &HeaderMap) -> Result<String, ApiError> {
    let missing = || {
        ApiError::other(
            StatusCode::BAD_REQUEST,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    region_from_authorization(auth).ok_or_else(|| {
        ApiError::other(
            StatusCode::BAD_REQUEST,
            "IncompleteSignatureException",
            "Authorization header requires a Credential parameter with a credential scope",
        )
    })
}

pub fn region_from_authorization(auth: &str) -> Option<String> {
    let credential = auth
        .split([' ', ','])
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    let mut scope = credential.split('/');
    let (_key, _date, region) = (scope.next()?, scope.next()?, scope.next()?);
    (!region.is_empty()).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_from_sigv4_scope() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/eu-west-1/directconnect/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            region_from_authorization(auth).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_from_authorization("Bearer x"), None);
        assert_eq!(
            region_from_authorization("AWS4-HMAC-SHA256 Credential=AKID"),
            None
        );
    }
}
