//! SigV4 signature verification for the simulator (being written).
