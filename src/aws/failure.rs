//! What went wrong with an API call, in the terms the executor acts on: retry, re-check, or give up.

use std::fmt;

use aws_sdk_directconnect::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

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
    /// Classifies an SDK error. Only an answer that positively says nothing happened (a 4xx refusal, a throttle)
    /// is a refusal; a 5xx is a server failure whatever its code (or none: a load balancer's HTML page); no answer,
    /// and anything unexpected, is lost. The last two may have taken effect.
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let lost = |what: &str| Failure {
            kind: FailureKind::Lost,
            code: None,
            message: format!(
                "{what}: {}",
                aws_sdk_directconnect::error::DisplayErrorContext(err)
            ),
        };
        let status = match err {
            SdkError::ConstructionFailure(_) => {
                // Never sent.
                return Failure {
                    kind: FailureKind::Rejected,
                    code: None,
                    message: format!(
                        "the request could not be built: {}",
                        aws_sdk_directconnect::error::DisplayErrorContext(err)
                    ),
                };
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => return lost("no response"),
            SdkError::ResponseError(_) => {
                // Not its text: an unreadable answer's error can quote the body, which holds auth keys.
                return Failure {
                    kind: FailureKind::Lost,
                    code: None,
                    message: "an answer that could not be read".into(),
                };
            }
            _ => match err.raw_response() {
                Some(raw) => raw.status().as_u16(),
                None => return lost("an answer without a status"),
            },
        };
        let code = err.code().map(str::to_string);
        let message = err.message().unwrap_or("(no message)").to_string();
        let throttling = matches!(
            code.as_deref(),
            Some(
                "ThrottlingException"
                    | "Throttling"
                    | "ThrottledException"
                    | "RequestThrottledException"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "SlowDown"
            )
        ) || status == 429;
        let kind = if throttling {
            FailureKind::Throttled
        } else if status >= 500 {
            FailureKind::Server
        } else if (400..500).contains(&status) && message.contains("transitioning state") {
            FailureKind::Transitioning
        } else if (400..500).contains(&status) {
            FailureKind::Rejected
        } else {
            // Not the SDK's error context: it carries the answer's body, which holds auth keys (a 200 whose body
            // does not deserialize ends up here).
            return Failure {
                kind: FailureKind::Lost,
                code: None,
                message: format!(
                    "an unexpected HTTP {status} (the answer is not shown: it may hold auth keys)"
                ),
            };
        };
        let message = if kind == FailureKind::Server && code.is_none() {
            format!("HTTP {status} without an error code")
        } else {
            message
        };
        Failure {
            kind,
            code,
            message,
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
