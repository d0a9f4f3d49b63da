//! Real SigV4 verification, so the simulator refuses what AWS would refuse: unknown keys, wrong secrets and tampered requests.

use std::borrow::Cow;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, Method, StatusCode, Uri};
use time::format_description::well_known::Rfc2822;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::sim::ApiError;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const TERMINATOR: &str = "aws4_request";
/// Headers aws-sigv4 always puts in the canonical request; they are left out again when the client did not sign them.
const INJECTED_HEADERS: [&str; 2] = ["host", "x-amz-date"];
/// Stands in for the scheme and authority when the request has no Host header (it is then not signed, so never used).
const PLACEHOLDER_ORIGIN: &str = "http://localhost";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
/// How far a request's `X-Amz-Date` (or `Date`) may be from the simulator's clock, either way. AWS answers JSON-protocol
/// requests outside its window with 400 `InvalidSignatureException` "Signature expired: <date> is now earlier than
/// <now - window> (<now> - 15 min.)" (aws/aws-sdk-js#254, and ECR in upmc-enterprises/registry-creds#24) or
/// "Signature not yet current: <date> is still later than <now + window> (<now> + 5 min.)" (Kinesis in
/// aws/aws-sdk-go#2194). The window is 15 minutes for some services and 5 for others (Kinesis, Lambda, ECS), and
/// Direct Connect's is not published; the wider one never refuses what AWS would accept.
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// An access key the simulator accepts (the world file's `sim.credentials`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex`.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

/// The request's timestamp and the header it came from.
struct Timestamp {
    time: OffsetDateTime,
    header: &'static str,
}

/// Verifies the request's SigV4 signature against `credentials`, and its date against the simulator's clock.
pub fn verify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    credentials: &[Credential],
) -> Result<(), ApiError> {
    verify_at(method, uri, headers, body, credentials, SystemTime::now())
}

/// [`verify`] with the simulator's clock reading `now` (tests and fuzzing replay requests signed at a fixed time).
pub fn verify_at(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    credentials: &[Credential],
    now: SystemTime,
) -> Result<(), ApiError> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(missing_token)?;
    let header = header
        .to_str()
        .map_err(|_| incomplete("Authorization header is not valid ASCII."))?;
    let auth = parse_authorization(header)?;
    let timestamp = timestamp(headers)?;
    let credential = credentials
        .iter()
        .find(|c| c.access_key_id == auth.access_key_id)
        .ok_or_else(unrecognized_client)?;
    check_skew(&timestamp, OffsetDateTime::from(now))?;
    check_scope_date(&auth, &timestamp)?;
    let expected = expected_signature(method, uri, headers, body, &auth, credential, &timestamp)?;
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(mismatch())
    }
}

/// The access key id a request's `Authorization` header names, if it has a readable one (not verified).
pub fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let header = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    parse_authorization(header)
        .ok()
        .map(|auth| auth.access_key_id.to_string())
}

/// A credential as the signer takes it.
fn identity(credential: &Credential) -> Identity {
    Credentials::new(
        &credential.access_key_id,
        &credential.secret_access_key,
        None,
        None,
        "dxctl-sim",
    )
    .into()
}

/// Signs a request as the AWS SDKs do, at `time`: the headers to add (`authorization`, `x-amz-date`). For callers of
/// the admin routes (which need a signature when the world has `sim.credentials`) and for tests of the clock check.
/// `url` is absolute; the request must then carry a `Host` header equal to its authority, as it is signed.
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    credential: &Credential,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let request = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("cannot sign {method} {url}: {e}"))?;
    let identity = identity(credential);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign {method} {url}: {e}"))?
        .into();
    let output = sign(request, &params).map_err(|e| format!("cannot sign {method} {url}: {e}"))?;
    let (instructions, _) = output.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect())
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, ApiError> {
    let header = header.trim();
    let (algorithm, params) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported Authorization algorithm '{algorithm}': expected {ALGORITHM}."
        )));
    }
    let param = |name: &str| {
        params
            .split(',')
            .filter_map(|part| part.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    };
    let (credential, signed_headers, signature) = (
        param("Credential"),
        param("SignedHeaders"),
        param("Signature"),
    );
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete(missing_params(&[
            ("Credential", credential.is_some()),
            ("SignedHeaders", signed_headers.is_some()),
            ("Signature", signature.is_some()),
        ])));
    };
    let scope = parse_scope(credential)?;
    Ok(Authorization {
        signed_headers: signed_headers.split(';').collect(),
        signature,
        ..scope
    })
}

