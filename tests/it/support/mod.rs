//! Shared helpers of the integration tests: where `../shared` is, and how a test that needs
//! something missing skips — loudly, and never in CI, where `BUTTERFLY_REQUIRE_ALL=1` turns
//! every skip into a failure.

pub mod cli;
pub mod db;
pub mod json_schema;
pub mod openapi;
pub mod server;
pub mod sim;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The fixed fingerprint key of tests and fixtures.
pub const TEST_KEY: &str = butterfly::sim::FIXTURE_KEY;

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the project (or `BUTTERFLY_SHARED_DIR`).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("BUTTERFLY_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("..").join("shared"))
}

/// Returns `Some(path)` when `path` exists. Otherwise prints why the test skips and returns
/// `None`, or panics when `BUTTERFLY_REQUIRE_ALL` is set (CI sets it).
pub fn require_file(path: &Path, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    let message = format!("SKIPPED: {what} is missing at {}", path.display());
    if std::env::var_os("BUTTERFLY_REQUIRE_ALL").is_some_and(|v| v != "0" && !v.is_empty()) {
        panic!("{message} (BUTTERFLY_REQUIRE_ALL is set, so a skip is a failure)");
    }
    eprintln!("{message}");
    None
}

/// Example key in examples.json → catalogue kind.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("user", "user"),
    ("user_type", "user_type"),
    ("user_schema", "user_schema"),
    ("group_schema", "group_schema"),
    ("app_user_schema", "app_user_schema"),
    ("linked_object_definition", "linked_object_definition"),
    ("group", "group"),
    ("group_owner", "group_owner"),
    ("group_rule", "group_rule"),
    ("app_bookmark", "app"),
    ("app_oidc", "app"),
    ("app_saml", "app"),
    ("app_user_assignment", "app_user_assignment"),
    ("app_user_assignment_provisioning", "app_user_assignment"),
    ("app_group_assignment", "app_group_assignment"),
    ("app_oauth_scope_grant", "app_okta_scope_grant"),
    ("app_client_secret", "app_client_secret"),
    ("app_feature", "app_feature"),
    ("app_provisioning_connection", "app_provisioning_connection"),
    ("group_push_mapping", "group_push_mapping"),
    ("profile_mapping", "profile_mapping"),
    ("authorization_server", "authorization_server"),
    ("authorization_server_scope", "authorization_server_scope"),
    ("authorization_server_claim", "authorization_server_claim"),
    ("authorization_server_policy", "authorization_server_policy"),
    (
        "authorization_server_policy_rule",
        "authorization_server_policy_rule",
    ),
    ("policy_access", "policy"),
    ("policy_idp_discovery", "policy"),
    ("policy_mfa_enroll", "policy"),
    ("policy_okta_sign_on", "policy"),
    ("policy_password", "policy"),
    ("policy_profile_enrollment", "policy"),
    ("policy_rule_access", "policy_rule"),
    ("policy_rule_idp_discovery", "policy_rule"),
    ("policy_rule_mfa_enroll", "policy_rule"),
    ("policy_rule_password", "policy_rule"),
    ("policy_rule_sign_on", "policy_rule"),
    ("identity_provider_google", "identity_provider"),
    ("identity_provider_oidc", "identity_provider"),
    ("identity_provider_saml", "identity_provider"),
    ("authenticator_email", "authenticator"),
    ("authenticator_password", "authenticator"),
    ("user_factor_sms", "user_factor"),
    ("network_zone_ip", "network_zone"),
    ("network_zone_dynamic", "network_zone"),
    ("network_zone_enhanced_dynamic", "network_zone"),
    ("trusted_origin", "trusted_origin"),
    ("event_hook", "event_hook"),
    ("inline_hook", "inline_hook"),
    ("hook_key", "hook_key"),
    ("email_domain", "email_domain"),
    ("brand", "brand"),
    ("brand_theme", "brand_theme"),
    ("email_customization", "email_template_customization"),
    ("email_template_settings", "email_template_settings"),
    ("sms_template", "sms_template"),
    (
        "admin_role_assignment_standard_user",
        "admin_role_assignment",
    ),
    ("admin_role_assignment_custom_user", "admin_role_assignment"),
    ("admin_role_assignment_client", "admin_role_assignment"),
    ("custom_role", "custom_role"),
    ("custom_role_permission", "custom_role_permission"),
    ("resource_set", "resource_set"),
    ("behavior_rule", "behavior_rule"),
    ("device_assurance_macos", "device_assurance_policy"),
    ("device_assurance_windows", "device_assurance_policy"),
    ("org_settings", "org_settings"),
    ("threat_insight_configuration", "threat_insight"),
    ("org_captcha_settings", "captcha_org_settings"),
    ("captcha", "captcha"),
    ("feature", "feature"),
    ("api_token_metadata", "api_token"),
    ("log_stream", "log_stream"),
    ("realm", "realm"),
    ("ui_schema", "ui_schema"),
];

/// Okta's OpenAPI spec (`../shared/okta/okta-management-openapi.yaml`) parsed to JSON, read
/// once per test run, or `None` after saying why the test skips.
pub fn okta_spec() -> Option<&'static serde_json::Value> {
    static SPEC: OnceLock<serde_json::Value> = OnceLock::new();
    let path = shared_dir()
        .join("okta")
        .join("okta-management-openapi.yaml");
    let path = require_file(
        &path,
        "Okta's OpenAPI spec (../shared/okta/okta-management-openapi.yaml)",
    )?;
    Some(SPEC.get_or_init(|| {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }))
}

/// Okta's example payloads (`../shared/okta/examples.json`, from Okta's Apache-2.0 spec), or
/// `None` after saying why the test skips.
pub fn okta_examples() -> Option<serde_json::Value> {
    let path = shared_dir().join("okta").join("examples.json");
    let path = require_file(
        &path,
        "Okta's example payloads (../shared/okta/examples.json)",
    )?;
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Compares `actual` with the golden file at `path` (relative to `tests/it/golden/`), or
/// rewrites it when `BUTTERFLY_BLESS=1`. Returns a description of the difference, if any.
pub fn golden(path: &str, actual: &str) -> Option<String> {
    let file = root().join("tests").join("it").join("golden").join(path);
    if std::env::var_os("BUTTERFLY_BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = file.parent() {
            fs::create_dir_all(dir).expect("create the golden folder");
        }
        fs::write(&file, actual).expect("write a golden file");
        return None;
    }
    match fs::read_to_string(&file) {
        Ok(expected) if expected == actual => None,
        Ok(expected) => Some(format!(
            "{path}: differs from the golden file\n--- expected\n{expected}\n--- actual\n{actual}"
        )),
        Err(_) => Some(format!(
            "{path}: no golden file (run with BUTTERFLY_BLESS=1 and review it)"
        )),
    }
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
