//! `FieldIndex`: per kind, the fields of Okta's request and response schemas (type, read-only,
//! write-only, default) and the spec operations behind each endpoint. Derived from Okta's
//! OpenAPI spec by `catalogue::spec`, committed as `schemas/okta/fields/<kind>.json` and
//! embedded, so the simulator's request validation and `rules lint` never need the spec.
//!
//! Must not be edited by hand: the contract test regenerates it and compares.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::field_path::{FieldPath, Segment};

/// What the spec says of one field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldInfo {
    /// `string`, `integer`, `number`, `boolean`, `object`, `array`, or several joined by `|`.
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(
        default,
        rename = "readOnly",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub read_only: bool,
    #[serde(
        default,
        rename = "writeOnly",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub write_only: bool,
    /// Every schema of the kind that defines the field allows `null` for it (`nullable: true`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Value>,
    /// Present whenever its parent object is: in a request, every create and replace schema
    /// of the kind lists it in its parent's `required` (in every `oneOf` branch); in an answer,
    /// every list element and get schema does, and it is not write-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

impl FieldInfo {
    /// The field's default as Okta applies it to an absent field: a writable field without
    /// `[*]`/`*` steps, outside HAL members, whose default has the field's type (the spec holds
    /// a few prose "defaults").
    pub fn usable_default(&self, path: &str) -> Option<(FieldPath, Value)> {
        let value = self.default.as_ref()?;
        if self.read_only || !self.accepts(value) {
            return None;
        }
        let parsed = FieldPath::parse(path).ok()?;
        let hypermedia = parsed
            .first_key()
            .is_some_and(|k| matches!(k, "_links" | "_embedded" | "_link"));
        (parsed.is_single() && !hypermedia).then(|| (parsed, value.clone()))
    }

    /// True when `value`'s JSON type is one of the field's types (`any` accepts everything).
    pub fn accepts(&self, value: &Value) -> bool {
        self.ty.split('|').any(|ty| match ty {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        })
    }
}

/// The spec operation behind one catalogue endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub method: String,
    pub path: String,
    #[serde(rename = "operationId")]
    pub operation_id: String,
    /// OAuth scopes the spec requires (all of them).
    pub scopes: Vec<String>,
    /// The status of Okta's success answer (the spec's first 2xx response), when not 200.
    #[serde(default = "ok_status", skip_serializing_if = "is_ok_status")]
    pub status: u16,
}

fn ok_status() -> u16 {
    200
}

fn is_ok_status(status: &u16) -> bool {
    *status == 200
}

/// The derived index of one kind.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldIndex {
    #[serde(rename = "_note")]
    pub note: String,
    pub kind: String,
    /// Keyed `<variant>.<role>` (`user.list`, `user.lifecycle.activate`).
    pub operations: BTreeMap<String, Operation>,
    /// Fields of the objects Okta returns (list items, get).
    pub response: BTreeMap<String, FieldInfo>,
    /// Fields Okta accepts when creating or updating.
    pub request: BTreeMap<String, FieldInfo>,
    /// Defaults that hold for one variant of a polymorphic answer only (the spec's
    /// discriminator at the object's root): discriminator field → its value → field → default
    /// (`type` → `PASSWORD` → `settings.password.complexity.minLength` → 8). Only writable,
    /// typed, single-valued fields outside HAL members, and only where the variant's default
    /// differs from the common one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variant_defaults: BTreeMap<String, BTreeMap<String, BTreeMap<String, Value>>>,
}

/// The provenance note every index file carries.
pub const NOTE: &str = "Derived from Okta's management OpenAPI spec (Apache-2.0; okta/okta-sdk-golang \
.generator/okta-management-APIs-oasv3-noEnums-inheritance.yaml, see ../shared/okta/SOURCE.txt) \
by src/catalogue/spec.rs. Do not edit: regenerate with `BUTTERFLY_BLESS=1 cargo test --locked --tests catalogue_spec`.";

