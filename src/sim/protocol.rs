//! AWS JSON 1.1 on the wire: operation from `X-Amz-Target`, region from the SigV4 scope, and errors as AWS sends them;
//! `Wire` picks it or Smithy RPC v2 CBOR (rpcv2.rs) for each request.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::rpcv2;

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

/// The protocol a request came in, and its answer goes out, in. The engine sees the same (operation, region, input)
/// and returns the same JSON value either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// `POST /` with `X-Amz-Target: OvertureService.<Op>`.
    Json11,
    /// `POST /service/OvertureService/operation/<Op>` with `smithy-protocol: rpc-v2-cbor`.
    RpcV2Cbor,
}

impl Wire {
    /// The Smithy protocol's name, as the request log records it.
    pub fn name(self) -> &'static str {
        match self {
            Wire::Json11 => "awsJson1_1",
            Wire::RpcV2Cbor => "rpcv2Cbor",
        }
    }

    pub fn operation(self, uri: &Uri, headers: &HeaderMap) -> Result<String, ApiError> {
        match self {
            Wire::Json11 => operation(headers),
            Wire::RpcV2Cbor => rpcv2::operation(uri, headers),
        }
    }

    pub fn input(self, headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        match self {
            Wire::Json11 => input(body),
            Wire::RpcV2Cbor => rpcv2::input(headers, body),
        }
    }

    pub fn ok(self, body: Value) -> Response {
        match self {
            Wire::Json11 => ok(body),
            Wire::RpcV2Cbor => rpcv2::ok(&body),
        }
    }

    pub fn error(self, err: ApiError) -> Response {
        match self {
            Wire::Json11 => err.into_response(),
            Wire::RpcV2Cbor => rpcv2::error(&err),
        }
    }
}

/// A JSON 1.1 request body: empty is `{}`.
pub fn input(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::other(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            format!("Request body is not valid JSON: {e}"),
        )
    })
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
