//! Smithy RPC v2 CBOR beside AWS JSON 1.1, because SDKs pick it once the Direct Connect model lists it first: the
//! `/service/OvertureService/operation/<Op>` route and its headers, CBOR to and from the engine's JSON values, errors.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};
use serde_json::{json, Map, Number, Value};

use super::protocol::ApiError;

pub const CONTENT_TYPE: &str = "application/cbor";
pub const PROTOCOL_HEADER: &str = "smithy-protocol";
pub const PROTOCOL: &str = "rpc-v2-cbor";
/// The service's shape name, the path's `{serviceName}` (the JSON 1.1 target prefix too).
pub const SERVICE: &str = "OvertureService";
/// The Smithy namespace of the Direct Connect model: `com.amazonaws.directconnect#OvertureService`.
const NAMESPACE: &str = "com.amazonaws.directconnect";
/// The model's own error shapes; every other code is one of the AWS service framework's errors.
const MODELED_ERRORS: &[&str] = &[
    "DirectConnectClientException",
    "DirectConnectServerException",
    "DuplicateTagKeysException",
    "TooManyTagsException",
];
/// Members whose shape is a timestamp in the Direct Connect model (epoch seconds in JSON 1.1, CBOR tag 1 here).
const TIMESTAMP_MEMBERS: &[&str] = &["loaIssueTime", "startTime", "endTime"];
/// Nesting deeper than any Direct Connect shape is refused, so a hostile body cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// `{prefix?}/service/{serviceName}/operation/{operationName}`: the spec routes on the last four path segments.
pub fn route(path: &str) -> Option<(&str, &str)> {
    let mut segments = path.rsplit('/');
    let (operation, op_word, service, service_word) = (
        segments.next()?,
        segments.next()?,
        segments.next()?,
        segments.next()?,
    );
    (op_word == "operation" && service_word == "service" && segments.next().is_some())
        .then_some((service, operation))
}

/// The operation of a request on the RPC v2 route, once its framing headers are as the protocol requires.
pub fn operation(uri: &Uri, headers: &HeaderMap) -> Result<String, ApiError> {
    let (service, operation) = route(uri.path()).ok_or_else(|| {
        unknown_operation(format!(
            "{} is not /service/{SERVICE}/operation/<Operation>",
            uri.path()
        ))
    })?;
    // Routing needs the header (as the Smithy server SDKs do): without it the request is not rpc-v2-cbor.
    match headers.get(PROTOCOL_HEADER).map(|v| v.to_str()) {
        Some(Ok(PROTOCOL)) => {}
        Some(other) => {
            let got = other.unwrap_or("<not ASCII>");
            return Err(unknown_operation(format!(
                "Unsupported {PROTOCOL_HEADER} header {got:?}: this route speaks {PROTOCOL}"
            )));
        }
        None => {
            return Err(unknown_operation(format!(
                "Missing {PROTOCOL_HEADER}: {PROTOCOL} header"
            )))
        }
    }
    if ["x-amz-target", "x-amzn-target"]
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return Err(ApiError::other(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "An rpc-v2-cbor request must not carry an X-Amz-Target or X-Amzn-Target header",
        ));
    }
    // The service's shape name, or its absolute shape id with `#` as `.`; the operation's name only.
    let namespaced = service
        .strip_prefix(NAMESPACE)
        .and_then(|rest| rest.strip_prefix('.'));
    if service != SERVICE && namespaced != Some(SERVICE) {
        return Err(unknown_operation(format!(
            "Unknown service {service}: Direct Connect is {SERVICE}"
        )));
    }
    if !is_identifier(operation) {
        return Err(unknown_operation(format!(
            "{operation:?} is not an operation name"
        )));
    }
    if let Some(accept) = headers.get("accept") {
        let accepted = accept.to_str().unwrap_or("").split(',').any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            [CONTENT_TYPE, "application/*", "*/*"]
                .iter()
                .any(|m| media.eq_ignore_ascii_case(m))
        });
        if !accepted {
            return Err(ApiError::other(
                StatusCode::NOT_ACCEPTABLE,
                "NotAcceptableException",
                format!("This route answers {CONTENT_TYPE} only"),
            ));
        }
    }
    Ok(operation.to_string())
}

