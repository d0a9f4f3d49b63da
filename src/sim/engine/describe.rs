//! The read operations: DescribeVirtualInterfaces, DescribeConnections, DescribeLags and DescribeInterconnects,
//! each paged with `maxResults` (at most 100, as the API reference says) and opaque `nextToken`s.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::super::protocol::ApiError;
use super::super::world::{Vif, DEFAULT_REGION};
use super::Engine;

/// "If MaxResults is given a value larger than 100, only 100 results are returned."
pub const MAX_PAGE: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeVifsInput {
    connection_id: Option<String>,
    virtual_interface_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeByIdInput {
    connection_id: Option<String>,
    lag_id: Option<String>,
    interconnect_id: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// What a `nextToken` holds: which listing it continues, and the last id already returned. Resuming after an id
/// (the listing is in id order) stays correct while items are added or removed between pages.
#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
struct Cursor {
    listing: String,
    after: String,
}

fn encode(cursor: &Cursor) -> String {
    // Cannot fail: a cursor is a struct of strings and integers, which serde_json always writes.
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode(token: &str, listing: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::client("The nextToken is not valid for this request.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.listing != listing {
        return Err(invalid());
    }
    Ok(cursor.after)
}

/// One page of `items` in id order, and the token for the next page if there is one. (Items already in id order,
/// as the live world's index gives them, sort in linear time.)
fn page<'a, T>(
    mut items: Vec<&'a T>,
    id_of: impl Fn(&T) -> &str,
    max_results: Option<i64>,
    next_token: Option<&str>,
    listing: &str,
) -> Result<(Vec<&'a T>, Option<String>), ApiError> {
    items.sort_by(|a, b| id_of(a).cmp(id_of(b)));
    let start = match next_token {
        Some(token) => {
            let after = decode(token, listing)?;
            items.partition_point(|i| id_of(i) <= after.as_str())
        }
        None => 0,
    };
    let limit = match max_results {
        Some(m) if m > 0 => usize::try_from(m).unwrap_or(MAX_PAGE).min(MAX_PAGE),
        _ => usize::MAX,
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| {
        encode(&Cursor {
            listing: listing.to_string(),
            after: id_of(items[end - 1]).to_string(),
        })
    });
    Ok((items[start..end].to_vec(), next))
}

fn in_region(region: &Option<String>, wanted: &str) -> bool {
    region.as_deref().unwrap_or(DEFAULT_REGION) == wanted
}

/// Filters by an optional id; a given id that matches nothing is an error worded as AWS words it
/// ("Could not find Connection with ID", "Could not find Lag with ID": terraform-provider-aws connection.go and lag.go).
fn select<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    wanted: Option<&String>,
    id_of: impl Fn(&T) -> &str,
    what: &str,
) -> Result<Vec<&'a T>, ApiError> {
    let out: Vec<&T> = items
        .filter(|i| wanted.is_none_or(|w| id_of(i) == w))
        .collect();
    match wanted {
        Some(id) if out.is_empty() => Err(ApiError::client(format!(
            "Could not find {what} with ID {id}"
        ))),
        _ => Ok(out),
    }
}

impl Engine {
    pub(super) fn describe_vifs(
        &mut self,
        region: &str,
        input: DescribeVifsInput,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let listing = format!(
            "DescribeVirtualInterfaces/{region}/{}/{}",
            input.connection_id.as_deref().unwrap_or(""),
            input.virtual_interface_id.as_deref().unwrap_or("")
        );
        let stale = self.stale_view(region, now_ms);
        let wanted = |v: &&Vif| {
            v.region() == region
                && input
                    .virtual_interface_id
                    .as_ref()
                    .is_none_or(|id| &v.virtual_interface_id == id)
                && (input.connection_id.is_none() || v.connection_id == input.connection_id)
        };
        let all: Vec<&Vif> = match &stale {
            Some(vifs) => vifs.iter().map(|v| v.as_ref()).filter(wanted).collect(),
            None => {
                // The live world, through its index: one VIF by id, or all of them already in id order.
                let live = &self.world.virtual_interfaces;
                match &input.virtual_interface_id {
                    Some(id) => self
                        .index
                        .position(id)
                        .map(|i| live[i].as_ref())
                        .into_iter()
                        .filter(wanted)
                        .collect(),
                    None => self
                        .index
                        .in_id_order(live)
                        .iter()
                        .map(|&i| live[i].as_ref())
                        .filter(wanted)
                        .collect(),
                }
            }
        };
        // A VIF asked for by id must be in the view this describe sees (a new one may not be, yet).
        if let (Some(id), true) = (&input.virtual_interface_id, all.is_empty()) {
            return Err(ApiError::client(format!(
                "Virtual interface {id} does not exist in region {region}"
            )));
        }
        let (page, next) = page(
            all,
            |v| &v.virtual_interface_id,
            input.max_results,
            input.next_token.as_deref(),
            &listing,
        )?;
        let mut body = json!({ "virtualInterfaces": page });
        if let Some(next) = next {
            body["nextToken"] = json!(next);
        }
        Ok(body)
    }

