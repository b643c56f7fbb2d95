//! Checks the catalogue against Okta's OpenAPI spec and derives each kind's [`FieldIndex`].
//!
//! Pure: it takes the spec already parsed into JSON (the caller reads the YAML) and returns
//! data. Every endpoint must exist in the spec with its method, every scope the spec requires
//! must be declared by the kind, and every field path the kind names must exist in the
//! response schema (paths under `_derived` excepted: they are Butterfly's).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::endpoint::Endpoint;
use super::field_path::{FieldPath, Segment};
use super::fields::{FieldIndex, FieldInfo, NOTE, Operation};
use super::kind::Kind;

/// A mismatch between the catalogue and the spec, naming the kind file and the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecProblem {
    pub file: String,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: `{}`: {}", self.file, self.field, self.message)
    }
}

/// Walks `$ref`, `allOf`, `oneOf`, `anyOf` and discriminator mappings into a flat field table.
struct Flattener<'s> {
    schemas: &'s Map<String, Value>,
    /// How many union branches (`oneOf`, `anyOf`, discriminator mappings) the walk is inside:
    /// a default found there holds for one variant only, so it is not recorded; each branch is
    /// walked on its own, and a field stays required only if every branch requires it.
    in_branch: std::cell::Cell<usize>,
}

const MAX_DEPTH: usize = 14;

