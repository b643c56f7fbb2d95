//! Okta's rules on writes, one test each (issue #3), enforced by `butterfly sim` from the
//! catalogue's `[constraints]`, against the `tiny` fixture.

use serde_json::{Value, json};

use crate::support::sim::Sim;

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn an_active_app_cannot_be_deleted_until_deactivated() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let app = format!("{}/api/v1/apps/0oa1tinyhandbook0001", sim.url);
    let (status, error) = status_and_body(client.delete(&app).send().await.unwrap()).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (403, Some("E0000056"))
    );
    let deactivate = client
        .post(format!("{app}/lifecycle/deactivate"))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(deactivate.status(), 204);
    assert_eq!(client.delete(&app).send().await.unwrap().status(), 204);
    // Its group assignments went with it.
    assert_eq!(
        client
            .get(format!("{app}/groups"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn an_active_event_hook_cannot_be_deleted() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let hook = format!("{}/api/v1/eventHooks/who1tinyauditfeed001", sim.url);
    let (status, error) = status_and_body(client.delete(&hook).send().await.unwrap()).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    assert!(
        error["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("status not in [\"ACTIVE\"]")
    );
    client
        .post(format!("{hook}/lifecycle/deactivate"))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(client.delete(&hook).send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn a_zone_must_be_inactive_and_unused_to_be_deleted() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let office = format!("{}/api/v1/zones/nzo1tinyoffice000001", sim.url);
    assert_eq!(
        client.delete(&office).send().await.unwrap().status(),
        400,
        "still ACTIVE"
    );
    client
        .post(format!("{office}/lifecycle/deactivate"))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    let (status, error) = status_and_body(client.delete(&office).send().await.unwrap()).await;
    assert_eq!(status, 409, "the Office only sign-on rule uses it");
    assert!(
        error["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .contains("0pr1tinyofficeonly01")
    );
    let lab = format!("{}/api/v1/zones/nzo1tinylab000000002", sim.url);
    client
        .post(format!("{lab}/lifecycle/deactivate"))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        client.delete(&lab).send().await.unwrap().status(),
        204,
        "unused and inactive"
    );
    // A zone's type cannot change.
    let (status, _) = status_and_body(
        client
            .put(&office)
            .json(&json!({"name": "Office", "type": "DYNAMIC"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_group_rule_is_edited_only_while_inactive_and_its_actions_never() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let rule = format!("{}/api/v1/groups/rules/0pr1tinyengrule00001", sim.url);
    let current: Value = client
        .get(&rule)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut renamed = current.clone();
    renamed["name"] = json!("Engineering - automatic");
    let (status, error) =
        status_and_body(client.put(&rule).json(&renamed).send().await.unwrap()).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001")),
        "ACTIVE rules cannot be edited"
    );
    client
        .post(format!("{rule}/lifecycle/deactivate"))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    let (status, edited) =
        status_and_body(client.put(&rule).json(&renamed).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(edited["name"], "Engineering - automatic");
    let mut new_action = renamed.clone();
    new_action["actions"]["assignUserToGroups"]["groupIds"] = json!(["00g1tinysalesemea004"]);
    let (status, error) =
        status_and_body(client.put(&rule).json(&new_action).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(
        error["errorCauses"][0]["errorSummary"]
            .as_str()
            .unwrap()
            .starts_with("actions:")
    );
}

#[tokio::test]
async fn an_app_holds_at_most_two_client_secrets() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let secrets = format!(
        "{}/api/v1/apps/0oa1tinyportal000002/credentials/secrets",
        sim.url
    );
    for _ in 0..2 {
        assert_eq!(
            client
                .post(&secrets)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let (status, error) =
        status_and_body(client.post(&secrets).json(&json!({})).send().await.unwrap()).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    // Only OIDC apps have client secrets.
    let bookmark = format!(
        "{}/api/v1/apps/0oa1tinyhandbook0001/credentials/secrets",
        sim.url
    );
    assert_eq!(client.get(&bookmark).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn authenticators_cannot_be_deleted_and_one_in_use_cannot_be_deactivated() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let email = format!("{}/api/v1/authenticators/aut1tinyemail0000001", sim.url);
    assert_eq!(
        client.delete(&email).send().await.unwrap().status(),
        405,
        "Okta has no DELETE"
    );
    let (status, error) = status_and_body(
        client
            .post(format!("{email}/lifecycle/deactivate"))
            .header("content-length", "0")
            .send()
            .await
            .unwrap(),
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
    let client = sim.ssws();
    let create = |name: &str| {
        client
            .post(format!("{}/api/v1/groups/rules", sim.url))
            .json(&json!({
                "type": "group_rule",
                "name": name,
                "conditions": {"expression": {"type": "urn:okta:expression:1.0", "value": "user.department==\"Sales\""}},
                "actions": {"assignUserToGroups": {"groupIds": ["00g1tinysalesemea004"]}}
            }))
            .send()
    };
    let (first, second) = tokio::join!(create("Sales A"), create("Sales B"));
    let mut statuses = vec![
        first.unwrap().status().as_u16(),
        second.unwrap().status().as_u16(),
    ];
    statuses.sort();
    assert_eq!(statuses, vec![200, 423]);
    // Once reconciled, the next write goes through.
    assert_eq!(create("Sales C").await.unwrap().status(), 200);
}

#[tokio::test]
async fn policy_priorities_are_renumbered_with_the_default_policy_last() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let created: Value = client
        .post(format!("{}/api/v1/policies", sim.url))
        .json(&json!({"type": "OKTA_SIGN_ON", "name": "Contractors", "priority": 1, "conditions": {"people": {"groups": {"include": ["00g1tinysalesemea004"]}}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["priority"], 1);
    let another: Value = client
        .post(format!("{}/api/v1/policies", sim.url))
        .json(&json!({"type": "OKTA_SIGN_ON", "name": "Staff", "priority": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(another["priority"], 1);
    let policies: Vec<Value> = client
        .get(format!("{}/api/v1/policies?type=OKTA_SIGN_ON", sim.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order: Vec<(String, u64)> = policies
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
    let client = sim.ssws();
    let groups = format!("{}/api/v1/groups", sim.url);
    let (status, error) = status_and_body(
        client
            .post(&groups)
            .json(&json!({"profile": {"name": "Ops"}, "colour": "blue"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    assert_eq!(
        error["errorCauses"][0]["errorSummary"],
        "colour: Property is not defined in the request schema"
    );
    let (status, error) = status_and_body(
        client
            .post(&groups)
            .json(&json!({"profile": {"name": 42}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["errorCauses"][0]["errorSummary"],
        "profile.name: expected string, got integer"
    );
    // Read-only and hypermedia members are ignored, as Okta ignores them.
    let (status, created) = status_and_body(
        client
            .post(&groups)
            .json(&json!({"id": "00gforged", "created": "2020-01-01T00:00:00.000Z", "_links": {"self": {}}, "profile": {"name": "Ops"}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(created["id"], "00gforged");
}

#[tokio::test]
async fn a_secret_written_is_returned_in_plaintext_and_stored_canonically() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let (status, app) = status_and_body(
        client
            .post(format!("{}/api/v1/apps?activate=false", sim.url))
            .json(&json!({
                "name": "oidc_client", "label": "Wiki", "signOnMode": "OPENID_CONNECT",
                "credentials": {"oauthClient": {"client_secret": "wiki-secret", "token_endpoint_auth_method": "client_secret_basic"}},
                "settings": {"oauthClient": {"application_type": "web", "grant_types": ["authorization_code"], "redirect_uris": ["https://wiki.tiny.example/cb"], "response_types": ["code"]}}
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["status"], "INACTIVE", "created with activate=false");
    assert_eq!(
        app["credentials"]["oauthClient"]["client_secret"],
        "wiki-secret"
    );
    // Sending Okta's own answer back (links, nulls, volatile fields) is accepted.
    let url = format!("{}/api/v1/apps/{}", sim.url, app["id"].as_str().unwrap());
    let (status, replaced) =
        status_and_body(client.put(&url).json(&app).send().await.unwrap()).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        replaced["credentials"]["oauthClient"]["client_secret"],
        "wiki-secret"
    );
}
