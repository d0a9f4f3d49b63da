//! The state file's on-disk format, kept apart from the in-memory `State` so the format can be versioned: this is
//! the only place that knows how version 1 looks, and files written by every dxctl so far are version 1.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{Intent, PeerRecord, State};

pub const FORMAT_VERSION: u32 = 1;

/// Version 1 of the state file: pretty JSON, these fields in this order, `intents` left out when empty.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileV1<'a> {
    format_version: u32,
    lineage: Cow<'a, str>,
    serial: u64,
    peers: Cow<'a, [PeerRecord]>,
    #[serde(default, skip_serializing_if = "no_intents")]
    intents: Cow<'a, [Intent]>,
}

fn no_intents(intents: &[Intent]) -> bool {
    intents.is_empty()
}

/// Just the version, read first, so a newer file is refused by name rather than as malformed.
#[derive(Deserialize)]
struct Versioned {
    format_version: u32,
}

/// What `dxctl state migrate` leaves in the old home in place of the state: where it went, and which state it was
/// (its previous content stays as the local file's `.backup`, or as an earlier version of the S3 object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    pub moved_to: String,
    pub lineage: String,
    pub serial: u64,
}

impl Moved {
    /// The marker's text, ending in a newline.
    pub fn to_text(&self) -> serde_json::Result<String> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}

/// Why a state file's text is not a state.
pub enum Unreadable {
    /// It is not JSON, or not version 1's shape.
    Malformed(serde_json::Error),
    /// Another format version (a newer dxctl wrote it).
    Version(u32),
    /// The state moved elsewhere (`state migrate`).
    Moved(Moved),
}

/// The state file's text for `state`, ending in a newline.
pub fn to_text(state: &State) -> serde_json::Result<String> {
    let file = StateFileV1 {
        format_version: FORMAT_VERSION,
        lineage: Cow::Borrowed(&state.lineage),
        serial: state.serial,
        peers: Cow::Borrowed(&state.peers),
        intents: Cow::Borrowed(&state.intents),
    };
    let mut text = serde_json::to_string_pretty(&file)?;
    text.push('\n');
    Ok(text)
}

/// The state a file's text holds, sorted as `State` keeps it; not yet checked.
pub fn from_text(text: &str) -> Result<State, Unreadable> {
    if let Ok(moved) = serde_json::from_str::<Moved>(text) {
        return Err(Unreadable::Moved(moved));
    }
    let version: Versioned = serde_json::from_str(text).map_err(Unreadable::Malformed)?;
    if version.format_version != FORMAT_VERSION {
        return Err(Unreadable::Version(version.format_version));
    }
    let file: StateFileV1<'_> = serde_json::from_str(text).map_err(Unreadable::Malformed)?;
    let mut state = State {
        lineage: file.lineage.into_owned(),
        serial: file.serial,
        peers: file.peers.into_owned(),
        intents: file.intents.into_owned(),
    };
    state.normalize();
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files as the dxctl before the journal wrote them (its `State` serialized directly).
    const WITH_INTENTS: &str = include_str!("../../tests/fixtures/state/v1-with-intents.json");
    const PEERS_ONLY: &str = include_str!("../../tests/fixtures/state/v1-peers-only.json");

    #[test]
    fn existing_files_load_and_are_written_back_byte_for_byte() {
        for text in [WITH_INTENTS, PEERS_ONLY] {
            let Ok(state) = from_text(text) else {
                panic!("the fixture loads")
            };
            assert!(state.check().is_ok());
            assert_eq!(to_text(&state).unwrap(), text);
        }
        let Ok(state) = from_text(WITH_INTENTS) else {
            panic!("the fixture loads")
        };
        assert_eq!(state.serial, 41);
        assert_eq!(state.peers.len(), 2);
        assert_eq!(state.intents.len(), 2);
    }

    #[test]
    fn other_versions_and_unknown_fields_are_refused() {
        let newer = WITH_INTENTS.replace("\"format_version\": 1", "\"format_version\": 2");
        assert!(matches!(from_text(&newer), Err(Unreadable::Version(2))));
        let extra = PEERS_ONLY.replace("\"serial\"", "\"auth_key\": \"x\",\n  \"serial\"");
        assert!(matches!(from_text(&extra), Err(Unreadable::Malformed(_))));
        assert!(matches!(
            from_text("{not json"),
            Err(Unreadable::Malformed(_))
        ));
    }

    #[test]
    fn a_moved_marker_is_told_apart_from_a_state() {
        let moved = Moved {
            moved_to: "s3://net-state/dx.json".into(),
            lineage: "abc".into(),
            serial: 7,
        };
        assert!(
            matches!(from_text(&moved.to_text().unwrap()), Err(Unreadable::Moved(m)) if m == moved)
        );
    }

    #[test]
    fn an_unsorted_file_is_sorted_on_load() {
        let state = from_text(WITH_INTENTS).ok().unwrap();
        let mut reversed = state.clone();
        reversed.peers.reverse();
        reversed.intents.reverse();
        let back = from_text(&to_text(&reversed).unwrap()).ok().unwrap();
        assert_eq!(back, state);
    }
}
