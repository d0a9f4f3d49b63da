//! Saved plans: what `plan --out` writes and `apply FILE` checks before running it. Its own versioned format: the
//! decisions it pins are stored as such, not as `plan --json` shows them, so a change to the JSON view never makes a
//! saved plan stale. No secrets are stored; they are resolved again from the config at apply time.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::model::{AddressFamily, Asn, Observed, PeerSpec};
use crate::plan::{Action, Change, Kind, Order, Plan};
use crate::state::State;

/// Version 2 pins decisions ([`Pinned`]); version 1 stored `plan --json`'s view and is refused with a clear error.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    /// The config directory, absolute.
    pub config_dir: PathBuf,
    pub state_lineage: String,
    pub state_serial: u64,
    /// SHA-256 of the config files' names and contents.
    pub config_fingerprint: String,
    /// SHA-256 of the observed facts the plan relied on (peer ids, families, ASNs, addresses and states,
    /// VIF states, logical redundancy; never auth keys).
    pub observed_fingerprint: String,
    /// Every decision of the plan, in order.
    pub changes: Vec<Pinned>,
    /// The plan as `plan` printed it, for `show`.
    pub rendered: String,
}

/// What one change of a saved plan pins: the decision, the peer it acts on and the peer it asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinned {
    pub address: String,
    pub action: PinnedAction,
    /// Position among the changes of its VIF.
    pub step: usize,
    /// The existing peer the change adopts, waits for, replaces, deletes or forgets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp_peer_id: Option<String>,
    /// The peer the config asks for (creates, adoptions, waits, replacements, no-ops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<PinnedPeer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinnedAction {
    Create,
    Adopt,
    NoOp,
    Wait,
    ReplaceCreateBeforeDestroy,
    ReplaceDestroyBeforeCreate,
    Delete,
    DeleteDeposed,
    Forget,
    ForgetDeposed,
}

/// A desired peer's identity as pinned: family, ASN and the addresses the config gives, sensitive ones masked. The
/// auth key is never pinned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedPeer {
    pub address_family: AddressFamily,
    pub asn: Asn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_address: Option<String>,
}

impl Pinned {
    fn of(c: &Change) -> Pinned {
        let action = match (c.action.kind(), c.action.deposed()) {
            (Kind::Create, _) => PinnedAction::Create,
            (Kind::Adopt, _) => PinnedAction::Adopt,
            (Kind::NoOp, _) => PinnedAction::NoOp,
            (Kind::Wait, _) => PinnedAction::Wait,
            (Kind::Replace(Order::CreateBeforeDestroy), _) => {
                PinnedAction::ReplaceCreateBeforeDestroy
            }
            (Kind::Replace(Order::DestroyBeforeCreate), _) => {
                PinnedAction::ReplaceDestroyBeforeCreate
            }
            (Kind::Delete, false) => PinnedAction::Delete,
            (Kind::Delete, true) => PinnedAction::DeleteDeposed,
            (Kind::Forget, false) => PinnedAction::Forget,
            (Kind::Forget, true) => PinnedAction::ForgetDeposed,
        };
        let bgp_peer_id = match &c.action {
            Action::Forget {
                forgotten: crate::plan::Forgotten::Owned { bgp_peer_id },
            } => Some(bgp_peer_id.clone()),
            other => other.live().and_then(|p| p.bgp_peer_id.clone()),
        };
        Pinned {
            address: c.address.0.clone(),
            action,
            step: c.step,
            bgp_peer_id,
            desired: c.action.desired().map(PinnedPeer::of),
        }
    }
}

impl PinnedPeer {
    fn of(spec: &PeerSpec) -> PinnedPeer {
        let shown = |field: &str, value: &Option<String>| {
            value.as_ref().map(|v| {
                if spec.sensitive.contains(field) {
                    crate::redact::MASK.to_string()
                } else {
                    crate::redact::scrub(v).into_owned()
                }
            })
        };
        PinnedPeer {
            address_family: spec.family,
            asn: spec.asn,
            amazon_address: shown("amazon_address", &spec.amazon_address),
            customer_address: shown("customer_address", &spec.customer_address),
        }
    }
}

