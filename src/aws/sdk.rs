//! The `DirectConnect` implementation over aws-sdk-directconnect, converting SDK shapes into dxctl's own types.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_directconnect::types::{self as sdk_types, NewBgpPeer};
use aws_sdk_directconnect::Client;
use aws_smithy_http_client::tls;

use aws_sdk_directconnect::config::retry::RetryConfig;
use aws_sdk_directconnect::config::timeout::TimeoutConfig;

use super::failure::Unreached;
use super::{AwsError, DirectConnect, Failure, NewPeer, Operation, Unusable};
use crate::model::{
    AddressFamily, Asn, BgpStatus, ObservedPeer, ObservedVif, PeerState, Redundancy, Scope, Secret,
    VifId, VifState, VifType,
};

/// How to reach Direct Connect: the standard AWS chain, optionally with a fixed endpoint and credentials.
#[derive(Clone, Debug, Default)]
pub struct ClientSettings {
    pub endpoint_url: Option<String>,
    /// Static credentials (the sandbox uses these so no credential chain or metadata service is touched).
    pub static_credentials: Option<(String, String)>,
    pub profile: Option<String>,
    /// The client's default region; when set, the region chain (and its metadata lookup) is skipped.
    pub region: Option<String>,
    /// The most one call (one attempt of a describe) may take; `None` leaves the SDK's default (no limit).
    pub call_timeout: Option<std::time::Duration>,
}

/// Direct Connect through the SDK: one shared config per AWS profile, one client per (profile, region).
pub struct SdkDirectConnect {
    /// The default chain's config, and one per named profile.
    bases: HashMap<Option<String>, SdkConfig>,
    /// Static credentials (the sandbox): every scope goes to the same endpoint, profiles are ignored.
    ignore_profiles: bool,
    call_timeout: Option<std::time::Duration>,
    clients: Mutex<HashMap<Scope, Client>>,
}

impl SdkDirectConnect {
    pub async fn new(settings: &ClientSettings) -> SdkDirectConnect {
        Self::with_profiles(settings, &BTreeSet::new()).await
    }

