//! Issue #3's "done when": listing every kind of the `small` fixture with `limit=2`, as a
//! backup walks an org (parents first, parameters from the parent's and grandparent's answers,
//! every page), gets exactly the fixture's objects, each once.

use std::collections::BTreeMap;

use butterfly::catalogue::{Catalogue, Pagination, ParamSource, Shape, Variant};
use butterfly::sim::org::Org;
use butterfly::snapshot::canonical::{self, Context};
use butterfly::snapshot::fingerprint::FingerprintKey;
use serde_json::Value;

use crate::support::root;
use crate::support::sim::{Sim, next_link};

/// One listed object: its canonical id (member id for relationships), its raw answer and the
/// raw answers of its ancestors (parent first).
struct Listed {
    id: String,
    raw: Value,
    ancestors: Vec<Value>,
}

/// A path parameter's value from an object as Okta answered it.
fn value_of(source: &ParamSource, body: &Value) -> Option<String> {
    let text = match source.path.get(body)? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(if source.last_segment {
        text.rsplit('/').next().unwrap_or_default().to_string()
    } else {
        text
    })
}

/// The ancestor chains (parent first) of every object a variant lists under: each listed
/// object of the parent kind that `parent_when` admits; one empty chain at the top level.
fn parent_chains(seen: &BTreeMap<String, Vec<Listed>>, variant: &Variant) -> Vec<Vec<Value>> {
    match &variant.parent {
        None => vec![Vec::new()],
        Some(parent) => seen
            .get(parent)
            .into_iter()
            .flatten()
            .filter(|p| {
                variant
                    .parent_when
                    .as_ref()
                    .is_none_or(|w| w.matches(&p.raw))
            })
            .map(|p| {
                let mut chain = vec![p.raw.clone()];
                chain.extend(p.ancestors.iter().cloned());
                chain
            })
            .collect(),
    }
}

/// `path` with the parameters bound from the ancestors' answers.
fn bind(path: &str, variant: &Variant, ancestors: &[Value]) -> String {
    let mut path = path.to_string();
    for (name, source) in &variant.params {
        if source.depth >= 1
            && let Some(value) = ancestors
                .get(source.depth - 1)
                .and_then(|body| value_of(source, body))
        {
            path = path.replace(
                &format!("{{{name}}}"),
                &butterfly::sim::route::encode(&value),
            );
        }
    }
    path
}