    pub(super) fn describe_connections(
        &self,
        region: &str,
        input: DescribeByIdInput,
    ) -> Result<Value, ApiError> {
        let items = self
            .world
            .connections
            .iter()
            .filter(|c| in_region(&c.region, region));
        let found = select(
            items,
            input.connection_id.as_ref(),
            |c| &c.connection_id,
            "Connection",
        )?;
        paged(
            found,
            |c| &c.connection_id,
            &input,
            "connections",
            &format!("DescribeConnections/{region}"),
        )
    }

    pub(super) fn describe_lags(
        &self,
        region: &str,
        input: DescribeByIdInput,
    ) -> Result<Value, ApiError> {
        let items = self
            .world
            .lags
            .iter()
            .filter(|l| in_region(&l.region, region));
        let found = select(items, input.lag_id.as_ref(), |l| &l.lag_id, "Lag")?;
        paged(
            found,
            |l| &l.lag_id,
            &input,
            "lags",
            &format!("DescribeLags/{region}"),
        )
    }

    pub(super) fn describe_interconnects(
        &self,
        region: &str,
        input: DescribeByIdInput,
    ) -> Result<Value, ApiError> {
        let items = self
            .world
            .interconnects
            .iter()
            .filter(|i| in_region(&i.region, region));
        let found = select(
            items,
            input.interconnect_id.as_ref(),
            |i| &i.interconnect_id,
            "Interconnect",
        )?;
        paged(
            found,
            |i| &i.interconnect_id,
            &input,
            "interconnects",
            &format!("DescribeInterconnects/{region}"),
        )
    }
}

/// A connection, LAG or interconnect listing as one page under `key`.
fn paged<T: Serialize>(
    found: Vec<&T>,
    id_of: impl Fn(&T) -> &str,
    input: &DescribeByIdInput,
    key: &str,
    listing: &str,
) -> Result<Value, ApiError> {
    let (page, next) = page(
        found,
        id_of,
        input.max_results,
        input.next_token.as_deref(),
        listing,
    )?;
    let mut body = json!({ key: page });
    if let Some(next) = next {
        body["nextToken"] = json!(next);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(page: &[&String]) -> Vec<String> {
        page.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pages_are_capped_at_100_and_tokens_are_opaque() {
        let items: Vec<String> = (0..250).map(|i| format!("id-{i:04}")).collect();
        let refs: Vec<&String> = items.iter().collect();
        let (first, next) = page(refs.clone(), |s| s, Some(1000), None, "l").unwrap();
        assert_eq!(first.len(), 100);
        let token = next.unwrap();
        assert!(!token.contains("id-"), "the token does not show the cursor");
        let (second, _) = page(refs.clone(), |s| s, Some(1000), Some(&token), "l").unwrap();
        assert_eq!(ids(&second)[0], "id-0100");
        // No maxResults: everything.
        assert_eq!(
            page(refs.clone(), |s| s, None, None, "l").unwrap().0.len(),
            250
        );
        // A token from another listing, or garbage, is refused.
        assert!(page(refs.clone(), |s| s, Some(10), Some(&token), "other").is_err());
        assert!(page(refs, |s| s, Some(10), Some("not a token!"), "l").is_err());
    }

    proptest! {
        /// Items that exist from the first page to the last are each returned exactly once, whatever is added or
        /// removed between pages.
        #[test]
        fn paging_survives_changes_between_pages(
            initial in proptest::collection::btree_set(0u32..500, 0..120),
            added in proptest::collection::vec(0u32..500, 0..40),
            removed in proptest::collection::vec(0u32..500, 0..40),
            size in 1i64..30,
        ) {
            let mut world: std::collections::BTreeSet<u32> = initial.clone();
            let mut seen: Vec<u32> = Vec::new();
            let mut token: Option<String> = None;
            let mut step = 0usize;
            loop {
                let items: Vec<String> = world.iter().map(|i| format!("x{i:03}")).collect();
                let refs: Vec<&String> = items.iter().collect();
                let (page, next) = page(refs, |s| s, Some(size), token.as_deref(), "l").unwrap();
                seen.extend(page.iter().map(|s| s[1..].parse::<u32>().unwrap()));
                // Change the world between pages.
                if let Some(a) = added.get(step) { world.insert(*a); }
                if let Some(r) = removed.get(step) { world.remove(r); }
                step += 1;
                match next { Some(t) => token = Some(t), None => break }
                prop_assert!(step < 1000);
            }
            let mut sorted = seen.clone();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), seen.len(), "no item twice");
            let stayed = initial.iter().filter(|i| !removed.contains(i));
            for i in stayed {
                prop_assert!(seen.contains(i), "{} was listed throughout but never returned", i);
            }
        }
    }
}