impl<'s> Flattener<'s> {
    fn resolve<'a>(&'a self, schema: &'a Value) -> (&'a Value, Option<&'a str>) {
        let mut current = schema;
        let mut name = None;
        for _ in 0..8 {
            match current.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let Some(target) = reference
                        .strip_prefix("#/components/schemas/")
                        .and_then(|n| self.schemas.get(n).map(|s| (n, s)))
                    else {
                        return (current, name);
                    };
                    name = Some(target.0);
                    current = target.1;
                }
                None => break,
            }
        }
        (current, name)
    }

    /// The JSON type(s) a schema describes.
    fn type_of(&self, schema: &Value, stack: &mut Vec<String>) -> BTreeSet<String> {
        let (schema, name) = self.resolve(schema);
        let mut types = BTreeSet::new();
        if let Some(name) = name {
            if stack.iter().any(|s| s == name) {
                types.insert("object".to_string());
                return types;
            }
            stack.push(name.to_string());
        }
        if let Some(ty) = schema.get("type").and_then(Value::as_str) {
            types.insert(ty.to_string());
        }
        for combinator in ["allOf", "oneOf", "anyOf"] {
            if let Some(parts) = schema.get(combinator).and_then(Value::as_array) {
                for part in parts {
                    types.extend(self.type_of(part, stack));
                }
            }
        }
        if types.is_empty()
            && (schema.get("properties").is_some() || schema.get("additionalProperties").is_some())
        {
            types.insert("object".to_string());
        }
        if name.is_some() {
            stack.pop();
        }
        if types.len() > 1 {
            // `allOf` of an object and its extension is an object, not a union.
            types.remove("any");
        }
        types
    }

    fn flag(&self, raw: &Value, resolved: &Value, name: &str) -> bool {
        raw.get(name).and_then(Value::as_bool).unwrap_or(false)
            || resolved.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    /// Records the field at `path`; `required` when its parent object lists it in `required`.
    fn record(
        &self,
        out: &mut BTreeMap<String, FieldInfo>,
        path: &FieldPath,
        raw: &Value,
        required: bool,
        stack: &mut Vec<String>,
    ) {
        let (resolved, _) = self.resolve(raw);
        let types = self.type_of(raw, stack);
        let ty = if types.is_empty() {
            "any".to_string()
        } else {
            types.into_iter().collect::<Vec<_>>().join("|")
        };
        let info = FieldInfo {
            ty,
            read_only: self.flag(raw, resolved, "readOnly"),
            write_only: self.flag(raw, resolved, "writeOnly"),
            nullable: self.flag(raw, resolved, "nullable"),
            default: if self.in_branch.get() == 0 {
                raw.get("default")
                    .or_else(|| resolved.get("default"))
                    .cloned()
            } else {
                None
            },
            one_of: raw
                .get("enum")
                .or_else(|| resolved.get("enum"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            required,
        };
        merge(out, path.to_string(), info);
    }

    fn flatten(
        &self,
        schema: &Value,
        path: &FieldPath,
        out: &mut BTreeMap<String, FieldInfo>,
        stack: &mut Vec<String>,
    ) {
        if stack.len() > MAX_DEPTH {
            return;
        }
        let (schema, name) = self.resolve(schema);
        if let Some(name) = name {
            if stack.iter().any(|s| s == name) {
                return;
            }
            stack.push(name.to_string());
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.flatten(part, path, out, stack);
            }
        }
        for combinator in ["oneOf", "anyOf"] {
            if let Some(parts) = schema.get(combinator).and_then(Value::as_array) {
                self.flatten_branches(parts.iter().cloned(), path, out, stack);
            }
        }
        if let Some(mapping) = schema
            .get("discriminator")
            .and_then(|d| d.get("mapping"))
            .and_then(Value::as_object)
        {
            let targets = mapping
                .values()
                .filter_map(Value::as_str)
                .map(|reference| serde_json::json!({ "$ref": reference }));
            self.flatten_branches(targets, path, out, stack);
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let required: BTreeSet<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (key, property) in properties {
                let child = path.child(Segment::Key(key.clone()));
                self.record(
                    out,
                    &child,
                    property,
                    required.contains(key.as_str()),
                    stack,
                );
                self.flatten(property, &child, out, stack);
            }
        }
        if let Some(items) = schema.get("items") {
            let child = path.child(Segment::Each);
            self.record(out, &child, items, false, stack);
            self.flatten(items, &child, out, stack);
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(true)) => {
                let child = path.child(Segment::AnyKey);
                out.entry(child.to_string()).or_insert_with(|| FieldInfo {
                    ty: "any".into(),
                    ..FieldInfo::default()
                });
            }
            Some(extra @ Value::Object(_)) => {
                let child = path.child(Segment::AnyKey);
                self.record(out, &child, extra, false, stack);
                self.flatten(extra, &child, out, stack);
            }
            _ => {}
        }
        if name.is_some() {
            stack.pop();
        }
    }

    /// Walks the alternatives of a union (`oneOf`, `anyOf`, discriminator mapping) at `path`,
    /// each into a table of its own, then merges them into `out`: every field of every branch
    /// is kept, but a field is required only when every branch requires it (a branch the walk
    /// cannot enter, being already on the path, requires nothing).
    fn flatten_branches(
        &self,
        parts: impl Iterator<Item = Value>,
        path: &FieldPath,
        out: &mut BTreeMap<String, FieldInfo>,
        stack: &mut Vec<String>,
    ) {
        self.in_branch.set(self.in_branch.get() + 1);
        let branches: Vec<BTreeMap<String, FieldInfo>> = parts
            .map(|part| {
                let mut branch = BTreeMap::new();
                self.flatten(&part, path, &mut branch, stack);
                branch
            })
            .collect();
        self.in_branch.set(self.in_branch.get() - 1);
        let required_everywhere = |key: &str| {
            branches
                .iter()
                .all(|branch| branch.get(key).is_some_and(|info| info.required))
        };
        for branch in &branches {
            for (key, info) in branch {
                let mut info = info.clone();
                info.required = info.required && required_everywhere(key);
                merge(out, key.clone(), info);
            }
        }
    }

    /// The defaults of each variant of a schema whose discriminator sits at the object's root:
    /// each mapped schema walked on its own (so its defaults count), keeping the usable ones
    /// (`FieldInfo::usable_default`). Keyed discriminator field → value → field → default.
    fn variant_defaults_of(
        &self,
        schema: &Value,
    ) -> BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>> {
        let mut out: BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>> = BTreeMap::new();
        let (resolved, _) = self.resolve(schema);
        let Some(discriminator) = resolved.get("discriminator") else {
            return out;
        };
        let (Some(field), Some(mapping)) = (
            discriminator.get("propertyName").and_then(Value::as_str),
            discriminator.get("mapping").and_then(Value::as_object),
        ) else {
            return out;
        };
        for (value, target) in mapping {
            let Some(target) = target.as_str() else {
                continue;
            };
            let fields = self.fields_of(&serde_json::json!({ "$ref": target }));
            let defaults: BTreeMap<String, Value> = fields
                .iter()
                .filter_map(|(path, info)| {
                    info.usable_default(path)
                        .map(|(_, default)| (path.clone(), default))
                })
                .collect();
            if !defaults.is_empty() {
                out.entry(field.to_string())
                    .or_default()
                    .insert(value.clone(), defaults);
            }
        }
        out
    }

    /// Fields of a schema, rooted at the object itself (paths have no leading segment).
    fn fields_of(&self, schema: &Value) -> BTreeMap<String, FieldInfo> {
        let mut out = BTreeMap::new();
        let mut stack = Vec::new();
        // Flatten under a dummy root, then strip it.
        let root = FieldPath::from_segments(vec![Segment::Key("$".into())]);
        self.flatten(schema, &root, &mut out, &mut stack);
        out.into_iter()
            .filter_map(|(key, info)| {
                key.strip_prefix("$.")
                    .map(str::to_string)
                    .or_else(|| {
                        key.strip_prefix('$')
                            .filter(|k| k.starts_with('['))
                            .map(|k| k.to_string())
                    })
                    .map(|k| (k, info))
            })
            .collect()
    }
}

