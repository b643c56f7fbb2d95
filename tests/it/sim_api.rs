//! `butterfly sim` as a client meets it (issue #3): authentication, pagination, Okta's error
//! bodies, rate-limit headers, and Okta's rules on writes, against the `tiny` fixture.

use serde_json::{Value, json};

use crate::support::root;
use crate::support::sim::{Sim, next_link};

#[tokio::test]
async fn client_secret_basic_tokens_carry_exactly_the_granted_scopes() {
    let sim = Sim::start(
        "tiny",
        &["--grant-scopes", "okta.groups.read,okta.users.read"],
    );
    let response = sim.token("okta.groups.read").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "okta.groups.read");
    let access = body["access_token"].as_str().unwrap().to_string();

    let client = reqwest::Client::new();
    let groups = client
        .get(format!("{}/api/v1/groups", sim.url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.status(), 200);
    // The token was not given okta.users.read, although the client holds it.
    let users = client
        .get(format!("{}/api/v1/users", sim.url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 403);
    let error: Value = users.json().await.unwrap();
    assert_eq!(error["errorCode"], "E0000006");

    let ungranted = sim.token("okta.groups.read okta.apps.read").await;
    assert_eq!(ungranted.status(), 400);
    let error: Value = ungranted.json().await.unwrap();
    assert_eq!(error["error"], "invalid_scope");
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("okta.apps.read")
    );

    let post = reqwest::Client::new()
        .post(format!("{}/oauth2/v1/token", sim.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "okta.groups.read"),
            ("client_id", &sim.client_id),
            ("client_secret", &sim.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        post.status(),
        401,
        "client_secret_post is refused, as Okta does"
    );
    assert_eq!(
        post.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    let wrong = reqwest::Client::new()
        .post(format!("{}/oauth2/v1/token", sim.url))
        .basic_auth(&sim.client_id, Some("not-the-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "okta.groups.read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let sim = Sim::start("tiny", &["--token-ttl", "0"]);
    let body: Value = sim.token("okta.groups.read").await.json().await.unwrap();
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/groups", sim.url))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["errorCode"],
        "E0000011"
    );
}

#[tokio::test]
async fn lists_page_through_link_headers_one_header_per_relation() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let mut url = format!("{}/api/v1/groups?limit=2", sim.url);
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let links: Vec<String> = response
            .headers()
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert!(
            links.iter().any(|l| l.ends_with("rel=\"self\"")),
            "{links:?}"
        );
        assert!(
            links.iter().all(|l| !l.contains(',')),
            "one Link header per relation: {links:?}"
        );
        let next = next_link(response.headers());
        let page: Vec<Value> = response.json().await.unwrap();
        assert!(page.len() <= 2);
        names.extend(
            page.iter()
                .map(|g| g["profile"]["name"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(pages, 2);
    names.sort();
    assert_eq!(
        names,
        [
            "Engineering",
            "Everyone",
            "Okta Administrators",
            "Sales / EMEA"
        ]
    );
}

#[tokio::test]
async fn the_user_list_omits_deprovisioned_users_unless_filtered() {
    let sim = Sim::start("tiny", &[]);
    let plain = sim.get_json("/api/v1/users").await;
    assert_eq!(plain.as_array().unwrap().len(), 4);
    assert!(!logins(&plain).contains(&"eve@tiny.example".to_string()));
    let deprovisioned = sim
        .get_json("/api/v1/users?filter=status eq \"DEPROVISIONED\"")
        .await;
    assert_eq!(logins(&deprovisioned), ["eve@tiny.example"]);
}

/// The sorted logins of a user list.
fn logins(users: &Value) -> Vec<String> {
    let mut logins: Vec<String> = users
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| u["profile"]["login"].as_str().unwrap().to_string())
        .collect();
    logins.sort();
    logins
}

#[tokio::test]
async fn iam_lists_page_in_the_body_and_unpaged_lists_answer_whole() {
    let sim = Sim::start("tiny", &[]);
    let roles = sim.get_json("/api/v1/iam/roles").await;
    assert_eq!(roles["roles"][0]["label"], "Help Desk");
    assert!(roles["_links"]["self"]["href"].is_string());
    assert!(roles["_links"].get("next").is_none());
    let hooks = sim.get("/api/v1/eventHooks").await;
    assert!(hooks.headers().get("link").is_none());
    let hooks: Vec<Value> = hooks.json().await.unwrap();
    assert_eq!(hooks.len(), 1);
}

#[tokio::test]
async fn errors_have_okta_bodies_and_every_response_has_rate_limit_headers() {
    let sim = Sim::start("tiny", &[]);
    let client = sim.ssws();
    let missing = client
        .get(format!("{}/api/v1/groups/00gnothere", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    for header in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "x-okta-request-id",
        "date",
    ] {
        assert!(missing.headers().contains_key(header), "{header} missing");
    }
    assert_eq!(missing.headers()["x-rate-limit-limit"], "1000");
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["errorCode"], "E0000007");
    assert_eq!(error["errorLink"], "E0000007");
    assert!(
        error["errorSummary"]
            .as_str()
            .unwrap()
            .starts_with("Not found")
    );
    assert!(error["errorId"].is_string());
    assert!(error["errorCauses"].is_array());

    let anonymous = reqwest::Client::new()
        .get(format!("{}/api/v1/groups", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap()["errorCode"],
        "E0000011"
    );

    let bad_token = reqwest::Client::new()
        .get(format!("{}/api/v1/groups", sim.url))
        .header("authorization", "SSWS wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_token.status(), 401);

    // A body-less POST must carry Content-Length: 0 (Okta answers 411 otherwise).
    let rule = "0pr1tinyengrule00001";
    let url = format!(
        "{}/api/v1/groups/rules/{rule}/lifecycle/deactivate",
        sim.url
    );
    let mut stream = tokio::net::TcpStream::connect(sim.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: SSWS {}\r\nConnection: close\r\n\r\n",
        url.trim_start_matches(&sim.url),
        sim.api_token
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 411"), "{answer}");
    let with_length = client
        .post(&url)
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(with_length.status(), 204);

    let wrong_method = client
        .patch(format!("{}/api/v1/groups/00g1tinyengineering3", sim.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test]
async fn writes_follow_okta_rules() {
    let sim = Sim::start("tiny", &[]);
    let support = json!({"profile": {"name": "Support", "description": "Tier 1"}});
    let created: Value = sim
        .post_json("/api/v1/groups", &support)
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("00g") && id.len() == 20, "{id}");
    let group = format!("/api/v1/groups/{id}");
    let forged =
        json!({"id": "00gforged", "profile": {"name": "Support", "description": "Tier 2"}});
    let replaced = sim.put_json(&group, &forged).await;
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(
        replaced["id"],
        id.as_str(),
        "read-only fields keep the server's values"
    );
    assert_eq!(replaced["profile"]["description"], "Tier 2");
    assert_eq!(sim.delete(&group).await.status(), 204);
    assert_eq!(sim.get(&group).await.status(), 404);

    // Okta's own objects cannot be deleted.
    assert_eq!(
        sim.delete("/api/v1/groups/00g1tinyeveryone0001")
            .await
            .status(),
        403
    );

    // A user DELETE deactivates first, and deletes on the second call.
    let user = "/api/v1/users/00u1tinyuser00000003";
    assert_eq!(sim.delete(user).await.status(), 204);
    assert_eq!(sim.get_json(user).await["status"], "DEPROVISIONED");
    assert_eq!(sim.delete(user).await.status(), 204);
    assert_eq!(sim.get(user).await.status(), 404);

    // Users created with activate=false are STAGED (no activation e-mail).
    let new_user = json!({"profile": {"login": "new@tiny.example", "email": "new@tiny.example", "firstName": "N", "lastName": "U"}});
    let staged: Value = sim
        .post_json("/api/v1/users?activate=false", &new_user)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staged["status"], "STAGED");
}

/// Lists every kind of the catalogue the way a backup does (parents first, `limit=2`, following
/// every `next` link) and checks that each fixture object comes back exactly once.
/// Okta's answers are not our files: the simulator's differ from the fixture in every way a
/// backup's canonicalisation must undo (issue #3).
#[tokio::test]
async fn responses_differ_from_fixture_files_in_every_way_canonicalisation_undoes() {
    let sim = Sim::start("tiny", &[]);
    let app = sim.get_json("/api/v1/apps/0oa1tinyportal000002").await;
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/orgs/tiny/okta/apps/Portal.json")).unwrap(),
    )
    .unwrap();
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    // _links, including the access policy that the file keeps as a derived field.
    assert!(text(&app["_links"]["self"]["href"]).ends_with("/api/v1/apps/0oa1tinyportal000002"));
    assert!(
        text(&app["_links"]["accessPolicy"]["href"])
            .ends_with("/api/v1/policies/00p1tinyaccesspol001")
    );
    assert!(app.get("_derived").is_none() && file.get("_derived").is_some());
    // Volatile fields the file drops.
    assert!(app["lastUpdated"].is_string() && file.get("lastUpdated").is_none());
    // A null where the file has nothing (where Okta's spec allows one: an IP zone's proxies).
    let zone = sim.get_json("/api/v1/zones/nzo1tinyoffice000001").await;
    assert!(zone["proxies"].is_null() && zone.get("proxies").is_some());
    // Sets in another order.
    let uris = |value: &Value| value["settings"]["oauthClient"]["redirect_uris"].clone();
    assert_ne!(uris(&app), uris(&file));
    // The plaintext secret, where the file holds its fingerprint.
    let secret = |value: &Value| text(&value["credentials"]["oauthClient"]["client_secret"]);
    assert_eq!(secret(&app), "tiny-portal-client-secret-0001");
    assert!(secret(&file).starts_with("$fingerprint:"));
    // A field at its default left out, which the file holds.
    assert!(
        app["settings"]["oauthClient"]
            .get("wildcard_redirect")
            .is_none()
    );
    assert_eq!(
        file["settings"]["oauthClient"]["wildcard_redirect"],
        "DISABLED"
    );

    // A user's sign-in time, which the file keeps as an activity bucket.
    let user = sim.get_json("/api/v1/users/00u1tinyuser00000002").await;
    assert!(user["lastLogin"].is_string());
    let staged = sim.get_json("/api/v1/users/00u1tinyuser00000004").await;
    assert!(staged["lastLogin"].is_null(), "never signed in: {staged}");
}

#[tokio::test]
async fn writes_appear_in_the_system_log_and_polling_never_ends() {
    let sim = Sim::start(
        "tiny",
        &["--grant-scopes", "okta.groups.manage,okta.groups.read"],
    );
    let client = sim.ssws();
    let created: Value = client
        .post(format!("{}/api/v1/groups", sim.url))
        .json(&json!({"profile": {"name": "Auditors"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let logs = client
        .get(format!("{}/api/v1/logs", sim.url))
        .query(&[("filter", "eventType eq \"group.lifecycle.create\"")])
        .send()
        .await
        .unwrap();
    assert_eq!(logs.status(), 200);
    let next = next_link(logs.headers()).expect("a polling query always has a next link");
    let events: Vec<Value> = logs.json().await.unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["target"][0]["id"], id);
    assert_eq!(event["target"][0]["displayName"], "Auditors");
    assert_eq!(event["actor"]["type"], "User");
    assert_eq!(event["outcome"]["result"], "SUCCESS");
    assert!(
        event["published"].is_string()
            && event["uuid"].is_string()
            && event["client"]["ipAddress"].is_string()
    );
    // Nothing new since: an empty page, and still a next link.
    let empty = client.get(&next).send().await.unwrap();
    assert!(next_link(empty.headers()).is_some());
    assert_eq!(empty.json::<Vec<Value>>().await.unwrap().len(), 0);
    // A bounded query ends.
    let bounded = client
        .get(format!("{}/api/v1/logs", sim.url))
        .query(&[
            ("since", "2020-01-01T00:00:00Z"),
            ("until", "2100-01-01T00:00:00Z"),
            ("q", "auditors"),
        ])
        .send()
        .await
        .unwrap();
    assert!(next_link(bounded.headers()).is_none());
    assert_eq!(bounded.json::<Vec<Value>>().await.unwrap().len(), 1);
    // An OAuth token without okta.logs.read cannot read it.
    let body: Value = sim.token("okta.groups.read").await.json().await.unwrap();
    let denied = reqwest::Client::new()
        .get(format!("{}/api/v1/logs", sim.url))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
}

#[tokio::test]
async fn user_and_group_lists_take_search_filter_and_q() {
    let sim = Sim::start("tiny", &[]);
    let engineers = sim
        .get_json(
            "/api/v1/users?search=profile.department eq \"Engineering\" and status eq \"ACTIVE\"",
        )
        .await;
    assert_eq!(
        logins(&engineers),
        ["bob@tiny.example", "carol@tiny.example"]
    );
    let by_prefix = sim.get_json("/api/v1/users?q=car").await;
    assert_eq!(logins(&by_prefix), ["carol@tiny.example"]);
    let okta_groups = sim
        .get_json("/api/v1/groups?filter=type eq \"OKTA_GROUP\"")
        .await;
    assert_eq!(okta_groups.as_array().unwrap().len(), 2);
    let invalid = sim
        .get("/api/v1/groups?search=profile.name like \"x\"")
        .await;
    assert_eq!(invalid.status(), 400);
    assert_eq!(
        invalid.json::<Value>().await.unwrap()["errorCode"],
        "E0000031"
    );
}
