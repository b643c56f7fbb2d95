//! The simulator's two expression languages (issue #3): group rules in the Okta Expression
//! Language assign and remove memberships as Okta does, and `search`/`filter` on user and group
//! lists accept what Okta accepts and refuse the rest, against the `tiny` fixture.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::sim::{Sim, status_and_body};

const ENGINEERING: &str = "00g1tinyengineering3";
const ADMIN: &str = "00u1tinyadmin0000001";
const BOB: &str = "00u1tinyuser00000002";
const CAROL: &str = "00u1tinyuser00000003";

/// The sorted logins of a user list.
fn logins(users: &Value) -> Vec<String> {
    let mut logins: Vec<String> = users
        .as_array()
        .unwrap_or_else(|| panic!("a list: {users}"))
        .iter()
        .map(|u| {
            u["profile"]["login"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    logins.sort();
    logins
}

/// The sorted names of a group list.
fn names(groups: &Value) -> Vec<String> {
    let mut names: Vec<String> = groups
        .as_array()
        .unwrap_or_else(|| panic!("a list: {groups}"))
        .iter()
        .map(|g| {
            g["profile"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    names.sort();
    names
}

async fn members(sim: &Sim, group: &str) -> Vec<String> {
    logins(&sim.get_json(&format!("/api/v1/groups/{group}/users")).await)
}

async fn create_group(sim: &Sim, name: &str) -> String {
    let (status, group) = status_and_body(
        sim.post_json("/api/v1/groups", &json!({"profile": {"name": name}}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{group}");
    group["id"].as_str().unwrap().to_string()
}

fn rule(name: &str, expression: &str, group: &str, excluded: &[&str]) -> Value {
    json!({
        "type": "group_rule",
        "name": name,
        "conditions": {
            "expression": {"type": "urn:okta:expression:1.0", "value": expression},
            "people": {"users": {"exclude": excluded}}
        },
        "actions": {"assignUserToGroups": {"groupIds": [group]}}
    })
}

async fn create_rule(sim: &Sim, body: &Value) -> String {
    let (status, rule) = status_and_body(sim.post_json("/api/v1/groups/rules", body).await).await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["status"], "INACTIVE");
    rule["id"].as_str().unwrap().to_string()
}

async fn update_profile(sim: &Sim, user: &str, profile: Value) {
    let (status, body) = status_and_body(
        sim.post_json(
            &format!("/api/v1/users/{user}"),
            &json!({"profile": profile}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_activated_rule_assigns_matching_users_and_follows_their_profiles() {
    let sim = Sim::start("tiny", &[]);
    let group = create_group(&sim, "Builders").await;
    let expression = "(user.department == \"Engineering\" OR String.stringContains(user.email, \"admin\")) AND !isMemberOfGroupName(\"Nobody\")";
    let id = create_rule(&sim, &rule("Builders - auto", expression, &group, &[CAROL])).await;
    let rule_path = format!("/api/v1/groups/rules/{id}");
    assert!(
        members(&sim, &group).await.is_empty(),
        "INACTIVE rules do nothing"
    );

    let activate = sim
        .post_empty(&format!("{rule_path}/lifecycle/activate"))
        .await;
    assert_eq!(activate.status(), 204);
    // Carol is excluded; Dan is STAGED and Eve DEPROVISIONED, which rules leave alone.
    assert_eq!(
        members(&sim, &group).await,
        ["admin@tiny.example", "bob@tiny.example"]
    );
    // The System Log names Okta's system principal and the rule.
    let events = sim
        .get_json("/api/v1/logs?filter=eventType eq \"group.user_membership.add\"")
        .await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["actor"]["type"], "SystemPrincipal");
    assert_eq!(
        events[0]["transaction"]["detail"]["groupRuleId"],
        id.as_str()
    );
    assert!(
        events
            .iter()
            .any(|e| e["target"][0]["id"] == BOB && e["target"][1]["id"] == group.as_str())
    );

    // An admin adds Bob too: the membership is the admin's as well as the rule's.
    let put = sim
        .ssws()
        .put(sim.at(&format!("/api/v1/groups/{group}/users/{BOB}")))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    update_profile(&sim, BOB, json!({"department": "Sales"})).await;
    assert!(
        members(&sim, &group)
            .await
            .contains(&"bob@tiny.example".to_string()),
        "a membership an admin made stays"
    );
    // Ada no longer matches: the rule's membership goes.
    update_profile(&sim, ADMIN, json!({"email": "ada@tiny.example"})).await;
    assert_eq!(members(&sim, &group).await, ["bob@tiny.example"]);
    let removed = sim
        .get_json("/api/v1/logs?filter=eventType eq \"group.user_membership.remove\"")
        .await;
    // Bob left Engineering (the fixture's rule) but not Builders; Ada left Builders.
    let removed: Vec<(&str, &str)> = removed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["target"][0]["id"].as_str().unwrap(),
                e["target"][1]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(removed, [(BOB, ENGINEERING), (ADMIN, group.as_str())]);

    // A new ACTIVE user who matches joins at once; a STAGED one when activated.
    let new_user = |login: &str| {
        json!({"profile": {"login": login, "email": login, "firstName": "N", "lastName": "U",
                           "department": "Engineering"}})
    };
    let (status, _) = status_and_body(
        sim.post_json("/api/v1/users?activate=true", &new_user("nia@tiny.example"))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (_, staged) = status_and_body(
        sim.post_json(
            "/api/v1/users?activate=false",
            &new_user("sam@tiny.example"),
        )
        .await,
    )
    .await;
    assert_eq!(
        members(&sim, &group).await,
        ["bob@tiny.example", "nia@tiny.example"]
    );
    let sam = staged["id"].as_str().unwrap();
    sim.post_empty(&format!("/api/v1/users/{sam}/lifecycle/activate"))
        .await;
    assert_eq!(
        members(&sim, &group).await,
        ["bob@tiny.example", "nia@tiny.example", "sam@tiny.example"]
    );

    // Deactivating leaves the memberships; deleting with removeUsers=true removes the rule's.
    sim.post_empty(&format!("{rule_path}/lifecycle/deactivate"))
        .await;
    assert_eq!(members(&sim, &group).await.len(), 3);
    assert_eq!(
        sim.delete(&format!("{rule_path}?removeUsers=true"))
            .await
            .status(),
        202,
        "Okta accepts a group rule delete and finishes it later"
    );
    assert_eq!(
        members(&sim, &group).await,
        ["bob@tiny.example"],
        "only the admin's membership stays"
    );
}

#[tokio::test]
async fn a_rule_deleted_without_remove_users_leaves_its_memberships_for_good() {
    let sim = Sim::start("tiny", &[]);
    let rule_path = "/api/v1/groups/rules/0pr1tinyengrule00001";
    sim.post_empty(&format!("{rule_path}/lifecycle/deactivate"))
        .await;
    assert_eq!(sim.delete(rule_path).await.status(), 202);
    update_profile(&sim, BOB, json!({"department": "Sales"})).await;
    assert_eq!(
        members(&sim, ENGINEERING).await,
        ["bob@tiny.example", "carol@tiny.example"]
    );
}

#[tokio::test]
async fn the_fixture_rule_keeps_its_group_current() {
    let sim = Sim::start("tiny", &[]);
    // `user.department=="Engineering"` holds Bob and Carol; Ada moves in, Carol moves out.
    update_profile(&sim, ADMIN, json!({"department": "Engineering"})).await;
    update_profile(&sim, CAROL, json!({"department": "Design"})).await;
    assert_eq!(
        members(&sim, ENGINEERING).await,
        ["admin@tiny.example", "bob@tiny.example"]
    );
    // A user's memberships are one per group: Ada is still in Sales / EMEA.
    assert_eq!(
        members(&sim, "00g1tinysalesemea004").await,
        ["admin@tiny.example"]
    );
}

#[tokio::test]
async fn an_invalid_expression_is_refused_with_okta_error() {
    let sim = Sim::start("tiny", &[]);
    let group = create_group(&sim, "Clock watchers").await;
    let body = rule("Clock", "Time.now() == \"x\"", &group, &[]);
    let (status, error) = status_and_body(sim.post_json("/api/v1/groups/rules", &body).await).await;
    assert_eq!(status, 400);
    assert_eq!(error["errorCode"], "E0000001");
    assert_eq!(
        error["errorSummary"],
        "Api validation failed: conditions.expression.value"
    );
    let cause = error["errorCauses"][0]["errorSummary"].as_str().unwrap();
    assert_eq!(
        cause,
        "conditions.expression.value: Invalid expression: Unsupported function `Time.now` in a group rule expression at position 0"
    );
    // A profile attribute no user schema defines.
    let body = rule("Shoe size", "user.shoeSize == 42", &group, &[]);
    let (status, error) = status_and_body(sim.post_json("/api/v1/groups/rules", &body).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["errorCauses"][0]["errorSummary"],
        "conditions.expression.value: Invalid expression: Invalid property `shoeSize`: no user profile attribute has this name at position 0"
    );
    // The same on replace of an INACTIVE rule.
    let id = create_rule(&sim, &rule("Clock", "user.department == 'x'", &group, &[])).await;
    let broken = rule("Clock", "user.department == 'x' AND", &group, &[]);
    let (status, error) = status_and_body(
        sim.put_json(&format!("/api/v1/groups/rules/{id}"), &broken)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let cause = error["errorCauses"][0]["errorSummary"].as_str().unwrap();
    assert!(cause.contains("at position 26"), "{cause}");
}

#[tokio::test]
async fn searches_take_parentheses_comparisons_sw_and_pr() {
    let sim = Sim::start("tiny", &[]);
    let get = |query: &str| {
        let query = query.to_string();
        let sim = &sim;
        async move { sim.get_json(&format!("/api/v1/users?search={query}")).await }
    };
    let active = get(
        "(profile.department eq \"engineering\" or profile.department eq \"Sales\") and status eq \"ACTIVE\"",
    )
    .await;
    assert_eq!(
        logins(&active),
        [
            "admin@tiny.example",
            "bob@tiny.example",
            "carol@tiny.example"
        ]
    );
    let old = get("created lt \"2025-01-01T00:00:00.000Z\" and profile.lastName sw \"b\"").await;
    assert_eq!(logins(&old), ["bob@tiny.example"]);
    let (status, _) = status_and_body(
        sim.post_json(
            "/api/v1/users?activate=true",
            &json!({"profile": {"login": "new@tiny.example", "email": "new@tiny.example",
                                "firstName": "N", "lastName": "U"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let recent = get("created gt \"2025-01-01T00:00:00.000Z\"").await;
    assert_eq!(logins(&recent), ["new@tiny.example"]);
    let (status, refused) = status_and_body(
        sim.get("/api/v1/users?search=status eq \"ACTIVE\" and not (profile.department pr)")
            .await,
    )
    .await;
    assert_eq!(status, 400, "`not` is refused in a user search: {refused}");
    let staged = get("profile.department pr and status eq \"STAGED\"").await;
    assert_eq!(logins(&staged), ["dan@tiny.example"]);
    // Searches return DEPROVISIONED users too.
    let gone = get("profile.lastName sw \"ex\"").await;
    assert_eq!(logins(&gone), ["eve@tiny.example"]);

    let groups = sim
        .get_json(
            "/api/v1/groups?search=profile.name co \"EMEA\" or (type eq \"BUILT_IN\" and profile.name sw \"ev\")",
        )
        .await;
    assert_eq!(names(&groups), ["Everyone", "Sales / EMEA"]);
    let updated = sim
        .get_json("/api/v1/users?filter=lastUpdated gt \"2020-01-01T00:00:00.000Z\" and status eq \"STAGED\"")
        .await;
    assert_eq!(logins(&updated), ["dan@tiny.example"]);
    // `ne` where Okta takes it: the System Log.
    let events = sim
        .get_json("/api/v1/logs?filter=eventType ne \"group.lifecycle.create\"")
        .await;
    assert_eq!(events[0]["eventType"], "user.lifecycle.create", "{events}");
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
}

#[tokio::test]
async fn invalid_filters_and_searches_are_refused() {
    let sim = Sim::start("tiny", &[]);
    for (query, expected) in [
        (
            "/api/v1/users?filter=profile.department eq \"Sales\"",
            "filter: The property `profile.department` cannot be used here at position 0",
        ),
        (
            "/api/v1/users?search=status ne \"STAGED\"",
            "search: The operator `ne` cannot be used in a user search (use `lt … or … gt`) at position 7",
        ),
        (
            "/api/v1/users?search=(status eq \"ACTIVE\"",
            "search: Expected `)`, found the end of the expression at position 19",
        ),
        (
            "/api/v1/groups?search=profile.name ew \"A\"",
            "search: The operator `ew` cannot be used in a group search at position 13",
        ),
        (
            "/api/v1/groups?filter=type eq OKTA_GROUP",
            "filter: Expected a quoted string, a number, true, false or null after `type eq`, found `OKTA_GROUP` at position 8",
        ),
    ] {
        let (status, error) = status_and_body(sim.get(query).await).await;
        assert_eq!(
            (status, error["errorCode"].as_str()),
            (400, Some("E0000031")),
            "{query}"
        );
        assert_eq!(error["errorCauses"][0]["errorSummary"], expected, "{query}");
    }
    let (status, error) = status_and_body(
        sim.get("/api/v1/logs?filter=published gt \"2020-01-01T00:00:00Z\"")
            .await,
    )
    .await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (400, Some("E0000053"))
    );
}

/// A copy of the `tiny` fixture in a fresh temporary folder.
fn tiny_copy(name: &str) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("butterfly-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&crate::support::root().join("fixtures/orgs/tiny"), &dir);
    dir
}

fn start_error(fixture: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(["sim", "--listen", "127.0.0.1:0", "--fixture"])
        .arg(fixture)
        .output()
        .unwrap();
    assert!(!output.status.success(), "the simulator started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_fixture_missing_a_rule_membership_does_not_load() {
    let dir = tiny_copy("rule-members");
    let members = dir.join("okta/groups/Engineering/members.json");
    std::fs::write(
        &members,
        "[\n  {\n    \"id\": \"00u1tinyuser00000002\"\n  }\n]\n",
    )
    .unwrap();
    let stderr = start_error(&dir);
    assert!(
        stderr.contains(&format!(
            "{}: the ACTIVE group rule `Engineering - auto` assigns user carol@tiny.example (00u1tinyuser00000003) to this group, but the file does not list them",
            members.display()
        )),
        "{stderr}"
    );
    let rule = dir.join("okta/group-rules/Engineering - auto.json");
    let text = std::fs::read_to_string(&rule).unwrap();
    std::fs::write(&rule, text.replace("user.department==", "user.department=")).unwrap();
    let stderr = start_error(&dir);
    assert!(
        stderr.contains("Engineering - auto.json: group rule `Engineering - auto`: conditions.expression.value: Assignment `=` is not allowed; use `==` to compare at position 15"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_user_in_two_groups_is_listed_in_both() {
    let sim = Sim::start("tiny", &[]);
    let put = sim
        .ssws()
        .put(sim.at(&format!("/api/v1/groups/{ENGINEERING}/users/{ADMIN}")))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    assert!(
        members(&sim, ENGINEERING)
            .await
            .contains(&"admin@tiny.example".to_string())
    );
    assert_eq!(
        members(&sim, "00g1tinysalesemea004").await,
        ["admin@tiny.example"]
    );
    let delete = sim
        .delete(&format!("/api/v1/groups/{ENGINEERING}/users/{ADMIN}"))
        .await;
    assert_eq!(delete.status(), 204);
    assert_eq!(
        members(&sim, "00g1tinysalesemea004").await,
        ["admin@tiny.example"]
    );
}