#[tokio::test]
async fn every_kind_of_small_lists_exactly_the_fixtures_objects_once() {
    let catalogue = Catalogue::okta().unwrap();
    // A walk of every user's factors and roles is far past Okta's per-minute quotas.
    let sim = Sim::start_unlimited("small");
    let client = sim.ssws();
    let fixture = Org::load_tree(catalogue, &root().join("fixtures/orgs/small")).unwrap();
    let key = FingerprintKey::from_hex(crate::support::TEST_KEY).unwrap();
    let context = Context {
        key: Some(&key),
        now: chrono::Utc::now(),
    };
    let mut seen: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
    let mut requests = 0;
    for kind_name in catalogue.restore_order().unwrap() {
        let kind = catalogue.kind(&kind_name).unwrap();
        for variant in &kind.variants {
            let Some(list) = &variant.endpoints.list else {
                continue;
            };
            for ancestors in parent_chains(&seen, variant) {
                let path = bind(&list.endpoint.display_path(), variant, &ancestors);
                assert!(
                    !path.contains('{'),
                    "{kind_name}: unbound parameter in {path}"
                );
                let values: Vec<Option<&str>> = match &list.each {
                    Some(each) if !list.endpoint.path.contains(&format!("{{{}}}", each.param)) => {
                        each.values
                            .iter()
                            .map(|v| (!v.is_empty()).then_some(v.as_str()))
                            .collect()
                    }
                    _ => vec![None],
                };
                for value in values {
                    let mut query = Vec::new();
                    if let (Some(each), Some(value)) = (&list.each, value) {
                        query.push(format!(
                            "{}={}",
                            each.param,
                            butterfly::sim::route::encode(value)
                        ));
                    }
                    if list.pagination != Pagination::None {
                        query.push("limit=2".to_string());
                    }
                    let mut url = format!("{}{path}", sim.url);
                    if !query.is_empty() {
                        url = format!("{url}?{}", query.join("&"));
                    }
                    loop {
                        requests += 1;
                        let response = client.get(&url).send().await.unwrap();
                        assert_eq!(response.status(), 200, "{kind_name}: {url}");
                        let next = next_link(response.headers());
                        let body: Value = response.json().await.unwrap();
                        let items = match &list.items {
                            Some(key) => body[key].as_array().cloned().unwrap_or_default(),
                            None => body.as_array().cloned().unwrap_or_default(),
                        };
                        let body_next = body
                            .pointer("/_links/next/href")
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        for item in items {
                            let canonical = canonical::canonicalize(kind, &item, &context);
                            let id_path = match &kind.shape {
                                Shape::Relationship { member, .. } => Some(member),
                                _ => kind.id.as_ref(),
                            };
                            let id = id_path
                                .and_then(|p| p.get(&canonical))
                                .and_then(Value::as_str)
                                .unwrap_or_else(|| panic!("{kind_name}: no id in {item}"))
                                .to_string();
                            seen.entry(kind_name.clone()).or_default().push(Listed {
                                id,
                                raw: item,
                                ancestors: ancestors.clone(),
                            });
                        }
                        match next.or(body_next) {
                            Some(next) => url = next,
                            None => break,
                        }
                    }
                }
            }
        }
        // Singletons without a list are read with get, under each parent.
        if kind.shape == Shape::Singleton && kind.primary().endpoints.list.is_none() {
            let variant = kind.primary();
            let Some(get) = &variant.endpoints.get else {
                continue;
            };
            for ancestors in parent_chains(&seen, variant) {
                let path = bind(&get.display_path(), variant, &ancestors);
                let url = format!("{}{path}", sim.url);
                requests += 1;
                let response = client.get(&url).send().await.unwrap();
                if response.status() == 404 {
                    continue; // this parent has none
                }
                assert_eq!(response.status(), 200, "{kind_name}: {url}");
                let item: Value = response.json().await.unwrap();
                let canonical = canonical::canonicalize(kind, &item, &context);
                let id = kind
                    .id
                    .as_ref()
                    .and_then(|p| p.get(&canonical))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("(singleton {path})"));
                seen.entry(kind_name.clone()).or_default().push(Listed {
                    id,
                    raw: item,
                    ancestors,
                });
            }
        }
    }
    let mut problems = Vec::new();
    for kind in catalogue.kinds() {
        let synthetic = |id: &str| id.starts_with(&format!("{}:", kind.name));
        let mut expected: Vec<String> = fixture
            .all(&kind.name)
            .iter()
            .map(|o| o.id.to_string())
            .filter(|id| !synthetic(id))
            .collect();
        let listed = seen.get(&kind.name).map(Vec::as_slice).unwrap_or_default();
        let singletons_without_id = listed
            .iter()
            .filter(|l| l.id.starts_with("(singleton"))
            .count();
        let mut got: Vec<String> = listed
            .iter()
            .map(|l| l.id.clone())
            .filter(|id| !id.starts_with("(singleton"))
            .collect();
        expected.sort();
        got.sort();
        if got != expected {
            problems.push(format!(
                "{}: listed {got:?}\n   fixture {expected:?}",
                kind.name
            ));
        }
        let synthetic_count = fixture
            .all(&kind.name)
            .iter()
            .filter(|o| synthetic(&o.id))
            .count();
        if singletons_without_id != synthetic_count {
            problems.push(format!(
                "{}: read {singletons_without_id} singletons without an id, the fixture has {synthetic_count}",
                kind.name
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "after {requests} requests:\n{}",
        problems.join("\n")
    );
}