/// The operation's input: an empty body is an empty structure; otherwise a CBOR map sent as `application/cbor`.
pub fn input(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let media = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if !media.eq_ignore_ascii_case(CONTENT_TYPE) {
        return Err(ApiError::other(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeException",
            format!("An rpc-v2-cbor request body is Content-Type: {CONTENT_TYPE}, not {media:?}"),
        ));
    }
    let input = decode(body).map_err(|e| {
        ApiError::other(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            format!("Request body is not valid CBOR: {e}"),
        )
    })?;
    if !input.is_object() {
        return Err(ApiError::other(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "Request body is not a CBOR map (the operation's input structure)",
        ));
    }
    Ok(input)
}

/// A successful response: the output structure as CBOR.
pub fn ok(body: &Value) -> Response {
    respond(StatusCode::OK, encode(body))
}

/// An error response: `__type` is the error's absolute shape id; no `x-amzn-ErrorType` (the spec says it SHOULD NOT be
/// sent, and clients ignore it).
pub fn error(err: &ApiError) -> Response {
    let body = json!({ "__type": shape_id(err.code), "message": err.message });
    respond(err.status, encode(&body))
}

fn respond(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(PROTOCOL_HEADER, HeaderValue::from_static(PROTOCOL));
    resp
}

fn unknown_operation(message: String) -> ApiError {
    ApiError::other(StatusCode::NOT_FOUND, "UnknownOperationException", message)
}

/// The absolute shape id of an error code: the model's errors in its namespace, throttling and the protocol-level
/// errors (signatures, serialization, routing) in the AWS service framework's, as AWS names them.
pub fn shape_id(code: &str) -> String {
    let namespace = if MODELED_ERRORS.contains(&code) {
        NAMESPACE
    } else if code == "ThrottlingException" {
        "com.amazon.coral.availability"
    } else {
        "com.amazon.coral.service"
    };
    format!("{namespace}#{code}")
}

/// Smithy's `Identifier`: `(1*"_" (ALPHA / DIGIT) / ALPHA) *(ALPHA / DIGIT / "_")`.
fn is_identifier(s: &str) -> bool {
    let rest = s.trim_start_matches('_');
    let Some(first) = rest.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || (first.is_ascii_digit() && rest.len() < s.len()))
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// CBOR to the JSON value the engine reads, as the same input would arrive in JSON 1.1: tag 1 (a timestamp) becomes
/// its epoch seconds, `null`/`undefined` members are absent. Byte strings (no operation served takes a blob), other
/// tags (big numbers), non-finite floats and integers beyond 64 bits are refused.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut d = Decoder::new(bytes);
    let value = read_value(&mut d, 0)?;
    if d.position() != bytes.len() {
        return Err(format!(
            "{} bytes after the data item",
            bytes.len() - d.position()
        ));
    }
    Ok(value)
}

