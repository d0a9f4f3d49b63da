//! Simulator concurrency test (being written).
