//! The catalogue against real payloads: Okta's own example objects (`../shared/okta/examples.json`,
//! from Okta's Apache-2.0 spec) must carry each kind's id and natural key, reference paths must
//! hold ids (strings), and the field paths the catalogue names must select without error.
//! A natural key that real objects lack would make a backup unable to name its files.

use butterfly::catalogue::{Catalogue, Shape};
use serde_json::Value;

use crate::support::{self, EXAMPLES};

#[test]
fn okta_examples_carry_each_kinds_id_natural_key_and_reference_ids() {
    let Some(examples) = support::okta_examples() else {
        return;
    };
    let catalogue = Catalogue::okta().unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    for (key, kind_name) in EXAMPLES {
        let Some(example) = examples.get(key) else {
            problems.push(format!("examples.json has no `{key}`"));
            continue;
        };
        let Some(kind) = catalogue.kind(kind_name) else {
            problems.push(format!(
                "`{key}` maps to `{kind_name}`, which is not a kind"
            ));
            continue;
        };
        if let Some(id) = &kind.id
            && !matches!(kind.shape, Shape::Singleton)
            && id.get(example).is_none()
        {
            problems.push(format!("{key} ({kind_name}): no id at `{id}`"));
        }
        if kind.shape == Shape::Resource {
            for field in kind.natural_key() {
                // A derived key is computed at backup time: its source must be in the payload.
                let derived = kind.derived.iter().find(|d| {
                    field.segments().get(1)
                        == Some(&butterfly::catalogue::Segment::Key(d.name.clone()))
                        && field.first_key() == Some(butterfly::catalogue::DERIVED_MEMBER)
                });
                let source = derived.map_or(field, |d| &d.from);
                match source.get(example) {
                    Some(Value::String(s)) if !s.is_empty() => {}
                    Some(Value::Number(_)) => {}
                    other => problems.push(format!(
                        "{key} ({kind_name}): natural key `{field}` (from `{source}`) is {other:?}, not a non-empty value"
                    )),
                }
            }
        }
        for reference in &kind.references {
            if reference.path.first_key() == Some(butterfly::catalogue::DERIVED_MEMBER) {
                continue;
            }
            // Whole ids, expressions and URLs are all strings in Okta's JSON.
            for value in reference.path.select(example) {
                if !value.is_string() {
                    problems.push(format!(
                        "{key} ({kind_name}): reference `{}` → {} holds {value}, not an id",
                        reference.path, reference.kind
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
