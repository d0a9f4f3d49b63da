//! Saved plans: what `plan --out` writes and `apply FILE` checks before running it. No secrets are stored;
//! they are resolved again from the config at apply time.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::model::Observed;
use crate::plan::Plan;
use crate::state::State;

pub const FORMAT_VERSION: u32 = 1;

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
    /// The plan as `plan --json` prints it.
    pub plan: Value,
    /// The plan as `plan` printed it, for `show`.
    pub rendered: String,
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
            plan: scrubbed(crate::render::json(plan)),
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
        let saved: SavedPlan = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a dxctl plan file", path.display()))?;
        if saved.format_version != FORMAT_VERSION {
            anyhow::bail!(
                "plan file {} has format_version {}; this dxctl reads {FORMAT_VERSION}",
                path.display(),
                saved.format_version
            );
        }
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
        if scrubbed(crate::render::json(replanned)) != self.plan {
            return Err(stale(
                "planning again gives a different plan (a secret or a variable changed?)".into(),
            ));
        }
        Ok(())
    }
}

/// `plan` with every secret the run knows (sensitive variables used anywhere, `env()`/`file()` results in sensitive
/// positions, auth keys) masked, as it is stored: a plan file holds no secret even where one is a plain attribute.
fn scrubbed(plan: Value) -> Value {
    match plan {
        Value::String(text) => Value::String(crate::redact::scrub(&text).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(scrubbed).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (crate::redact::scrub(&k).into_owned(), scrubbed(v)))
                .collect(),
        ),
        other => other,
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
            plan: Value::Null,
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
