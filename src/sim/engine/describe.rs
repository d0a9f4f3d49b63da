//! The read operations: DescribeVirtualInterfaces (with paging), DescribeConnections, DescribeLags and DescribeInterconnects.

use serde::Deserialize;
use serde_json::{json, Value};

use super::super::protocol::ApiError;
use super::super::world::{Vif, DEFAULT_REGION};
use super::Engine;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeVifsInput {
    connection_id: Option<String>,
    virtual_interface_id: Option<String>,
    max_results: Option<usize>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeByIdInput {
    connection_id: Option<String>,
    lag_id: Option<String>,
    interconnect_id: Option<String>,
}

fn in_region(region: &Option<String>, wanted: &str) -> bool {
    region.as_deref().unwrap_or(DEFAULT_REGION) == wanted
}

/// Filters by an optional id; a given id that matches nothing is an error, as in AWS.
fn select<'a, T: serde::Serialize + 'a>(
    items: impl Iterator<Item = &'a T>,
    wanted: Option<&String>,
    id_of: impl Fn(&T) -> &str,
    what: &str,
) -> Result<Vec<&'a T>, ApiError> {
    let out: Vec<&T> = items
        .filter(|i| wanted.is_none_or(|w| id_of(i) == w))
        .collect();
    match wanted {
        Some(id) if out.is_empty() => Err(ApiError::client(format!("{what} {id} does not exist"))),
        _ => Ok(out),
    }
}

impl Engine {
    pub(super) fn describe_vifs(
        &self,
        region: &str,
        input: DescribeVifsInput,
    ) -> Result<Value, ApiError> {
        if let Some(id) = &input.virtual_interface_id {
            self.vif_index(region, id)?;
        }
        let all: Vec<&Vif> = self
            .world
            .virtual_interfaces
            .iter()
            .filter(|v| v.region() == region)
            .filter(|v| {
                input
                    .virtual_interface_id
                    .as_ref()
                    .is_none_or(|id| &v.virtual_interface_id == id)
            })
            .filter(|v| input.connection_id.is_none() || v.connection_id == input.connection_id)
            .collect();
        let start: usize = match &input.next_token {
            Some(t) => t
                .parse()
                .map_err(|_| ApiError::client("Invalid nextToken"))?,
            None => 0,
        };
        let limit = input.max_results.filter(|m| *m > 0).unwrap_or(usize::MAX);
        let page: Vec<&Vif> = all.iter().skip(start).take(limit).copied().collect();
        let mut body = json!({ "virtualInterfaces": page });
        if start.saturating_add(limit) < all.len() {
            body["nextToken"] = json!((start + limit).to_string());
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
        let out = select(
            items,
            input.connection_id.as_ref(),
            |c| &c.connection_id,
            "Connection",
        )?;
        Ok(json!({ "connections": out }))
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
        let out = select(items, input.lag_id.as_ref(), |l| &l.lag_id, "LAG")?;
        Ok(json!({ "lags": out }))
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
        let out = select(
            items,
            input.interconnect_id.as_ref(),
            |i| &i.interconnect_id,
            "Interconnect",
        )?;
        Ok(json!({ "interconnects": out }))
    }
}