/// AWS's wording: one "requires" sentence per missing parameter.
fn missing_params(present: &[(&str, bool)]) -> String {
    present
        .iter()
        .filter(|(_, found)| !found)
        .map(|(name, _)| format!("Authorization header requires '{name}' parameter."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `AKID/DATE/REGION/SERVICE/aws4_request`; the signed headers and signature are filled in by the caller.
fn parse_scope(credential: &str) -> Result<Authorization<'_>, ApiError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts[..] else {
        return Err(bad_scope(credential));
    };
    if parts.iter().any(|part| part.is_empty()) {
        return Err(bad_scope(credential));
    }
    if terminator != TERMINATOR {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'."
        )));
    }
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: Vec::new(),
        signature: "",
    })
}

fn bad_scope(credential: &str) -> ApiError {
    incomplete(format!(
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
    ))
}

/// The signing time: `x-amz-date` (ISO 8601 basic) or else `date` (that format or RFC 1123).
fn timestamp(headers: &HeaderMap) -> Result<Timestamp, ApiError> {
    let value = |name| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if let Some(amz_date) = value("x-amz-date") {
        let time = parse_basic_iso8601(amz_date).ok_or_else(|| bad_date(amz_date))?;
        return Ok(Timestamp {
            time,
            header: "x-amz-date",
        });
    }
    let date = value("date").ok_or_else(|| {
        incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    let time = parse_basic_iso8601(date)
        .or_else(|| OffsetDateTime::parse(date, &Rfc2822).ok())
        .ok_or_else(|| bad_date(date))?;
    Ok(Timestamp {
        time,
        header: "date",
    })
}

fn parse_basic_iso8601(value: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(value, format)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

fn bad_date(value: &str) -> ApiError {
    incomplete(format!(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    ))
}

/// The request's time must be within [`MAX_CLOCK_SKEW`] of `now`, in AWS's words when it is not.
fn check_skew(timestamp: &Timestamp, now: OffsetDateTime) -> Result<(), ApiError> {
    let window = time::Duration::try_from(MAX_CLOCK_SKEW).unwrap_or(time::Duration::MAX);
    let minutes = MAX_CLOCK_SKEW.as_secs() / 60;
    let stamp = |t: OffsetDateTime| format_basic_iso8601(t.to_offset(time::UtcOffset::UTC));
    let (request, now_text) = (stamp(timestamp.time), stamp(now));
    let message = if timestamp.time < now - window {
        format!(
            "Signature expired: {request} is now earlier than {} ({now_text} - {minutes} min.)",
            stamp(now - window)
        )
    } else if timestamp.time > now + window {
        format!(
            "Signature not yet current: {request} is still later than {} ({now_text} + {minutes} min.)",
            stamp(now + window)
        )
    } else {
        return Ok(());
    };
    Err(ApiError::other(
        StatusCode::BAD_REQUEST,
        "InvalidSignatureException",
        message,
    ))
}

fn format_basic_iso8601(time: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time.format(format).unwrap_or_default()
}

/// The scope's date must be the timestamp's day (aws-sigv4 derives the scope from the time alone).
fn check_scope_date(auth: &Authorization<'_>, timestamp: &Timestamp) -> Result<(), ApiError> {
    let day = format_description!("[year][month][day]");
    let stamp = timestamp.time.format(day).unwrap_or_default();
    if auth.date == stamp {
        return Ok(());
    }
    Err(ApiError::other(
        StatusCode::BAD_REQUEST,
        "InvalidSignatureException",
        format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{stamp}', from '{}'.",
            auth.date, timestamp.header
        ),
    ))
}

/// Re-signs the request with aws-sigv4 over exactly the headers the client signed, at the client's time and scope.
fn expected_signature(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    auth: &Authorization<'_>,
    credential: &Credential,
    timestamp: &Timestamp,
) -> Result<String, ApiError> {
    let signed = signed_header_values(headers, &auth.signed_headers)?;
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let request = SignableRequest::new(
        method.as_str(),
        format!("{PLACEHOLDER_ORIGIN}{path_and_query}"),
        signed.into_iter(),
        payload(headers, body),
    )
    .map_err(|_| mismatch())?;
    let identity = identity(credential);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(auth.region)
        .name(auth.service)
        .time(SystemTime::from(timestamp.time))
        .settings(settings(&auth.signed_headers))
        .build()
        .map_err(|_| mismatch())?
        .into();
    let output = sign(request, &params).map_err(|_| mismatch())?;
    Ok(output.signature().to_string())
}

/// The values of the signed headers; a signed header the request lacks fails verification.
fn signed_header_values<'a>(
    headers: &'a HeaderMap,
    signed: &[&'a str],
) -> Result<Vec<(&'a str, &'a str)>, ApiError> {
    let mut values = Vec::new();
    for &name in signed {
        let mut found = headers.get_all(name).iter().peekable();
        if found.peek().is_none() {
            return Err(mismatch());
        }
        for value in found {
            values.push((name, value.to_str().map_err(|_| mismatch())?));
        }
    }
    Ok(values)
}

/// `x-amz-content-sha256` when the client sent it, otherwise the body itself (hashed by aws-sigv4).
fn payload<'a>(headers: &HeaderMap, body: &'a [u8]) -> SignableBody<'a> {
    match headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(hash) => SignableBody::Precomputed(hash.to_string()),
        None => SignableBody::Bytes(body),
    }
}

