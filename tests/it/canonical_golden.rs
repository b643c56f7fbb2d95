//! Canonical JSON of Okta's own example payloads, against golden files (issue #2's data-shape
//! decisions, as #4's backup will write them): `_links` gone but an app's access policy kept,
//! volatile fields and nulls dropped, secrets fingerprinted, keys sorted.
//!
//! The golden files under `tests/it/golden/canonical/` are derived from Okta's Apache-2.0 spec
//! examples (see the README there). `BUTTERFLY_BLESS=1` rewrites them.

use butterfly::catalogue::Catalogue;
use butterfly::snapshot::canonical::{self, Context};
use butterfly::snapshot::fingerprint::FingerprintKey;
use chrono::{DateTime, Utc};

use crate::support::{self, EXAMPLES, TEST_KEY};

#[test]
fn okta_examples_canonicalise_to_their_golden_files() {
    let Some(examples) = support::okta_examples() else {
        return;
    };
    let catalogue = Catalogue::okta().unwrap_or_else(|e| panic!("{e}"));
    let key = FingerprintKey::from_hex(TEST_KEY).expect("a valid key");
    let now: DateTime<Utc> = "2026-11-23T00:00:00Z".parse().expect("a valid time");
    let context = Context {
        key: Some(&key),
        now,
    };
    let mut differences = Vec::new();
    for (name, kind_name) in EXAMPLES {
        let kind = catalogue.kind(kind_name).expect("mapped kinds exist");
        let raw = &examples[name];
        let canonical = canonical::canonicalize(kind, raw, &context);
        let text = canonical::to_text(&canonical);
        assert!(!text.contains("\"_links\""), "{name}: _links survived");
        assert_eq!(
            canonical::canonicalize(kind, &canonical, &context),
            canonical,
            "{name}: not idempotent"
        );
        if let Some(difference) = support::golden(&format!("canonical/{name}.json"), &text) {
            differences.push(difference);
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

#[test]
fn the_oidc_example_secret_never_reaches_the_file() {
    let Some(examples) = support::okta_examples() else {
        return;
    };
    let app = Catalogue::okta().unwrap().kind("app").unwrap();
    let raw = &examples["app_oidc"];
    let secret = raw["credentials"]["oauthClient"]["client_secret"]
        .as_str()
        .expect("the example has a secret");
    let key = FingerprintKey::from_hex(TEST_KEY).unwrap();
    let text = canonical::to_text(&canonical::canonicalize(
        app,
        raw,
        &Context {
            key: Some(&key),
            now: Utc::now(),
        },
    ));
    assert!(!text.contains(secret));
    assert!(text.contains("$fingerprint:hmac-sha256:"));
}