fn read_value(d: &mut Decoder<'_>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    let at = d.position();
    let err = |e: minicbor::decode::Error| e.to_string();
    let value = match d.datatype().map_err(err)? {
        Type::Bool => Value::Bool(d.bool().map_err(err)?),
        Type::Null => {
            d.null().map_err(err)?;
            Value::Null
        }
        Type::Undefined => {
            d.undefined().map_err(err)?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64().map_err(err)?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::from(d.i64().map_err(err)?),
        Type::Int => {
            let n = i128::from(d.int().map_err(err)?);
            return Err(format!("integer {n} at byte {at} is out of range"));
        }
        Type::F16 | Type::F32 | Type::F64 => {
            let x = d.f64().map_err(err)?;
            Number::from_f64(x)
                .map(Value::Number)
                .ok_or_else(|| format!("{x} at byte {at} has no JSON equivalent"))?
        }
        Type::String | Type::StringIndef => Value::String(read_text(d)?),
        Type::Array | Type::ArrayIndef => {
            let len = d.array().map_err(err)?;
            let mut items = Vec::with_capacity(len.unwrap_or(0).min(1024) as usize);
            while more(d, items.len(), len)? {
                items.push(read_value(d, depth + 1)?);
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let len = d.map().map_err(err)?;
            let mut members = Map::new();
            let mut seen = 0;
            while more(d, seen, len)? {
                if !matches!(d.datatype().map_err(err)?, Type::String | Type::StringIndef) {
                    return Err(format!("map key at byte {} is not text", d.position()));
                }
                let key = read_text(d)?;
                let value = read_value(d, depth + 1)?;
                if !value.is_null() {
                    members.insert(key, value);
                }
                seen += 1;
            }
            Value::Object(members)
        }
        Type::Tag => {
            let tag = d.tag().map_err(err)?;
            let value = read_value(d, depth + 1)?;
            if tag != Tag::new(1) || !value.is_number() {
                return Err(format!(
                    "CBOR tag {tag} at byte {at} is not supported (only tag 1, an epoch timestamp)"
                ));
            }
            value
        }
        Type::Bytes | Type::BytesIndef => {
            return Err(format!(
                "byte string at byte {at}: no operation the simulator serves takes a blob"
            ))
        }
        other => return Err(format!("unexpected {other} at byte {at}")),
    };
    Ok(value)
}

/// Whether another element of an array or map follows: `len` of them, or until the break of an indefinite one.
fn more(d: &mut Decoder<'_>, seen: usize, len: Option<u64>) -> Result<bool, String> {
    match len {
        Some(n) => Ok((seen as u64) < n),
        None if d.datatype().map_err(|e| e.to_string())? == Type::Break => {
            d.set_position(d.position() + 1);
            Ok(false)
        }
        None => Ok(true),
    }
}

fn read_text(d: &mut Decoder<'_>) -> Result<String, String> {
    let mut text = String::new();
    for chunk in d.str_iter().map_err(|e| e.to_string())? {
        text.push_str(chunk.map_err(|e| e.to_string())?);
    }
    Ok(text)
}

/// The engine's JSON value as CBOR: integers in their smallest form, floats as single or double precision (never
/// half), `null` members omitted, and the model's timestamp members (epoch seconds, or RFC 3339 text as pasted from
/// the CLI) as tag 1.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    // Cannot fail: the writer is a Vec (its error type is Infallible) and write_value raises no errors of its own.
    if write_value(&mut e, value).is_err() {
        return Vec::new();
    }
    e.into_writer()
}

type Written = Result<(), minicbor::encode::Error<std::convert::Infallible>>;

fn write_value(e: &mut Encoder<Vec<u8>>, value: &Value) -> Written {
    match value {
        Value::Null => {
            e.null()?;
        }
        Value::Bool(b) => {
            e.bool(*b)?;
        }
        Value::Number(n) => write_number(e, n)?,
        Value::String(s) => {
            e.str(s)?;
        }
        Value::Array(items) => {
            e.array(items.len() as u64)?;
            for item in items {
                write_value(e, item)?;
            }
        }
        Value::Object(members) => {
            e.map(members.values().filter(|v| !v.is_null()).count() as u64)?;
            for (key, member) in members.iter().filter(|(_, v)| !v.is_null()) {
                e.str(key)?;
                match epoch_seconds(key, member) {
                    Some(seconds) => {
                        e.tag(Tag::new(1))?;
                        write_number(e, &seconds)?;
                    }
                    None => write_value(e, member)?,
                }
            }
        }
    }
    Ok(())
}

fn write_number(e: &mut Encoder<Vec<u8>>, n: &Number) -> Written {
    if let Some(u) = n.as_u64() {
        e.u64(u)?;
    } else if let Some(i) = n.as_i64() {
        e.i64(i)?;
    } else {
        let x = n.as_f64().unwrap_or(f64::NAN);
        if f64::from(x as f32) == x {
            e.f32(x as f32)?;
        } else {
            e.f64(x)?;
        }
    }
    Ok(())
}

/// A timestamp member's value in epoch seconds (millisecond resolution), if it is a number or RFC 3339 text.
fn epoch_seconds(key: &str, value: &Value) -> Option<Number> {
    if !TIMESTAMP_MEMBERS.contains(&key) {
        return None;
    }
    match value {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => {
            let at = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()?;
            let millis = at.unix_timestamp_nanos() / 1_000_000;
            if millis % 1000 == 0 {
                Some(Number::from(i64::try_from(millis / 1000).ok()?))
            } else {
                Number::from_f64(millis as f64 / 1000.0)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const GOOD: &[(&str, &str)] = &[
        ("smithy-protocol", "rpc-v2-cbor"),
        ("content-type", "application/cbor"),
        ("accept", "application/cbor"),
    ];

    fn uri(path: &str) -> Uri {
        path.parse().unwrap()
    }

    /// A VIF as DescribeVirtualInterfaces answers it, with a 4-byte ASN.
    fn vif() -> Value {
        json!({
            "virtualInterfaces": [{
                "virtualInterfaceId": "dxvif-fg1vuj3d",
                "vlan": 125,
                "asn": 0,
                "asnLong": 4200000010u64,
                "amazonSideAsn": 64512,
                "jumboFrameCapable": false,
                "routeFilterPrefixes": [],
                "tags": [{"key": "team", "value": "network"}],
                "bgpPeers": [{"bgpPeerId": "dxpeer-fg1v4v4e", "asn": 0, "asnLong": 4200000010u64,
                              "customerAddress": "2001:db8:1100:2f0:0:1:9cb4:4216/125"}],
            }],
        })
    }

    #[test]
    fn engine_values_round_trip() {
        let values = [
            vif(),
            json!({}),
            json!({"n": -1, "min": i64::MIN, "max": u64::MAX, "half": 0.5, "third": 1.0 / 3.0,
                   "t": true, "f": false, "s": "é ✓", "nested": [[1, [2]], {"a": {"b": []}}]}),
        ];
        for value in values {
            assert_eq!(decode(&encode(&value)).unwrap(), value, "{value}");
        }
    }

    #[test]
    fn integers_take_their_smallest_form() {
        assert_eq!(hex(&encode(&json!({"a": 1}))), "a1616101");
        assert_eq!(hex(&encode(&json!(23))), "17");
        assert_eq!(hex(&encode(&json!(24))), "1818");
        assert_eq!(hex(&encode(&json!(65000))), "19fde8");
        // A 4-byte ASN is a 32-bit unsigned integer.
        assert_eq!(hex(&encode(&json!(4200000010u64))), "1afa56ea0a");
        assert_eq!(hex(&encode(&json!(-1))), "20");
        assert_eq!(hex(&encode(&json!(-500))), "3901f3");
        assert_eq!(hex(&encode(&json!(u64::MAX))), "1bffffffffffffffff");
    }

    #[test]
    fn floats_are_single_or_double_never_half() {
        // 0.5 fits a half float; the spec says SHOULD NOT, so single precision.
        assert_eq!(hex(&encode(&json!(0.5))), "fa3f000000");
        assert_eq!(hex(&encode(&json!(0.1))), "fb3fb999999999999a");
    }

    #[test]
    fn null_members_are_omitted_but_null_list_items_kept() {
        let bytes = encode(&json!({"a": null, "b": [null, 1]}));
        assert_eq!(hex(&bytes), "a1616282f601");
        assert_eq!(decode(&bytes).unwrap(), json!({"b": [null, 1]}));
    }

    #[test]
    fn timestamp_members_are_tag_1() {
        // loaIssueTime 1700000000: c1 (tag 1) 1a 6553f100.
        let bytes = encode(&json!({"loaIssueTime": 1700000000}));
        assert_eq!(hex(&bytes), "a16c6c6f61497373756554696d65c11a6553f100");
        // Decoding gives the epoch seconds back, as JSON 1.1 carries them.
        assert_eq!(decode(&bytes).unwrap(), json!({"loaIssueTime": 1700000000}));
        // RFC 3339 text (pasted CLI output) is converted; fractions keep milliseconds as a double.
        let bytes = encode(&json!({"loaIssueTime": "2023-11-14T22:13:20.5Z"}));
        assert!(
            hex(&bytes).ends_with("c1fb41d954fc40200000"),
            "{}",
            hex(&bytes)
        );
        assert_eq!(
            decode(&bytes).unwrap(),
            json!({"loaIssueTime": 1700000000.5})
        );
        assert_eq!(
            decode(&encode(&json!({"startTime": "2023-11-14T22:13:20Z"}))).unwrap(),
            json!({"startTime": 1700000000})
        );
        // Other members, and text that is no timestamp, are left alone.
        assert_eq!(hex(&encode(&json!({"vlan": 1}))), "a164766c616e01");
        let odd = json!({"loaIssueTime": "soon"});
        assert_eq!(decode(&encode(&odd)).unwrap(), odd);
    }

    #[test]
    fn decodes_what_other_encoders_may_send() {
        // Indefinite-length map, array and text; a half float; undefined (read as null, hence absent).
        let bytes = unhex(
            "bf 63 61736e 19fde8 \
                62 6166 7f 62 6970 62 7634 ff \
                61 78 9f 01 f93c00 ff \
                61 75 f7 \
                ff",
        );
        assert_eq!(
            decode(&bytes).unwrap(),
            json!({"asn": 65000, "af": "ipv4", "x": [1, 1.0]})
        );
        // Tag 1 around a float, and the largest negative 64-bit integer.
        assert_eq!(
            decode(&unhex(
                "a2 6174 c1 fb41d954fc40200000 616e 3b7fffffffffffffff"
            ))
            .unwrap(),
            json!({"t": 1700000000.5, "n": i64::MIN})
        );
    }

    #[test]
    fn refuses_what_json_cannot_carry() {
        for (what, bytes) in [
            ("a byte string", "a1 6162 43 010203"),
            ("a bignum tag", "a1 6162 c2 41 01"),
            ("a tag 1 around text", "a1 6174 c1 6161"),
            ("an integer below i64::MIN", "3bffffffffffffffff"),
            ("NaN", "f97e00"),
            ("infinity", "fa7f800000"),
            ("a non-text key", "a1 01 02"),
            ("a simple value", "e0"),
            ("a truncated map", "a2 6161 01"),
            ("a truncated text", "63 6161"),
            ("trailing bytes", "a0 a0"),
            ("a stray break", "ff"),
            ("invalid UTF-8", "61 ff"),
            ("nothing", ""),
        ] {
            assert!(decode(&unhex(bytes)).is_err(), "{what} was accepted");
        }
        // Deep nesting is an error, not a stack overflow.
        let deep = [vec![0x81u8; 10_000], vec![0x01]].concat();
        assert!(decode(&deep).unwrap_err().contains("nested deeper"));
        let fine = [vec![0x81u8; MAX_DEPTH], vec![0x01]].concat();
        assert!(decode(&fine).is_ok());
    }

    #[test]
    fn routes_on_the_last_four_segments() {
        assert_eq!(
            route("/service/OvertureService/operation/CreateBGPPeer"),
            Some(("OvertureService", "CreateBGPPeer"))
        );
        assert_eq!(
            route("/v1/prefix/service/OvertureService/operation/DescribeLags"),
            Some(("OvertureService", "DescribeLags"))
        );
        for path in [
            "/",
            "/service/OvertureService",
            "/service/OvertureService/operation/",
            "/service/OvertureService/operation/X/",
            "/services/OvertureService/operation/X",
            "service/OvertureService/operation/X",
        ] {
            let got = route(path);
            assert!(
                got.is_none() || got.is_some_and(|(_, op)| op.is_empty()),
                "{path}"
            );
        }
    }

    #[test]
    fn operation_needs_the_protocol_header_and_the_service() {
        let ok = |path: &str, h: &HeaderMap| operation(&uri(path), h);
        let good = headers(GOOD);
        assert_eq!(
            ok(
                "/service/OvertureService/operation/DescribeConnections",
                &good
            )
            .unwrap(),
            "DescribeConnections"
        );
        assert_eq!(
            ok(
                "/service/com.amazonaws.directconnect.OvertureService/operation/DescribeConnections",
                &good
            )
            .unwrap(),
            "DescribeConnections"
        );
        let status = |path: &str, h: &[(&'static str, &'static str)]| {
            let e = ok(path, &headers(h)).unwrap_err();
            (e.status.as_u16(), e.code)
        };
        let path = "/service/OvertureService/operation/DescribeConnections";
        let not_found = (404, "UnknownOperationException");
        assert_eq!(status(path, &GOOD[1..]), not_found, "no smithy-protocol");
        assert_eq!(
            status(path, &[("smithy-protocol", "rpc-v2-json")]),
            not_found
        );
        assert_eq!(
            status("/service/Nope/operation/DescribeConnections", GOOD),
            not_found
        );
        assert_eq!(
            status(
                "/service/other.OvertureService/operation/DescribeConnections",
                GOOD
            ),
            not_found
        );
        // The operation segment is a name, never an absolute shape id.
        assert_eq!(
            status(
                "/service/OvertureService/operation/com.amazonaws.directconnect.DescribeConnections",
                GOOD
            ),
            not_found
        );
        let with_target = [
            GOOD,
            &[("x-amz-target", "OvertureService.DescribeConnections")],
        ]
        .concat();
        assert_eq!(status(path, &with_target), (400, "SerializationException"));
        let with_target = [
            GOOD,
            &[("x-amzn-target", "OvertureService.DescribeConnections")],
        ]
        .concat();
        assert_eq!(status(path, &with_target), (400, "SerializationException"));
        assert_eq!(
            status(path, &[GOOD[0], ("accept", "application/json")]),
            (406, "NotAcceptableException")
        );
        for accept in ["*/*", "application/cbor; q=1", "text/html, application/*"] {
            let h = [GOOD[0], ("accept", accept)];
            assert!(ok(path, &headers(&h)).is_ok(), "{accept}");
        }
    }

    #[test]
    fn identifiers() {
        for id in ["a", "_a", "_0", "__0", "DescribeVirtualInterfaces", "x_1"] {
            assert!(is_identifier(id), "{id}");
        }
        for id in ["", "_", "0a", "a.b", "a-b", "a#b", "é"] {
            assert!(!is_identifier(id), "{id}");
        }
    }

    #[test]
    fn input_is_a_cbor_map_sent_as_cbor() {
        let good = headers(GOOD);
        assert_eq!(input(&good, b"").unwrap(), json!({}));
        assert_eq!(input(&good, &unhex("a0")).unwrap(), json!({}));
        let body = encode(&json!({"virtualInterfaceId": "dxvif-fg1vuj3d"}));
        assert_eq!(
            input(&good, &body).unwrap(),
            json!({"virtualInterfaceId": "dxvif-fg1vuj3d"})
        );
        let json_typed = headers(&[("content-type", "application/x-amz-json-1.1")]);
        let e = input(&json_typed, &body).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code),
            (415, "UnsupportedMediaTypeException")
        );
        let e = input(&good, b"{}").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "SerializationException"));
        let e = input(&good, &encode(&json!([1]))).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (400, "SerializationException"));
    }

    #[test]
    fn errors_carry_an_absolute_shape_id() {
        assert_eq!(
            shape_id("DirectConnectClientException"),
            "com.amazonaws.directconnect#DirectConnectClientException"
        );
        assert_eq!(
            shape_id("DirectConnectServerException"),
            "com.amazonaws.directconnect#DirectConnectServerException"
        );
        assert_eq!(
            shape_id("ThrottlingException"),
            "com.amazon.coral.availability#ThrottlingException"
        );
        assert_eq!(
            shape_id("InvalidSignatureException"),
            "com.amazon.coral.service#InvalidSignatureException"
        );
    }

    #[tokio::test]
    async fn responses_are_cbor_with_the_protocol_header() {
        let read = |resp: Response| async move {
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, headers, decode(&body).unwrap())
        };
        let (status, h, body) = read(ok(&vif())).await;
        assert_eq!((status, body), (200, vif()));
        assert_eq!(h["content-type"], "application/cbor");
        assert_eq!(h["smithy-protocol"], "rpc-v2-cbor");

        let (status, h, body) = read(error(&ApiError::client(
            "Virtual interface dxvif-x does not exist",
        )))
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"__type": "com.amazonaws.directconnect#DirectConnectClientException",
                   "message": "Virtual interface dxvif-x does not exist"})
        );
        assert_eq!(h["content-type"], "application/cbor");
        assert_eq!(h["smithy-protocol"], "rpc-v2-cbor");
        assert!(h.get("x-amzn-errortype").is_none());
        let throttled = ApiError::other(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
        );
        let (status, _, body) = read(error(&throttled)).await;
        assert_eq!(status, 400);
        assert_eq!(
            body["__type"],
            "com.amazon.coral.availability#ThrottlingException"
        );
    }
}
