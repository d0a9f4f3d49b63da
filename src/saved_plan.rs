//! Saved plans: what `plan --out` writes and `apply FILE` checks before running it. Its own versioned format: the
//! decisions it pins are stored as such, not as `plan --json` shows them, so a change to the JSON view never makes a
//! saved plan stale. No secrets are stored; they are resolved again from the config at apply time, and a keyed
//! fingerprint of each one refuses the plan when a secret has another value by then.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::model::{AddressFamily, Asn, Observed, PeerSpec};
use crate::plan::{Action, Change, Kind, Order, Plan};
use crate::state::State;

/// Version 2 pins decisions ([`Pinned`]); version 1 stored `plan --json`'s view and is refused with a clear error.
pub const FORMAT_VERSION: u32 = 2;

/// Why a plan could not be saved, read, or applied as saved.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot resolve {path}")]
    ResolveDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config directory's files could not be listed.
    #[error(transparent)]
    ConfigFiles(crate::config::ConfigError),
    #[error("cannot read {path}")]
    ReadConfigFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Serialize(serde_json::Error),
    #[error("cannot write plan file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read plan file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a dxctl plan file")]
    NotAPlan {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Any `format_version` but [`FORMAT_VERSION`]; `None` when the file has none.
    #[error(
        "plan file {path} has format_version {}; this dxctl reads {FORMAT_VERSION}. Run `dxctl plan --out` again",
        .version.map_or_else(|| "(none)".to_string(), |v| v.to_string())
    )]
    UnsupportedVersion { path: PathBuf, version: Option<u64> },
    #[error("saved plan is stale: {0}; run `dxctl plan` again")]
    Stale(StaleReason),
}

/// What changed since a plan was saved; its `Display` is the reason [`SavedPlanError::Stale`] gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaleReason {
    /// Another apply (or a state command) wrote the state.
    State {
        planned_lineage: String,
        planned_serial: u64,
        lineage: String,
        serial: u64,
    },
    /// The config files' names or contents.
    Config { dir: PathBuf },
    /// The observed facts the plan relied on.
    Observed,
    /// A secret the plan was made with (an auth key, a sensitive address) has another value now.
    SecretChanged { field: String, address: String },
    /// Planning again decides differently (a variable changed?).
    Replanned,
}

impl std::fmt::Display for StaleReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaleReason::State {
                planned_lineage,
                planned_serial,
                lineage,
                serial,
            } => write!(
                f,
                "the state changed since the plan was made (lineage {} serial {planned_serial} -> lineage {} serial {serial})",
                short(planned_lineage),
                short(lineage)
            ),
            StaleReason::Config { dir } => {
                write!(f, "the configuration in {} changed", dir.display())
            }
            StaleReason::Observed => f.write_str("the Direct Connect facts it relied on changed"),
            StaleReason::SecretChanged { field, address } => {
                write!(f, "a secret changed: {field} of {address}")
            }
            StaleReason::Replanned => f.write_str(
                "planning again gives a different plan (a secret or a variable changed?)",
            ),
        }
    }
}

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
    /// The random key of `secret_fingerprints` (hex), fresh for each plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_fingerprint_key: Option<String>,
    /// For each secret value the plan was made with, by "ADDRESS FIELD": HMAC-SHA256 under
    /// `secret_fingerprint_key` (hex). Never the secret: apply recomputes them and refuses a plan whose secrets
    /// changed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_fingerprints: BTreeMap<String, String>,
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

/// Keyed fingerprints of every secret value the plan's changes ask for: auth keys, and any field a sensitive
/// variable (or `env()`, `file()`) gave.
fn secret_fingerprints(plan: &Plan, key: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for c in &plan.changes {
        let Some(spec) = c.action.desired() else {
            continue;
        };
        let values = [
            ("auth_key", spec.auth_key.as_ref().map(|k| k.expose())),
            ("amazon_address", spec.amazon_address.as_deref()),
            ("customer_address", spec.customer_address.as_deref()),
        ];
        for (field, value) in values {
            let Some(value) = value else {
                continue;
            };
            if field != "auth_key" && !spec.sensitive.contains(field) {
                continue;
            }
            // HMAC takes a key of any length.
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
                continue;
            };
            mac.update(c.address.0.as_bytes());
            mac.update(&[0]);
            mac.update(field.as_bytes());
            mac.update(&[0]);
            mac.update(value.as_bytes());
            out.insert(
                format!("{} {field}", c.address),
                hex(&mac.finalize().into_bytes()),
            );
        }
    }
    out
}