fn media_schema(holder: &Value) -> Option<&Value> {
    let content = holder.get("content")?.as_object()?;
    content
        .get("application/json")
        .or_else(|| content.values().next())
        .and_then(|m| m.get("schema"))
}

/// The JSON schema of an operation's first 2xx response, following a `$ref` to
/// `#/components/responses/…`.
fn success_response<'s>(spec: &'s Value, operation: &'s Value) -> Option<&'s Value> {
    let responses = operation.get("responses")?.as_object()?;
    responses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .find_map(|(_, response)| {
            let response = match response.get("$ref").and_then(Value::as_str) {
                Some(reference) => reference
                    .strip_prefix("#/components/responses/")
                    .and_then(|name| spec.pointer(&format!("/components/responses/{name}")))?,
                None => response,
            };
            media_schema(response)
        })
}

/// The status of an operation's first 2xx response (200 when the spec names none).
fn success_status(operation: &Value) -> u16 {
    operation
        .get("responses")
        .and_then(Value::as_object)
        .and_then(|responses| {
            responses
                .keys()
                .filter(|code| code.starts_with('2'))
                .find_map(|code| code.parse().ok())
        })
        .unwrap_or(200)
}

fn operation_scopes(operation: &Value) -> Vec<String> {
    let mut scopes = Vec::new();
    for requirement in operation
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(list) = requirement.get("oauth2").and_then(Value::as_array) {
            scopes.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    scopes
}

/// Where Okta's spec contradicts what Okta's API sends and accepts, the schema as it really is.
/// A profile mapping's `properties` is a map from attribute name to `{expression, pushStatus}`
/// (`{"properties": {"title": {"expression": "user.title", "pushStatus": "PUSH"}}}`), but the
/// spec gives it the shape of one such entry, and requires `expression` and `pushStatus`
/// beside it in a request.
fn correct(schemas: &mut Map<String, Value>) {
    let mapping_properties = serde_json::json!({
        "type": "object",
        "additionalProperties": {"$ref": "#/components/schemas/ProfileMappingProperty"}
    });
    for name in ["ProfileMapping", "ProfileMappingRequest"] {
        if let Some(properties) = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_object_mut)
            && properties.contains_key("properties")
        {
            properties.insert("properties".into(), mapping_properties.clone());
        }
    }
    if let Some(required) = schemas
        .get_mut("ProfileMappingRequest")
        .and_then(|s| s.get_mut("required"))
    {
        *required = serde_json::json!(["properties"]);
    }
}

