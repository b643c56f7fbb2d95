//! The catalogue against Okta's OpenAPI spec (issue #2): every endpoint exists with its
//! method, every scope Okta requires is declared, every named field exists in the kind's
//! response schema, and the committed field indexes are exactly what the spec yields.
//!
//! `BUTTERFLY_BLESS=1` rewrites `schemas/okta/fields/` from the spec instead of comparing.

use std::collections::BTreeSet;
use std::fs;

use butterfly::catalogue::{Catalogue, spec};

use crate::support;

#[test]
fn catalogue_spec_agrees_and_field_indexes_are_current() {
    let Some(spec) = support::okta_spec() else {
        return;
    };
    let catalogue = Catalogue::okta().unwrap_or_else(|e| panic!("{e}"));
    let (indexes, problems) = spec::derive(spec, catalogue.kinds());
    assert!(
        problems.is_empty(),
        "the catalogue disagrees with Okta's spec ({} problems):\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| format!("  {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    let dir = support::root().join("schemas").join("okta").join("fields");
    let bless = std::env::var_os("BUTTERFLY_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    let mut expected_files = BTreeSet::new();
    for (kind, index) in &indexes {
        let file = dir.join(format!("{kind}.json"));
        expected_files.insert(file.clone());
        let text = index.to_pretty_json();
        let current = fs::read_to_string(&file).unwrap_or_default();
        if current != text {
            if bless {
                fs::create_dir_all(&dir).expect("create schemas/okta/fields");
                fs::write(&file, &text).expect("write a field index");
            } else {
                stale.push(kind.clone());
            }
        }
    }
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") && !expected_files.contains(&path) {
            if bless {
                fs::remove_file(&path).expect("remove a stale field index");
            } else {
                stale.push(format!("{} (no such kind)", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "field indexes differ from what Okta's spec yields for: {}\nregenerate with `BUTTERFLY_BLESS=1 cargo test --locked --tests catalogue_spec` and review the diff",
        stale.join(", ")
    );
}
