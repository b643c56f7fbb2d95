//! A small OpenAPI 3.0 schema validator for the contract tests: does a JSON value fit a schema
//! of Okta's spec? It finds an operation's response and request schemas and walks `$ref`,
//! `allOf`, `oneOf`/`anyOf` (with discriminator mappings), `type` and `nullable`, `properties`,
//! `required`, `additionalProperties`, `items`, `enum` and the `date-time` format.
//!
//! Okta's enums are open (NOTES.md §0: Okta adds values over time), so a value outside an
//! `enum`, or a discriminator value without a mapping, is a note, never a failure; so is a
//! `writeOnly` field in a response. A wrong type, a missing required property, a property
//! `additionalProperties: false` forbids and a malformed date-time are failures. Every finding
//! names the JSON pointer in the value, the schema's location in the spec, and what was
//! expected.
//!
//! Test support only: it judges answers, it never changes them, and it knows nothing of the
//! simulator or the catalogue.

use std::fmt;

use serde_json::{Map, Value};

/// One thing the validator found.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// JSON pointer into the validated value (`""` is the value itself).
    pub pointer: String,
    /// JSON pointer into the spec of the schema that judged it
    /// (`#/components/schemas/User/properties/status`).
    pub schema: String,
    /// What was expected, and what was there.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(the body)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {} [schema {}]", self.message, self.schema)
    }
}

/// The outcome of one validation: failures break the contract; notes do not.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub failures: Vec<Finding>,
    pub notes: Vec<Finding>,
}

impl Report {
    fn finish(mut self) -> Report {
        self.failures.sort();
        self.failures.dedup();
        self.notes.sort();
        self.notes.dedup();
        self
    }
}

/// Okta's spec, parsed to JSON, and the lookups the contract tests need.
pub struct Spec<'s> {
    doc: &'s Value,
}

/// The JSON pointer of `key` under `base` (`~` and `/` escaped).
pub fn pointer_child(base: &str, key: &str) -> String {
    format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// Nested schema walks that do not descend into the value (a `$ref` chain, `allOf` parts)
/// stop here; a spec that loops without a discriminator would otherwise never end.
const MAX_SAME_VALUE_DEPTH: usize = 48;

impl<'s> Spec<'s> {
    pub fn new(doc: &'s Value) -> Spec<'s> {
        Spec { doc }
    }

    /// The operation `method path` (`path` as the spec writes it, `{param}` placeholders
    /// included) and its location in the spec.
    pub fn operation(&self, method: &str, path: &str) -> Result<(&'s Value, String), String> {
        let method = method.to_ascii_lowercase();
        let location = pointer_child(&pointer_child("#/paths", path), &method);
        self.doc
            .get("paths")
            .and_then(|p| p.get(path))
            .and_then(|item| item.get(&method))
            .map(|op| (op, location))
            .ok_or_else(|| format!("Okta's spec has no {} {path}", method.to_uppercase()))
    }

    /// The `application/json` schema of the operation's `status` response (a `$ref` to
    /// `#/components/responses/…` followed), with its location.
    pub fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: &str,
    ) -> Result<(&'s Value, String), String> {
        let (operation, location) = self.operation(method, path)?;
        let mut response = operation
            .get("responses")
            .and_then(|r| r.get(status))
            .ok_or_else(|| {
                format!(
                    "{} {path}: the spec has no {status} response",
                    method.to_uppercase()
                )
            })?;
        let mut location = pointer_child(&pointer_child(&location, "responses"), status);
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            response = self.resolve(reference).ok_or_else(|| {
                format!(
                    "{} {path}: unresolved response {reference}",
                    method.to_uppercase()
                )
            })?;
            location = reference.to_string();
        }
        media_schema(response, &location).ok_or_else(|| {
            format!(
                "{} {path}: the {status} response has no application/json schema",
                method.to_uppercase()
            )
        })
    }

    /// The `application/json` schema of the operation's request body, with its location.
    pub fn request_schema(&self, method: &str, path: &str) -> Result<(&'s Value, String), String> {
        let (operation, location) = self.operation(method, path)?;
        let mut body = operation.get("requestBody").ok_or_else(|| {
            format!(
                "{} {path}: the spec has no request body",
                method.to_uppercase()
            )
        })?;
        let mut location = pointer_child(&location, "requestBody");
        if let Some(reference) = body.get("$ref").and_then(Value::as_str) {
            body = self.resolve(reference).ok_or_else(|| {
                format!(
                    "{} {path}: unresolved request body {reference}",
                    method.to_uppercase()
                )
            })?;
            location = reference.to_string();
        }
        media_schema(body, &location).ok_or_else(|| {
            format!(
                "{} {path}: the request body has no application/json schema",
                method.to_uppercase()
            )
        })
    }

    /// The value a local reference (`#/components/schemas/User`) points to.
    pub fn resolve(&self, reference: &str) -> Option<&'s Value> {
        self.doc.pointer(reference.strip_prefix('#')?)
    }

    /// Validates `value` against `schema`, found at `location` in the spec.
    pub fn validate(&self, schema: &'s Value, location: &str, value: &Value) -> Report {
        let mut walk = Walk {
            spec: self,
            report: Report::default(),
            mistyped: Vec::new(),
        };
        walk.check(schema, location, value, "", &mut Vec::new(), 0);
        walk.report.finish()
    }
}

