//! Reading a whole org through `ops::backup::read_org` (the walk and the collector): backing up
//! the `small` fixture org with user kinds gives exactly the fixture's tree.

use std::collections::BTreeSet;
use std::sync::Arc;

use butterfly::catalogue::Catalogue;
use butterfly::ops::backup::collect::Texts;
use butterfly::ops::backup::read_org;
use butterfly::provider::okta::walk::Plan;
use butterfly::provider::okta::{Client, ClientOptions, Credentials, OrgUrl, Secret};
use butterfly::snapshot::canonical::Context;
use butterfly::snapshot::fingerprint::FingerprintKey;

use crate::support::sim::Sim;
use crate::support::{TEST_KEY, files_under, root};

#[tokio::test]
async fn a_backup_of_small_is_the_fixture_tree() {
    let catalogue = Catalogue::okta().unwrap();
    let sim = Sim::start_unlimited("small");
    let client = Client::new(
        OrgUrl::parse(&sim.url).unwrap(),
        Credentials::ClientSecret {
            client_id: sim.client_id.clone(),
            secret: Secret::new(sim.client_secret.clone()),
        },
        ClientOptions {
            scopes: catalogue.requested_scopes(),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let client = Arc::new(client);
    let key = FingerprintKey::from_hex(TEST_KEY).unwrap();
    let plan = Plan {
        kinds: catalogue.kinds().iter().map(|k| k.name.clone()).collect(),
        granted: client.granted_scopes().await.unwrap(),
    };
    let context = Context {
        key: Some(&key),
        now: chrono::Utc::now(),
    };
    let collected = read_org(catalogue, Arc::clone(&client), &plan, context, Texts)
        .await
        .unwrap();
    let failures: Vec<String> = collected
        .kinds
        .iter()
        .filter_map(|(k, r)| r.failure.as_ref().map(|f| format!("{k}: {f}")))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");

    let dir = root().join("fixtures/orgs/small");
    let expected: Vec<(String, String)> = files_under(&dir.join("okta"))
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (relative, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    let expected_paths: BTreeSet<&str> = expected.iter().map(|(p, _)| p.as_str()).collect();
    let got_paths: BTreeSet<&str> = collected.files.iter().map(|(p, _, _)| p.as_str()).collect();
    let missing: Vec<_> = expected_paths.difference(&got_paths).collect();
    let extra: Vec<_> = got_paths.difference(&expected_paths).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    let got: std::collections::BTreeMap<&str, &str> = collected
        .files
        .iter()
        .map(|(p, _, t)| (p.as_str(), t.as_str()))
        .collect();
    let mut differ = Vec::new();
    for (path, text) in &expected {
        let backup = got[path.as_str()];
        if backup != text {
            let old: Vec<&str> = text.lines().collect();
            let new: Vec<&str> = backup.lines().collect();
            let gone: Vec<&&str> = old.iter().filter(|l| !new.contains(l)).collect();
            let added: Vec<&&str> = new.iter().filter(|l| !old.contains(l)).collect();
            differ.push(format!(
                "{path}: fixture only {gone:?}, backup only {added:?}"
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} files differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    // The index names every resource with its path.
    let group = collected
        .index
        .values()
        .find(|e| e.kind == "group" && e.name == "Everyone")
        .expect("Everyone is indexed");
    assert_eq!(group.path, "okta/groups/Everyone.json");
    // One request per page and per parent: a few hundred, not thousands.
    let stats = client.stats();
    assert_eq!(stats.retried, 0, "{stats:?}");
}
