//! Integration tests: the real binary and the real SDK against the simulator on ephemeral loopback ports.
//! One test binary (modules below) so it links once.

mod awscli;
mod ci_recipe;
mod completions;
mod config_cli;
mod conformance;
mod crash;
mod errors;
mod fault_matrix;
mod hostile;
mod import;
mod lifecycle;
mod moves;
mod output_discipline;
mod pacing;
mod plan_files;
mod plan_schema;
mod readme_teams;
mod results;
mod s3_crash;
mod s3_seaweed;
mod s3_server;
mod s3_state;
mod sandbox;
mod sdk;
mod secrets;
mod sim_env;
mod sim_faults;
mod sim_server;
mod state_commands;
mod state_contract;
mod support;
