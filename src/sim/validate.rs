//! Request bodies checked against the kind's request schema, from the field index derived from
//! Okta's spec: an unknown property or a value of the wrong JSON type is refused with E0000001
//! naming the field; read-only and hypermedia members are ignored, as Okta ignores them. A
//! create or replace that leaves a required field blank (absent, `null` or `""`) is refused
//! with E0000001 and one cause per field; a partial update merges into the stored object, so
//! it need not repeat them. Decides nothing else (Okta's write rules are in `rules`).

use axum::http::StatusCode;
use serde_json::Value;

use super::error::OktaError;
use super::route::Role;
use crate::catalogue::{FieldIndex, FieldPath, Kind, Segment};

/// At most this many causes in one error (the simulator's bound, so a bad body stays readable).
const MAX_CAUSES: usize = 10;

/// Checks `body` for the write `role` (create, replace or update) of `kind`.
pub fn check_body(
    kind: &Kind,
    index: &FieldIndex,
    body: &Value,
    role: &Role,
) -> Result<(), OktaError> {
    if index.request.is_empty() {
        return Ok(());
    }
    if matches!(role, Role::Create | Role::Replace) {
        let missing = missing_required(kind, index, body);
        if let Some(first) = missing.first() {
            let mut error = OktaError::new(
                StatusCode::BAD_REQUEST,
                "E0000001",
                format!("Api validation failed: {first}"),
            );
            for path in missing.iter().take(MAX_CAUSES) {
                error = error.with_cause(format!("{path}: The field cannot be left blank"));
            }
            return Err(error);
        }
    }
    let mut problems = Vec::new();
    walk(
        kind,
        index,
        body,
        &FieldPath::from_segments(Vec::new()),
        &mut problems,
    );
    match problems.is_empty() {
        true => Ok(()),
        false => {
            let mut error = OktaError::validation(problems.remove(0));
            for problem in problems.into_iter().take(MAX_CAUSES - 1) {
                error = error.with_cause(problem);
            }
            Err(error)
        }
    }
}

