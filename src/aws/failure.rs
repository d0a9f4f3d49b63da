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
    /// Refused because the peer is already deleting, deleted or no longer there: a delete's goal is met.
    AlreadyGone,
    /// Refused for good (a rule, a bad request).
    Rejected,
}

/// What a 4xx refusal's message says, for the refusals the API gives no code of their own: every one is a
/// `DirectConnectClientException`, so only the text tells them apart. Matched once, here, into a [`FailureKind`];
/// nothing else reads messages. Texts as the API sends them (also matched by terraform-provider-aws).
const REFUSAL_TEXTS: &[(&str, FailureKind)] = &[
    ("transitioning state", FailureKind::Transitioning),
    ("already deleting", FailureKind::AlreadyGone),
    ("already deleted", FailureKind::AlreadyGone),
    ("does not exist", FailureKind::AlreadyGone),
];

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

/// The kind of an error answer, from its HTTP status, error code and message; `None` for a status that is no
/// error (the answer then could not be read).
fn classify(status: u16, code: Option<&str>, message: &str) -> Option<FailureKind> {
    let throttling = matches!(
        code,
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
    if throttling {
        Some(FailureKind::Throttled)
    } else if status >= 500 {
        Some(FailureKind::Server)
    } else if (400..500).contains(&status) {
        Some(
            REFUSAL_TEXTS
                .iter()
                .find(|(text, _)| message.contains(text))
                .map_or(FailureKind::Rejected, |(_, kind)| *kind),
        )
    } else {
        None
    }
}

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
                    message: "an answer that could not be read (not shown: it may hold auth keys)"
                        .into(),
                };
            }
            _ => match err.raw_response() {
                Some(raw) => raw.status().as_u16(),
                None => return lost("an answer without a status"),
            },
        };
        let code = err.code().map(str::to_string);
        let message = err.message().unwrap_or("(no message)").to_string();
        let Some(kind) = classify(status, code.as_deref(), &message) else {
            // Not the SDK's error context: it carries the answer's body, which holds auth keys (a 200 whose body
            // does not deserialize ends up here).
            return Failure {
                kind: FailureKind::Lost,
                code: None,
                message: format!(
                    "HTTP {status}: an answer that could not be read (not shown: it may hold auth keys)"
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
}

#[cfg(test)]
mod tests {
    use super::{classify, FailureKind};

    #[test]
    fn answers_are_classified_by_status_code_and_the_api_s_refusal_texts() {
        let client = Some("DirectConnectClientException");
        let cases = [
            (
                400,
                Some("ThrottlingException"),
                "Rate exceeded",
                Some(FailureKind::Throttled),
            ),
            (429, None, "", Some(FailureKind::Throttled)),
            (
                500,
                Some("DirectConnectServerException"),
                "x",
                Some(FailureKind::Server),
            ),
            (502, None, "<html>", Some(FailureKind::Server)),
            (
                400,
                client,
                "The Virtual interface dxvif-1 is currently in a transitioning state.",
                Some(FailureKind::Transitioning),
            ),
            (
                400,
                client,
                "BGP peer dxpeer-1 is already deleted",
                Some(FailureKind::AlreadyGone),
            ),
            (
                400,
                client,
                "BGP peer dxpeer-1 does not exist",
                Some(FailureKind::AlreadyGone),
            ),
            (
                400,
                client,
                "The last BGP Peer on a Virtual Interface cannot be deleted",
                Some(FailureKind::Rejected),
            ),
            (200, None, "", None),
            (302, None, "", None),
        ];
        for (status, code, message, want) in cases {
            assert_eq!(
                classify(status, code, message),
                want,
                "{status} {code:?} {message}"
            );
        }
    }
}
