//! What a Direct Connect call can end in, as data: the classified [`Failure`] of a call AWS answered (or did not),
//! or an answer dxctl cannot use. Callers act on the variant; nothing reads messages.

use std::fmt;

use super::failure::Failure;
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
            AwsError::Call { failure, .. } => Some(failure),
            AwsError::RepeatedToken { .. } | AwsError::Unusable(_) => None,
        }
    }
}

#[cfg(test)]
impl AwsError {
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