fn media_schema<'s>(holder: &'s Value, location: &str) -> Option<(&'s Value, String)> {
    let schema = holder
        .get("content")?
        .get("application/json")?
        .get("schema")?;
    let location = pointer_child(
        &pointer_child(&pointer_child(location, "content"), "application/json"),
        "schema",
    );
    Some((schema, location))
}

struct Walk<'a, 's> {
    spec: &'a Spec<'s>,
    report: Report,
    /// Pointers where the value had the wrong JSON type (to rank `oneOf` branches).
    mistyped: Vec<String>,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

impl<'s> Walk<'_, 's> {
    fn fail(&mut self, pointer: &str, schema: &str, message: String) {
        self.report.failures.push(Finding {
            pointer: pointer.to_string(),
            schema: schema.to_string(),
            message,
        });
    }

    fn note(&mut self, pointer: &str, schema: &str, message: String) {
        self.report.notes.push(Finding {
            pointer: pointer.to_string(),
            schema: schema.to_string(),
            message,
        });
    }

    /// `dispatched`: schemas whose discriminator already chose a branch for this value, so
    /// that a branch which `allOf`s its base does not dispatch again.
    fn check(
        &mut self,
        schema: &'s Value,
        at: &str,
        value: &Value,
        pointer: &str,
        dispatched: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > MAX_SAME_VALUE_DEPTH {
            self.note(
                pointer,
                at,
                "schema nesting too deep; not checked further".into(),
            );
            return;
        }
        let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
        if value.is_null() && nullable {
            return;
        }
        // In OpenAPI 3.0 a `$ref` replaces its siblings (`nullable` above aside).
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match self.spec.resolve(reference) {
                Some(target) => {
                    self.check(target, reference, value, pointer, dispatched, depth + 1)
                }
                None => self.note(
                    pointer,
                    at,
                    format!("unresolved $ref {reference}; not checked"),
                ),
            }
            return;
        }
        if let Some(ty) = schema.get("type").and_then(Value::as_str)
            && !has_type(value, ty)
        {
            let message = if value.is_null() {
                format!("expected {ty}, got null (the schema is not nullable)")
            } else {
                format!("expected {ty}, got {} {}", type_name(value), short(value))
            };
            self.fail(pointer, at, message);
            self.mistyped.push(pointer.to_string());
            return;
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !value.is_null()
            && !options.contains(value)
        {
            let known: Vec<String> = options.iter().map(short).collect();
            self.note(
                pointer,
                at,
                format!(
                    "{} is not one of the spec's values [{}] (open enum)",
                    short(value),
                    known.join(", ")
                ),
            );
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time")
            && let Some(text) = value.as_str()
            && chrono::DateTime::parse_from_rfc3339(text).is_err()
        {
            self.fail(
                pointer,
                at,
                format!("expected an RFC 3339 date-time, got {text:?}"),
            );
        }
        if schema.get("writeOnly").and_then(Value::as_bool) == Some(true) {
            self.note(
                pointer,
                at,
                "a writeOnly field appears in the answer".into(),
            );
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for (i, part) in parts.iter().enumerate() {
                let part_at = pointer_child(&pointer_child(at, "allOf"), &i.to_string());
                self.check(part, &part_at, value, pointer, dispatched, depth + 1);
            }
        }
        let chose_branch = self.discriminate(schema, at, value, pointer, dispatched, depth);
        if !chose_branch {
            for combinator in ["oneOf", "anyOf"] {
                if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
                    self.any_branch(combinator, branches, at, value, pointer, dispatched, depth);
                }
            }
        }
        match value {
            Value::Object(map) => self.check_object(schema, at, map, pointer),
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    let item_at = pointer_child(at, "items");
                    for (i, item) in items.iter().enumerate() {
                        self.check(
                            item_schema,
                            &item_at,
                            item,
                            &pointer_child(pointer, &i.to_string()),
                            &mut Vec::new(),
                            0,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Follows a discriminator's mapping (or, without one, the branch named by the value).
    /// Returns whether a branch was chosen, so `oneOf`/`anyOf` need not be tried.
    fn discriminate(
        &mut self,
        schema: &'s Value,
        at: &str,
        value: &Value,
        pointer: &str,
        dispatched: &mut Vec<String>,
        depth: usize,
    ) -> bool {
        let Some(discriminator) = schema.get("discriminator") else {
            return false;
        };
        if dispatched.iter().any(|d| d == at) {
            return true;
        }
        let Some(property) = discriminator.get("propertyName").and_then(Value::as_str) else {
            return false;
        };
        let Some(tag) = value.get(property).and_then(Value::as_str) else {
            return false;
        };
        let mapped = discriminator
            .get("mapping")
            .and_then(|m| m.get(tag))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                // No mapping entry: OpenAPI's implicit one, a oneOf/anyOf branch named `tag`.
                ["oneOf", "anyOf"].iter().find_map(|c| {
                    schema.get(*c)?.as_array()?.iter().find_map(|b| {
                        let r = b.get("$ref")?.as_str()?;
                        r.ends_with(&format!("/{tag}")).then(|| r.to_string())
                    })
                })
            });
        let Some(reference) = mapped else {
            self.note(
                pointer,
                at,
                format!("discriminator {property} = {tag:?} has no mapping in the spec (open)"),
            );
            return false;
        };
        let Some(target) = self.spec.resolve(&reference) else {
            self.note(
                pointer,
                at,
                format!("discriminator maps {tag:?} to unresolved {reference}; not checked"),
            );
            return true;
        };
        dispatched.push(at.to_string());
        self.check(target, &reference, value, pointer, dispatched, depth + 1);
        true
    }

    /// Valid when any branch is: the first that fits lends its notes; when none fits, the
    /// closest branch's failures are reported.
    #[allow(clippy::too_many_arguments)]
    fn any_branch(
        &mut self,
        combinator: &str,
        branches: &'s [Value],
        at: &str,
        value: &Value,
        pointer: &str,
        dispatched: &[String],
        depth: usize,
    ) {
        // The closest branch: one the value's JSON type fits, then the fewest failures.
        let mut closest: Option<((bool, usize), Report)> = None;
        for (i, branch) in branches.iter().enumerate() {
            let mut trial = Walk {
                spec: self.spec,
                report: Report::default(),
                mistyped: Vec::new(),
            };
            let branch_at = pointer_child(&pointer_child(at, combinator), &i.to_string());
            trial.check(
                branch,
                &branch_at,
                value,
                pointer,
                &mut dispatched.to_vec(),
                depth + 1,
            );
            if trial.report.failures.is_empty() {
                self.report.notes.extend(trial.report.notes);
                return;
            }
            let rank = (
                trial.mistyped.iter().any(|p| p == pointer),
                trial.report.failures.len(),
            );
            if closest.as_ref().is_none_or(|(best, _)| rank < *best) {
                closest = Some((rank, trial.report));
            }
        }
        if let Some((_, closest)) = closest {
            self.fail(
                pointer,
                at,
                format!(
                    "fits none of the {} {combinator} branches; the closest fails as follows",
                    branches.len()
                ),
            );
            self.report.failures.extend(closest.failures);
            self.report.notes.extend(closest.notes);
        }
    }

    fn check_object(
        &mut self,
        schema: &'s Value,
        at: &str,
        map: &Map<String, Value>,
        pointer: &str,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(properties) = properties {
            let properties_at = pointer_child(at, "properties");
            for (key, property) in properties {
                if let Some(member) = map.get(key) {
                    self.check(
                        property,
                        &pointer_child(&properties_at, key),
                        member,
                        &pointer_child(pointer, key),
                        &mut Vec::new(),
                        0,
                    );
                }
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                // A required writeOnly property binds requests only (OpenAPI 3.0): Okta never
                // sends a Splunk log stream's token back.
                let write_only = properties
                    .and_then(|p| p.get(name))
                    .map(|p| match p.get("$ref").and_then(Value::as_str) {
                        Some(reference) => self.spec.resolve(reference).unwrap_or(p),
                        None => p,
                    })
                    .is_some_and(|p| p.get("writeOnly").and_then(Value::as_bool) == Some(true));
                if !map.contains_key(name) && !write_only {
                    self.fail(
                        pointer,
                        &pointer_child(at, "required"),
                        format!("required property `{name}` is missing"),
                    );
                }
            }
        }
        let known = |key: &str| properties.is_some_and(|p| p.contains_key(key));
        match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => {
                for key in map.keys().filter(|k| !known(k)) {
                    self.fail(
                        &pointer_child(pointer, key),
                        &pointer_child(at, "additionalProperties"),
                        format!("property `{key}` is not allowed (additionalProperties: false)"),
                    );
                }
            }
            Some(extra @ Value::Object(_)) => {
                let extra_at = pointer_child(at, "additionalProperties");
                for (key, member) in map.iter().filter(|(k, _)| !known(k)) {
                    self.check(
                        extra,
                        &extra_at,
                        member,
                        &pointer_child(pointer, key),
                        &mut Vec::new(),
                        0,
                    );
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({
            "paths": {"/things/{id}": {"get": {"responses": {
                "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                "404": {"$ref": "#/components/responses/NotFound"}
            }}}},
            "components": {
                "responses": {"NotFound": {"content": {"application/json": {"schema": {"type": "object"}}}}},
                "schemas": {
                    "Thing": {
                        "type": "object",
                        "required": ["id"],
                        "properties": {
                            "id": {"type": "string"},
                            "status": {"type": "string", "enum": ["ACTIVE", "INACTIVE"]},
                            "created": {"type": "string", "format": "date-time"},
                            "note": {"type": "string", "nullable": true},
                            "secret": {"type": "string", "writeOnly": true},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "settings": {"type": "object", "additionalProperties": false,
                                         "properties": {"a": {"type": "integer"}}},
                            "kind": {"$ref": "#/components/schemas/Kind"}
                        }
                    },
                    "Kind": {
                        "type": "object",
                        "properties": {"type": {"type": "string"}},
                        "discriminator": {"propertyName": "type", "mapping": {
                            "A": "#/components/schemas/KindA", "B": "#/components/schemas/KindB"}}
                    },
                    "KindA": {"allOf": [{"$ref": "#/components/schemas/Kind"},
                        {"type": "object", "required": ["a"], "properties": {"a": {"type": "boolean"}}}]},
                    "KindB": {"allOf": [{"$ref": "#/components/schemas/Kind"},
                        {"type": "object", "properties": {"b": {"type": "integer"}}}]},
                    "Either": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}]}
                }
            }
        })
    }

    fn run(doc: &Value, value: Value) -> Report {
        let spec = Spec::new(doc);
        let (schema, at) = spec.response_schema("GET", "/things/{id}", "200").unwrap();
        assert_eq!(
            at,
            "#/paths/~1things~1{id}/get/responses/200/content/application~1json/schema"
        );
        spec.validate(schema, &at, &value)
    }

    #[test]
    fn a_fitting_value_passes_and_open_enums_are_notes() {
        let doc = spec();
        let report = run(
            &doc,
            json!({"id": "x", "status": "STAGED", "created": "2026-01-02T03:04:05.000Z",
                   "note": null, "secret": "s", "tags": ["a"], "settings": {"a": 1},
                   "kind": {"type": "A", "a": true}, "unknown": 1}),
        );
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let notes: Vec<String> = report.notes.iter().map(ToString::to_string).collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("writeOnly") || notes[1].contains("writeOnly"));
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with("/status: \"STAGED\" is not one of"))
        );
    }

    #[test]
    fn failures_name_pointer_schema_and_expectation() {
        let doc = spec();
        let report = run(
            &doc,
            json!({"status": 3, "created": "yesterday", "tags": ["a", 2],
                   "settings": {"a": 1, "b": 2}, "note": 1,
                   "kind": {"type": "A"}}),
        );
        let text: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        let expected = [
            "(the body): required property `id` is missing [schema #/components/schemas/Thing/required]",
            "/created: expected an RFC 3339 date-time, got \"yesterday\" [schema #/components/schemas/Thing/properties/created]",
            "/kind: required property `a` is missing [schema #/components/schemas/KindA/allOf/1/required]",
            "/note: expected string, got integer 1 [schema #/components/schemas/Thing/properties/note]",
            "/settings/b: property `b` is not allowed (additionalProperties: false) [schema #/components/schemas/Thing/properties/settings/additionalProperties]",
            "/status: expected string, got integer 3 [schema #/components/schemas/Thing/properties/status]",
            "/tags/1: expected string, got integer 2 [schema #/components/schemas/Thing/properties/tags/items]",
        ];
        assert_eq!(text, expected);
    }

    #[test]
    fn discriminators_choose_the_branch_and_unknown_tags_stay_open() {
        let doc = spec();
        let wrong_branch = run(&doc, json!({"id": "x", "kind": {"type": "B", "b": "no"}}));
        assert_eq!(wrong_branch.failures.len(), 1);
        assert_eq!(wrong_branch.failures[0].pointer, "/kind/b");
        let unknown = run(&doc, json!({"id": "x", "kind": {"type": "C"}}));
        assert!(unknown.failures.is_empty());
        assert!(unknown.notes[0].message.contains("no mapping"));
    }

    #[test]
    fn one_of_fits_when_any_branch_fits() {
        let doc = spec();
        let spec = Spec::new(&doc);
        let schema = spec.resolve("#/components/schemas/Either").unwrap();
        let at = "#/components/schemas/Either";
        assert!(spec.validate(schema, at, &json!("a")).failures.is_empty());
        assert!(
            spec.validate(schema, at, &json!([1, 2]))
                .failures
                .is_empty()
        );
        let report = spec.validate(schema, at, &json!([1, "x"]));
        assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
        assert!(
            report.failures[0]
                .message
                .contains("fits none of the 2 oneOf")
        );
        assert_eq!(report.failures[1].pointer, "/1");
    }

    #[test]
    fn missing_operations_and_responses_are_errors() {
        let doc = spec();
        let spec = Spec::new(&doc);
        assert!(spec.response_schema("POST", "/things/{id}", "200").is_err());
        assert!(spec.response_schema("GET", "/things/{id}", "201").is_err());
        assert!(spec.response_schema("GET", "/things/{id}", "404").is_ok());
    }
}
