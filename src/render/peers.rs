//! The managed peers as people and scripts read them: the `state list`/`show` table and JSON array, one peer in
//! full for `state show`, and the live view `status` prints. Pure: the callers load the state and describe AWS.

use serde_json::{json, Value};

use super::table::{self, Column, Table};
use crate::clock::rfc3339;
use crate::model::{BgpStatus, PeerAddress, PeerState};
use crate::state::{Intent, PeerRecord, State};

/// One managed address: its record and any unsettled call for it (at least one of the two).
#[derive(Clone, Copy, Debug)]
pub struct Managed<'a> {
    pub address: &'a PeerAddress,
    pub record: Option<&'a PeerRecord>,
    pub intent: Option<&'a Intent>,
}

/// Every address the state holds a record or an intent for, sorted.
pub fn managed(state: &State) -> Vec<Managed<'_>> {
    let mut all: Vec<Managed<'_>> = state
        .peers
        .iter()
        .map(|r| Managed {
            address: &r.address,
            record: Some(r),
            intent: state.intent(&r.address),
        })
        .collect();
    all.extend(
        state
            .intents
            .iter()
            .filter(|i| state.peer(&i.address).is_none())
            .map(|i| Managed {
                address: &i.address,
                record: None,
                intent: Some(i),
            }),
    );
    all.sort_by(|a, b| a.address.cmp(b.address));
    all
}

const PEER_COLUMNS: [Column; 6] = [
    Column::kept("ADDRESS"),
    Column::droppable("PEER ID", 3),
    Column::droppable("FAMILY", 2),
    Column::droppable("ASN", 1),
    Column::kept("AMAZON ADDRESS"),
    Column::kept("CUSTOMER ADDRESS"),
];

fn or_dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

fn record_cells(r: &PeerRecord) -> Vec<String> {
    vec![
        r.address.to_string(),
        r.bgp_peer_id.clone(),
        r.address_family.to_string(),
        r.asn.to_string(),
        or_dash(&r.amazon_address),
        or_dash(&r.customer_address),
    ]
}

/// The intent in one line.
fn intent_line(i: &Intent) -> String {
    format!(
        "{}, sent {}, settled by a describe from {}",
        i.describe(),
        rfc3339(i.sent_at_ms),
        rfc3339(i.conclusive_after_ms)
    )
}

/// `state list` and `show`: a table of the recorded peers within `width`, then the deposed peers and the
/// unsettled calls, one line each. Empty text for an empty state.
pub fn state_table(state: &State, width: Option<usize>) -> Table {
    let rows: Vec<Vec<String>> = state.peers.iter().map(record_cells).collect();
    let mut out = if rows.is_empty() {
        Table {
            text: String::new(),
            hidden: Vec::new(),
        }
    } else {
        table::render(&PEER_COLUMNS, &rows, width)
    };
    let deposed: Vec<&PeerRecord> = state
        .peers
        .iter()
        .filter(|r| !r.deposed.is_empty())
        .collect();
    if !deposed.is_empty() {
        out.text
            .push_str("\nDeposed peers (a replacement still has to delete them):\n");
        for r in deposed {
            out.text
                .push_str(&format!("  {}: {}\n", r.address, r.deposed.join(", ")));
        }
    }
    if !state.intents.is_empty() {
        if !out.text.is_empty() {
            out.text.push('\n');
        }
        out.text
            .push_str("Unsettled calls (the next plan or apply settles them):\n");
        for i in &state.intents {
            out.text
                .push_str(&format!("  {}: {}\n", i.address, intent_line(i)));
        }
    }
    out
}

fn intent_json(i: &Intent) -> Value {
    json!({
        "operation": match &i.call {
            crate::state::Call::CreateBGPPeer(_) => "CreateBGPPeer",
            crate::state::Call::DeleteBGPPeer { .. } => "DeleteBGPPeer",
        },
        "description": i.describe(),
        "sent_at": rfc3339(i.sent_at_ms),
        "conclusive_after": rfc3339(i.conclusive_after_ms),
        "call": serde_json::to_value(&i.call).unwrap_or(Value::Null),
    })
}

/// One managed address as a JSON object; every field always present (`null` or `[]` when unknown or empty).
pub fn managed_json(m: &Managed<'_>) -> Value {
    let r = m.record;
    let i = m.intent;
    json!({
        "address": m.address.to_string(),
        "virtual_interface_id": r.map(|r| r.virtual_interface_id.to_string())
            .or_else(|| i.map(|i| i.virtual_interface_id.to_string())),
        "region": r.map(|r| r.region.clone()).or_else(|| i.map(|i| i.region.clone())),
        "profile": r.and_then(|r| r.profile.clone()).or_else(|| i.and_then(|i| i.profile.clone())),
        "bgp_peer_id": r.map(|r| r.bgp_peer_id.clone()),
        "address_family": r.map(|r| r.address_family.to_string()),
        "asn": r.map(|r| r.asn.get()),
        "amazon_address": r.and_then(|r| r.amazon_address.clone()),
        "customer_address": r.and_then(|r| r.customer_address.clone()),
        "deposed": r.map(|r| r.deposed.clone()).unwrap_or_default(),
        "listed_by": r.and_then(|r| r.listed_by_ms).map(rfc3339),
        "intent": i.map(intent_json),
    })
}