/// No default exclusions (the client's list decides), except the headers aws-sigv4 adds by itself when unsigned.
fn settings(signed: &[&str]) -> SigningSettings {
    let unsigned_injected = INJECTED_HEADERS
        .iter()
        .filter(|name| !signed.contains(name))
        .map(|name| Cow::Borrowed(*name))
        .collect();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(unsigned_injected);
    settings
}

/// Equality whose running time depends only on the lengths, not on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn missing_token() -> ApiError {
    ApiError::other(
        StatusCode::BAD_REQUEST,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )
}

fn incomplete(message: impl Into<String>) -> ApiError {
    ApiError::other(
        StatusCode::BAD_REQUEST,
        "IncompleteSignatureException",
        message,
    )
}

fn unrecognized_client() -> ApiError {
    ApiError::other(
        StatusCode::BAD_REQUEST,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
}

fn mismatch() -> ApiError {
    ApiError::other(
        StatusCode::BAD_REQUEST,
        "InvalidSignatureException",
        MISMATCH,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const HOST: &str = "127.0.0.1:40411";
    const KEY_ID: &str = "AKIDSIMEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const TARGET: &str = "OvertureService.DescribeVirtualInterfaces";

    fn credentials() -> Vec<Credential> {
        vec![
            Credential {
                access_key_id: "AKIDOTHER".to_string(),
                secret_access_key: "other-secret".to_string(),
            },
            Credential {
                access_key_id: KEY_ID.to_string(),
                secret_access_key: SECRET.to_string(),
            },
        ]
    }

    /// A request as it reaches the server: origin-form URI, headers, body.
    #[derive(Clone)]
    struct Received {
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Vec<u8>,
    }

    impl Received {
        fn verify(&self) -> Result<(), ApiError> {
            verify(
                &self.method,
                &self.uri,
                &self.headers,
                &self.body,
                &credentials(),
            )
        }

        /// Verified by a simulator whose clock reads `now`.
        fn verify_at(&self, now: SystemTime) -> Result<(), ApiError> {
            verify_at(
                &self.method,
                &self.uri,
                &self.headers,
                &self.body,
                &credentials(),
                now,
            )
        }
    }

    /// A time written as AWS's basic ISO 8601 (`20261126T123456Z`).
    fn at(basic: &str) -> SystemTime {
        SystemTime::from(parse_basic_iso8601(basic).unwrap())
    }

    /// Signs like the AWS Rust SDK does for Direct Connect: aws-sigv4's default settings over all headers.
    fn sdk_signed(key_id: &str, secret: &str, path_and_query: &str, body: &[u8]) -> Received {
        signed_with(
            SigningSettings::default(),
            None,
            (key_id, secret),
            path_and_query,
            body,
        )
    }

    /// `payload` stands in for the body's own hash (as streaming or S3-style clients sign).
    fn signed_with(
        settings: SigningSettings,
        payload: Option<SignableBody<'static>>,
        (key_id, secret): (&str, &str),
        path_and_query: &str,
        body: &[u8],
    ) -> Received {
        let mut request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{HOST}{path_and_query}"))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", TARGET)
            .header("host", HOST)
            .body(body.to_vec())
            .unwrap();
        let identity: Identity = Credentials::new(key_id, secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("directconnect")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let instructions = {
            let signable = SignableRequest::new(
                request.method().as_str(),
                request.uri().to_string(),
                request
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.to_str().unwrap())),
                payload.unwrap_or(SignableBody::Bytes(request.body())),
            )
            .unwrap();
            sign(signable, &params).unwrap().into_parts().0
        };
        instructions.apply_to_request_http1x(&mut request);
        let (parts, body) = request.into_parts();
        Received {
            method: parts.method,
            uri: path_and_query.parse().unwrap(),
            headers: parts.headers,
            body,
        }
    }

    fn header_map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn code(result: Result<(), ApiError>) -> (StatusCode, &'static str) {
        let err = result.expect_err("verification should fail");
        (err.status, err.code)
    }

    #[test]
    fn accepts_a_request_signed_like_the_sdk() {
        let request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        assert!(request.headers.contains_key("authorization"));
        assert_eq!(request.verify(), Ok(()));
    }

    #[test]
    fn wrong_secret_is_an_invalid_signature() {
        let request = sdk_signed(KEY_ID, "not-the-secret", "/", b"{}");
        let err = request.verify().unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "InvalidSignatureException");
        assert_eq!(err.message, MISMATCH);
    }

    #[test]
    fn unknown_key_is_an_unrecognized_client() {
        let request = sdk_signed("AKIDUNKNOWN", SECRET, "/", b"{}");
        let err = request.verify().unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "UnrecognizedClientException");
        assert_eq!(
            err.message,
            "The security token included in the request is invalid."
        );
    }

    #[test]
    fn tampering_after_signing_is_an_invalid_signature() {
        let mismatch = (StatusCode::BAD_REQUEST, "InvalidSignatureException");
        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request.body = br#"{"virtualInterfaceId":"dxvif-other"}"#.to_vec();
        assert_eq!(code(request.verify()), mismatch);

        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request.headers.insert(
            "x-amz-target",
            HeaderValue::from_static("OvertureService.DeleteVirtualInterface"),
        );
        assert_eq!(code(request.verify()), mismatch);

        let mut request = sdk_signed(KEY_ID, SECRET, "/?a=1", b"{}");
        assert_eq!(request.verify(), Ok(()));
        request.uri = Uri::from_static("/?a=2");
        assert_eq!(code(request.verify()), mismatch);

        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request.headers.remove("host");
        assert_eq!(code(request.verify()), mismatch);
    }

    #[test]
    fn headers_outside_signed_headers_may_change() {
        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request.headers.insert(
            "user-agent",
            HeaderValue::from_static("aws-sdk-rust/1 os/linux"),
        );
        request
            .headers
            .insert("x-amzn-trace-id", HeaderValue::from_static("Root=1-abc"));
        assert_eq!(request.verify(), Ok(()));
    }

    #[test]
    fn missing_authorization_is_a_missing_token() {
        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request.headers.remove("authorization");
        let err = request.verify().unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "MissingAuthenticationTokenException");
        assert_eq!(err.message, "Missing Authentication Token");
    }

    #[test]
    fn malformed_authorization_is_an_incomplete_signature() {
        let cases = [
            ("garbage", "Unsupported Authorization algorithm 'garbage'"),
            ("Bearer abc.def", "Unsupported Authorization algorithm 'Bearer'"),
            ("AWS4-HMAC-SHA256", "requires 'Credential' parameter"),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDSIMEXAMPLE/20261126/us-east-1/directconnect/aws4_request, Signature=ab",
                "requires 'SignedHeaders' parameter",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDSIMEXAMPLE/20261126/us-east-1/directconnect/aws4_request, SignedHeaders=host",
                "requires 'Signature' parameter",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDSIMEXAMPLE/20261126/us-east-1, SignedHeaders=host, Signature=ab",
                "exactly 5 slash-delimited elements",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDSIMEXAMPLE/20261126//directconnect/aws4_request, SignedHeaders=host, Signature=ab",
                "exactly 5 slash-delimited elements",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDSIMEXAMPLE/20261126/us-east-1/directconnect/aws5_request, SignedHeaders=host, Signature=ab",
                "valid terminator",
            ),
        ];
        for (authorization, expected) in cases {
            let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
            request
                .headers
                .insert("authorization", HeaderValue::from_static(authorization));
            let err = request.verify().unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{authorization}");
            assert_eq!(err.code, "IncompleteSignatureException", "{authorization}");
            assert!(
                err.message.contains(expected),
                "{authorization}: {}",
                err.message
            );
        }
    }

    #[test]
    fn all_missing_parameters_are_named() {
        assert_eq!(
            parse_authorization("AWS4-HMAC-SHA256 Foo=bar").unwrap_err().message,
            "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires 'Signature' parameter."
        );
    }

    #[test]
    fn a_request_without_a_date_is_an_incomplete_signature() {
        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request.headers.remove("x-amz-date");
        let err = request.verify().unwrap_err();
        assert_eq!(err.code, "IncompleteSignatureException");
        assert!(err.message.contains("'X-Amz-Date' or a 'Date' header"));

        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request
            .headers
            .insert("x-amz-date", HeaderValue::from_static("yesterday"));
        assert_eq!(
            code(request.verify()),
            (StatusCode::BAD_REQUEST, "IncompleteSignatureException")
        );
    }

    #[test]
    fn scope_date_must_match_the_timestamp() {
        let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        request
            .headers
            .insert("x-amz-date", HeaderValue::from_static("20200101T000000Z"));
        let err = request.verify_at(at("20200101T000100Z")).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "InvalidSignatureException");
        assert!(
            err.message.contains("!= '20200101', from 'x-amz-date'"),
            "{}",
            err.message
        );
    }

    // Generated by botocore 1.43.62 (SigV4Auth(creds, "directconnect", "eu-west-1").add_auth on an
    // AWSRequest POST http://127.0.0.1:40411/ with get_current_datetime patched to 2026-11-26T12:34:56Z).
    const BOTOCORE_KEY_ID: &str = "AKIDBOTOCOREEXAMPLE";
    const BOTOCORE_SECRET: &str = "botocore/Secret+Key/EXAMPLE0123456789abcdef";
    const BOTOCORE_BODY: &[u8] = br#"{"virtualInterfaceId":"dxvif-fgq7ac1h"}"#;
    const BOTOCORE_HEADERS: [(&str, &str); 7] = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "OvertureService.DescribeVirtualInterfaces"),
        ("user-agent", "aws-cli/2.0 botocore/1.43.62"),
        ("x-amz-date", "20261126T123456Z"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDBOTOCOREEXAMPLE/20261126/eu-west-1/directconnect/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=613b0c2993afa8d0e354d365577c3300e99334ce364d302b0da46e238af69884",
        ),
        ("content-length", "39"),
        ("host", "127.0.0.1:40411"),
    ];

    // Also from botocore: the same key over a request dated by `Date` instead of `X-Amz-Date`
    // (canonical_request/string_to_sign/signature with context timestamp 20261126T123456Z).
    const BOTOCORE_DATE_HEADERS: [(&str, &str); 5] = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "OvertureService.DescribeConnections"),
        ("date", "Thu, 26 Nov 2026 12:34:56 GMT"),
        ("host", "127.0.0.1:40411"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDBOTOCOREEXAMPLE/20261126/us-east-1/directconnect/aws4_request, SignedHeaders=content-type;date;host;x-amz-target, Signature=cc66974f2eee15d63477d01c3015d71c124efea0ede60945484a7f608cdc160f",
        ),
    ];

    fn botocore_keys(secret: &str) -> Vec<Credential> {
        vec![Credential {
            access_key_id: BOTOCORE_KEY_ID.to_string(),
            secret_access_key: secret.to_string(),
        }]
    }

    fn verify_botocore(
        headers: &[(&'static str, &str)],
        body: &[u8],
        secret: &str,
    ) -> Result<(), ApiError> {
        // Checked at the moment botocore signed them, so the clock check passes.
        verify_at(
            &Method::POST,
            &Uri::from_static("/"),
            &header_map(headers),
            body,
            &botocore_keys(secret),
            at("20261126T123456Z"),
        )
    }

    #[test]
    fn accepts_a_request_signed_by_botocore() {
        assert_eq!(
            verify_botocore(&BOTOCORE_HEADERS, BOTOCORE_BODY, BOTOCORE_SECRET),
            Ok(())
        );
        assert_eq!(
            code(verify_botocore(
                &BOTOCORE_HEADERS,
                BOTOCORE_BODY,
                "another-secret"
            )),
            (StatusCode::BAD_REQUEST, "InvalidSignatureException")
        );
        assert_eq!(
            code(verify_botocore(&BOTOCORE_HEADERS, b"{}", BOTOCORE_SECRET)),
            (StatusCode::BAD_REQUEST, "InvalidSignatureException")
        );
    }

    #[test]
    fn accepts_a_botocore_request_dated_by_the_date_header() {
        assert_eq!(
            verify_botocore(&BOTOCORE_DATE_HEADERS, b"{}", BOTOCORE_SECRET),
            Ok(())
        );
        assert_eq!(
            code(verify_botocore(
                &BOTOCORE_DATE_HEADERS,
                b"{}",
                "another-secret"
            )),
            (StatusCode::BAD_REQUEST, "InvalidSignatureException")
        );
    }

    #[test]
    fn x_amz_content_sha256_stands_for_the_body() {
        // S3-style signing sends and signs x-amz-content-sha256; its value, not the body, is the payload hash.
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        let keys = (KEY_ID, SECRET);
        let unsigned = Some(SignableBody::UnsignedPayload);
        let mut request = signed_with(settings.clone(), unsigned, keys, "/", b"{}");
        assert_eq!(
            request.headers.get("x-amz-content-sha256"),
            Some(&HeaderValue::from_static("UNSIGNED-PAYLOAD"))
        );
        request.body = b"any body at all".to_vec();
        assert_eq!(request.verify(), Ok(()));

        let mut request = signed_with(settings, None, keys, "/", b"{}");
        assert_eq!(request.verify(), Ok(()));
        request.headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        assert_eq!(
            code(request.verify()),
            (StatusCode::BAD_REQUEST, "InvalidSignatureException")
        );
    }

    #[test]
    fn a_signed_header_the_request_lacks_fails() {
        let request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
        let auth = request.headers["authorization"].to_str().unwrap();
        for listed in ["absent;", "not a name;", ";"] {
            let auth = auth.replace("SignedHeaders=", &format!("SignedHeaders={listed}"));
            let mut request = request.clone();
            request
                .headers
                .insert("authorization", HeaderValue::from_str(&auth).unwrap());
            assert_eq!(
                code(request.verify()),
                (StatusCode::BAD_REQUEST, "InvalidSignatureException"),
                "{listed}"
            );
        }
    }

    /// Signed with [`sign_request`] (the admin routes' signer) at `time`.
    fn signed_at(time: SystemTime) -> Received {
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", TARGET),
            ("host", HOST),
        ];
        let key = &credentials()[1];
        let url = format!("http://{HOST}/");
        let added = sign_request(
            "POST",
            &url,
            &headers,
            b"{}",
            key,
            "us-east-1",
            "directconnect",
            time,
        )
        .unwrap();
        let mut map = HeaderMap::new();
        for (name, value) in headers
            .iter()
            .map(|&(n, v)| (n.to_string(), v.to_string()))
            .chain(added)
        {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        Received {
            method: Method::POST,
            uri: Uri::from_static("/"),
            headers: map,
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn a_request_within_the_skew_window_is_accepted() {
        let now = at("20261126T123456Z");
        for offset in [0, 5 * 60, 15 * 60] {
            let offset = std::time::Duration::from_secs(offset);
            assert_eq!(
                signed_at(now - offset).verify_at(now),
                Ok(()),
                "{offset:?} early"
            );
            assert_eq!(
                signed_at(now + offset).verify_at(now),
                Ok(()),
                "{offset:?} late"
            );
        }
        assert_eq!(signed_at(SystemTime::now()).verify(), Ok(()));
    }

    #[test]
    fn an_expired_signature_is_refused_in_aws_words() {
        let now = at("20261126T123456Z");
        let err = signed_at(now - std::time::Duration::from_secs(20 * 60))
            .verify_at(now)
            .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "InvalidSignatureException");
        assert_eq!(
            err.message,
            "Signature expired: 20261126T121456Z is now earlier than 20261126T121956Z (20261126T123456Z - 15 min.)"
        );
        let err = signed_at(now - std::time::Duration::from_secs(15 * 60 + 1))
            .verify_at(now)
            .unwrap_err();
        assert!(
            err.message.starts_with("Signature expired: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_signature_from_the_future_is_refused_in_aws_words() {
        let now = at("20261126T123456Z");
        let err = signed_at(now + std::time::Duration::from_secs(20 * 60))
            .verify_at(now)
            .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "InvalidSignatureException");
        assert_eq!(
            err.message,
            "Signature not yet current: 20261126T125456Z is still later than 20261126T124956Z (20261126T123456Z + 15 min.)"
        );
    }

    #[test]
    fn far_off_dates_are_refused_before_the_signature_is_checked() {
        let now = SystemTime::now();
        for (date, expected) in [
            ("20010101T000000Z", "Signature expired: 20010101T000000Z"),
            (
                "99991231T235959Z",
                "Signature not yet current: 99991231T235959Z",
            ),
        ] {
            let mut request = sdk_signed(KEY_ID, SECRET, "/", b"{}");
            request
                .headers
                .insert("x-amz-date", HeaderValue::from_str(date).unwrap());
            let err = request.verify_at(now).unwrap_err();
            assert_eq!(err.code, "InvalidSignatureException", "{date}");
            assert!(err.message.starts_with(expected), "{date}: {}", err.message);
        }
        // A request dated by `Date` alone is held to the same window.
        let mut headers: Vec<(&'static str, &str)> = BOTOCORE_DATE_HEADERS.to_vec();
        headers.retain(|(name, _)| *name != "x-amz-date");
        let err = verify_at(
            &Method::POST,
            &Uri::from_static("/"),
            &header_map(&headers),
            b"{}",
            &botocore_keys(BOTOCORE_SECRET),
            at("20261126T130000Z"),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Signature expired: 20261126T123456Z is now earlier than 20261126T124500Z (20261126T130000Z - 15 min.)"
        );
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn credentials_read_from_world_json() {
        let parsed: Vec<Credential> =
            serde_json::from_str(r#"[{"accessKeyId": "AKID", "secretAccessKey": "s3cr3t"}]"#)
                .unwrap();
        assert_eq!(
            parsed,
            vec![Credential {
                access_key_id: "AKID".to_string(),
                secret_access_key: "s3cr3t".to_string(),
            }]
        );
    }

    /// Serves `verify` on loopback and answers DescribeVirtualInterfaces with an empty list.
    async fn verifying_server() -> std::net::SocketAddr {
        use axum::response::IntoResponse;
        let handler = |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| async move {
            match verify(&method, &uri, &headers, &body, &credentials()) {
                Ok(()) => super::super::protocol::ok(serde_json::json!({"virtualInterfaces": []})),
                Err(err) => err.into_response(),
            }
        };
        let app = axum::Router::new().route("/", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn sdk_client(addr: std::net::SocketAddr, secret: &str) -> aws_sdk_directconnect::Client {
        use aws_smithy_http_client::tls;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_sdk_directconnect::Config::builder()
            .behavior_version(aws_sdk_directconnect::config::BehaviorVersion::latest())
            .region(aws_sdk_directconnect::config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{addr}"))
            .credentials_provider(Credentials::new(KEY_ID, secret, None, None, "test"))
            .http_client(http)
            .build();
        aws_sdk_directconnect::Client::from_conf(config)
    }

    #[tokio::test]
    async fn the_real_sdk_client_is_accepted_and_a_wrong_secret_refused() {
        use aws_sdk_directconnect::error::ProvideErrorMetadata;
        let addr = verifying_server().await;
        let ok = sdk_client(addr, SECRET)
            .describe_virtual_interfaces()
            .virtual_interface_id("dxvif-fgq7ac1h")
            .send()
            .await;
        assert!(ok.is_ok(), "{ok:?}");
        let err = sdk_client(addr, "not-the-secret")
            .describe_virtual_interfaces()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidSignatureException"), "{err:?}");
    }
}
