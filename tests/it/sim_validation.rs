//! Required request fields in the simulator (issue #3): a create or replace that leaves one
//! blank is refused with Okta's E0000001 naming each field; a partial update is not held to
//! them, since it merges into the stored object.

use serde_json::{Value, json};

use crate::support::sim::{Sim, status_and_body};

/// The `errorCauses` summaries of an Okta error body.
fn causes(body: &Value) -> Vec<String> {
    body["errorCauses"]
        .as_array()
        .map(|causes| {
            causes
                .iter()
                .filter_map(|c| c["errorSummary"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_group_needs_its_name_to_be_created_or_replaced() {
    let sim = Sim::start("tiny", &[]);

    let (status, body) = status_and_body(
        sim.post_json(
            "/api/v1/groups",
            &json!({"profile": {"description": "no name"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "E0000001");
    assert_eq!(body["errorSummary"], "Api validation failed: profile.name");
    assert_eq!(
        causes(&body),
        vec!["profile.name: The field cannot be left blank"]
    );

    // An empty name is as blank as none.
    let (status, body) = status_and_body(
        sim.post_json("/api/v1/groups", &json!({"profile": {"name": ""}}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        causes(&body),
        vec!["profile.name: The field cannot be left blank"]
    );

    let (status, created) = status_and_body(
        sim.post_json(
            "/api/v1/groups",
            &json!({"profile": {"name": "Validation", "description": "named"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("the new group's id");
    let group = format!("/api/v1/groups/{id}");

    // A replace is a whole object: it must carry the name again.
    let (status, body) = status_and_body(
        sim.put_json(&group, &json!({"profile": {"description": "renamed away"}}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "E0000001");
    assert_eq!(
        causes(&body),
        vec!["profile.name: The field cannot be left blank"]
    );
    assert_eq!(
        sim.get_json(&group).await["profile"]["name"],
        "Validation",
        "a refused replace changes nothing"
    );

    let (status, replaced) = status_and_body(
        sim.put_json(
            &group,
            &json!({"profile": {"name": "Validation 2", "description": "kept"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["profile"]["name"], "Validation 2");
}

#[tokio::test]
async fn a_partial_update_need_not_repeat_required_fields() {
    let sim = Sim::start("tiny", &[]);
    let user = "/api/v1/users/00u1tinyuser00000002";
    let before = sim.get_json(user).await;
    let login = before["profile"]["login"].clone();
    assert!(login.is_string(), "{before}");

    // POST /users/{id} merges into the stored user: no login needed.
    let (status, updated) = status_and_body(
        sim.post_json(user, &json!({"profile": {"nickName": "Partial"}}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["profile"]["nickName"], "Partial");
    assert_eq!(updated["profile"]["login"], login);

    // PUT /users/{id} replaces the profile: the login must be there.
    let (status, body) = status_and_body(
        sim.put_json(user, &json!({"profile": {"nickName": "Whole"}}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "E0000001");
    assert!(
        causes(&body).contains(&"profile.login: The field cannot be left blank".to_string()),
        "{body}"
    );
}

#[tokio::test]
async fn a_required_field_under_an_absent_optional_object_is_not_missing() {
    let sim = Sim::start("tiny", &[]);
    // An event hook requires `channel`, and a channel its `config.uri`; a body without a
    // channel is refused for the channel alone, not for the members of an object it lacks.
    let (status, body) = status_and_body(
        sim.post_json(
            "/api/v1/eventHooks",
            &json!({"name": "No channel", "events": {"type": "EVENT_TYPE", "items": ["user.lifecycle.create"]}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        causes(&body),
        vec!["channel: The field cannot be left blank"]
    );
}

/// Members of open objects are typed too (a custom attribute's `maxLength` is an integer), and
/// a kind file's `types` follow what Okta accepts where its spec differs (`unique`).
#[tokio::test]
async fn members_of_open_objects_are_type_checked_with_the_kinds_overrides() {
    let sim = Sim::start_named("small", &[]);
    let path = "/api/v1/meta/schemas/user/osc1smemployee";
    let attribute = |extra: Value| {
        let mut badge = json!({"title": "Badge", "type": "string"});
        if let (Some(badge), Some(extra)) = (badge.as_object_mut(), extra.as_object()) {
            badge.extend(extra.clone());
        }
        json!({"definitions": {"custom": {"id": "#custom", "type": "object",
            "properties": {"badgeId": badge}}}})
    };
    let (status, body) = status_and_body(
        sim.post_json(path, &attribute(json!({"maxLength": "ten"})))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        causes(&body)
            .iter()
            .chain(std::iter::once(&body["errorSummary"].to_string()))
            .any(|c| c.contains("definitions.custom.properties.badgeId.maxLength")),
        "{body}"
    );
    let (status, body) = status_and_body(
        sim.post_json(path, &attribute(json!({"unique": "UNIQUE_VALIDATED"})))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
