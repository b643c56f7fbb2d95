//! `provider::okta::Client` against the real simulator: every way of authenticating, scope
//! refusals, token renewal, pagination, and retries under injected faults and 429s.

use std::collections::BTreeSet;
use std::sync::Arc;

use butterfly::catalogue::Catalogue;
use butterfly::provider::okta::signing::SigningKey;
use butterfly::provider::okta::{
    Cause, Client, ClientError, ClientOptions, Credentials, OrgUrl, RetryPolicy, Secret,
};
use serde_json::Value;

use crate::support::sim::Sim;

fn options(scopes: &[&str]) -> ClientOptions {
    ClientOptions {
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        ..ClientOptions::default()
    }
}

fn secret_client(sim: &Sim, scopes: &[&str]) -> Client {
    let credentials = Credentials::ClientSecret {
        client_id: sim.client_id.clone(),
        secret: Secret::new(sim.client_secret.clone()),
    };
    Client::new(
        OrgUrl::parse(&sim.url).unwrap(),
        credentials,
        options(scopes),
    )
    .unwrap()
}

fn key_client(sim: &Sim, scopes: &[&str]) -> Client {
    let path = sim.start["private_key_path"].as_str().unwrap();
    let mut key = SigningKey::parse(&std::fs::read_to_string(path).unwrap(), path).unwrap();
    key.key_id = sim.start["key_id"].as_str().map(str::to_string);
    let credentials = Credentials::PrivateKey {
        client_id: sim.client_id.clone(),
        key: Arc::new(key),
    };
    Client::new(
        OrgUrl::parse(&sim.url).unwrap(),
        credentials,
        options(scopes),
    )
    .unwrap()
}

/// Every item of a list, following `next` links.
async fn list_all(client: &Client, path: &str, bucket: &str) -> Vec<Value> {
    let mut url = client.org().join(path);
    let mut items = Vec::new();
    loop {
        let answer = client.get(&url, bucket).await.unwrap();
        items.extend(answer.body.as_array().cloned().unwrap_or_default());
        match answer.next {
            Some(next) => url = next,
            None => return items,
        }
    }
}

fn ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn every_way_of_authenticating_reads_the_same_groups() {
    let basic = Sim::start("small", &[]);
    let jwt = Sim::start("small", &["--token-auth", "private_key_jwt"]);
    let dpop = Sim::start(
        "small",
        &["--token-auth", "private_key_jwt", "--require-dpop"],
    );
    let dpop_basic = Sim::start("small", &["--require-dpop"]);
    let scopes = ["okta.groups.read"];
    let expected = ids(&list_all(
        &secret_client(&basic, &scopes),
        "/api/v1/groups?limit=7",
        "/api/v1/groups",
    )
    .await);
    assert!(expected.len() > 7, "several pages: {}", expected.len());
    for (name, client) in [
        ("private_key_jwt", key_client(&jwt, &scopes)),
        ("private_key_jwt + DPoP", key_client(&dpop, &scopes)),
        (
            "client_secret_basic + DPoP",
            secret_client(&dpop_basic, &scopes),
        ),
    ] {
        let got = ids(&list_all(&client, "/api/v1/groups?limit=7", "/api/v1/groups").await);
        assert_eq!(got, expected, "{name}");
    }
    let ssws = Client::new(
        OrgUrl::parse(&basic.url).unwrap(),
        Credentials::ApiToken(Secret::new(basic.api_token.clone())),
        ClientOptions::default(),
    )
    .unwrap();
    assert_eq!(ssws.granted_scopes().await.unwrap(), None);
    let got = ids(&list_all(&ssws, "/api/v1/groups", "/api/v1/groups").await);
    assert_eq!(got, expected, "SSWS");
}