/// The first secret whose fingerprint differs, as (field, address).
fn changed_secret(
    saved: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Option<(String, String)> {
    let keys: BTreeSet<&String> = saved.keys().chain(now.keys()).collect();
    keys.into_iter()
        .find(|k| saved.get(*k) != now.get(*k))
        .map(|k| match k.rsplit_once(' ') {
            Some((address, field)) => (field.to_string(), address.to_string()),
            None => ("a secret".to_string(), k.clone()),
        })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    text.len()
        .is_multiple_of(2)
        .then(|| {
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn config_fingerprint(dir: &Path) -> Result<String, SavedPlanError> {
    let mut hash = Sha256::new();
    let files = crate::config::config_files(dir).map_err(SavedPlanError::ConfigFiles)?;
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(source) => return Err(SavedPlanError::ReadConfigFile { path, source }),
        };
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
    ) -> Result<SavedPlan, SavedPlanError> {
        let key: [u8; 32] = rand::rng().random();
        Ok(SavedPlan {
            format_version: FORMAT_VERSION,
            config_dir: std::path::absolute(dir).map_err(|source| SavedPlanError::ResolveDir {
                path: dir.to_path_buf(),
                source,
            })?,
            state_lineage: state.lineage.clone(),
            state_serial: state.serial,
            config_fingerprint: config_fingerprint(dir)?,
            observed_fingerprint: observed_fingerprint(observed),
            changes: pins(plan),
            secret_fingerprint_key: Some(hex(&key)),
            secret_fingerprints: secret_fingerprints(plan, &key),
            rendered: crate::redact::scrub(&crate::render::human(plan, false)).into_owned(),
        })
    }

    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let mut text = serde_json::to_string_pretty(self).map_err(SavedPlanError::Serialize)?;
        text.push('\n');
        crate::state::write_atomically(path, text.as_bytes(), false).map_err(|source| {
            SavedPlanError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let not_a_plan = |source| SavedPlanError::NotAPlan {
            path: path.to_path_buf(),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(not_a_plan)?;
        let version = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(SavedPlanError::UnsupportedVersion {
                path: path.to_path_buf(),
                version,
            });
        }
        let saved: SavedPlan = serde_json::from_value(value).map_err(not_a_plan)?;
        Ok(saved)
    }

    /// Refuses with [`SavedPlanError::Stale`] ("saved plan is stale" and the reason) when anything the plan relied
    /// on has changed.
    pub fn check(
        &self,
        state: &State,
        observed: &Observed,
        replanned: &Plan,
    ) -> Result<(), SavedPlanError> {
        let stale = |why: StaleReason| Err(SavedPlanError::Stale(why));
        if state.lineage != self.state_lineage || state.serial != self.state_serial {
            return stale(StaleReason::State {
                planned_lineage: self.state_lineage.clone(),
                planned_serial: self.state_serial,
                lineage: state.lineage.clone(),
                serial: state.serial,
            });
        }
        if config_fingerprint(&self.config_dir)? != self.config_fingerprint {
            return stale(StaleReason::Config {
                dir: self.config_dir.clone(),
            });
        }
        if observed_fingerprint(observed) != self.observed_fingerprint {
            return stale(StaleReason::Observed);
        }
        if let Some(key) = self.secret_fingerprint_key.as_deref() {
            let Some(key) = unhex(key) else {
                return stale(StaleReason::Replanned);
            };
            let now = secret_fingerprints(replanned, &key);
            if let Some((field, address)) = changed_secret(&self.secret_fingerprints, &now) {
                return stale(StaleReason::SecretChanged { field, address });
            }
        }
        if pins(replanned) != self.changes {
            return stale(StaleReason::Replanned);
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
            secret_fingerprint_key: None,
            secret_fingerprints: BTreeMap::new(),
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
            matches!(
                &err,
                SavedPlanError::Stale(StaleReason::State { serial: 0, .. })
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("lineage 0123456é serial 1 -> lineage üüüüüüüü serial 0"),
            "{err}"
        );
    }

    /// A saved plan made from `dir` as it is now, against an empty state and world.
    fn saved_from(dir: &Path) -> SavedPlan {
        let state = State::default();
        SavedPlan::new(dir, &state, &Observed::default(), &Plan::default()).unwrap()
    }

    #[test]
    fn each_change_since_saving_is_its_own_stale_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), "# one\n").unwrap();
        let saved = saved_from(dir.path());
        let (state, observed, plan) = (State::default(), Observed::default(), Plan::default());
        saved.check(&state, &observed, &plan).unwrap();

        let moved_on = State {
            serial: 1,
            ..State::default()
        };
        let err = saved.check(&moved_on, &observed, &plan).unwrap_err();
        assert!(
            matches!(
                err,
                SavedPlanError::Stale(StaleReason::State {
                    planned_serial: 0,
                    serial: 1,
                    ..
                })
            ),
            "{err:?}"
        );

        let mut changed = saved.clone();
        changed.observed_fingerprint = "elsewhere".into();
        let err = changed.check(&state, &observed, &plan).unwrap_err();
        assert!(
            matches!(err, SavedPlanError::Stale(StaleReason::Observed)),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "saved plan is stale: the Direct Connect facts it relied on changed; run `dxctl plan` again"
        );

        let mut changed = saved.clone();
        changed.changes.push(Pinned {
            address: "virtual_interface.dxvif-a.bgp_peer.v6".into(),
            action: PinnedAction::Delete,
            step: 0,
            bgp_peer_id: Some("dxpeer-1".into()),
            desired: None,
        });
        let err = changed.check(&state, &observed, &plan).unwrap_err();
        assert!(
            matches!(err, SavedPlanError::Stale(StaleReason::Replanned)),
            "{err:?}"
        );

        std::fs::write(dir.path().join("main.hcl"), "# two\n").unwrap();
        let err = saved.check(&state, &observed, &plan).unwrap_err();
        assert!(
            matches!(&err, SavedPlanError::Stale(StaleReason::Config { dir: d }) if *d == saved.config_dir),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "saved plan is stale: the configuration in {} changed; run `dxctl plan` again",
                saved.config_dir.display()
            )
        );
    }

    #[test]
    fn a_plan_file_is_refused_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.hcl"), "").unwrap();
        let path = dir.path().join("plan.json");

        let err = SavedPlan::read(&path).unwrap_err();
        assert!(
            matches!(&err, SavedPlanError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );

        std::fs::write(&path, "not json").unwrap();
        let err = SavedPlan::read(&path).unwrap_err();
        assert!(matches!(err, SavedPlanError::NotAPlan { .. }), "{err:?}");

        std::fs::write(&path, r#"{"format_version": 1}"#).unwrap();
        let err = SavedPlan::read(&path).unwrap_err();
        assert!(
            matches!(
                err,
                SavedPlanError::UnsupportedVersion {
                    version: Some(1),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "plan file {} has format_version 1; this dxctl reads 2. Run `dxctl plan --out` again",
                path.display()
            )
        );
        std::fs::write(&path, "{}").unwrap();
        let err = SavedPlan::read(&path).unwrap_err();
        assert!(
            matches!(
                err,
                SavedPlanError::UnsupportedVersion { version: None, .. }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("has format_version (none);"),
            "{err}"
        );

        std::fs::write(&path, r#"{"format_version": 2}"#).unwrap();
        let err = SavedPlan::read(&path).unwrap_err();
        assert!(matches!(err, SavedPlanError::NotAPlan { .. }), "{err:?}");

        let saved = saved_from(dir.path());
        saved.write(&path).unwrap();
        assert_eq!(SavedPlan::read(&path).unwrap(), saved);
        let err = saved.write(dir.path()).unwrap_err();
        assert!(
            matches!(&err, SavedPlanError::Write { path, .. } if path == dir.path()),
            "{err:?}"
        );
    }
}
