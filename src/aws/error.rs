//! What a Direct Connect call can end in, as data: the classified [`Failure`] of a call AWS answered (or did not),
//! or an answer dxctl cannot use. Callers act on the variant; nothing reads messages.

use std::fmt;

use super::failure::{Failure, Unreached};
use crate::model::Scope;

/// The Direct Connect operations dxctl calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    DescribeVirtualInterfaces,
    DescribeConnections,
    DescribeLags,
    CreateBgpPeer,
    DeleteBgpPeer,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::DescribeVirtualInterfaces => "DescribeVirtualInterfaces",
            Operation::DescribeConnections => "DescribeConnections",
            Operation::DescribeLags => "DescribeLags",
            Operation::CreateBgpPeer => "CreateBGPPeer",
            Operation::DeleteBgpPeer => "DeleteBGPPeer",
        })
    }
}

/// A Direct Connect call that did not give dxctl what it asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// The call failed: refused, throttled, a server error, or no answer at all.
    #[error("{operation} in {scope} failed: {failure}")]
    Call {
        operation: Operation,
        scope: Scope,
        failure: Failure,
    },
    /// The call never got to Direct Connect: no connection, an endpoint URL that cannot be used, no credentials.
    /// `failure` says whether to try again; `detail` is the SDK's whole error chain, shown only at `-v` (it holds
    /// no answer body, so no auth key, and never a credential value).
    #[error("{operation} in {scope} failed: {failure}")]
    Unreached {
        operation: Operation,
        scope: Scope,
        /// The endpoint URL set by --endpoint-url or the AWS config (`None`: AWS's own for the region).
        endpoint: Option<String>,
        cause: Unreached,
        failure: Failure,
        detail: String,
    },
    /// A listing whose pages would never end.
    #[error("{operation} in {scope}: the service gave the same nextToken twice; stopping")]
    RepeatedToken { operation: Operation, scope: Scope },
    /// An answer that parsed but lacks what the API promises, or holds a value dxctl cannot represent.
    #[error(transparent)]
    Unusable(#[from] Unusable),
}

/// What is wrong with an answer that parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("{0} returned no virtualInterface")]
    NoVirtualInterface(Operation),
    #[error("a virtual interface without virtualInterfaceId")]
    NoVifId,
    #[error("virtual interface {vif} has a BGP peer with address family {family:?}")]
    AddressFamily { vif: String, family: Option<String> },
    #[error("virtual interface {vif} has a BGP peer with invalid ASN {raw}")]
    Asn { vif: String, raw: i64 },
}

impl AwsError {
    /// The classified failure of the call, when it failed as a call (not on an unusable answer).
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            AwsError::Call { failure, .. } | AwsError::Unreached { failure, .. } => Some(failure),
            AwsError::RepeatedToken { .. } | AwsError::Unusable(_) => None,
        }
    }
}

/// What a person reads when a call fails in a way they can fix: the cause in one line, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub cause: String,
    pub advice: String,
}

/// The IAM actions dxctl needs, for the advice on a refusal.
const IAM_ACTIONS: &str =
    "directconnect:DescribeVirtualInterfaces, DescribeConnections, DescribeLags, \
                           CreateBGPPeer and DeleteBGPPeer";

impl AwsError {
    /// The cause and advice for a failure with a fix on the user's side (connection, endpoint, credentials,
    /// permissions), from the classified cause or the service's error code; `None` for the rest, whose message
    /// says enough.
    pub fn hint(&self) -> Option<Hint> {
        let hint = |cause: String, advice: String| Some(Hint { cause, advice });
        match self {
            AwsError::Unreached {
                cause,
                endpoint,
                failure,
                ..
            } => {
                let advice = match (cause, endpoint) {
                    (Unreached::Connect { .. } | Unreached::Timeout, Some(_)) => {
                        "is the endpoint right? Check --endpoint-url (or AWS_ENDPOINT_URL), that the service \
                         listens there, and any proxy or firewall in between"
                            .to_string()
                    }
                    (Unreached::Connect { .. } | Unreached::Timeout, None) => {
                        "check the network path to AWS (DNS, proxy, firewall; HTTPS_PROXY if you need one) and \
                         the region"
                            .to_string()
                    }
                    (Unreached::BadEndpoint, Some(url)) if !url.contains("://") => format!(
                        "an endpoint URL needs its scheme: --endpoint-url http://{url} (or https://{url})"
                    ),
                    (Unreached::BadEndpoint, _) => {
                        "give --endpoint-url a URL such as https://directconnect.us-east-1.amazonaws.com"
                            .to_string()
                    }
                    (Unreached::NoCredentials, _) => {
                        "set AWS_PROFILE (or `profile` in the provider block), or AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`"
                            .to_string()
                    }
                    (Unreached::CredentialsFailed, _) => {
                        "check the profile's configuration (`aws configure list`), or log in again with \
                         `aws sso login`; -v shows the credential provider's error"
                            .to_string()
                    }
                };
                hint(failure.message.clone(), advice)
            }
            AwsError::Call {
                operation,
                scope,
                failure,
            } => match failure.code.as_deref()? {
                "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation"
                | "UnauthorizedException" => hint(
                    format!("not authorised to call {operation} in {scope}"),
                    format!(
                        "the IAM policy needs directconnect:{operation} (dxctl uses {IAM_ACTIONS})"
                    ),
                ),
                "ExpiredTokenException" | "ExpiredToken" => hint(
                    "the AWS session token has expired".to_string(),
                    "refresh your credentials (`aws sso login`, or new temporary credentials from \
                     `aws sts assume-role`) and run again"
                        .to_string(),
                ),
                "UnrecognizedClientException" | "InvalidClientTokenId" => hint(
                    "AWS does not recognise the access key".to_string(),
                    "check which credentials are in use (`aws sts get-caller-identity`): \
                     AWS_ACCESS_KEY_ID, AWS_PROFILE, or the provider block's `profile`"
                        .to_string(),
                ),
                "InvalidSignatureException" | "SignatureDoesNotMatch" => hint(
                    "AWS refused the request's signature".to_string(),
                    "check the secret access key that goes with the access key, and that this machine's \
                     clock is right (requests more than 15 minutes off are refused)"
                        .to_string(),
                ),
                _ => None,
            },
            AwsError::RepeatedToken { .. } | AwsError::Unusable(_) => None,
        }
    }

    /// The SDK's whole error chain, for `-v`, when there is more to it than the message.
    pub fn detail(&self) -> Option<&str> {
        match self {
            AwsError::Unreached { detail, .. } => Some(detail),
            _ => None,
        }
    }
}

#[cfg(test)]
impl AwsError {
    /// What a scripted fake answers for an operation its test never makes.
    pub fn not_scripted(operation: Operation) -> AwsError {
        AwsError::failed(
            operation,
            super::FailureKind::Rejected,
            None,
            "not scripted for this test",
        )
    }

    /// A failed call, as scripted fakes answer.
    pub fn failed(
        operation: Operation,
        kind: super::FailureKind,
        code: Option<&str>,
        message: &str,
    ) -> AwsError {
        AwsError::Call {
            operation,
            scope: Scope::region("test-region"),
            failure: Failure {
                kind,
                code: code.map(str::to_string),
                message: message.into(),
            },
        }
    }
}
