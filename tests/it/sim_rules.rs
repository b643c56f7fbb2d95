//! Okta's rules on writes, one test each (issue #3), enforced by `butterfly sim` from the
//! catalogue's `[constraints]`, against the `tiny` fixture.

use serde_json::{Value, json};

use crate::support::sim::{Sim, status_and_body};

/// The first cause of an Okta error body.
fn cause(error: &Value) -> &str {
    error["errorCauses"][0]["errorSummary"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn an_active_app_cannot_be_deleted_until_deactivated() {
    let sim = Sim::start("tiny", &[]);
    let app = "/api/v1/apps/0oa1tinyhandbook0001";
    let (status, error) = status_and_body(sim.delete(app).await).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (403, Some("E0000056"))
    );
    let deactivate = sim.post_empty(&format!("{app}/lifecycle/deactivate")).await;
    assert_eq!(deactivate.status(), 204);
    assert_eq!(sim.delete(app).await.status(), 204);
    // Its group assignments went with it.
    assert_eq!(sim.get(&format!("{app}/groups")).await.status(), 404);
}

#[tokio::test]
async fn an_active_event_hook_cannot_be_deleted() {
    let sim = Sim::start("tiny", &[]);
    let hook = "/api/v1/eventHooks/who1tinyauditfeed001";
    let (status, error) = status_and_body(sim.delete(hook).await).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    assert!(cause(&error).contains("status not in [\"ACTIVE\"]"));
    sim.post_empty(&format!("{hook}/lifecycle/deactivate"))
        .await;
    assert_eq!(sim.delete(hook).await.status(), 204);
}

#[tokio::test]
async fn a_zone_must_be_inactive_and_unused_to_be_deleted() {
    let sim = Sim::start("tiny", &[]);
    let office = "/api/v1/zones/nzo1tinyoffice000001";
    assert_eq!(sim.delete(office).await.status(), 400, "still ACTIVE");
    sim.post_empty(&format!("{office}/lifecycle/deactivate"))
        .await;
    let (status, error) = status_and_body(sim.delete(office).await).await;
    assert_eq!(status, 409, "the Office only sign-on rule uses it");
    assert!(cause(&error).contains("0pr1tinyofficeonly01"));
    let lab = "/api/v1/zones/nzo1tinylab000000002";
    sim.post_empty(&format!("{lab}/lifecycle/deactivate")).await;
    assert_eq!(sim.delete(lab).await.status(), 204, "unused and inactive");
    // A zone's type cannot change.
    let (status, _) = status_and_body(
        sim.put_json(office, &json!({"name": "Office", "type": "DYNAMIC"}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_group_rule_is_edited_only_while_inactive_and_its_actions_never() {
    let sim = Sim::start("tiny", &[]);
    let rule = "/api/v1/groups/rules/0pr1tinyengrule00001";
    let mut renamed = sim.get_json(rule).await;
    renamed["name"] = json!("Engineering - automatic");
    let (status, error) = status_and_body(sim.put_json(rule, &renamed).await).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001")),
        "ACTIVE rules cannot be edited"
    );
    sim.post_empty(&format!("{rule}/lifecycle/deactivate"))
        .await;
    let (status, edited) = status_and_body(sim.put_json(rule, &renamed).await).await;
    assert_eq!(status, 200);
    assert_eq!(edited["name"], "Engineering - automatic");
    let mut new_action = renamed.clone();
    new_action["actions"]["assignUserToGroups"]["groupIds"] = json!(["00g1tinysalesemea004"]);
    let (status, error) = status_and_body(sim.put_json(rule, &new_action).await).await;
    assert_eq!(status, 400);
    assert!(cause(&error).starts_with("actions:"));
}

#[tokio::test]
async fn an_app_holds_at_most_two_client_secrets() {
    let sim = Sim::start("tiny", &[]);
    let secrets = "/api/v1/apps/0oa1tinyportal000002/credentials/secrets";
    for _ in 0..2 {
        assert_eq!(sim.post_json(secrets, &json!({})).await.status(), 201);
    }
    let (status, error) = status_and_body(sim.post_json(secrets, &json!({})).await).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    // Only OIDC apps have client secrets.
    let bookmark = "/api/v1/apps/0oa1tinyhandbook0001/credentials/secrets";
    assert_eq!(sim.get(bookmark).await.status(), 404);
}

#[tokio::test]
async fn authenticators_cannot_be_deleted_and_one_in_use_cannot_be_deactivated() {
    let sim = Sim::start("tiny", &[]);
    let email = "/api/v1/authenticators/aut1tinyemail0000001";
    assert_eq!(sim.delete(email).await.status(), 405, "Okta has no DELETE");
    let (status, error) = status_and_body(
        sim.post_empty(&format!("{email}/lifecycle/deactivate"))
            .await,
    )
    .await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (403, Some("E0000148")),
        "the MFA enrollment policy uses it"
    );
}

#[tokio::test]
async fn overlapping_group_rule_writes_get_423() {
    let sim = Sim::start("tiny", &["--reconcile-ms", "300"]);
    let create = |name: &str| {
        let rule = json!({
            "type": "group_rule",
            "name": name,
            "conditions": {"expression": {"type": "urn:okta:expression:1.0", "value": "user.department==\"Sales\""}},
            "actions": {"assignUserToGroups": {"groupIds": ["00g1tinysalesemea004"]}}
        });
        let sim = &sim;
        async move { sim.post_json("/api/v1/groups/rules", &rule).await }
    };
    let (first, second) = tokio::join!(create("Sales A"), create("Sales B"));
    let mut statuses = vec![first.status().as_u16(), second.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 423]);
    // Once reconciled, the next write goes through.
    assert_eq!(create("Sales C").await.status(), 200);
}

#[tokio::test]
async fn policy_priorities_are_renumbered_with_the_default_policy_last() {
    let sim = Sim::start("tiny", &[]);
    let contractors = json!({"type": "OKTA_SIGN_ON", "name": "Contractors", "priority": 1, "conditions": {"people": {"groups": {"include": ["00g1tinysalesemea004"]}}}});
    let created: Value = sim
        .post_json("/api/v1/policies", &contractors)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["priority"], 1);
    let staff = json!({"type": "OKTA_SIGN_ON", "name": "Staff", "priority": 1});
    let another: Value = sim
        .post_json("/api/v1/policies", &staff)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(another["priority"], 1);
    let policies = sim.get_json("/api/v1/policies?type=OKTA_SIGN_ON").await;
    let order: Vec<(String, u64)> = policies
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["priority"].as_u64().unwrap(),
            )
        })
        .collect();
    let priority = |name: &str| order.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(priority("Staff"), 1);
    assert_eq!(priority("Contractors"), 2);
    assert_eq!(
        priority("Default Policy"),
        3,
        "Okta's default policy stays last: {order:?}"
    );
}

