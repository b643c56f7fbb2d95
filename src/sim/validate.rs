//! Request bodies checked against the kind's request schema, from the field index derived from
//! Okta's spec: an unknown property or a value of the wrong JSON type is refused with E0000001
//! naming the field; read-only and hypermedia members are ignored, as Okta ignores them.

use serde_json::Value;

use super::error::OktaError;
use crate::catalogue::{FieldIndex, FieldPath, Kind, Segment};

/// Checks `body` for a create, replace or update of `kind`.
pub fn check_body(kind: &Kind, index: &FieldIndex, body: &Value) -> Result<(), OktaError> {
    if index.request.is_empty() {
        return Ok(());
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
            for problem in problems.into_iter().take(9) {
                error = error.with_cause(problem);
            }
            Err(error)
        }
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

/// A problem when `value` at `path` does not have the type the request schema gives it.
fn type_problem(index: &FieldIndex, path: &FieldPath, value: &Value) -> Option<String> {
    let info = index.request.get(&path.to_string())?;
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
                match type_problem(index, &child_path, child) {
                    Some(problem) => problems.push(problem),
                    None => walk(kind, index, child, &child_path, problems),
                }
            }
        }
        Value::Array(items) => {
            let each = path.child(Segment::Each);
            for item in items {
                match type_problem(index, &each, item) {
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
