//! Conformance suite runner (being written).