/// Checks every kind against the spec and derives its field index.
/// Returns the indexes of all kinds and every problem found (an empty list means the catalogue
/// agrees with the spec).
pub fn derive(spec: &Value, kinds: &[Kind]) -> (BTreeMap<String, FieldIndex>, Vec<SpecProblem>) {
    let empty = Map::new();
    let mut corrected = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
        .clone();
    correct(&mut corrected);
    let schemas = &corrected;
    let request_bodies = spec
        .pointer("/components/requestBodies")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let flattener = Flattener {
        schemas,
        in_branch: std::cell::Cell::new(0),
    };
    let mut indexes = BTreeMap::new();
    let mut problems = Vec::new();

    for kind in kinds {
        let mut problem = |field: String, message: String| {
            problems.push(SpecProblem {
                file: kind.source.clone(),
                field,
                message,
            })
        };
        let mut index = FieldIndex {
            note: NOTE.to_string(),
            kind: kind.name.clone(),
            ..FieldIndex::default()
        };
        // The required request fields of each create and replace schema of the kind.
        let mut write_schemas: Vec<BTreeSet<String>> = Vec::new();
        // The required fields of each list element and get answer: Okta always sends them.
        let mut read_schemas: Vec<BTreeSet<String>> = Vec::new();
        for variant in &kind.variants {
            let mut endpoints: Vec<(String, &Endpoint, Option<&str>)> = Vec::new();
            for (role, endpoint) in variant.endpoints.all() {
                let items = if role == "list" {
                    variant
                        .endpoints
                        .list
                        .as_ref()
                        .and_then(|l| l.items.as_deref())
                } else {
                    None
                };
                endpoints.push((role, endpoint, items));
            }
            if let Some(parents_from) = &variant.parents_from {
                endpoints.push(("parents_from".into(), &parents_from.endpoint, None));
            }
            for (role, endpoint, items) in endpoints {
                let field = if kind.variants.len() > 1 {
                    format!("variants.{}.endpoints.{role}", variant.name)
                } else {
                    format!("endpoints.{role}")
                };
                let Some(item) = paths.get(&endpoint.path) else {
                    problem(
                        field,
                        format!("`{}` is not a path in Okta's spec", endpoint.path),
                    );
                    continue;
                };
                let method = endpoint.method.as_str().to_ascii_lowercase();
                let Some(operation) = item.get(&method) else {
                    let available: Vec<String> = item
                        .as_object()
                        .map(|o| {
                            o.keys()
                                .filter(|k| {
                                    ["get", "post", "put", "patch", "delete"].contains(&k.as_str())
                                })
                                .map(|k| k.to_ascii_uppercase())
                                .collect()
                        })
                        .unwrap_or_default();
                    problem(
                        field,
                        format!(
                            "Okta's spec has no {} on `{}` (it has {})",
                            endpoint.method,
                            endpoint.path,
                            available.join(", ")
                        ),
                    );
                    continue;
                };
                // Query parameters the catalogue always sends must be declared by the operation.
                let declared: BTreeSet<&str> = operation
                    .get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .chain(
                        item.get("parameters")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten(),
                    )
                    .filter_map(|p| {
                        let p = match p.get("$ref").and_then(Value::as_str) {
                            Some(r) => r
                                .strip_prefix("#/components/parameters/")
                                .and_then(|n| spec.pointer(&format!("/components/parameters/{n}")))
                                .unwrap_or(p),
                            None => p,
                        };
                        p.get("name").and_then(Value::as_str)
                    })
                    .collect();
                let mut query_names: Vec<&str> =
                    endpoint.query.keys().map(String::as_str).collect();
                if role == "list"
                    && let Some(list) = &variant.endpoints.list
                {
                    if let Some(each) = &list.each {
                        query_names.push(each.param.as_str());
                    }
                    if list.limit.is_some() {
                        query_names.push("limit");
                    }
                }
                for name in query_names {
                    if !declared.contains(name) {
                        problem(
                            field.clone(),
                            format!(
                                "Okta's spec declares no query parameter `{name}` on {} {}",
                                endpoint.method, endpoint.path
                            ),
                        );
                    }
                }
                let scopes = operation_scopes(operation);
                let declared_scopes: &[String] =
                    if role == "list" || role == "get" || role == "parents_from" {
                        &kind.scopes.read
                    } else {
                        &kind.scopes.manage
                    };
                for scope in &scopes {
                    let covered = declared_scopes.contains(scope)
                        || (scope.ends_with(".read")
                            && kind
                                .scopes
                                .manage
                                .contains(&scope.replace(".read", ".manage")));
                    if !covered {
                        problem(
                            field.clone(),
                            format!(
                                "Okta requires scope `{scope}` for {} {}, which the kind does not declare",
                                endpoint.method, endpoint.path
                            ),
                        );
                    }
                }
                let operation_id = operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                index.operations.insert(
                    format!("{}.{role}", variant.name),
                    Operation {
                        method: endpoint.method.as_str().to_string(),
                        path: endpoint.path.clone(),
                        operation_id,
                        scopes,
                        status: success_status(operation),
                    },
                );
                // Schemas: what the kind's objects look like when read, and when written.
                match role.as_str() {
                    "list" | "get" => {
                        let Some(schema) = success_response(spec, operation) else {
                            problem(
                                field,
                                format!(
                                    "{} {} returns no JSON body in the spec",
                                    endpoint.method, endpoint.path
                                ),
                            );
                            continue;
                        };
                        let (resolved, _) = flattener.resolve(schema);
                        let element = if role == "list" {
                            match items {
                                Some(key) => {
                                    let fields = flattener.fields_of(resolved);
                                    if !fields.contains_key(key) {
                                        problem(
                                            field.clone(),
                                            format!("the list response has no member `{key}`"),
                                        );
                                    }
                                    resolved
                                        .pointer(&format!(
                                            "/properties/{}",
                                            key.replace('~', "~0").replace('/', "~1")
                                        ))
                                        .and_then(|p| flattener.resolve(p).0.get("items"))
                                }
                                None if resolved.get("items").is_some() => resolved.get("items"),
                                None => {
                                    problem(
                                        field.clone(),
                                        "the spec's list response is not an array; set `items`"
                                            .into(),
                                    );
                                    None
                                }
                            }
                        } else {
                            Some(schema)
                        };
                        if let Some(element) = element {
                            for (field, values) in flattener.variant_defaults_of(element) {
                                let known = index.variant_defaults.entry(field).or_default();
                                for (value, defaults) in values {
                                    let known = known.entry(value).or_default();
                                    for (path, default) in defaults {
                                        known.entry(path).or_insert(default);
                                    }
                                }
                            }
                            let fields = flattener.fields_of(element);
                            read_schemas.push(
                                fields
                                    .iter()
                                    .filter(|(_, info)| info.required && !info.write_only)
                                    .map(|(path, _)| path.clone())
                                    .collect(),
                            );
                            for (path, mut info) in fields {
                                info.required = false;
                                merge(&mut index.response, path, info);
                            }
                        }
                    }
                    "create" | "replace" | "update" => {
                        let body = operation.get("requestBody").map(|body| {
                            match body.get("$ref").and_then(Value::as_str) {
                                Some(r) => r
                                    .strip_prefix("#/components/requestBodies/")
                                    .and_then(|n| request_bodies.get(n))
                                    .unwrap_or(body),
                                None => body,
                            }
                        });
                        if let Some(schema) = body.and_then(media_schema) {
                            let fields = flattener.fields_of(schema);
                            if role != "update" {
                                // A partial update requires nothing; creates and replaces vote.
                                write_schemas.push(
                                    fields
                                        .iter()
                                        .filter(|(_, info)| info.required)
                                        .map(|(path, _)| path.clone())
                                        .collect(),
                                );
                            }
                            for (path, mut info) in fields {
                                info.required = false;
                                merge(&mut index.request, path, info);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        mark_required(&mut index.request, &write_schemas, true);
        mark_required(&mut index.response, &read_schemas, false);
        // A variant's default that every variant shares is a common default already.
        for values in index.variant_defaults.values_mut() {
            for defaults in values.values_mut() {
                defaults.retain(|path, default| {
                    index.response.get(path).and_then(|i| i.default.as_ref()) != Some(default)
                });
            }
            values.retain(|_, defaults| !defaults.is_empty());
        }
        index
            .variant_defaults
            .retain(|_, values| !values.is_empty());
        // Required fields the kind declares beyond the spec must be writable request fields.
        for path in &kind.required {
            match index.request.get(&path.to_string()) {
                None => problem(
                    "fields.required".into(),
                    format!(
                        "`{path}` is not a field of {}'s request schema in Okta's spec",
                        kind.name
                    ),
                ),
                Some(info) if info.required => problem(
                    "fields.required".into(),
                    format!("`{path}` is already required by Okta's spec; drop it here"),
                ),
                Some(info) if info.read_only => problem(
                    "fields.required".into(),
                    format!("`{path}` is read-only in Okta's spec, so no request carries it"),
                ),
                Some(_) => {}
            }
        }
        for path in &kind.optional {
            if !index
                .request
                .get(&path.to_string())
                .is_some_and(|info| info.required)
            {
                problem(
                    "fields.optional".into(),
                    format!(
                        "`{path}` is not a required request field in Okta's spec; drop it here"
                    ),
                );
            }
        }
        // A type override must name a field of the spec, with another type than the spec's.
        for (path, ty) in &kind.types {
            let text = path.to_string();
            let spec_ty = index
                .request
                .get(&text)
                .or_else(|| index.response.get(&text))
                .map(|info| info.ty.clone());
            match spec_ty {
                None => problem(
                    "fields.types".into(),
                    format!(
                        "`{path}` is not a field of {}'s schemas in Okta's spec",
                        kind.name
                    ),
                ),
                Some(spec_ty) if spec_ty == *ty => problem(
                    "fields.types".into(),
                    format!("`{path}` is already `{ty}` in Okta's spec; drop it here"),
                ),
                Some(_) => {}
            }
        }
        // Every named path must exist in the response schema.
        if !index.response.is_empty() {
            for (field, path) in kind.named_paths() {
                if !index.has_response_field(&path) {
                    problem(
                        field,
                        format!(
                            "`{path}` is not a field of {}'s response schema in Okta's spec",
                            kind.name
                        ),
                    );
                }
            }
        }
        indexes.insert(kind.name.clone(), index);
    }

    // Reference targets name fields of the target kind.
    for kind in kinds {
        for (i, reference) in kind.references.iter().enumerate() {
            if let (Some(target), Some(index)) = (&reference.target, indexes.get(&reference.kind))
                && !index.has_response_field(target)
            {
                problems.push(SpecProblem {
                    file: kind.source.clone(),
                    field: format!("references[{i}].target"),
                    message: format!("`{target}` is not a field of {}", reference.kind),
                });
            }
        }
    }
    (indexes, problems)
}

/// Marks the fields every schema of a side requires (a kind's schemas differ: a field one of
/// them leaves optional is optional): for requests, every create and replace schema, leaving
/// out fields a request never carries (read-only ones and members of read-only objects); for
/// answers, every list element and get answer. Hypermedia (`_links`, `_embedded`) is never
/// required.
fn mark_required(
    fields: &mut BTreeMap<String, FieldInfo>,
    schemas: &[BTreeSet<String>],
    skip_read_only: bool,
) {
    let Some((first, rest)) = schemas.split_first() else {
        return;
    };
    for path in first {
        if !rest.iter().all(|schema| schema.contains(path)) {
            continue;
        }
        let Ok(parsed) = FieldPath::parse(path) else {
            continue;
        };
        if parsed
            .first_key()
            .is_some_and(|key| matches!(key, "_links" | "_embedded" | "_link"))
        {
            continue;
        }
        let segments = parsed.segments();
        let read_only = (1..=segments.len()).any(|len| {
            let prefix = FieldPath::from_segments(segments[..len].to_vec()).to_string();
            fields.get(&prefix).is_some_and(|info| info.read_only)
        });
        if !(skip_read_only && read_only)
            && let Some(info) = fields.get_mut(path)
        {
            info.required = true;
        }
    }
}

/// Adds what one schema says of a field to what others said: types unite (`any` gives way to
/// a known type), a read-only, write-only or required mark sticks, nullable holds only if it
/// always does, the first default wins, enums unite.
fn merge(into: &mut BTreeMap<String, FieldInfo>, path: String, info: FieldInfo) {
    let existing = into.entry(path).or_insert_with(|| FieldInfo {
        ty: info.ty.clone(),
        nullable: info.nullable,
        ..FieldInfo::default()
    });
    if existing.ty != info.ty {
        let mut all: BTreeSet<&str> = existing.ty.split('|').chain(info.ty.split('|')).collect();
        all.remove("");
        if all.len() > 1 {
            all.remove("any");
        }
        existing.ty = all.into_iter().collect::<Vec<_>>().join("|");
    }
    existing.read_only |= info.read_only;
    existing.write_only |= info.write_only;
    // Within one schema, `allOf` parts add their constraints up.
    existing.required |= info.required;
    // Nullable only where every schema defining the field says so (a subtype may narrow it).
    existing.nullable &= info.nullable;
    if existing.default.is_none() {
        existing.default = info.default;
    }
    for value in info.one_of {
        if !existing.one_of.contains(&value) {
            existing.one_of.push(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_refs_all_of_and_arrays() {
        let schemas = json!({
            "Base": {"type": "object", "properties": {"id": {"type": "string", "readOnly": true}}},
            "Rule": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object", "properties": {
                "groupIds": {"type": "array", "items": {"type": "string"}},
                "status": {"type": "string", "default": "ACTIVE", "enum": ["ACTIVE", "INACTIVE"]},
                "self": {"$ref": "#/components/schemas/Rule"},
                "profile": {"type": "object", "additionalProperties": true}
            }}]}
        });
        let schemas = schemas.as_object().unwrap().clone();
        let flattener = Flattener {
            schemas: &schemas,
            in_branch: std::cell::Cell::new(0),
        };
        let fields = flattener.fields_of(&json!({"$ref": "#/components/schemas/Rule"}));
        assert!(fields["id"].read_only);
        assert_eq!(fields["groupIds"].ty, "array");
        assert_eq!(fields["groupIds[*]"].ty, "string");
        assert_eq!(fields["status"].default, Some(json!("ACTIVE")));
        assert_eq!(
            fields["status"].one_of,
            vec![json!("ACTIVE"), json!("INACTIVE")]
        );
        assert_eq!(fields["self"].ty, "object");
        assert!(
            !fields.contains_key("self.id"),
            "recursion stops at a schema already on the path"
        );
        assert!(fields.contains_key("profile.*"));
    }

    #[test]
    fn required_only_where_every_branch_requires_it() {
        let schemas = json!({
            "App": {"type": "object", "required": ["label", "signOnMode"], "properties": {
                "id": {"type": "string", "readOnly": true},
                "label": {"type": "string"},
                "signOnMode": {"type": "string"}
            }},
            "Bookmark": {"allOf": [{"$ref": "#/components/schemas/App"}, {"type": "object",
                "required": ["settings"],
                "properties": {"settings": {"type": "object", "required": ["url"],
                    "properties": {"url": {"type": "string"}}}}}]},
            "Saml": {"allOf": [{"$ref": "#/components/schemas/App"}, {"type": "object",
                "properties": {"settings": {"type": "object",
                    "properties": {"url": {"type": "string"}}}}}]}
        });
        let schemas = schemas.as_object().unwrap().clone();
        let flattener = Flattener {
            schemas: &schemas,
            in_branch: std::cell::Cell::new(0),
        };
        let fields = flattener.fields_of(&json!({"oneOf": [
            {"$ref": "#/components/schemas/Bookmark"},
            {"$ref": "#/components/schemas/Saml"}
        ]}));
        assert!(
            fields["label"].required,
            "required by the base of every branch"
        );
        assert!(fields["signOnMode"].required);
        assert!(
            !fields["settings"].required,
            "required by one branch only: {:?}",
            fields["settings"]
        );
        assert!(!fields["settings.url"].required);
        // Within one branch, the requirement holds.
        let bookmark = flattener.fields_of(&json!({"$ref": "#/components/schemas/Bookmark"}));
        assert!(bookmark["settings"].required);
        assert!(bookmark["settings.url"].required);
    }

    #[test]
    fn nested_required_fields_and_the_kind_wide_vote() {
        let spec = json!({
            "paths": {
                "/api/v1/hooks": {"get": {"operationId": "listHooks"},
                    "post": {"operationId": "createHook",
                    "requestBody": {"content": {"application/json": {"schema":
                        {"$ref": "#/components/schemas/Hook"}}}}}},
                "/api/v1/hooks/{hookId}": {
                    "put": {"operationId": "replaceHook",
                        "requestBody": {"content": {"application/json": {"schema":
                            {"$ref": "#/components/schemas/HookReplace"}}}}},
                    "post": {"operationId": "updateHook",
                        "requestBody": {"content": {"application/json": {"schema":
                            {"$ref": "#/components/schemas/HookPatch"}}}}}
                }
            },
            "components": {"schemas": {
                "Hook": {"type": "object", "required": ["name", "id", "channel"], "properties": {
                    "id": {"type": "string", "readOnly": true},
                    "name": {"type": "string"},
                    "channel": {"$ref": "#/components/schemas/Channel"},
                    "auth": {"type": "object", "required": ["key"], "properties": {
                        "key": {"type": "string"}}}
                }},
                "HookReplace": {"type": "object", "required": ["name", "auth"], "properties": {
                    "name": {"type": "string"},
                    "channel": {"$ref": "#/components/schemas/Channel"},
                    "auth": {"type": "object", "required": ["key"], "properties": {
                        "key": {"type": "string"}}}
                }},
                "HookPatch": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "auth": {"type": "object", "properties": {"key": {"type": "string"}}}
                }},
                "Channel": {"type": "object", "required": ["uri"], "properties": {
                    "uri": {"type": "string"}}}
            }}
        });
        let provider = r#"
provider = "okta"
title = "Okta"
[[buckets]]
name = "/api/v1"
per_minute = 1200
about = "catch-all"
[requested_scopes]
about = "test"
manage = ["okta.eventHooks.manage"]
extra = []
"#;
        let toml = r#"
kind = "hook"
title = "Hook"
about = "A test kind."
id = "id"
file = "hooks/{name}"
scopes = { read = "okta.eventHooks.read", manage = "okta.eventHooks.manage" }
bucket = "/api/v1"
[endpoints]
list = "GET /api/v1/hooks"
create = "POST /api/v1/hooks"
replace = "PUT /api/v1/hooks/{hookId}"
update = "POST /api/v1/hooks/{hookId}"
[params]
hookId = "self.id"
"#;
        let (_, kinds) = super::super::load::load(
            "okta",
            &[
                ("schemas/okta/_provider.toml".into(), provider.into()),
                ("schemas/okta/hook.toml".into(), toml.into()),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (indexes, _) = derive(&spec, &kinds);
        let request = &indexes["hook"].request;
        let required: Vec<&str> = request
            .iter()
            .filter(|(_, info)| info.required)
            .map(|(path, _)| path.as_str())
            .collect();
        // `name`: both write schemas; `auth.key`: under an optional object in one schema and
        // a required one in the other; `channel` and `channel.uri`: only the create schema
        // requires `channel`, but `uri` is required wherever a channel is sent; `id` is
        // read-only; the partial update's lack of `required` does not count.
        assert_eq!(required, vec!["auth.key", "channel.uri", "name"]);

        // What a kind file adds or removes must fit the spec.
        let declared = toml.replace(
            "[params]",
            "[fields]\nrequired = [\"nosuch\", \"name\", \"auth\"]\noptional = [\"auth\"]\n[params]",
        );
        let (_, kinds) = super::super::load::load(
            "okta",
            &[
                ("schemas/okta/_provider.toml".into(), provider.into()),
                ("schemas/okta/hook.toml".into(), declared),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (_, problems) = derive(&spec, &kinds);
        let messages: Vec<String> = problems
            .iter()
            .filter(|p| p.field.starts_with("fields."))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            vec![
                "schemas/okta/hook.toml: `fields.required`: `nosuch` is not a field of hook's request schema in Okta's spec",
                "schemas/okta/hook.toml: `fields.required`: `name` is already required by Okta's spec; drop it here",
                "schemas/okta/hook.toml: `fields.optional`: `auth` is not a required request field in Okta's spec; drop it here",
            ]
        );
    }
}
