//! State commit benchmark: `cargo bench --bench state_commit`. Prints figures; it passes or fails nothing.
//!
//! What one group commit during apply costs with a large state, before and after the journal, measured in the
//! same run on the same state file. "Before" is what each commit cost until now: the change applied with the old
//! `State::upsert` (drop the address, push, re-sort), the whole state cloned, and the whole file written (pretty
//! JSON, temp file, fsync, rename, `.backup`). "After" is what it costs now: the change applied with the indexed
//! `upsert`, and one journal line appended and fsynced. An apply pays one whole save before its first journal
//! commit and one compaction at the end; the totals for a run of commits count those too.
//!
//! Environment (all optional): `DXCTL_STATE_RECORDS` (5000) peers in the state, `DXCTL_STATE_COMMITS` (40) commits
//! measured each way, `DXCTL_STATE_RUN` (400) commits in the apply the totals describe, `DXCTL_STATE_DIR` (the
//! system's temporary directory) where the files go: a tmpfs such as `/dev/shm`, where fsync costs nothing, shows
//! what the CPU and copying cost without the disk.

use std::time::{Duration, Instant};

use dxctl::model::{AddressFamily, Asn, PeerAddress, VifId};
use dxctl::state::{Change, LocalStateFile, PeerRecord, State, StateStore};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn record(i: usize, generation: usize) -> PeerRecord {
    let vif = VifId(format!("dxvif-{i:08x}"));
    PeerRecord {
        address: PeerAddress::new(&vif, "backup_v4"),
        virtual_interface_id: vif,
        region: ["us-east-1", "eu-west-1", "ap-southeast-2"][i % 3].into(),
        profile: i.is_multiple_of(4).then(|| "network-eu".into()),
        bgp_peer_id: format!("dxpeer-{i:08x}-{generation}"),
        address_family: AddressFamily::Ipv4,
        // 64512..=65511: always a valid (private) ASN, so this cannot fire.
        asn: Asn::new(64_512 + (i as u64 % 1000)).expect("a private ASN"),
        amazon_address: Some(format!("169.254.{}.{}/30", i / 64 % 256, i % 64 * 4 + 1)),
        customer_address: Some(format!("169.254.{}.{}/30", i / 64 % 256, i % 64 * 4 + 2)),
        deposed: if i.is_multiple_of(10) {
            vec![format!("dxpeer-{i:08x}-old")]
        } else {
            vec![]
        },
        listed_by_ms: Some(1_700_000_000_000 + i as u64),
    }
}

/// `State::upsert` as it was: every write dropped the address, pushed and re-sorted the whole list.
fn old_upsert(state: &mut State, record: PeerRecord) {
    state.peers.retain(|p| p.address != record.address);
    state.peers.push(record);
    state.peers.sort_by(|a, b| a.address.cmp(&b.address));
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn mean(samples: &[Duration]) -> Duration {
    samples.iter().sum::<Duration>() / samples.len().max(1) as u32
}

fn ms(d: Duration) -> String {
    format!("{:.3}ms", d.as_secs_f64() * 1e3)
}

fn main() -> anyhow::Result<()> {
    let records = env("DXCTL_STATE_RECORDS", 5000).max(1);
    let commits = env("DXCTL_STATE_COMMITS", 40).max(1);
    let run = env("DXCTL_STATE_RUN", 400).max(1);
    let dir = match std::env::var_os("DXCTL_STATE_DIR") {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    let store = LocalStateFile::new(dir.path().join("dxctl.state.json"));
    let mut state = State::default();
    for i in 0..records {
        state.upsert(record(i, 0));
    }
    store.save(&mut state)?;
    let bytes = std::fs::metadata(store.path())?.len();

    // Before: each commit re-sorts, clones and writes the whole state.
    let mut before = Vec::with_capacity(commits);
    for c in 0..commits {
        let started = Instant::now();
        old_upsert(&mut state, record(c * 7919 % records, 1));
        let mut snapshot = state.clone();
        store.save(&mut snapshot)?;
        state.serial = snapshot.serial;
        state.lineage = snapshot.lineage;
        before.push(started.elapsed());
    }

    // After: one whole save starts the journal, then each commit appends its change.
    let started = Instant::now();
    store.save(&mut state)?;
    let mut journal = store
        .journal(&state)?
        .ok_or_else(|| anyhow::anyhow!("the local store keeps a journal"))?;
    let first_save = started.elapsed();
    let mut after = Vec::with_capacity(commits);
    for c in 0..commits {
        let started = Instant::now();
        let change = Change::PutPeer(record(c * 7919 % records, 2));
        state.apply(change.clone());
        state.serial += 1;
        journal.append(state.serial, &[change])?;
        after.push(started.elapsed());
    }
    let started = Instant::now();
    store.compact(&state)?;
    let compaction = started.elapsed();
    anyhow::ensure!(
        store.load()? == state,
        "the compacted state reads back as it was"
    );

    let (before_median, after_median) = (median(before.clone()), median(after.clone()));
    let (before_mean, after_mean) = (mean(&before), mean(&after));
    let whole_run_before = before_mean * run as u32;
    let whole_run_after = first_save + after_mean * run as u32 + compaction;
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let mut out = String::new();
    out.push_str(&format!(
        "state: {records} peers, {bytes} bytes in {}; {commits} commits measured each way\n",
        dir.path().display()
    ));
    out.push_str(&format!(
        "per commit, before (re-sort, clone, whole file + .backup, fsync): median {}, mean {}\n",
        ms(before_median),
        ms(before_mean)
    ));
    out.push_str(&format!(
        "per commit, after (indexed upsert, one journal line, fsync):     median {}, mean {}\n",
        ms(after_median),
        ms(after_mean)
    ));
    out.push_str(&format!(
        "ratio after/before per commit: median {:.4}, mean {:.4}\n",
        ratio(after_median, before_median),
        ratio(after_mean, before_mean)
    ));
    out.push_str(&format!(
        "an apply of {run} commits: before {}, after {} (first save {} + commits + compaction {}); ratio {:.4}\n",
        ms(whole_run_before),
        ms(whole_run_after),
        ms(first_save),
        ms(compaction),
        ratio(whole_run_after, whole_run_before)
    ));
    // A bench binary's report is its output; it is not part of dxctl, so it writes to stdout directly.
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
    Ok(())
}