#[tokio::test]
async fn the_wrong_method_and_ungranted_scopes_are_refused_with_what_to_do() {
    let sim = Sim::start("small", &["--grant-scopes", "okta.groups.read"]);
    let client = secret_client(&sim, &["okta.groups.read", "okta.users.read"]);
    let error = client
        .get(&client.org().join("/api/v1/groups"), "/api/v1/groups")
        .await
        .unwrap_err();
    let ClientError::ScopeRefused { requested, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(requested, "okta.groups.read okta.users.read");
    assert!(error.to_string().contains("Okta API Scopes"), "{error}");

    // Granted, but the endpoint needs another scope: 403 with a scope challenge.
    let client = secret_client(&sim, &["okta.groups.read"]);
    assert_eq!(
        client.granted_scopes().await.unwrap(),
        Some(vec!["okta.groups.read".to_string()])
    );
    let error = client
        .get(&client.org().join("/api/v1/users"), "/api/v1/users")
        .await
        .unwrap_err();
    let api = error.api().expect("an Okta answer");
    assert_eq!(api.status, 403);
    assert_eq!(api.code.as_deref(), Some("E0000006"));
    assert_eq!(api.cause(), Cause::ScopeNotGranted);
    assert!(
        error
            .to_string()
            .contains("/api/v1/users: HTTP 403 E0000006"),
        "{error}"
    );

    // A client secret against a private_key_jwt client.
    let jwt = Sim::start("small", &["--token-auth", "private_key_jwt"]);
    let error = secret_client(&jwt, &["okta.groups.read"])
        .get(&format!("{}/api/v1/groups", jwt.url), "/api/v1/groups")
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Token { .. }), "{error}");
    assert!(error.to_string().contains("invalid_client"), "{error}");
}

#[tokio::test]
async fn an_expired_token_is_renewed() {
    let sim = Sim::start("small", &["--token-ttl", "1"]);
    let client = secret_client(&sim, &["okta.groups.read"]);
    let url = client.org().join("/api/v1/groups?limit=1");
    client.get(&url, "/api/v1/groups").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    client.get(&url, "/api/v1/groups").await.unwrap();
    assert_eq!(client.stats().requests, 2);
}

#[tokio::test]
async fn faults_and_429s_are_retried_until_the_list_is_exact() {
    let clean = Sim::start_unlimited("small");
    let scopes = ["okta.users.read"];
    let expected = list_all(
        &secret_client(&clean, &scopes),
        "/api/v1/users?limit=10",
        "/api/v1/users",
    )
    .await;
    assert!(expected.len() > 200);

    let faulty = Sim::start("small", &["--fault-rate", "0.2", "--seed", "7"]);
    let mut options = options(&scopes);
    options.retry = RetryPolicy {
        base_backoff: std::time::Duration::from_millis(5),
        max_backoff: std::time::Duration::from_millis(50),
        attempts: 10,
        ..RetryPolicy::default()
    };
    let client = Client::new(
        OrgUrl::parse(&faulty.url).unwrap(),
        Credentials::ClientSecret {
            client_id: faulty.client_id.clone(),
            secret: Secret::new(faulty.client_secret.clone()),
        },
        options,
    )
    .unwrap();
    let got = list_all(&client, "/api/v1/users?limit=10", "/api/v1/users").await;
    assert_eq!(ids(&got), ids(&expected));
    assert_eq!(got.len(), expected.len());
    let stats = client.stats();
    assert!(stats.retried > 0, "{stats:?}");
    assert!(stats.rate_limited > 0, "{stats:?}");
}

#[tokio::test]
async fn the_client_keeps_to_its_share_of_a_bucket() {
    // 20 requests a window on /api/v1/groups, window 10 s: the client may use 10 a window.
    let dir = std::env::temp_dir().join(format!("bt-share-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let limits = dir.join("limits.toml");
    std::fs::write(&limits, "[buckets]\n\"/api/v1/groups\" = 20\n").unwrap();
    let sim = Sim::start(
        "small",
        &[
            "--rate-limits",
            limits.to_str().unwrap(),
            "--time-scale",
            "6",
        ],
    );
    let client = secret_client(&sim, &["okta.groups.read"]);
    let catalogue = Catalogue::okta().unwrap();
    assert!(catalogue.provider.buckets.contains_key("/api/v1/groups"));
    let started = std::time::Instant::now();
    let url = client.org().join("/api/v1/groups?limit=1");
    for _ in 0..12 {
        client.get(&url, "/api/v1/groups").await.unwrap();
    }
    // Ten fit the first window; the last two waited for the reset, without a 429.
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client.stats().rate_limited, 0);
}
