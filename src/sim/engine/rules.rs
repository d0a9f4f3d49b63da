//! CreateBGPPeer and Create*VirtualInterface rules shared by both: ASN fields, auth keys, families and addresses.

use super::super::protocol::ApiError;
use crate::model::Asn;

/// The ASN a request means: `asnLong` wins; `asn` is limited to 1..2147483646.
pub fn asn(asn: Option<i64>, asn_long: Option<i64>) -> Result<Asn, ApiError> {
    let value = match (asn_long, asn) {
        (Some(long), _) => {
            if !(1..=Asn::MAX as i64).contains(&long) {
                return Err(ApiError::client(format!(
                    "asnLong {long} is outside 1-4294967294"
                )));
            }
            long
        }
        (None, Some(short)) => {
            if !(1..=Asn::MAX_SHORT_FIELD as i64).contains(&short) {
                return Err(ApiError::client(format!(
                    "asn {short} is outside 1-2147483646; use asnLong for 4-byte ASNs"
                )));
            }
            short
        }
        (None, None) => return Err(ApiError::client("Either asn or asnLong is required")),
    };
    // The branches above keep `value` in range; a refusal here would be the same client error.
    Asn::new(value as u64).map_err(ApiError::client)
}

/// The response fields for an ASN: 4-byte ASNs read `asn = 0`.
pub fn asn_fields(asn: Asn) -> (i64, i64) {
    let v = i64::from(asn.get());
    (if asn.is_four_byte() { 0 } else { v }, v)
}

pub fn auth_key(key: Option<&str>) -> Result<(), ApiError> {
    if let Some(key) = key {
        let len = key.chars().count();
        if !(6..=80).contains(&len) {
            return Err(ApiError::client(format!(
                "authKey must be between 6 and 80 characters long; got {len}"
            )));
        }
    }
    Ok(())
}

pub fn family(family: Option<&str>) -> Result<&'static str, ApiError> {
    match family {
        Some("ipv4") => Ok("ipv4"),
        Some("ipv6") => Ok("ipv6"),
        Some(other) => Err(ApiError::client(format!(
            "Invalid addressFamily {other}; expected ipv4 or ipv6"
        ))),
        None => Err(ApiError::client("addressFamily is required")),
    }
}

/// IPv6 takes no addresses; IPv4 takes both (as CIDRs) or neither.
pub fn addresses(
    family: &str,
    amazon: Option<&str>,
    customer: Option<&str>,
) -> Result<(), ApiError> {
    if family == "ipv6" {
        if amazon.is_some() || customer.is_some() {
            return Err(ApiError::client(
                "Custom IPv6 addresses are not supported: omit amazonAddress and customerAddress for ipv6; they are assigned from the Amazon pool",
            ));
        }
        return Ok(());
    }
    match (amazon, customer) {
        (Some(a), Some(c)) => {
            for addr in [a, c] {
                if addr.parse::<ipnet::Ipv4Net>().is_err() {
                    return Err(ApiError::client(format!(
                        "Invalid IPv4 address {addr}: expected CIDR notation such as 169.254.255.1/30"
                    )));
                }
            }
            Ok(())
        }
        (None, None) => Ok(()),
        _ => Err(ApiError::client(
            "amazonAddress and customerAddress must both be specified or both be omitted for ipv4",
        )),
    }
}

/// On a public VIF the ASN must be private or allow-listed.
pub fn public_asn(asn: Asn, allow_list: &[u64], vif: &str) -> Result<(), ApiError> {
    if asn.is_private() || allow_list.contains(&u64::from(asn.get())) {
        return Ok(());
    }
    Err(ApiError::client(format!(
        "ASN {asn} is a public ASN that is not on the allow list for virtual interface {vif}; use a private ASN or have it allow-listed"
    )))
}

/// The refusal for a resource that is mid-change, worded as AWS words it
/// ("Connection dxcon-fh9yptf2 is in a transitioning state.", terraform-provider-aws PR #3212).
pub fn transitioning(what: &str) -> ApiError {
    ApiError::client(format!("{what} is in a transitioning state."))
}
