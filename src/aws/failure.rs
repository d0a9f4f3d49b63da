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

/// Why a call never got to Direct Connect, from the SDK's typed error: the connection, the endpoint or the
/// credentials on this side. What a person is told to check follows from it ([`super::Hint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreached {
    /// No connection to the endpoint; `reason` says why ("connection refused", a name that does not resolve…).
    Connect { reason: String },
    /// No answer in time.
    Timeout,
    /// The endpoint URL cannot be used (no scheme, say).
    BadEndpoint,
    /// No credentials anywhere in the chain (environment, profiles, SSO, container, instance metadata).
    NoCredentials,
    /// A credential provider failed: a profile that is wrong, an SSO session that expired, a process that failed.
    CredentialsFailed,
}

impl Unreached {
    /// Classifies an SDK error that never reached the service, from the types in its source chain (credential
    /// provider errors, endpoint resolution errors, I/O errors) and the dispatch failure's kind; `None` when the
    /// service answered (or the error is of no kind this knows).
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Option<Unreached>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let SdkError::TimeoutError(_) = err {
            return Some(Unreached::Timeout);
        }
        if !matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
        ) {
            return None;
        }
        let mut io = None;
        let mut connecting = false;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(c) =
                e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            {
                return Some(match c {
                    aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_) => {
                        Unreached::NoCredentials
                    }
                    _ => Unreached::CredentialsFailed,
                });
            }
            if e.is::<aws_smithy_runtime_api::client::endpoint::error::ResolveEndpointError>() {
                return Some(Unreached::BadEndpoint);
            }
            // The HTTP client's own error says whether it failed while connecting (DNS, TCP, TLS), before
            // anything was sent, or later (a connection that closed mid-answer is no connection problem).
            if let Some(client) = e.downcast_ref::<hyper_util::client::legacy::Error>() {
                connecting |= client.is_connect();
            }
            if let Some(found) = e.downcast_ref::<std::io::Error>() {
                io.get_or_insert(found);
            }
            source = e.source();
        }
        let dispatch = match err {
            SdkError::DispatchFailure(d) => d,
            _ => return None,
        };
        let refused = io.is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
        if dispatch.is_timeout() {
            Some(Unreached::Timeout)
        } else if dispatch.is_io() && (connecting || refused) {
            Some(Unreached::Connect {
                reason: io.map_or_else(|| "no connection".to_string(), io_reason),
            })
        } else {
            None
        }
    }

    /// Whether trying again could help: a connection or a timeout may pass; a bad endpoint or missing credentials
    /// do not.
    pub fn kind(&self) -> FailureKind {
        match self {
            Unreached::Connect { .. } | Unreached::Timeout => FailureKind::Lost,
            Unreached::BadEndpoint | Unreached::NoCredentials | Unreached::CredentialsFailed => {
                FailureKind::Rejected
            }
        }
    }

    /// One line saying what went wrong, naming the endpoint (when one was set) as `endpoint`.
    pub fn describe(&self, endpoint: &str) -> String {
        match self {
            Unreached::Connect { reason } => format!("cannot connect to {endpoint} ({reason})"),
            Unreached::Timeout => format!("no answer from {endpoint} in time"),
            Unreached::BadEndpoint => format!("cannot use the endpoint URL {endpoint}"),
            Unreached::NoCredentials => "no AWS credentials found".to_string(),
            Unreached::CredentialsFailed => "the AWS credentials could not be loaded".to_string(),
        }
    }
}

/// An I/O error's reason as a person reads it: its kind for the common ones, else its text (a name that does not
/// resolve says so there).
fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => "connection refused".into(),
        ErrorKind::ConnectionReset => "connection reset".into(),
        ErrorKind::ConnectionAborted => "connection aborted".into(),
        ErrorKind::TimedOut => "timed out".into(),
        ErrorKind::HostUnreachable => "host unreachable".into(),
        ErrorKind::NetworkUnreachable => "network unreachable".into(),
        ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => e.to_string(),
    }
}

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