    /// Loads the default chain plus each named profile (ignored with static credentials).
    pub async fn with_profiles(
        settings: &ClientSettings,
        profiles: &BTreeSet<String>,
    ) -> SdkDirectConnect {
        let ignore_profiles = settings.static_credentials.is_some();
        let mut bases = HashMap::new();
        bases.insert(None, load(settings, settings.profile.as_deref()).await);
        if !ignore_profiles {
            for p in profiles {
                bases.insert(Some(p.clone()), load(settings, Some(p)).await);
            }
        }
        SdkDirectConnect {
            bases,
            ignore_profiles,
            call_timeout: settings.call_timeout,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The region the AWS config chain resolves (env, profile), if any.
    pub fn default_region(&self) -> Option<String> {
        self.bases[&None].region().map(|r| r.to_string())
    }

    /// The SDK client for a region of the default profile, for callers that need operations the trait does not cover.
    pub fn client(&self, region: &str) -> Client {
        self.scoped(&Scope::region(region))
    }

    /// The endpoint URL the SDK config sets (--endpoint-url, AWS_ENDPOINT_URL, a profile's), for error messages.
    fn endpoint(&self, scope: &Scope) -> Option<&str> {
        let profile = if self.ignore_profiles {
            None
        } else {
            scope.profile.clone()
        };
        self.bases
            .get(&profile)
            .unwrap_or(&self.bases[&None])
            .endpoint_url()
    }

    fn scoped(&self, scope: &Scope) -> Client {
        let profile = if self.ignore_profiles {
            None
        } else {
            scope.profile.clone()
        };
        let base = self.bases.get(&profile).unwrap_or(&self.bases[&None]);
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(scope.clone())
            .or_insert_with(|| {
                let conf = aws_sdk_directconnect::config::Builder::from(base)
                    .region(Region::new(scope.region.clone()))
                    .build();
                Client::from_conf(conf)
            })
            .clone()
    }
}

/// The HTTPS client every AWS SDK client of dxctl uses (rustls with ring).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

async fn load(settings: &ClientSettings, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(limit) = settings.call_timeout {
        loader = loader.timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(limit)
                .build(),
        );
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some((id, secret)) = &settings.static_credentials {
        loader = loader.credentials_provider(aws_sdk_directconnect::config::Credentials::new(
            id,
            secret,
            None,
            None,
            "dxctl-static",
        ));
    }
    loader.load().await
}

impl DirectConnect for SdkDirectConnect {
    async fn describe_virtual_interfaces(
        &self,
        scope: &Scope,
    ) -> Result<Vec<ObservedVif>, AwsError> {
        let client = self.scoped(scope);
        let endpoint = self.endpoint(scope);
        let operation = Operation::DescribeVirtualInterfaces;
        all_pages(operation, scope, |token| {
            let request = client.describe_virtual_interfaces().set_next_token(token);
            async {
                let resp = request
                    .send()
                    .await
                    .map_err(|e| call_failed(endpoint, operation, scope, &e))?;
                let vifs = resp
                    .virtual_interfaces()
                    .iter()
                    .map(|v| convert_vif(v, scope))
                    .collect::<Result<Vec<_>, Unusable>>()?;
                Ok((vifs, resp.next_token().map(str::to_string)))
            }
        })
        .await
    }

    async fn describe_logical_redundancy(
        &self,
        scope: &Scope,
    ) -> Result<BTreeMap<String, Redundancy>, AwsError> {
        let client = self.scoped(scope);
        let endpoint = self.endpoint(scope);
        let connections = all_pages(Operation::DescribeConnections, scope, |token| {
            let request = client.describe_connections().set_next_token(token);
            async {
                let resp = request.send().await.map_err(|e| {
                    call_failed(endpoint, Operation::DescribeConnections, scope, &e)
                })?;
                let facts = resp
                    .connections()
                    .iter()
                    .filter_map(|c| {
                        Some((
                            c.connection_id()?.to_string(),
                            redundancy(c.has_logical_redundancy()),
                        ))
                    })
                    .collect();
                Ok((facts, resp.next_token().map(str::to_string)))
            }
        });
        let lags = all_pages(Operation::DescribeLags, scope, |token| {
            let request = client.describe_lags().set_next_token(token);
            async {
                let resp = request
                    .send()
                    .await
                    .map_err(|e| call_failed(endpoint, Operation::DescribeLags, scope, &e))?;
                let facts = resp
                    .lags()
                    .iter()
                    .filter_map(|l| {
                        Some((
                            l.lag_id()?.to_string(),
                            redundancy(l.has_logical_redundancy()),
                        ))
                    })
                    .collect();
                Ok((facts, resp.next_token().map(str::to_string)))
            }
        });
        let (connections, lags) = tokio::try_join!(connections, lags)?;
        Ok(connections.into_iter().chain(lags).collect())
    }

    async fn delete_bgp_peer(
        &self,
        scope: &Scope,
        vif: &VifId,
        bgp_peer_id: &str,
    ) -> Result<ObservedVif, AwsError> {
        let operation = Operation::DeleteBgpPeer;
        let endpoint = self.endpoint(scope);
        let resp = self
            .scoped(scope)
            .delete_bgp_peer()
            .virtual_interface_id(&vif.0)
            .bgp_peer_id(bgp_peer_id)
            .customize()
            .config_override(self.single_attempt())
            .send()
            .await
            .map_err(|e| call_failed(endpoint, operation, scope, &e))?;
        let vif = resp
            .virtual_interface()
            .ok_or(Unusable::NoVirtualInterface(operation))?;
        Ok(convert_vif(vif, scope)?)
    }

    async fn create_bgp_peer(
        &self,
        scope: &Scope,
        vif: &VifId,
        peer: &NewPeer,
    ) -> Result<ObservedVif, AwsError> {
        let operation = Operation::CreateBgpPeer;
        let endpoint = self.endpoint(scope);
        let mut new = NewBgpPeer::builder().address_family(match peer.family {
            AddressFamily::Ipv4 => sdk_types::AddressFamily::IPv4,
            AddressFamily::Ipv6 => sdk_types::AddressFamily::IPv6,
        });
        new = if peer.asn.is_four_byte() {
            new.asn_long(i64::from(peer.asn.get()))
        } else {
            new.asn(peer.asn.get() as i32)
        };
        new = new
            .set_auth_key(peer.auth_key.as_ref().map(|k| k.expose().to_string()))
            .set_amazon_address(peer.amazon_address.clone())
            .set_customer_address(peer.customer_address.clone());
        // One attempt: a retried create after a lost response could duplicate the peer.
        // The executor re-describes first and decides.
        let resp = self
            .scoped(scope)
            .create_bgp_peer()
            .virtual_interface_id(&vif.0)
            .new_bgp_peer(new.build())
            .customize()
            .config_override(self.single_attempt())
            .send()
            .await
            .map_err(|e| call_failed(endpoint, operation, scope, &e))?;
        let vif = resp
            .virtual_interface()
            .ok_or(Unusable::NoVirtualInterface(operation))?;
        Ok(convert_vif(vif, scope)?)
    }
}

/// A call's SDK error as a classified [`Failure`] (or, when it never got to AWS, why): never the answer's raw
/// text, which can hold auth keys.
fn call_failed<E>(
    endpoint: Option<&str>,
    operation: Operation,
    scope: &Scope,
    e: &aws_sdk_directconnect::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> AwsError
where
    E: aws_sdk_directconnect::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let Some(cause) = Unreached::from_sdk(e) else {
        return AwsError::Call {
            operation,
            scope: scope.clone(),
            failure: Failure::from_sdk(e),
        };
    };
    let shown = match endpoint {
        Some(url) => url.to_string(),
        None => format!("the Direct Connect endpoint of {}", scope.region),
    };
    AwsError::Unreached {
        operation,
        scope: scope.clone(),
        endpoint: endpoint.map(str::to_string),
        failure: Failure {
            kind: cause.kind(),
            code: None,
            message: cause.describe(&shown),
        },
        // An endpoint that cannot be applied is reported with the whole request, body and all (auth keys).
        detail: if cause == Unreached::BadEndpoint {
            "the endpoint URL could not be applied to the request (the SDK's error is not shown: it quotes the \
             request, which may hold an auth key)"
                .to_string()
        } else {
            aws_sdk_directconnect::error::DisplayErrorContext(e).to_string()
        },
        cause,
    }
}

/// Every page of a listing: `page(token)` fetches one page's items and the next token. A token the service gives
/// twice would loop forever, so it is an error.
async fn all_pages<T, Fut>(
    operation: Operation,
    scope: &Scope,
    mut page: impl FnMut(Option<String>) -> Fut,
) -> Result<Vec<T>, AwsError>
where
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut token = None;
    loop {
        let (items, next) = page(token.take()).await?;
        out.extend(items);
        match next.filter(|t| !t.is_empty()) {
            Some(t) if !seen.insert(t.clone()) => {
                return Err(AwsError::RepeatedToken {
                    operation,
                    scope: scope.clone(),
                })
            }
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

impl SdkDirectConnect {
    /// Mutating calls are made once, within the call timeout; the executor decides what a failure means
    /// (see `apply::steps`).
    fn single_attempt(&self) -> aws_sdk_directconnect::config::Builder {
        let builder =
            aws_sdk_directconnect::config::Builder::default().retry_config(RetryConfig::disabled());
        match self.call_timeout {
            Some(limit) => builder.timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(limit)
                    .operation_attempt_timeout(limit)
                    .build(),
            ),
            None => builder,
        }
    }
}

fn redundancy(value: Option<&sdk_types::HasLogicalRedundancy>) -> Redundancy {
    Redundancy::parse(value.map_or("unknown", |v| v.as_str()))
}

/// Converts an SDK VIF at once, so its clear-text auth keys live only inside `Secret`.
fn convert_vif(vif: &sdk_types::VirtualInterface, scope: &Scope) -> Result<ObservedVif, Unusable> {
    let id = vif.virtual_interface_id().ok_or(Unusable::NoVifId)?;
    let mut peers = Vec::new();
    for p in vif.bgp_peers() {
        let family = match p.address_family() {
            Some(sdk_types::AddressFamily::IPv4) => AddressFamily::Ipv4,
            Some(sdk_types::AddressFamily::IPv6) => AddressFamily::Ipv6,
            other => {
                return Err(Unusable::AddressFamily {
                    vif: id.to_string(),
                    family: other.map(|f| f.as_str().to_string()),
                })
            }
        };
        let raw = match p.asn_long() {
            Some(long) if long > 0 => long,
            _ => i64::from(p.asn()),
        };
        let asn = u64::try_from(raw)
            .ok()
            .and_then(|v| Asn::new(v).ok())
            .ok_or_else(|| Unusable::Asn {
                vif: id.to_string(),
                raw,
            })?;
        peers.push(ObservedPeer {
            bgp_peer_id: p.bgp_peer_id().map(str::to_string),
            family,
            asn,
            auth_key: p.auth_key().map(Secret::new),
            amazon_address: p.amazon_address().map(str::to_string),
            customer_address: p.customer_address().map(str::to_string),
            state: PeerState::parse(p.bgp_peer_state().map_or("unknown", |s| s.as_str())),
            bgp_status: BgpStatus::parse(p.bgp_status().map_or("unknown", |s| s.as_str())),
        });
    }
    Ok(ObservedVif {
        id: VifId(id.to_string()),
        scope: scope.clone(),
        state: VifState::parse(
            vif.virtual_interface_state()
                .map_or("unknown", |s| s.as_str()),
        ),
        vif_type: VifType::parse(vif.virtual_interface_type().unwrap_or("private")),
        connection_id: vif.connection_id().map(str::to_string),
        peers,
    })
}