impl FieldIndex {
    /// True when `path` is a field of the response schema, directly or under an object whose
    /// members are open (`profile.*`).
    pub fn has_response_field(&self, path: &FieldPath) -> bool {
        has_field(&self.response, path)
    }

    pub fn has_request_field(&self, path: &FieldPath) -> bool {
        has_field(&self.request, path)
    }

    pub fn response_field(&self, path: &FieldPath) -> Option<&FieldInfo> {
        self.response.get(&path.to_string())
    }

    /// What the request schema says of the field at a concrete path, matching the members of
    /// open objects (`definitions.custom.properties.badgeId.unique` is described by
    /// `definitions.custom.properties.*.unique`).
    pub fn request_field(&self, path: &FieldPath) -> Option<&FieldInfo> {
        let mut matched: Vec<Segment> = Vec::new();
        for segment in path.segments() {
            let mut exact = matched.clone();
            exact.push(segment.clone());
            if self
                .request
                .contains_key(&FieldPath::from_segments(exact).to_string())
            {
                matched.push(segment.clone());
                continue;
            }
            let mut any = matched.clone();
            any.push(Segment::AnyKey);
            if matches!(segment, Segment::Key(_))
                && self
                    .request
                    .contains_key(&FieldPath::from_segments(any).to_string())
            {
                matched.push(Segment::AnyKey);
                continue;
            }
            return None;
        }
        self.request
            .get(&FieldPath::from_segments(matched).to_string())
    }

    /// Renders the index as JSON with one field per line, so diffs of regenerated files read well.
    pub fn to_pretty_json(&self) -> String {
        let mut out = String::from("{\n");
        let _ = writeln!(out, "  \"_note\": {},", json(&self.note));
        let _ = writeln!(out, "  \"kind\": {},", json(&self.kind));
        write_map(&mut out, "operations", &self.operations, true);
        write_map(&mut out, "response", &self.response, true);
        let variants = !self.variant_defaults.is_empty();
        write_map(&mut out, "request", &self.request, variants);
        if variants {
            // One line per variant: `"type": { "PASSWORD": {field: default, …} }`.
            out.push_str("  \"variant_defaults\": {\n");
            let last_field = self.variant_defaults.len() - 1;
            for (i, (field, values)) in self.variant_defaults.iter().enumerate() {
                let _ = writeln!(out, "    {}: {{", json(field));
                let last = values.len().saturating_sub(1);
                for (j, (value, defaults)) in values.iter().enumerate() {
                    let comma = if j == last { "" } else { "," };
                    let _ = writeln!(out, "      {}: {}{comma}", json(value), json(defaults));
                }
                let _ = writeln!(out, "    }}{}", if i == last_field { "" } else { "," });
            }
            out.push_str("  }\n");
        }
        out.push_str("}\n");
        out
    }
}

/// One value as compact JSON. Serialising these plain data types cannot fail.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

fn write_map<T: Serialize>(out: &mut String, name: &str, map: &BTreeMap<String, T>, comma: bool) {
    if map.is_empty() {
        let _ = writeln!(out, "  \"{name}\": {{}}{}", if comma { "," } else { "" });
        return;
    }
    let _ = writeln!(out, "  \"{name}\": {{");
    let last = map.len() - 1;
    for (i, (key, value)) in map.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {}: {}{}",
            json(key),
            json(value),
            if i == last { "" } else { "," }
        );
    }
    let _ = writeln!(out, "  }}{}", if comma { "," } else { "" });
}

