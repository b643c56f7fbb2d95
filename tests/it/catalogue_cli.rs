//! `butterfly catalogue` as a user runs it: the real binary, its stdout, stderr and exit code.

use std::process::{Command, Output};

/// Every kind issue #2 asks for; these names are the project's names everywhere.
const REQUIRED_KINDS: &[&str] = &[
    "user",
    "user_type",
    "user_schema",
    "group_schema",
    "app_user_schema",
    "linked_object_definition",
    "group",
    "group_membership",
    "group_owner",
    "group_rule",
    "app",
    "app_user_assignment",
    "app_group_assignment",
    "app_policy_assignment",
    "app_okta_scope_grant",
    "app_client_secret",
    "app_signing_key",
    "app_provisioning_connection",
    "app_feature",
    "group_push_mapping",
    "profile_mapping",
    "authorization_server",
    "authorization_server_scope",
    "authorization_server_claim",
    "authorization_server_policy",
    "authorization_server_policy_rule",
    "authorization_server_trusted_server",
    "policy",
    "policy_rule",
    "identity_provider",
    "idp_key",
    "authenticator",
    "authenticator_method",
    "user_factor",
    "network_zone",
    "trusted_origin",
    "event_hook",
    "inline_hook",
    "hook_key",
    "custom_domain",
    "email_domain",
    "brand",
    "brand_theme",
    "email_template_customization",
    "sms_template",
    "admin_role_assignment",
    "custom_role",
    "resource_set",
    "behavior_rule",
    "device_assurance_policy",
    "org_settings",
    "threat_insight",
    "admin_console_settings",
    "okta_support_settings",
    "client_privileges_setting",
    "captcha_org_settings",
    "feature",
    "api_token",
    "log_stream",
    "realm",
    "ui_schema",
];

fn butterfly(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(args)
        .output()
        .expect("run butterfly")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn catalogue_lists_every_required_kind_with_scopes_and_endpoints() {
    let output = butterfly(&["catalogue"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    for kind in REQUIRED_KINDS {
        assert!(
            text.lines()
                .any(|line| line.starts_with(&format!("{kind} — "))),
            "`butterfly catalogue` does not list `{kind}`"
        );
    }
    assert!(text.contains("read okta.groups.read · manage okta.groups.manage"));
    assert!(text.contains("list         GET /api/v1/groups/rules"));
}

#[test]
fn catalogue_kind_shows_fields_references_and_lifecycle() {
    let output = butterfly(&["catalogue", "group_rule"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for expected in [
        "group_rule — Group rule",
        "lifecycle    activate: POST /api/v1/groups/rules/{groupRuleId}/lifecycle/activate",
        "reference    actions.assignUserToGroups.groupIds[*] → group",
        "reference    conditions.expression.value → group (inside an expression)",
        "volatile     lastUpdated",
        "natural key  name",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn an_unknown_kind_is_a_usage_error_that_names_it() {
    let output = butterfly(&["catalogue", "group_rules"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`group_rules` is not a resource kind"),
        "{stderr}"
    );
    assert!(
        stderr.contains("group_rule"),
        "suggests the close name: {stderr}"
    );
}

#[test]
fn scopes_are_one_per_line_without_the_retired_factors_scope() {
    let output = butterfly(&["catalogue", "--scopes"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let scopes: Vec<&str> = text.lines().collect();
    assert!(scopes.contains(&"okta.logs.read"));
    assert!(scopes.contains(&"okta.policies.manage"));
    assert!(!scopes.contains(&"okta.factors.manage"));
    assert!(scopes.iter().all(|s| s.starts_with("okta.")), "{text}");
    let read = stdout(&butterfly(&["catalogue", "--scopes=read"]));
    assert!(read.lines().all(|s| s.ends_with(".read")), "{read}");
}

#[test]
fn json_output_describes_every_kind() {
    let output = butterfly(&["catalogue", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let kinds: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let kinds = kinds.as_array().expect("an array of kinds");
    assert!(kinds.len() >= REQUIRED_KINDS.len());
    let group_rule = kinds
        .iter()
        .find(|k| k["kind"] == "group_rule")
        .expect("group_rule");
    assert_eq!(
        group_rule["variants"][0]["endpoints"]["list"]["pagination"],
        "link"
    );
    assert_eq!(group_rule["scopes"]["manage"][0], "okta.groups.manage");
}

#[test]
fn order_lists_groups_before_group_rules() {
    let output = butterfly(&["catalogue", "--order"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let at = |name: &str| {
        text.lines()
            .position(|l| l.trim_start().split_once(". ").map(|(_, k)| k) == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    };
    assert!(at("group") < at("group_rule"));
    assert!(at("user_type") < at("user"));
}
