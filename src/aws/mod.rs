//! The narrow Direct Connect interface dxctl needs, so the planner and executor never see SDK types.

mod error;
mod failure;
mod sdk;

use std::collections::BTreeMap;
use std::future::Future;

pub use error::{AwsError, Hint, Operation, Unusable};
pub use failure::{Failure, FailureKind, Unreached};
pub use sdk::{https_client, ClientSettings, SdkDirectConnect};

use crate::model::{AddressFamily, Asn, ObservedVif, Redundancy, Scope, Secret, VifId};

/// The peer fields CreateBGPPeer takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPeer {
    pub family: AddressFamily,
    pub asn: Asn,
    pub auth_key: Option<Secret>,
    pub amazon_address: Option<String>,
    pub customer_address: Option<String>,
}

/// The Direct Connect calls dxctl makes. One implementation talks to AWS (or the simulator) through the SDK.
pub trait DirectConnect: Send + Sync {
    /// Every VIF of the scope's region (no filter), with its peers.
    fn describe_virtual_interfaces(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Vec<ObservedVif>, AwsError>> + Send;

    /// `hasLogicalRedundancy` for every connection and LAG of the region, by id.
    fn describe_logical_redundancy(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<BTreeMap<String, Redundancy>, AwsError>> + Send;

    /// DeleteBGPPeer by id; returns the VIF as the API does. Made once: a failed call's error carries its [`Failure`].
    fn delete_bgp_peer(
        &self,
        scope: &Scope,
        vif: &VifId,
        bgp_peer_id: &str,
    ) -> impl Future<Output = Result<ObservedVif, AwsError>> + Send;

    /// CreateBGPPeer; returns the VIF as the API does. Made once, never retried blindly: a failed call's error carries its [`Failure`].
    fn create_bgp_peer(
        &self,
        scope: &Scope,
        vif: &VifId,
        peer: &NewPeer,
    ) -> impl Future<Output = Result<ObservedVif, AwsError>> + Send;
}