fn has_field(fields: &BTreeMap<String, FieldInfo>, path: &FieldPath) -> bool {
    if fields.contains_key(&path.to_string()) {
        return true;
    }
    // Under an open object: some prefix `p` has `p.*` in the index.
    let segments = path.segments();
    for cut in 0..segments.len() {
        let open = FieldPath::from_segments(segments[..cut].to_vec()).child(Segment::AnyKey);
        let key = if cut == 0 {
            "*".to_string()
        } else {
            open.to_string()
        };
        if fields.contains_key(&key) {
            return true;
        }
        // Under a free-form object: a prefix the spec types `object` without declaring any
        // member (an SMS template's `translations`), which takes any member.
        if cut > 0 {
            let prefix = FieldPath::from_segments(segments[..cut].to_vec()).to_string();
            let free_form = fields.get(&prefix).is_some_and(|f| f.ty == "object")
                && !fields
                    .range(prefix.clone()..)
                    .skip(1)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .any(|(k, _)| k[prefix.len()..].starts_with(['.', '[']));
            if free_form {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_without_declared_members_takes_any_member() {
        let mut fields = BTreeMap::new();
        for (path, ty) in [
            ("translations", "object"),
            ("template", "string"),
            ("settings", "object"),
            ("settings.app", "object"),
            ("settings.app.url", "string"),
        ] {
            fields.insert(
                path.to_string(),
                FieldInfo {
                    ty: ty.into(),
                    ..FieldInfo::default()
                },
            );
        }
        let path = |text: &str| FieldPath::parse(text).expect("a path");
        assert!(has_field(&fields, &path("translations.fr")));
        assert!(has_field(&fields, &path("translations.es")));
        // An object with declared members stays closed; a string has no members.
        assert!(has_field(&fields, &path("settings.app.url")));
        assert!(!has_field(&fields, &path("settings.app.other")));
        assert!(!has_field(&fields, &path("settings.nope")));
        assert!(!has_field(&fields, &path("template.x")));
    }

    #[test]
    fn a_concrete_path_finds_the_field_of_its_open_object() {
        let mut index = FieldIndex::default();
        for (path, ty) in [
            ("props", "object"),
            ("props.*", "object"),
            ("props.*.unique", "boolean"),
        ] {
            index.request.insert(
                path.into(),
                FieldInfo {
                    ty: ty.into(),
                    ..FieldInfo::default()
                },
            );
        }
        let path = |text: &str| FieldPath::parse(text).expect("a path");
        let found = index.request_field(&path("props.badgeId.unique"));
        assert_eq!(found.map(|info| info.ty.as_str()), Some("boolean"));
        assert!(index.request_field(&path("props.badgeId.other")).is_none());
        assert!(path("props.*.unique").matches_concrete(&path("props.badgeId.unique")));
        assert!(!path("props.*.unique").matches_concrete(&path("props.unique")));
    }

    #[test]
    fn open_objects_accept_any_member() {
        let mut index = FieldIndex::default();
        index.response.insert(
            "profile".into(),
            FieldInfo {
                ty: "object".into(),
                ..Default::default()
            },
        );
        index.response.insert(
            "profile.*".into(),
            FieldInfo {
                ty: "any".into(),
                ..Default::default()
            },
        );
        index.response.insert(
            "id".into(),
            FieldInfo {
                ty: "string".into(),
                ..Default::default()
            },
        );
        assert!(index.has_response_field(&FieldPath::parse("id").unwrap()));
        assert!(index.has_response_field(&FieldPath::parse("profile.costCenter").unwrap()));
        assert!(!index.has_response_field(&FieldPath::parse("ids").unwrap()));
    }

    #[test]
    fn pretty_json_round_trips() {
        let mut index = FieldIndex {
            note: NOTE.into(),
            kind: "group".into(),
            ..Default::default()
        };
        index.response.insert(
            "id".into(),
            FieldInfo {
                ty: "string".into(),
                read_only: true,
                ..Default::default()
            },
        );
        let text = index.to_pretty_json();
        let back: FieldIndex = serde_json::from_str(&text).unwrap();
        assert_eq!(back, index);
        assert!(text.contains("\"id\": {\"type\":\"string\",\"readOnly\":true}"));
    }
}