/// The required fields `body` leaves blank, in the index's order, then the kind's, each once (`gateways[*].value`
/// when any gateway lacks a value; members of open objects by name). A field under an object
/// or array the body does not carry is not missing.
fn missing_required(kind: &Kind, index: &FieldIndex, body: &Value) -> Vec<FieldPath> {
    // The spec's required fields but those the kind file says Okta does not require, then
    // those the kind file adds (Okta requires more than its spec says: a group's name).
    let mut required: Vec<FieldPath> = index
        .request
        .iter()
        .filter(|(_, info)| info.required)
        .filter_map(|(text, _)| FieldPath::parse(text).ok())
        .filter(|path| !kind.optional.contains(path))
        .collect();
    required.extend(kind.required.iter().cloned());
    let mut missing = Vec::new();
    for path in required {
        if ignored(kind, index, &path) {
            continue;
        }
        find_blank(
            body,
            path.segments(),
            &FieldPath::from_segments(Vec::new()),
            &mut missing,
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    missing.retain(|path| seen.insert(path.clone()));
    missing
}

/// Follows `segments` from `value` (at `at`) and records where the last one is blank.
fn find_blank(value: &Value, segments: &[Segment], at: &FieldPath, missing: &mut Vec<FieldPath>) {
    let Some((segment, rest)) = segments.split_first() else {
        return;
    };
    match (segment, value) {
        (Segment::Key(key), Value::Object(map)) => {
            let here = at.child(segment.clone());
            match map.get(key) {
                Some(child) if rest.is_empty() && is_blank(child) => missing.push(here),
                Some(_) if rest.is_empty() => {}
                Some(child) => find_blank(child, rest, &here, missing),
                None if rest.is_empty() => missing.push(here),
                None => {}
            }
        }
        (Segment::Each, Value::Array(items)) if !rest.is_empty() => {
            let each = at.child(Segment::Each);
            for item in items {
                find_blank(item, rest, &each, missing);
            }
        }
        (Segment::AnyKey, Value::Object(map)) if !rest.is_empty() => {
            for (key, child) in map {
                find_blank(child, rest, &at.child(Segment::Key(key.clone())), missing);
            }
        }
        _ => {}
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

fn ignored(kind: &Kind, index: &FieldIndex, path: &FieldPath) -> bool {
    if path
        .first_key()
        .is_some_and(|k| matches!(k, "_links" | "_embedded" | "_link" | "_derived"))
    {
        return true;
    }
    kind.read_only.iter().any(|p| path.starts_with(p))
        || kind.volatile.iter().any(|p| path.starts_with(p))
        || index
            .response_field(path)
            .is_some_and(|info| info.read_only)
}

/// A problem when `value` at `path` does not have the type the request schema gives it (or the
/// type the kind file says Okta really accepts there).
fn type_problem(
    kind: &Kind,
    index: &FieldIndex,
    path: &FieldPath,
    value: &Value,
) -> Option<String> {
    let spec = index.request_field(path)?;
    let overridden;
    let info = match kind.types.iter().find(|(p, _)| p.matches_concrete(path)) {
        Some((_, ty)) => {
            overridden = crate::catalogue::FieldInfo {
                ty: ty.clone(),
                ..spec.clone()
            };
            &overridden
        }
        None => spec,
    };
    (!value.is_null() && !info.accepts(value))
        .then(|| format!("{path}: expected {}, got {}", info.ty, json_type(value)))
}

fn walk(
    kind: &Kind,
    index: &FieldIndex,
    value: &Value,
    path: &FieldPath,
    problems: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = path.child(Segment::Key(key.clone()));
                if ignored(kind, index, &child_path) {
                    continue;
                }
                if !index.has_request_field(&child_path) {
                    problems.push(format!(
                        "{child_path}: Property is not defined in the request schema"
                    ));
                    continue;
                }
                match type_problem(kind, index, &child_path, child) {
                    Some(problem) => problems.push(problem),
                    None => walk(kind, index, child, &child_path, problems),
                }
            }
        }
        Value::Array(items) => {
            let each = path.child(Segment::Each);
            for item in items {
                match type_problem(kind, index, &each, item) {
                    Some(problem) => problems.push(problem),
                    None => walk(kind, index, item, &each, problems),
                }
            }
        }
        _ => {}
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn blanks(body: &Value, path: &str) -> Vec<String> {
        let path = FieldPath::parse(path).unwrap();
        let mut missing = Vec::new();
        find_blank(
            body,
            path.segments(),
            &FieldPath::from_segments(Vec::new()),
            &mut missing,
        );
        missing.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn blank_means_absent_null_or_empty_and_only_under_a_present_parent() {
        assert_eq!(blanks(&json!({}), "name"), vec!["name"]);
        assert_eq!(blanks(&json!({"name": null}), "name"), vec!["name"]);
        assert_eq!(blanks(&json!({"name": ""}), "name"), vec!["name"]);
        assert!(blanks(&json!({"name": "x"}), "name").is_empty());
        assert!(blanks(&json!({"enabled": false}), "enabled").is_empty());
        // The parent is optional: absent or null, its members are not asked for.
        assert!(blanks(&json!({}), "channel.config.uri").is_empty());
        assert!(blanks(&json!({"channel": null}), "channel.uri").is_empty());
        assert_eq!(
            blanks(&json!({"channel": {"config": {}}}), "channel.config.uri"),
            vec!["channel.config.uri"]
        );
        // Each element of an array, each member of an open object.
        assert_eq!(
            blanks(
                &json!({"gateways": [{"value": "1.2.3.4"}, {"type": "CIDR"}]}),
                "gateways[*].value"
            ),
            vec!["gateways[*].value"]
        );
        assert_eq!(
            blanks(&json!({"claims": {"a": {"v": 1}, "b": {}}}), "claims.*.v"),
            vec!["claims.b.v"]
        );
    }
}
