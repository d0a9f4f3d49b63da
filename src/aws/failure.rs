//! What went wrong with an API call, in the terms the executor acts on: retry, re-check, or give up.

use std::fmt;

use aws_sdk_directconnect::error::{ProvideErrorMetadata, SdkError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// "… is currently in a transitioning state": refused, nothing changed; retry later.
    Transitioning,
    /// Throttled: refused, nothing changed; retry later.
    Throttled,
    /// A 5xx: the call may or may not have taken effect.
    Server,
    /// No response (connection dropped, timeout): the call may or may not have taken effect.
    Lost,
    /// Refused for good (a rule, a bad request).
    Rejected,
}

/// A failed Direct Connect call. Its message never contains request parameters, so no auth key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// Classifies an SDK error.
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        match err {
            SdkError::DispatchFailure(_)
            | SdkError::TimeoutError(_)
            | SdkError::ResponseError(_) => Failure {
                kind: FailureKind::Lost,
                code: None,
                message: format!(
                    "no response: {}",
                    aws_sdk_directconnect::error::DisplayErrorContext(err)
                ),
            },
            _ => {
                let code = err.code().map(str::to_string);
                let message = err.message().unwrap_or("(no message)").to_string();
                let kind = match code.as_deref() {
                    Some(
                        "ThrottlingException"
                        | "Throttling"
                        | "TooManyRequestsException"
                        | "RequestLimitExceeded",
                    ) => FailureKind::Throttled,
                    Some(
                        "DirectConnectServerException" | "InternalFailure" | "ServiceUnavailable",
                    ) => FailureKind::Server,
                    _ if message.contains("transitioning state") => FailureKind::Transitioning,
                    _ => FailureKind::Rejected,
                };
                Failure {
                    kind,
                    code,
                    message,
                }
            }
        }
    }

    /// Whether a refused DeleteBGPPeer says the peer is already deleting, deleted or no longer there: the delete's
    /// goal is met. (The API has one error code for every refusal, so only the message tells.)
    pub fn peer_already_gone(&self) -> bool {
        self.kind == FailureKind::Rejected
            && ["already deleting", "already deleted", "does not exist"]
                .iter()
                .any(|m| self.message.contains(m))
    }

    /// The failure behind an error, if it came from a call.
    pub fn of(err: &anyhow::Error) -> Option<&Failure> {
        err.chain().find_map(|e| e.downcast_ref::<Failure>())
    }
}