/// The decisions `plan` pins, in order.
fn pins(plan: &Plan) -> Vec<Pinned> {
    plan.changes.iter().map(Pinned::of).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn config_fingerprint(dir: &Path) -> anyhow::Result<String> {
    let mut hash = Sha256::new();
    for path in crate::config::config_files(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        hash.update(format!("{}:{name}:{}:", name.len(), text.len()).as_bytes());
        hash.update(&text);
    }
    Ok(hex(&hash.finalize()))
}

pub fn observed_fingerprint(observed: &Observed) -> String {
    let facts = json!({
        "vifs": observed.vifs.iter().map(|v| json!({
            "id": v.id.0,
            "region": v.scope.region,
            "profile": v.scope.profile,
            "state": v.state.as_str(),
            "peers": v.peers.iter().map(|p| json!([p.bgp_peer_id, p.family.as_str(), p.asn.get(), p.amazon_address, p.customer_address, p.state.as_str()])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "redundancy": observed.logical_redundancy,
    });
    hex(&Sha256::digest(facts.to_string().as_bytes()))
}

impl SavedPlan {
    pub fn new(
        dir: &Path,
        state: &State,
        observed: &Observed,
        plan: &Plan,
    ) -> anyhow::Result<SavedPlan> {
        Ok(SavedPlan {
            format_version: FORMAT_VERSION,
            config_dir: std::path::absolute(dir)
                .with_context(|| format!("cannot resolve {}", dir.display()))?,
            state_lineage: state.lineage.clone(),
            state_serial: state.serial,
            config_fingerprint: config_fingerprint(dir)?,
            observed_fingerprint: observed_fingerprint(observed),
            changes: pins(plan),
            rendered: crate::redact::scrub(&crate::render::human(plan, false)).into_owned(),
        })
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::state::write_atomically(path, text.as_bytes(), false)
            .with_context(|| format!("cannot write plan file {}", path.display()))
    }

    pub fn read(path: &Path) -> anyhow::Result<SavedPlan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read plan file {}", path.display()))?;
        let not_a_plan = || format!("{} is not a dxctl plan file", path.display());
        let value: serde_json::Value = serde_json::from_str(&text).with_context(not_a_plan)?;
        let version = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(FORMAT_VERSION)) {
            anyhow::bail!(
                "plan file {} has format_version {}; this dxctl reads {FORMAT_VERSION}. Run `dxctl plan --out` again",
                path.display(),
                version.map_or_else(|| "(none)".to_string(), |v| v.to_string())
            );
        }
        let saved: SavedPlan = serde_json::from_value(value).with_context(not_a_plan)?;
        Ok(saved)
    }

    /// Refuses with "saved plan is stale" and the reason when anything the plan relied on has changed.
    pub fn check(
        &self,
        state: &State,
        observed: &Observed,
        replanned: &Plan,
    ) -> anyhow::Result<()> {
        let stale =
            |why: String| anyhow::anyhow!("saved plan is stale: {why}; run `dxctl plan` again");
        if state.lineage != self.state_lineage || state.serial != self.state_serial {
            return Err(stale(format!(
                "the state changed since the plan was made (lineage {} serial {} -> lineage {} serial {})",
                short(&self.state_lineage),
                self.state_serial,
                short(&state.lineage),
                state.serial
            )));
        }
        if config_fingerprint(&self.config_dir)? != self.config_fingerprint {
            return Err(stale(format!(
                "the configuration in {} changed",
                self.config_dir.display()
            )));
        }
        if observed_fingerprint(observed) != self.observed_fingerprint {
            return Err(stale(
                "the Direct Connect facts it relied on changed".into(),
            ));
        }
        if pins(replanned) != self.changes {
            return Err(stale(
                "planning again gives a different plan (a secret or a variable changed?)".into(),
            ));
        }
        Ok(())
    }
}

/// The first 8 characters of a lineage (never a byte slice: a hand-edited lineage may be any text).
fn short(lineage: &str) -> &str {
    if lineage.is_empty() {
        "(none)"
    } else {
        lineage
            .char_indices()
            .nth(8)
            .map_or(lineage, |(end, _)| &lineage[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lineage_cuts_at_characters_not_bytes() {
        assert_eq!(short(""), "(none)");
        assert_eq!(short("80f173ad95cf7f67"), "80f173ad");
        assert_eq!(short("abc"), "abc");
        // Found by the fuzz target saved_plan: byte 8 falls inside 'é'.
        assert_eq!(short("0123456é89"), "0123456é");
        assert_eq!(short("ééééééééé"), "éééééééé");
    }

    #[test]
    fn a_non_ascii_lineage_makes_a_stale_plan_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), "").unwrap();
        let saved = SavedPlan {
            format_version: FORMAT_VERSION,
            config_dir: dir.path().to_path_buf(),
            state_lineage: "0123456é89".into(),
            state_serial: 1,
            config_fingerprint: String::new(),
            observed_fingerprint: String::new(),
            changes: vec![],
            rendered: String::new(),
        };
        let state = State {
            lineage: "ü".repeat(20),
            ..State::default()
        };
        let err = saved
            .check(&state, &Observed::default(), &Plan::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("lineage 0123456é serial 1 -> lineage üüüüüüüü serial 0"),
            "{err}"
        );
    }
}