/// `state list --json` and `show --json`: one object per managed address, sorted; `[]` for an empty state.
pub fn state_json(state: &State) -> Value {
    Value::Array(managed(state).iter().map(managed_json).collect())
}

/// `state show ADDRESS`: every field of the record, its deposed peers and any unsettled call.
pub fn managed_detail(m: &Managed<'_>) -> String {
    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(r) = m.record {
        fields.extend([
            ("virtual_interface_id", r.virtual_interface_id.to_string()),
            ("region", r.region.clone()),
            (
                "profile",
                r.profile.clone().unwrap_or_else(|| "(default)".into()),
            ),
            ("bgp_peer_id", r.bgp_peer_id.clone()),
            ("address_family", r.address_family.to_string()),
            ("asn", r.asn.to_string()),
            ("amazon_address", or_dash(&r.amazon_address)),
            ("customer_address", or_dash(&r.customer_address)),
            (
                "deposed",
                if r.deposed.is_empty() {
                    "(none)".into()
                } else {
                    r.deposed.join(", ")
                },
            ),
        ]);
        if let Some(ms) = r.listed_by_ms {
            fields.push(("listed_by", rfc3339(ms)));
        }
    } else {
        fields.push((
            "bgp_peer_id",
            "(not recorded: only an unsettled call)".into(),
        ));
    }
    if let Some(i) = m.intent {
        fields.push(("intent", intent_line(i)));
    }
    let label = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!("{}\n", m.address);
    for (k, v) in fields {
        out.push_str(&format!("  {k:<label$}  {v}\n"));
    }
    out
}

/// How AWS describes a managed peer now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Live {
    Listed {
        state: PeerState,
        bgp: BgpStatus,
    },
    /// Its VIF's describe does not list it (`recent`: recorded too recently for every describe to list it).
    NotListed {
        recent: bool,
    },
}

impl Live {
    /// Available with its BGP session up: what `status` exits 0 for.
    pub fn healthy(&self) -> bool {
        matches!(
            self,
            Live::Listed {
                state: PeerState::Available,
                bgp: BgpStatus::Up
            }
        )
    }
}

/// One row of `status`.
#[derive(Clone, Debug)]
pub struct StatusRow<'a> {
    pub record: &'a PeerRecord,
    pub live: Live,
}

const STATUS_COLUMNS: [Column; 8] = [
    Column::kept("ADDRESS"),
    Column::droppable("PEER ID", 3),
    Column::droppable("FAMILY", 2),
    Column::droppable("ASN", 1),
    Column::kept("AMAZON ADDRESS"),
    Column::kept("CUSTOMER ADDRESS"),
    Column::kept("STATE"),
    Column::kept("BGP"),
];

fn live_cells(live: &Live) -> [String; 2] {
    match live {
        Live::Listed { state, bgp } => [state.to_string(), bgp.to_string()],
        Live::NotListed { recent: true } => ["not listed yet".into(), "-".into()],
        Live::NotListed { recent: false } => ["missing".into(), "-".into()],
    }
}

/// `status`: the managed peers with their live state and BGP status, within `width`.
pub fn status_table(rows: &[StatusRow<'_>], width: Option<usize>) -> Table {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut cells = record_cells(row.record);
            cells.extend(live_cells(&row.live));
            cells
        })
        .collect();
    table::render(&STATUS_COLUMNS, &cells, width)
}