#[tokio::test]
async fn request_bodies_are_checked_against_okta_request_schemas() {
    let sim = Sim::start("tiny", &[]);
    let groups = "/api/v1/groups";
    let (status, error) = status_and_body(
        sim.post_json(
            groups,
            &json!({"profile": {"name": "Ops"}, "colour": "blue"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    assert_eq!(
        cause(&error),
        "colour: Property is not defined in the request schema"
    );
    let (status, error) = status_and_body(
        sim.post_json(groups, &json!({"profile": {"name": 42}}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(cause(&error), "profile.name: expected string, got integer");
    // Read-only and hypermedia members are ignored, as Okta ignores them.
    let forged = json!({"id": "00gforged", "created": "2020-01-01T00:00:00.000Z", "_links": {"self": {}}, "profile": {"name": "Ops"}});
    let (status, created) = status_and_body(sim.post_json(groups, &forged).await).await;
    assert_eq!(status, 200);
    assert_ne!(created["id"], "00gforged");
}

#[tokio::test]
async fn a_secret_written_is_returned_in_plaintext_and_stored_canonically() {
    let sim = Sim::start("tiny", &[]);
    let wiki = json!({
        "name": "oidc_client", "label": "Wiki", "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"client_secret": "wiki-secret", "token_endpoint_auth_method": "client_secret_basic"}},
        "settings": {"oauthClient": {"application_type": "web", "grant_types": ["authorization_code"], "redirect_uris": ["https://wiki.tiny.example/cb"], "response_types": ["code"]}}
    });
    let (status, app) =
        status_and_body(sim.post_json("/api/v1/apps?activate=false", &wiki).await).await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["status"], "INACTIVE", "created with activate=false");
    assert_eq!(
        app["credentials"]["oauthClient"]["client_secret"],
        "wiki-secret"
    );
    // Sending Okta's own answer back (links, nulls, volatile fields) is accepted.
    let path = format!("/api/v1/apps/{}", app["id"].as_str().unwrap());
    let (status, replaced) = status_and_body(sim.put_json(&path, &app).await).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        replaced["credentials"]["oauthClient"]["client_secret"],
        "wiki-secret"
    );
}

#[tokio::test]
async fn a_catch_all_rule_keeps_its_priority_99_when_rules_are_renumbered() {
    // Okta's examples show an access policy's system catch-all rule at 99, after any number
    // of customer rules; a new rule renumbers the customer rules only.
    let sim = Sim::start("small", &[]);
    let rules = "/api/v1/policies/00p1smapeng000000000/rules";
    let rule = json!({"type": "ACCESS_POLICY", "name": "First", "priority": 1, "actions": {"appSignOn": {"access": "ALLOW"}}});
    let (status, body) = status_and_body(sim.post_json(rules, &rule).await).await;
    assert_eq!(status, 200, "{body}");
    let listed = sim.get_json(rules).await;
    let priority = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {listed}"))["priority"]
            .clone()
    };
    assert_eq!(priority("First"), 1);
    assert_eq!(priority("Engineers via Google"), 2);
    assert_eq!(priority("Catch-all Rule"), 99);
}
