//! The one integration-test binary (matklad's "one test binary"): each module tests one area
//! through the public library or the real `butterfly` binary.

mod backup_cli;
mod backup_read;
mod canonical_golden;
mod catalogue_cli;
mod catalogue_examples;
mod catalogue_spec;
mod check_cli;
mod connection_cli;
mod demo_cli;
mod diff_cli;
mod history_cli;
mod okta_client;
mod plan_cli;
mod report_cli;
mod restore_roundtrip;
mod server_access;
mod server_browser;
mod server_flow;
mod server_workers;
mod sim_api;
mod sim_auth;
mod sim_contract;
mod sim_expressions;
mod sim_fixtures;
mod sim_limits;
mod sim_listing;
mod sim_rules;
mod sim_state;
mod sim_validation;
mod store_db;
mod support;