/// `status --json`: one object per managed peer; `state` and `bgp_status` are `null` when AWS does not list it.
pub fn status_json(rows: &[StatusRow<'_>]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| {
                let r = row.record;
                let (state, bgp) = match &row.live {
                    Live::Listed { state, bgp } => (Some(state.to_string()), Some(bgp.to_string())),
                    Live::NotListed { .. } => (None, None),
                };
                json!({
                    "address": r.address.to_string(),
                    "virtual_interface_id": r.virtual_interface_id.to_string(),
                    "region": r.region,
                    "profile": r.profile,
                    "bgp_peer_id": r.bgp_peer_id,
                    "address_family": r.address_family.to_string(),
                    "asn": r.asn.get(),
                    "amazon_address": r.amazon_address,
                    "customer_address": r.customer_address,
                    "state": state,
                    "bgp_status": bgp,
                    "healthy": row.live.healthy(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddressFamily, Asn, VifId};
    use crate::state::{Call, Creation};

    fn record(label: &str, id: &str, family: AddressFamily, addrs: (&str, &str)) -> PeerRecord {
        let vif = VifId("dxvif-fg1vuj3d".into());
        PeerRecord {
            address: PeerAddress::new(&vif, label),
            virtual_interface_id: vif,
            region: "us-east-1".into(),
            profile: None,
            bgp_peer_id: id.into(),
            address_family: family,
            asn: Asn::new(64600).unwrap(),
            amazon_address: Some(addrs.0.into()),
            customer_address: Some(addrs.1.into()),
            deposed: vec![],
            listed_by_ms: None,
        }
    }

    fn state() -> State {
        let mut v6 = record(
            "v6",
            "dxpeer-d2k600n1",
            AddressFamily::Ipv6,
            (
                "2001:db8:1100:2f0:0:1:9cb4:4bc1/125",
                "2001:db8:1100:2f0:0:1:9cb4:4bc2/125",
            ),
        );
        v6.deposed = vec!["dxpeer-old1".into()];
        let mut state = State::default();
        state.upsert(record(
            "v4",
            "dxpeer-fg1v4v4e",
            AddressFamily::Ipv4,
            ("169.254.255.1/30", "169.254.255.2/30"),
        ));
        state.upsert(v6);
        state.set_intent(Intent {
            address: PeerAddress::new(&VifId("dxvif-fg1vuj3d".into()), "extra"),
            virtual_interface_id: VifId("dxvif-fg1vuj3d".into()),
            region: "us-east-1".into(),
            profile: None,
            call: Call::CreateBGPPeer(Creation {
                address_family: AddressFamily::Ipv4,
                asn: Asn::new(65001).unwrap(),
                amazon_address: None,
                customer_address: None,
                known_peer_ids: vec!["dxpeer-fg1v4v4e".into()],
                deposes: None,
            }),
            sent_at_ms: 1_700_000_000_000,
            conclusive_after_ms: 1_700_000_050_000,
        });
        state
    }

    #[test]
    fn state_table_at_three_widths() {
        let s = state();
        for width in [200, 145, 130, 80] {
            let t = state_table(&s, Some(width));
            insta::assert_snapshot!(
                format!("state_table_{width}"),
                format!("hidden: {:?}\n{}", t.hidden, t.text)
            );
        }
    }

    #[test]
    fn no_width_never_hides_a_column_and_addresses_are_never_cut() {
        let s = state();
        let t = state_table(&s, None);
        assert!(t.hidden.is_empty());
        for width in [None, Some(80), Some(40), Some(10)] {
            let t = state_table(&s, width);
            for r in &s.peers {
                assert!(t.text.contains(&r.address.0), "{width:?}: {}", t.text);
                for a in [&r.amazon_address, &r.customer_address] {
                    assert!(
                        t.text.contains(a.as_deref().unwrap()),
                        "{width:?}: {}",
                        t.text
                    );
                }
            }
        }
    }

    #[test]
    fn state_json_lists_records_and_intent_only_addresses_with_every_field() {
        let v = state_json(&state());
        insta::assert_snapshot!("state_json", format!("{v:#}"));
        assert_eq!(state_json(&State::default()), json!([]));
    }

    #[test]
    fn detail_shows_every_record_field_and_the_intent() {
        let s = state();
        let all = managed(&s);
        let text: String = all
            .iter()
            .map(managed_detail)
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!("managed_detail", text);
    }

    #[test]
    fn healthy_means_available_and_up_and_status_shows_live_columns() {
        let s = state();
        let rows = vec![
            StatusRow {
                record: &s.peers[0],
                live: Live::Listed {
                    state: PeerState::Available,
                    bgp: BgpStatus::Up,
                },
            },
            StatusRow {
                record: &s.peers[1],
                live: Live::Listed {
                    state: PeerState::Available,
                    bgp: BgpStatus::Down,
                },
            },
        ];
        assert!(rows[0].live.healthy());
        assert!(!rows[1].live.healthy());
        assert!(!Live::NotListed { recent: true }.healthy());
        assert!(!Live::Listed {
            state: PeerState::Pending,
            bgp: BgpStatus::Up
        }
        .healthy());
        let t = status_table(&rows, Some(200));
        insta::assert_snapshot!(
            "status_table_200",
            format!("hidden: {:?}\n{}", t.hidden, t.text)
        );
        let t = status_table(&rows, Some(140));
        insta::assert_snapshot!(
            "status_table_140",
            format!("hidden: {:?}\n{}", t.hidden, t.text)
        );
        let t = status_table(&rows, Some(80));
        insta::assert_snapshot!(
            "status_table_80",
            format!("hidden: {:?}\n{}", t.hidden, t.text)
        );
        insta::assert_snapshot!("status_json", format!("{:#}", status_json(&rows)));
    }
}
