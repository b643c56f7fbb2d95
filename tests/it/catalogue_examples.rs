//! The catalogue against real payloads: Okta's own example objects (`../shared/okta/examples.json`,
//! from Okta's Apache-2.0 spec) must carry each kind's id and natural key, reference paths must
//! hold ids (strings), and the field paths the catalogue names must select without error.
//! A natural key that real objects lack would make a backup unable to name its files.

use std::fs;

use butterfly::catalogue::{Catalogue, Shape};
use serde_json::Value;

use crate::support;

/// Example key in examples.json → catalogue kind.
const EXAMPLES: &[(&str, &str)] = &[
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

#[test]
fn okta_examples_carry_each_kinds_id_natural_key_and_reference_ids() {
    let path = support::shared_dir().join("okta").join("examples.json");
    let Some(path) = support::require_file(
        &path,
        "Okta's example payloads (../shared/okta/examples.json)",
    ) else {
        return;
    };
    let examples: Value =
        serde_json::from_str(&fs::read_to_string(path).expect("readable")).expect("valid JSON");
    let catalogue = Catalogue::okta().unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    for (key, kind_name) in EXAMPLES {
        let Some(example) = examples.get(key) else {
            problems.push(format!("examples.json has no `{key}`"));
            continue;
        };
        let Some(kind) = catalogue.kind(kind_name) else {
            problems.push(format!(
                "`{key}` maps to `{kind_name}`, which is not a kind"
            ));
            continue;
        };
        if let Some(id) = &kind.id
            && !matches!(kind.shape, Shape::Singleton)
            && id.get(example).is_none()
        {
            problems.push(format!("{key} ({kind_name}): no id at `{id}`"));
        }
        if kind.shape == Shape::Resource {
            for field in kind.natural_key() {
                // A derived key is computed at backup time: its source must be in the payload.
                let derived = kind.derived.iter().find(|d| {
                    field.segments().get(1)
                        == Some(&butterfly::catalogue::Segment::Key(d.name.clone()))
                        && field.first_key() == Some(butterfly::catalogue::DERIVED_MEMBER)
                });
                let source = derived.map_or(field, |d| &d.from);
                match source.get(example) {
                    Some(Value::String(s)) if !s.is_empty() => {}
                    Some(Value::Number(_)) => {}
                    other => problems.push(format!(
                        "{key} ({kind_name}): natural key `{field}` (from `{source}`) is {other:?}, not a non-empty value"
                    )),
                }
            }
        }
        for reference in &kind.references {
            if reference.path.first_key() == Some(butterfly::catalogue::DERIVED_MEMBER) {
                continue;
            }
            // Whole ids, expressions and URLs are all strings in Okta's JSON.
            for value in reference.path.select(example) {
                if !value.is_string() {
                    problems.push(format!(
                        "{key} ({kind_name}): reference `{}` → {} holds {value}, not an id",
                        reference.path, reference.kind
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
