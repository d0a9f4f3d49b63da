//! The S3 client the store uses: the AWS config chain, narrowed by the backend's settings.

use std::time::Duration;

use aws_sdk_s3::Client;

use super::S3Settings;

/// Attempts per S3 call (the SDK retries throttling, 5xx answers and lost connections with backoff).
const S3_ATTEMPTS: u32 = 6;

/// The S3 client: the AWS config chain, narrowed by the settings. A custom endpoint (the settings',
/// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`) gets path-style addressing, which S3-compatible servers expect.
pub(super) async fn client_for(
    settings: S3Settings,
    call_timeout: Option<Duration>,
) -> std::result::Result<Client, String> {
    use aws_config::{BehaviorVersion, Region};
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(crate::aws::https_client());
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(limit) = call_timeout {
        loader = loader.timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(limit)
                .build(),
        );
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(
            "no region for the state bucket: set `region` in the backend \"s3\" block, or AWS_REGION".into(),
        );
    }
    let custom_endpoint = settings.endpoint.is_some()
        || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    // More attempts than the SDK's default 3: a transient failure at the end of a run would otherwise leave the
    // lock behind for someone to force-unlock, or the state without the run's last steps.
    let retries = aws_sdk_s3::config::retry::RetryConfig::standard()
        .with_max_attempts(S3_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(100));
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(custom_endpoint)
        .retry_config(retries)
        .build();
    Ok(Client::from_conf(conf))
}
