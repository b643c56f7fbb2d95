//! Loading: TOML text of `schemas/<provider>/*.toml` → validated [`Kind`]s.
//!
//! Owns every check a single file or the set of files can fail, and reports all problems at
//! once, each with file, line, column and field. Must not read the disk itself: it is given
//! `(file name, text)` pairs, so embedded and on-disk catalogues load the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::endpoint::{self, Endpoint, ListEndpoint, Pagination, RawEach, RawEndpoint};
use super::error::{CatalogueError, Location, Problem};
use super::field_path::FieldPath;
use super::kind::{
    Derived, Embedding, Endpoints, FilePart, FileTemplate, Kind, ParamSource, Reference, Scopes,
    SetArray, Shape, Transform, Variant,
};
use super::predicate::{Predicate, RawPredicate};
use super::provider::{Provider, RawProvider};

/// The name of the per-provider settings file among the kind files.
pub const PROVIDER_FILE: &str = "_provider.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    kind: Spanned<String>,
    title: String,
    about: String,
    #[serde(default)]
    id: Option<Spanned<String>>,
    #[serde(default)]
    singleton: bool,
    #[serde(default)]
    relationship: Option<Spanned<RawRelationship>>,
    #[serde(default)]
    opt_in: Option<String>,
    scopes: Spanned<RawScopes>,
    bucket: Spanned<String>,
    #[serde(default)]
    after: Vec<Spanned<String>>,
    #[serde(default)]
    system: Option<Spanned<RawPredicate>>,
    // The primary variant, written at the top level.
    #[serde(default)]
    file: Option<Spanned<String>>,
    #[serde(default)]
    parent: Option<Spanned<String>>,
    #[serde(default)]
    parent_when: Option<Spanned<RawPredicate>>,
    #[serde(default)]
    parents_from: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    endpoints: Option<RawEndpoints>,
    #[serde(default)]
    params: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    variants: Vec<Spanned<RawVariant>>,
    #[serde(default)]
    fields: RawFields,
    #[serde(default)]
    derived: Vec<Spanned<RawDerived>>,
    #[serde(default)]
    references: Vec<Spanned<RawReference>>,
    #[serde(default)]
    constraints: RawConstraints,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConstraints {
    #[serde(default)]
    delete_requires: Option<Spanned<RawPredicate>>,
    #[serde(default)]
    update_requires: Option<Spanned<RawPredicate>>,
    #[serde(default)]
    immutable: Vec<Spanned<String>>,
    #[serde(default)]
    max_per_parent: Option<u32>,
    #[serde(default)]
    unused_to_delete: bool,
    #[serde(default)]
    unused_to_deactivate: bool,
    #[serde(default)]
    serial_writes: bool,
    #[serde(default)]
    priority: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    name: String,
    file: Spanned<String>,
    #[serde(default)]
    parent: Option<Spanned<String>>,
    #[serde(default)]
    parent_when: Option<Spanned<RawPredicate>>,
    #[serde(default)]
    parents_from: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    when: Option<Spanned<RawPredicate>>,
    endpoints: RawEndpoints,
    #[serde(default)]
    params: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelationship {
    member: String,
    #[serde(default)]
    keep: Vec<String>,
    #[serde(default)]
    add: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one.clone()],
            OneOrMany::Many(many) => many.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScopes {
    read: OneOrMany,
    #[serde(default)]
    manage: Option<OneOrMany>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEndpoints {
    #[serde(default)]
    list: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    get: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    create: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    replace: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    update: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    delete: Option<Spanned<RawEndpoint>>,
    #[serde(default)]
    lifecycle: BTreeMap<String, Spanned<RawEndpoint>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFields {
    #[serde(default)]
    volatile: Vec<Spanned<String>>,
    #[serde(default)]
    read_only: Vec<Spanned<String>>,
    #[serde(default)]
    secret: Vec<Spanned<String>>,
    #[serde(default)]
    sets: Vec<Spanned<RawSet>>,
    #[serde(default)]
    defaults: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    required: Vec<Spanned<String>>,
    #[serde(default)]
    optional: Vec<Spanned<String>>,
    #[serde(default)]
    types: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSet {
    Path(String),
    Keyed { path: String, key: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDerived {
    name: String,
    from: String,
    transform: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    path: String,
    kind: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    embedded: Option<String>,
    #[serde(default)]
    literals: Vec<String>,
    #[serde(default)]
    weak: bool,
}

/// Collects problems for one file.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn report(&mut self, offset: usize, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            location: Location::at(self.file, self.text, offset),
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn path(&mut self, text: &str, offset: usize, field: &str) -> Option<FieldPath> {
        match FieldPath::parse(text) {
            Ok(path) => Some(path),
            Err(error) => {
                self.report(offset, field, error.to_string());
                None
            }
        }
    }

    fn paths(&mut self, list: &[Spanned<String>], field: &str) -> Vec<FieldPath> {
        list.iter()
            .filter_map(|p| self.path(p.get_ref(), p.span().start, field))
            .collect()
    }

    fn predicate(&mut self, raw: &Spanned<RawPredicate>, field: &str) -> Option<Predicate> {
        match Predicate::from_raw(raw.get_ref()) {
            Ok(p) => Some(p),
            Err(message) => {
                self.report(raw.span().start, field, message);
                None
            }
        }
    }

    fn endpoint(
        &mut self,
        raw: &Spanned<RawEndpoint>,
        field: &str,
        is_list: bool,
        default_bucket: &str,
        provider: &Provider,
    ) -> Option<ListEndpoint> {
        let offset = raw.span().start;
        let (op, table) = match raw.get_ref() {
            RawEndpoint::Short(op) => (op.as_str(), None),
            RawEndpoint::Full(table) => (table.op.as_str(), Some(table)),
        };
        let (method, path) = match endpoint::parse_op(op) {
            Ok(parsed) => parsed,
            Err(message) => {
                self.report(offset, field, message);
                return None;
            }
        };
        let bucket = table
            .and_then(|t| t.bucket.clone())
            .unwrap_or_else(|| default_bucket.to_string());
        if !provider.buckets.contains_key(&bucket) {
            self.report(
                offset,
                field,
                format!(
                    "rate-limit bucket `{bucket}` is not declared in {}",
                    PROVIDER_FILE
                ),
            );
        }
        let pagination = table.and_then(|t| t.paginate);
        if !is_list
            && table.is_some_and(|t| {
                t.paginate.is_some()
                    || t.items.is_some()
                    || t.limit.is_some()
                    || t.each.is_some()
                    || t.partial
            })
        {
            self.report(
                offset,
                field,
                "`paginate`, `items`, `limit`, `each` and `partial` apply to list endpoints only",
            );
        }
        let fixed = table.map(|t| t.fixed.clone()).unwrap_or_default();
        let placeholders = endpoint::path_params(&path);
        for name in fixed.keys() {
            if !placeholders.contains(&name.as_str()) {
                self.report(
                    offset,
                    field,
                    format!("`fixed.{name}`: `{path}` has no `{{{name}}}`"),
                );
            }
        }
        let items = table.and_then(|t| t.items.clone());
        let pagination = pagination.unwrap_or(Pagination::Link);
        if is_list && pagination == Pagination::Body && items.is_none() {
            self.report(
                offset,
                field,
                "a body-paginated list needs `items`: the member holding the array",
            );
        }
        if let Some(each) = table.and_then(|t| t.each.as_ref())
            && each.values.is_empty()
        {
            self.report(
                offset,
                field,
                format!("`each.values` for `{}` is empty", each.param),
            );
        }
        Some(ListEndpoint {
            endpoint: Endpoint {
                method,
                path,
                query: table.map(|t| t.query.clone()).unwrap_or_default(),
                bucket,
                fixed,
            },
            pagination,
            items,
            limit: table.and_then(|t| t.limit),
            each: table.and_then(|t| t.each.clone()),
            partial: table.is_some_and(|t| t.partial),
        })
    }
}

/// Expected methods per endpoint role.
fn allowed_methods(role: &str) -> &'static [endpoint::Method] {
    use endpoint::Method::*;
    match role {
        "list" | "get" | "parents_from" => &[Get],
        "create" => &[Post, Put],
        "replace" => &[Put],
        "update" => &[Post, Patch],
        "delete" => &[Delete],
        _ => &[Post, Put, Delete],
    }
}

fn scope_name_is_valid(scope: &str) -> bool {
    let Some(rest) = scope.strip_prefix("okta.") else {
        return false;
    };
    (rest.ends_with(".read") || rest.ends_with(".manage"))
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

fn kind_name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Parses and validates the provider file and every kind file, then checks the set as a whole
/// (parents, references and `after` name existing kinds; no parent cycles).
pub fn load(
    provider_name: &str,
    files: &[(String, String)],
) -> Result<(Provider, Vec<Kind>), CatalogueError> {
    let mut problems = Vec::new();
    let provider_file = format!("schemas/{provider_name}/{PROVIDER_FILE}");
    let provider = match files.iter().find(|(name, _)| *name == provider_file) {
        None => {
            return Err(CatalogueError {
                problems: vec![Problem {
                    location: Location::at(&provider_file, "", 0),
                    field: "(file)".into(),
                    message: "the provider settings file is missing".into(),
                }],
            });
        }
        Some((name, text)) => match toml::from_str::<RawProvider>(text) {
            Ok(raw) => match Provider::from_raw(raw) {
                Ok(provider) => provider,
                Err((field, message)) => {
                    return Err(CatalogueError {
                        problems: vec![Problem {
                            location: Location::at(name, text, 0),
                            field,
                            message,
                        }],
                    });
                }
            },
            Err(error) => {
                return Err(CatalogueError {
                    problems: vec![toml_problem(name, text, &error)],
                });
            }
        },
    };

    let mut kinds = Vec::new();
    // kind name -> (file, text, offsets of the names it mentions) for the cross-file checks.
    let mut mentions: Vec<(String, String, String, usize, String)> = Vec::new();
    for (name, text) in files {
        if *name == provider_file {
            continue;
        }
        if !name.ends_with(".toml") {
            continue;
        }
        let raw: RawKind = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(error) => {
                problems.push(toml_problem(name, text, &error));
                continue;
            }
        };
        let mut checker = Checker {
            file: name,
            text,
            problems: Vec::new(),
        };
        if let Some(kind) = check_kind(&mut checker, &raw, &provider) {
            for (field, mentioned, offset) in kind_mentions(&raw) {
                mentions.push((name.clone(), text.clone(), field, offset, mentioned));
            }
            kinds.push(kind);
        }
        problems.extend(checker.problems);
    }

    let names: BTreeSet<&str> = kinds.iter().map(|k| k.name.as_str()).collect();
    for (file, text, field, offset, mentioned) in &mentions {
        if !names.contains(mentioned.as_str()) {
            problems.push(Problem {
                location: Location::at(file, text, *offset),
                field: field.clone(),
                message: format!("`{mentioned}` is not a kind in the catalogue"),
            });
        }
    }
    if problems.is_empty() {
        problems.extend(parent_problems(&kinds, files));
    }
    if problems.is_empty() {
        kinds.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((provider, kinds))
    } else {
        Err(CatalogueError { problems })
    }
}

fn toml_problem(file: &str, text: &str, error: &toml::de::Error) -> Problem {
    let offset = error.span().map_or(0, |span| span.start);
    Problem {
        location: Location::at(file, text, offset),
        field: "(syntax)".into(),
        message: error.message().trim().to_string(),
    }
}

/// Kinds named by a file (parent, references, after), with the field and offset.
fn kind_mentions(raw: &RawKind) -> Vec<(String, String, usize)> {
    let mut mentions = Vec::new();
    if let Some(parent) = &raw.parent {
        mentions.push((
            "parent".into(),
            parent.get_ref().clone(),
            parent.span().start,
        ));
    }
    for variant in &raw.variants {
        if let Some(parent) = &variant.get_ref().parent {
            mentions.push((
                "variants.parent".into(),
                parent.get_ref().clone(),
                parent.span().start,
            ));
        }
    }
    for (i, reference) in raw.references.iter().enumerate() {
        mentions.push((
            format!("references[{i}].kind"),
            reference.get_ref().kind.clone(),
            reference.span().start,
        ));
    }
    for after in &raw.after {
        mentions.push(("after".into(), after.get_ref().clone(), after.span().start));
    }
    mentions
}

/// Parents must not form a cycle, and a variant's `{parent}` depth must exist.
fn parent_problems(kinds: &[Kind], files: &[(String, String)]) -> Vec<Problem> {
    let by_name: BTreeMap<&str, &Kind> = kinds.iter().map(|k| (k.name.as_str(), k)).collect();
    let mut problems = Vec::new();
    for kind in kinds {
        for variant in &kind.variants {
            let mut seen = vec![kind.name.as_str()];
            let mut depth = 0;
            let mut current = variant.parent.as_deref();
            while let Some(parent) = current {
                if seen.contains(&parent) {
                    let text = files
                        .iter()
                        .find(|(name, _)| *name == kind.source)
                        .map_or("", |(_, text)| text.as_str());
                    problems.push(Problem {
                        location: Location::at(&kind.source, text, 0),
                        field: "parent".into(),
                        message: format!("parents form a cycle: {} → {parent}", seen.join(" → ")),
                    });
                    break;
                }
                seen.push(parent);
                depth += 1;
                current = by_name
                    .get(parent)
                    .and_then(|k| k.primary().parent.as_deref());
            }
            let needed = variant.params.values().map(|s| s.depth).max().unwrap_or(0);
            if needed > depth {
                let text = files
                    .iter()
                    .find(|(name, _)| *name == kind.source)
                    .map_or("", |(_, text)| text.as_str());
                problems.push(Problem {
                    location: Location::at(&kind.source, text, 0),
                    field: "params".into(),
                    message: format!(
                        "variant `{}` binds a parameter {needed} levels up, but has only {depth} ancestor(s)",
                        variant.name
                    ),
                });
            }
        }
    }
    problems
}

fn check_kind(c: &mut Checker<'_>, raw: &RawKind, provider: &Provider) -> Option<Kind> {
    let name = raw.kind.get_ref().clone();
    let stem = c
        .file
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(".toml"))
        .unwrap_or_default();
    if !kind_name_is_valid(&name) {
        c.report(
            raw.kind.span().start,
            "kind",
            "a kind name is lower snake_case",
        );
    } else if name != stem {
        c.report(
            raw.kind.span().start,
            "kind",
            format!("the kind `{name}` must live in `{name}.toml`, not `{stem}.toml`"),
        );
    }
    if !provider.buckets.contains_key(raw.bucket.get_ref()) {
        c.report(
            raw.bucket.span().start,
            "bucket",
            format!(
                "rate-limit bucket `{}` is not declared in {PROVIDER_FILE}",
                raw.bucket.get_ref()
            ),
        );
    }

    // Scopes.
    let scopes_offset = raw.scopes.span().start;
    let raw_scopes = raw.scopes.get_ref();
    let scopes = Scopes {
        read: raw_scopes.read.to_vec(),
        manage: raw_scopes
            .manage
            .as_ref()
            .map(OneOrMany::to_vec)
            .unwrap_or_default(),
    };
    if scopes.read.is_empty() {
        c.report(
            scopes_offset,
            "scopes.read",
            "a kind needs at least one read scope",
        );
    }
    for scope in scopes.read.iter().chain(&scopes.manage) {
        if !scope_name_is_valid(scope) {
            c.report(
                scopes_offset,
                "scopes",
                format!("`{scope}` is not an Okta scope name (okta.<area>.read|manage)"),
            );
        }
    }
    for scope in &scopes.read {
        if !scope.ends_with(".read") {
            c.report(
                scopes_offset,
                "scopes.read",
                format!("`{scope}` is not a read scope"),
            );
        }
    }
    for scope in &scopes.manage {
        if !scope.ends_with(".manage") {
            c.report(
                scopes_offset,
                "scopes.manage",
                format!("`{scope}` is not a manage scope"),
            );
        }
    }

    // Shape.
    let shape = match (&raw.relationship, raw.singleton) {
        (Some(_), true) => {
            c.report(
                0,
                "singleton",
                "a kind is either a singleton or a relationship, not both",
            );
            Shape::Singleton
        }
        (Some(rel), false) => {
            let offset = rel.span().start;
            let member = c.path(&rel.get_ref().member, offset, "relationship.member");
            let keep = rel
                .get_ref()
                .keep
                .iter()
                .filter_map(|k| c.path(k, offset, "relationship.keep"))
                .collect();
            Shape::Relationship {
                member: member?,
                keep,
                add: rel.get_ref().add.clone(),
            }
        }
        (None, true) => Shape::Singleton,
        (None, false) => Shape::Resource,
    };
    let id = raw
        .id
        .as_ref()
        .and_then(|id| c.path(id.get_ref(), id.span().start, "id"));
    if id.is_none() && shape == Shape::Resource {
        c.report(
            0,
            "id",
            "a kind stored one file per object needs an `id` field",
        );
    }

    // Variants: the top level is the primary variant unless `[[variants]]` are given.
    let mut variants = Vec::new();
    if raw.variants.is_empty() {
        let Some(file) = &raw.file else {
            c.report(0, "file", "`file` is required (the file name template)");
            return None;
        };
        let endpoints = raw.endpoints.as_ref();
        let Some(endpoints) = endpoints else {
            c.report(0, "endpoints", "`[endpoints]` is required");
            return None;
        };
        variants.push(check_variant(
            c,
            provider,
            raw.bucket.get_ref(),
            &name,
            file,
            raw.parent.as_ref(),
            raw.parent_when.as_ref(),
            raw.parents_from.as_ref(),
            None,
            endpoints,
            &raw.params,
            &shape,
            "",
        )?);
    } else {
        for (field, present) in [
            ("file", raw.file.is_some()),
            ("parent", raw.parent.is_some()),
            ("parent_when", raw.parent_when.is_some()),
            ("parents_from", raw.parents_from.is_some()),
            ("endpoints", raw.endpoints.is_some()),
            ("params", !raw.params.is_empty()),
        ] {
            if present {
                c.report(
                    raw.variants[0].span().start,
                    field,
                    format!("with `[[variants]]`, `{field}` belongs in each variant"),
                );
            }
        }
        for (i, variant) in raw.variants.iter().enumerate() {
            let v = variant.get_ref();
            let prefix = format!("variants[{i}].");
            if let Some(variant) = check_variant(
                c,
                provider,
                raw.bucket.get_ref(),
                &v.name,
                &v.file,
                v.parent.as_ref(),
                v.parent_when.as_ref(),
                v.parents_from.as_ref(),
                v.when.as_ref(),
                &v.endpoints,
                &v.params,
                &shape,
                &prefix,
            ) {
                variants.push(variant);
            }
        }
        if raw.variants.len() > 1 && variants.iter().any(|v| v.when.is_none()) {
            c.report(
                raw.variants[0].span().start,
                "variants.when",
                "when a kind has several variants, each needs `when`: the condition that routes an object to it",
            );
        }
    }
    if variants.is_empty() {
        return None;
    }

    // Fields.
    let volatile = c.paths(&raw.fields.volatile, "fields.volatile");
    let read_only = c.paths(&raw.fields.read_only, "fields.read_only");
    let required = c.paths(&raw.fields.required, "fields.required");
    let optional = c.paths(&raw.fields.optional, "fields.optional");
    let mut types = Vec::new();
    for (path, ty) in &raw.fields.types {
        let offset = ty.span().start;
        let Some(parsed) = c.path(path, offset, "fields.types") else {
            continue;
        };
        let known = ["string", "integer", "number", "boolean", "object", "array"];
        match ty.get_ref().split('|').find(|part| !known.contains(part)) {
            Some(bad) => c.report(
                offset,
                "fields.types",
                format!(
                    "`{path}`: `{bad}` is not a JSON type (one or more of {} joined by `|`)",
                    known.join(", ")
                ),
            ),
            None => types.push((parsed, ty.get_ref().clone())),
        }
    }
    let secret = c.paths(&raw.fields.secret, "fields.secret");
    for path in &secret {
        if volatile.contains(path) {
            c.report(
                0,
                "fields.secret",
                format!("`{path}` is both volatile and secret"),
            );
        }
    }
    let mut sets = Vec::new();
    for set in &raw.fields.sets {
        let offset = set.span().start;
        let (path, key) = match set.get_ref() {
            RawSet::Path(path) => (path.as_str(), None),
            RawSet::Keyed { path, key } => (path.as_str(), Some(key.as_str())),
        };
        let Some(path) = c.path(path, offset, "fields.sets") else {
            continue;
        };
        let key = match key {
            Some(key) => match c.path(key, offset, "fields.sets.key") {
                Some(key) => Some(key),
                None => continue,
            },
            None => None,
        };
        sets.push(SetArray { path, key });
    }
    let mut defaults = Vec::new();
    for (path, value) in &raw.fields.defaults {
        let offset = value.span().start;
        let Some(path) = c.path(path, offset, "fields.defaults") else {
            continue;
        };
        match serde_json::to_value(value.get_ref()) {
            Ok(json) => defaults.push((path, json)),
            Err(error) => c.report(offset, "fields.defaults", error.to_string()),
        }
    }

    // Derived fields.
    let mut derived = Vec::new();
    for d in &raw.derived {
        let offset = d.span().start;
        let raw_d = d.get_ref();
        if !raw_d
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            || raw_d.name.is_empty()
        {
            c.report(
                offset,
                "derived.name",
                "a derived field's name is a plain identifier",
            );
        }
        if derived
            .iter()
            .any(|existing: &Derived| existing.name == raw_d.name)
        {
            c.report(
                offset,
                "derived.name",
                format!("`{}` is derived twice", raw_d.name),
            );
        }
        let Some(transform) = Transform::parse(&raw_d.transform) else {
            c.report(
                offset,
                "derived.transform",
                format!(
                    "`{}` is not one of last_segment, activity_bucket, copy",
                    raw_d.transform
                ),
            );
            continue;
        };
        if let Some(from) = c.path(&raw_d.from, offset, "derived.from") {
            derived.push(Derived {
                name: raw_d.name.clone(),
                from,
                transform,
            });
        }
    }

    // References.
    let mut references = Vec::new();
    for (i, r) in raw.references.iter().enumerate() {
        let offset = r.span().start;
        let raw_r = r.get_ref();
        let field = format!("references[{i}]");
        let embedding = match raw_r.embedded.as_deref() {
            None => Embedding::Whole,
            Some("expression") => Embedding::Expression,
            Some("url") => Embedding::Url,
            Some(other) => {
                c.report(
                    offset,
                    &format!("{field}.embedded"),
                    format!("`{other}` is not one of expression, url"),
                );
                continue;
            }
        };
        let Some(path) = c.path(&raw_r.path, offset, &format!("{field}.path")) else {
            continue;
        };
        if let Some(first) = path.first_key()
            && first == super::kind::DERIVED_MEMBER
        {
            let derived_name = path.segments().get(1);
            let known = derived
                .iter()
                .any(|d| derived_name == Some(&super::field_path::Segment::Key(d.name.clone())));
            if !known {
                c.report(
                    offset,
                    &format!("{field}.path"),
                    format!("`{path}` names no field declared in `[[derived]]`"),
                );
            }
        }
        let target = match &raw_r.target {
            Some(t) => match c.path(t, offset, &format!("{field}.target")) {
                Some(t) => Some(t),
                None => continue,
            },
            None => None,
        };
        references.push(Reference {
            path,
            kind: raw_r.kind.clone(),
            target,
            embedding,
            literals: raw_r.literals.clone(),
            weak: raw_r.weak,
        });
    }

    let system = raw.system.as_ref().and_then(|s| c.predicate(s, "system"));
    let raw_constraints = &raw.constraints;
    let constraints = super::kind::Constraints {
        delete_requires: raw_constraints
            .delete_requires
            .as_ref()
            .and_then(|p| c.predicate(p, "constraints.delete_requires")),
        update_requires: raw_constraints
            .update_requires
            .as_ref()
            .and_then(|p| c.predicate(p, "constraints.update_requires")),
        immutable: c.paths(&raw_constraints.immutable, "constraints.immutable"),
        max_per_parent: raw_constraints.max_per_parent,
        unused_to_delete: raw_constraints.unused_to_delete,
        unused_to_deactivate: raw_constraints.unused_to_deactivate,
        serial_writes: raw_constraints.serial_writes,
        priority: raw_constraints.priority,
    };
    if constraints.max_per_parent.is_some() && raw.parent.is_none() && raw.variants.is_empty() {
        c.report(
            0,
            "constraints.max_per_parent",
            "only a nested kind has a parent to count under",
        );
    }
    if let Some(reason) = &raw.opt_in
        && reason.trim().is_empty()
    {
        c.report(
            0,
            "opt_in",
            "`opt_in` holds the reason the kind is opt-in; it is empty",
        );
    }

    Some(Kind {
        name,
        title: raw.title.clone(),
        about: raw.about.trim().to_string(),
        source: c.file.to_string(),
        shape,
        id,
        variants,
        scopes,
        bucket: raw.bucket.get_ref().clone(),
        opt_in: raw.opt_in.clone(),
        volatile,
        read_only,
        required,
        optional,
        types,
        secret,
        sets,
        effective_defaults: defaults.clone(),
        variant_defaults: Vec::new(),
        defaults,
        derived,
        references,
        system,
        after: raw.after.iter().map(|a| a.get_ref().clone()).collect(),
        constraints,
    })
}

#[allow(clippy::too_many_arguments)]
fn check_variant(
    c: &mut Checker<'_>,
    provider: &Provider,
    bucket: &str,
    name: &str,
    file: &Spanned<String>,
    parent: Option<&Spanned<String>>,
    parent_when: Option<&Spanned<RawPredicate>>,
    parents_from: Option<&Spanned<RawEndpoint>>,
    when: Option<&Spanned<RawPredicate>>,
    raw_endpoints: &RawEndpoints,
    raw_params: &BTreeMap<String, Spanned<String>>,
    shape: &Shape,
    prefix: &str,
) -> Option<Variant> {
    let file_template = check_file(c, file, parent.is_some(), shape, prefix)?;
    let mut endpoints = Endpoints::default();
    let check = |c: &mut Checker<'_>, role: &str, raw: &Spanned<RawEndpoint>| {
        let field = format!("{prefix}endpoints.{role}");
        let endpoint = c.endpoint(raw, &field, role == "list", bucket, provider)?;
        let role_key = role.split('.').next().unwrap_or(role);
        if !allowed_methods(role_key).contains(&endpoint.endpoint.method) {
            c.report(
                raw.span().start,
                &field,
                format!(
                    "a `{role_key}` endpoint cannot use {}",
                    endpoint.endpoint.method
                ),
            );
        }
        Some(endpoint)
    };
    if let Some(raw) = &raw_endpoints.list {
        endpoints.list = check(c, "list", raw);
    }
    for (role, raw, slot) in [
        ("get", &raw_endpoints.get, &mut endpoints.get),
        ("create", &raw_endpoints.create, &mut endpoints.create),
        ("replace", &raw_endpoints.replace, &mut endpoints.replace),
        ("update", &raw_endpoints.update, &mut endpoints.update),
        ("delete", &raw_endpoints.delete, &mut endpoints.delete),
    ] {
        if let Some(raw) = raw {
            *slot = check(c, role, raw).map(|l| l.endpoint);
        }
    }
    for (op, raw) in &raw_endpoints.lifecycle {
        if let Some(endpoint) = check(c, &format!("lifecycle.{op}"), raw) {
            endpoints.lifecycle.insert(op.clone(), endpoint.endpoint);
        }
    }
    let parents_from = match parents_from {
        Some(raw) => {
            let field = format!("{prefix}parents_from");
            Some(c.endpoint(raw, &field, true, bucket, provider)?)
        }
        None => None,
    };
    if endpoints.list.is_none() && endpoints.get.is_none() {
        c.report(
            file.span().start,
            &format!("{prefix}endpoints"),
            "a kind needs a `list` or a `get` endpoint, or it cannot be backed up",
        );
    }
    if endpoints.list.as_ref().is_some_and(|l| l.partial) && endpoints.get.is_none() {
        c.report(
            file.span().start,
            &format!("{prefix}endpoints.list"),
            "a list of partial objects needs a `get` endpoint to read each one in full",
        );
    }
    if *shape == Shape::Singleton && endpoints.get.is_none() {
        c.report(
            file.span().start,
            &format!("{prefix}endpoints.get"),
            "a singleton is read with `get`",
        );
    }
    if *shape != Shape::Singleton && endpoints.list.is_none() {
        c.report(
            file.span().start,
            &format!("{prefix}endpoints.list"),
            "only a singleton can do without a `list` endpoint",
        );
    }

    // Path parameters: every placeholder bound, every binding used.
    let mut params = BTreeMap::new();
    for (param, source) in raw_params {
        let offset = source.span().start;
        let field = format!("{prefix}params.{param}");
        let text = source.get_ref();
        let (text, last_segment) = match text.strip_suffix("|last_segment") {
            Some(rest) => (rest, true),
            None => (text.as_str(), false),
        };
        let (depth, path) = if let Some(rest) = text.strip_prefix("parent.parent.") {
            (2, rest)
        } else if let Some(rest) = text.strip_prefix("parent.") {
            (1, rest)
        } else if let Some(rest) = text.strip_prefix("self.") {
            (0, rest)
        } else {
            c.report(
                offset,
                &field,
                format!("`{text}` must start with `self.`, `parent.` or `parent.parent.`"),
            );
            continue;
        };
        if depth > 0 && parent.is_none() {
            c.report(
                offset,
                &field,
                "binds a parent's field, but the kind has no parent",
            );
        }
        if let Some(path) = c.path(path, offset, &field) {
            params.insert(
                param.clone(),
                ParamSource {
                    depth,
                    path,
                    last_segment,
                },
            );
        }
    }
    let mut used = BTreeSet::new();
    let all_endpoints: Vec<(String, &Endpoint)> = endpoints
        .all()
        .into_iter()
        .chain(
            parents_from
                .iter()
                .map(|p| ("parents_from".to_string(), &p.endpoint)),
        )
        .collect();
    for (role, endpoint) in &all_endpoints {
        for param in endpoint.path_params() {
            used.insert(param.to_string());
            if !raw_params.contains_key(param) {
                c.report(
                    file.span().start,
                    &format!("{prefix}endpoints.{role}"),
                    format!(
                        "`{{{param}}}` in `{}` has no binding in `[params]`",
                        endpoint.path
                    ),
                );
            }
        }
    }
    for (param, source) in raw_params {
        if !used.contains(param) {
            c.report(
                source.span().start,
                &format!("{prefix}params.{param}"),
                "no endpoint uses this parameter",
            );
        }
    }
    if let Some(each) = endpoints.list.as_ref().and_then(|l| l.each.as_ref()) {
        check_each(c, each, file.span().start, prefix);
    }

    let parent_when = match parent_when {
        Some(p) => {
            if parent.is_none() {
                c.report(
                    p.span().start,
                    &format!("{prefix}parent_when"),
                    "there is no parent",
                );
            }
            Some(c.predicate(p, &format!("{prefix}parent_when"))?)
        }
        None => None,
    };
    let when = match when {
        Some(p) => Some(c.predicate(p, &format!("{prefix}when"))?),
        None => None,
    };
    Some(Variant {
        name: name.to_string(),
        parent: parent.map(|p| p.get_ref().clone()),
        parent_when,
        parents_from,
        when,
        file: file_template,
        endpoints,
        params,
    })
}

fn check_each(c: &mut Checker<'_>, each: &RawEach, offset: usize, prefix: &str) {
    let mut seen = BTreeSet::new();
    for value in &each.values {
        if !seen.insert(value) {
            c.report(
                offset,
                &format!("{prefix}endpoints.list.each"),
                format!("`{value}` is listed twice"),
            );
        }
    }
}

fn check_file(
    c: &mut Checker<'_>,
    file: &Spanned<String>,
    has_parent: bool,
    shape: &Shape,
    prefix: &str,
) -> Option<FileTemplate> {
    let offset = file.span().start;
    let field = format!("{prefix}file");
    let text = file.get_ref();
    if text.is_empty() || text.starts_with('/') || text.ends_with('/') || text.ends_with(".json") {
        c.report(
            offset,
            &field,
            "a file template is a relative path without `.json`, e.g. `groups/{profile.name}`",
        );
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        match rest.find('{') {
            Some(0) => {
                let Some(close) = rest.find('}') else {
                    c.report(offset, &field, "unclosed `{` in the file template");
                    return None;
                };
                let inner = &rest[1..close];
                if inner == "parent" {
                    parts.push(FilePart::Parent);
                } else {
                    parts.push(FilePart::Field(c.path(inner, offset, &field)?));
                }
                rest = &rest[close + 1..];
            }
            Some(at) => {
                parts.push(FilePart::Literal(rest[..at].to_string()));
                rest = &rest[at..];
            }
            None => {
                parts.push(FilePart::Literal(rest.to_string()));
                rest = "";
            }
        }
    }
    let template = FileTemplate {
        text: text.clone(),
        parts,
    };
    let parent_first = template.parts.first() == Some(&FilePart::Parent);
    if has_parent && !parent_first {
        c.report(
            offset,
            &field,
            "a nested kind's file starts with `{parent}`",
        );
    }
    if !has_parent && template.has_parent() {
        c.report(
            offset,
            &field,
            "`{parent}` is used, but the kind has no parent",
        );
    }
    if template
        .parts
        .iter()
        .filter(|p| **p == FilePart::Parent)
        .count()
        > 1
    {
        c.report(offset, &field, "`{parent}` may appear once");
    }
    let fields = template.fields();
    match shape {
        Shape::Resource if fields.is_empty() => c.report(
            offset,
            &field,
            "one file per object needs at least one `{field}` in its name (the natural key)",
        ),
        Shape::Singleton | Shape::Relationship { .. } if !fields.is_empty() => c.report(
            offset,
            &field,
            "a singleton or relationship has one file per parent: no `{field}` placeholders",
        ),
        _ => {}
    }
    for path in fields {
        if !path.is_single() {
            c.report(
                offset,
                &field,
                format!("`{path}` in a file name must name one value"),
            );
        }
    }
    Some(template)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROVIDER: &str = r#"
provider = "okta"
title = "Okta"
[[buckets]]
name = "/api/v1"
per_minute = 1200
about = "catch-all"
[requested_scopes]
about = "test"
manage = ["okta.groups.manage"]
extra = ["okta.logs.read"]
"#;

    const GROUP: &str = r#"kind = "group"
title = "Group"
about = "Groups."
id = "id"
file = "groups/{profile.name}"
scopes = { read = "okta.groups.read", manage = "okta.groups.manage" }
bucket = "/api/v1"

[endpoints]
list = "GET /api/v1/groups"
get = "GET /api/v1/groups/{groupId}"

[params]
groupId = "self.id"
"#;

    fn load_with(extra: &[(&str, &str)]) -> Result<(Provider, Vec<Kind>), CatalogueError> {
        let mut files = vec![
            (
                "schemas/okta/_provider.toml".to_string(),
                PROVIDER.to_string(),
            ),
            ("schemas/okta/group.toml".to_string(), GROUP.to_string()),
        ];
        for (name, text) in extra {
            files.push((format!("schemas/okta/{name}"), text.to_string()));
        }
        load("okta", &files)
    }

    /// Loads `group.toml` with `find` replaced by `replace` and returns the problems as text.
    fn problems(find: &str, replace: &str) -> String {
        assert!(GROUP.contains(find), "the fixture has no `{find}`");
        let text = GROUP.replacen(find, replace, 1);
        let files = vec![
            (
                "schemas/okta/_provider.toml".to_string(),
                PROVIDER.to_string(),
            ),
            ("schemas/okta/group.toml".to_string(), text),
        ];
        match load("okta", &files) {
            Ok(_) => String::new(),
            Err(error) => error.to_string(),
        }
    }

    #[track_caller]
    fn check(find: &str, replace: &str, expected: &str) {
        let text = problems(find, replace);
        assert!(text.contains(expected), "expected `{expected}` in:\n{text}");
    }

    #[test]
    fn a_valid_kind_loads() {
        let (provider, kinds) = load_with(&[]).unwrap();
        assert_eq!(provider.name, "okta");
        assert_eq!(kinds[0].name, "group");
        assert_eq!(kinds[0].natural_key()[0].to_string(), "profile.name");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        check(
            "id = \"id\"",
            "id = \"id\"\ncolour = \"blue\"",
            "schemas/okta/group.toml:5:1: `(syntax)`: unknown field `colour`",
        );
        check(
            "\"GET /api/v1/groups\"",
            "\"FETCH /api/v1/groups\"",
            "schemas/okta/group.toml:10:8: `endpoints.list`: `FETCH` is not one of",
        );
        check(
            "groupId = \"self.id\"",
            "groupId = \"own.id\"",
            "group.toml:14:11: `params.groupId`: `own.id` must start with",
        );
        check(
            "groupId = \"self.id\"",
            "",
            "`endpoints.get`: `{groupId}` in `/api/v1/groups/{groupId}` has no binding",
        );
        check(
            "[params]",
            "[params]\nother = \"self.id\"",
            "`params.other`: no endpoint uses this parameter",
        );
        check(
            "kind = \"group\"",
            "kind = \"groups\"",
            "group.toml:1:8: `kind`: the kind `groups` must live in `groups.toml`",
        );
        check(
            "bucket = \"/api/v1\"",
            "bucket = \"/api/v2\"",
            "`bucket`: rate-limit bucket `/api/v2` is not declared",
        );
        check(
            "read = \"okta.groups.read\"",
            "read = \"groups.read\"",
            "`groups.read` is not an Okta scope name",
        );
        check(
            "get = \"GET",
            "get = \"POST",
            "`endpoints.get`: a `get` endpoint cannot use POST",
        );
        check(
            "file = \"groups/{profile.name}\"",
            "file = \"groups/all\"",
            "`file`: one file per object needs at least one `{field}`",
        );
        check(
            "file = \"groups/{profile.name}\"",
            "file = \"groups/{profile..name}\"",
            "`file`: invalid field path `profile..name`",
        );
        check(
            "list = \"GET /api/v1/groups\"",
            "",
            "`endpoints.list`: only a singleton can do without a `list` endpoint",
        );
        check(
            "[params]",
            "[fields]\nvolatile = [\"a[0]\"]\n[params]",
            "`fields.volatile`: invalid field path `a[0]`",
        );
        check(
            "[params]",
            "[[references]]\npath = \"x\"\nkind = \"nothing\"\n[params]",
            "`references[0].kind`: `nothing` is not a kind",
        );
        check("[params]", "after = 1\n[params]", "`(syntax)`");
        check(
            "list = \"GET /api/v1/groups\"",
            "list = { op = \"GET /api/v1/iam/roles\", paginate = \"body\" }",
            "a body-paginated list needs `items`",
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = problems(
            "bucket = \"/api/v1\"",
            "bucket = \"/x\"\nparent_when = { path = \"a\", equals = 1 }",
        );
        assert!(text.contains("rate-limit bucket `/x`"), "{text}");
        assert!(text.contains("`parent_when`: there is no parent"), "{text}");
    }

    #[test]
    fn parent_cycles_are_refused() {
        let a = GROUP.replace("kind = \"group\"", "kind = \"a\"").replace(
            "file = \"groups/{profile.name}\"",
            "file = \"{parent}/x/{profile.name}\"\nparent = \"b\"",
        );
        let b = GROUP.replace("kind = \"group\"", "kind = \"b\"").replace(
            "file = \"groups/{profile.name}\"",
            "file = \"{parent}/y/{profile.name}\"\nparent = \"a\"",
        );
        let error = load_with(&[("a.toml", &a), ("b.toml", &b)])
            .unwrap_err()
            .to_string();
        assert!(error.contains("parents form a cycle"), "{error}");
    }

    #[test]
    fn a_missing_provider_file_is_named() {
        let error = load("okta", &[]).unwrap_err().to_string();
        assert!(error.contains("schemas/okta/_provider.toml"), "{error}");
    }
}
