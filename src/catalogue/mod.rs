//! The catalogue: one declarative description per Okta resource kind, loaded from
//! `schemas/<provider>/<kind>.toml` (embedded in the binary) and validated as a whole at
//! start-up. Backup, canonical JSON, diff, plan/apply and the simulator all derive from it.
//!
//! Invariant: the catalogue does not talk HTTP and does not touch git; it is data about kinds.

mod endpoint;
mod error;
mod field_path;
mod fields;
mod kind;
mod load;
pub mod order;
mod predicate;
mod provider;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

pub use endpoint::{Endpoint, ListEndpoint, Method, Pagination};
pub use error::{CatalogueError, Location, Problem};
pub use field_path::{FieldPath, FieldPathError, Segment, pointer_token};
pub use fields::{FieldIndex, FieldInfo, Operation};
pub use kind::{
    Constraints, DERIVED_MEMBER, Derived, Embedding, Endpoints, FilePart, FileTemplate, Kind,
    ParamSource, Reference, Scopes, SetArray, Shape, Transform, Variant, VariantDefaults,
};
pub use predicate::Predicate;
pub use provider::{Bucket, Provider};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_schemas.rs"));
}

/// The validated set of kinds of one provider, with their field indexes.
#[derive(Debug)]
pub struct Catalogue {
    pub provider: Provider,
    kinds: Vec<Kind>,
    by_name: BTreeMap<String, usize>,
    fields: BTreeMap<String, FieldIndex>,
}

/// Failures of loading the catalogue.
#[derive(Debug, thiserror::Error)]
pub enum LoadCatalogueError {
    #[error(transparent)]
    Invalid(#[from] CatalogueError),
    #[error("{file}: the field index is not valid JSON: {source}")]
    FieldIndex {
        file: String,
        source: serde_json::Error,
    },
    #[error("{file}: a field index for `{kind}`, which is not a kind in the catalogue")]
    StrayFieldIndex { file: String, kind: String },
}

impl Catalogue {
    /// The Okta catalogue embedded in this binary, loaded and validated once.
    pub fn okta() -> Result<&'static Catalogue, &'static LoadCatalogueError> {
        static OKTA: OnceLock<Result<Catalogue, LoadCatalogueError>> = OnceLock::new();
        OKTA.get_or_init(|| {
            let files: Vec<(String, String)> = embedded::FILES
                .iter()
                .filter(|(path, _)| path.starts_with("schemas/okta/"))
                .map(|(path, text)| (path.to_string(), text.to_string()))
                .collect();
            Catalogue::from_files("okta", &files)
        })
        .as_ref()
    }

    /// Loads a catalogue from `(path, text)` pairs: `schemas/<provider>/*.toml` are kinds (and
    /// the provider file), `schemas/<provider>/fields/*.json` their field indexes.
    pub fn from_files(
        provider: &str,
        files: &[(String, String)],
    ) -> Result<Self, LoadCatalogueError> {
        let kind_prefix = format!("schemas/{provider}/");
        let fields_prefix = format!("schemas/{provider}/fields/");
        let toml_files: Vec<(String, String)> = files
            .iter()
            .filter(|(path, _)| {
                path.ends_with(".toml")
                    && path
                        .strip_prefix(&kind_prefix)
                        .is_some_and(|rest| !rest.contains('/'))
            })
            .cloned()
            .collect();
        let (provider, kinds) = load::load(provider, &toml_files)?;
        let by_name = kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| (kind.name.clone(), i))
            .collect();
        let mut fields = BTreeMap::new();
        for (path, text) in files {
            if !(path.starts_with(&fields_prefix) && path.ends_with(".json")) {
                continue;
            }
            let index: FieldIndex =
                serde_json::from_str(text).map_err(|source| LoadCatalogueError::FieldIndex {
                    file: path.clone(),
                    source,
                })?;
            fields.insert(index.kind.clone(), (path.clone(), index));
        }
        let mut catalogue = Catalogue {
            provider,
            kinds,
            by_name,
            fields: BTreeMap::new(),
        };
        for (kind, (file, index)) in fields {
            let Some(&position) = catalogue.by_name.get(&kind) else {
                return Err(LoadCatalogueError::StrayFieldIndex { file, kind });
            };
            let target = &mut catalogue.kinds[position];
            target.effective_defaults = effective_defaults(target, &index);
            target.variant_defaults = variant_defaults(target, &index);
            catalogue.fields.insert(kind, index);
        }
        Ok(catalogue)
    }

    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    pub fn kind(&self, name: &str) -> Option<&Kind> {
        self.by_name.get(name).map(|i| &self.kinds[*i])
    }

    /// The field index derived from Okta's spec for `kind`, if one is committed.
    pub fn fields(&self, kind: &str) -> Option<&FieldIndex> {
        self.fields.get(kind)
    }

    /// A variant's full file pattern under `okta/`, with `{parent}` expanded through the
    /// ancestors and their placeholders named by kind:
    /// `brands/{brand:name}/email-templates/{email_template:name}/customizations/{language}`.
    pub fn file_pattern(&self, kind: &Kind, variant: &Variant) -> String {
        let mut out = String::new();
        for part in &variant.file.parts {
            match part {
                FilePart::Literal(text) => out.push_str(text),
                FilePart::Field(path) => {
                    out.push('{');
                    if variant.parent.is_some() {
                        out.push_str(&kind.name);
                        out.push(':');
                    }
                    out.push_str(&path.to_string());
                    out.push('}');
                }
                FilePart::Parent => {
                    let parent = variant.parent.as_deref().and_then(|p| self.kind(p));
                    match parent {
                        Some(parent) => {
                            let pattern = self.file_pattern(parent, parent.primary());
                            // Name the parent's own placeholders by its kind too.
                            out.push_str(&qualify(&pattern, &parent.name));
                        }
                        None => out.push_str("{parent}"),
                    }
                }
            }
        }
        out
    }

    /// Kinds in restore order (see [`order::restore_order`]).
    pub fn restore_order(&self) -> Result<Vec<String>, order::CycleError> {
        order::restore_order(&self.kinds)
    }

    /// The scopes Butterfly asks a customer to grant by default: the product's published
    /// manage scopes, plus the read scopes of every kind those do not cover, plus the
    /// provider's extra scopes (the System Log). Sorted.
    pub fn requested_scopes(&self) -> Vec<String> {
        let manage: BTreeSet<&str> = self
            .provider
            .requested_manage
            .iter()
            .map(String::as_str)
            .collect();
        let mut scopes: BTreeSet<String> = manage.iter().map(|s| s.to_string()).collect();
        for kind in &self.kinds {
            for read in &kind.scopes.read {
                let covered = manage.contains(read.replace(".read", ".manage").as_str());
                if !covered {
                    scopes.insert(read.clone());
                }
            }
        }
        scopes.extend(self.provider.requested_extra.iter().cloned());
        scopes.into_iter().collect()
    }

    /// The least-privilege scopes for backups only: every kind's read scopes plus the extras.
    pub fn read_scopes(&self) -> Vec<String> {
        let mut scopes: BTreeSet<String> = self
            .kinds
            .iter()
            .flat_map(|k| k.scopes.read.iter().cloned())
            .collect();
        scopes.extend(self.provider.requested_extra.iter().cloned());
        scopes.into_iter().collect()
    }

    /// The scopes for backup and restore of every kind: each kind's manage scopes (which
    /// include read), its read scopes where it has no manage scope, and the extras.
    pub fn manage_scopes(&self) -> Vec<String> {
        let mut scopes = BTreeSet::new();
        for kind in &self.kinds {
            scopes.extend(kind.scopes.manage.iter().cloned());
            for read in &kind.scopes.read {
                if !kind
                    .scopes
                    .manage
                    .contains(&read.replace(".read", ".manage"))
                {
                    scopes.insert(read.clone());
                }
            }
        }
        scopes.extend(self.provider.requested_extra.iter().cloned());
        scopes.into_iter().collect()
    }

    /// The kinds a scope serves.
    pub fn kinds_for_scope(&self, scope: &str) -> Vec<&str> {
        self.kinds
            .iter()
            .filter(|k| {
                k.scopes.read.iter().any(|s| s == scope)
                    || k.scopes.manage.iter().any(|s| s == scope)
                    || k.scopes
                        .read
                        .iter()
                        .any(|s| s.replace(".read", ".manage") == scope)
            })
            .map(|k| k.name.as_str())
            .collect()
    }
}

/// The spec's defaults of writable response fields without `[*]`/`*` steps, outside HAL
/// members, whose value has the field's type (the spec holds a few prose "defaults"), with the
/// kind's declared defaults on top.
fn effective_defaults(kind: &Kind, index: &FieldIndex) -> Vec<(FieldPath, serde_json::Value)> {
    let mut defaults: BTreeMap<String, (FieldPath, serde_json::Value)> = BTreeMap::new();
    for (path, info) in &index.response {
        if let Some(default) = info.usable_default(path) {
            defaults.insert(path.clone(), default);
        }
    }
    for (path, value) in &kind.defaults {
        defaults.insert(path.to_string(), (path.clone(), value.clone()));
    }
    defaults.into_values().collect()
}

/// The index's per-variant defaults as `VariantDefaults`, less any field the kind declares a
/// default for itself (the kind file has the last word).
fn variant_defaults(kind: &Kind, index: &FieldIndex) -> Vec<VariantDefaults> {
    let mut out = Vec::new();
    for (field, values) in &index.variant_defaults {
        let Ok(discriminator) = FieldPath::parse(field) else {
            continue;
        };
        for (value, fields) in values {
            let defaults: Vec<(FieldPath, serde_json::Value)> = fields
                .iter()
                .filter_map(|(path, default)| FieldPath::parse(path).ok().map(|p| (p, default)))
                .filter(|(path, _)| !kind.defaults.iter().any(|(own, _)| own == path))
                .map(|(path, default)| (path, default.clone()))
                .collect();
            if !defaults.is_empty() {
                out.push(VariantDefaults {
                    field: discriminator.clone(),
                    equals: serde_json::Value::String(value.clone()),
                    defaults,
                });
            }
        }
    }
    out
}

/// Prefixes unqualified `{field}` placeholders of a pattern with `kind:`.
fn qualify(pattern: &str, kind: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find('}').unwrap_or(rest.len());
        if !rest[..close].contains(':') {
            out.push_str(kind);
            out.push(':');
        }
        out.push_str(&rest[..close]);
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_patterns_expand_parents_and_name_their_kinds() {
        let catalogue = okta();
        let kind = catalogue.kind("email_template_customization").unwrap();
        assert_eq!(
            catalogue.file_pattern(kind, kind.primary()),
            "brands/{brand:name}/email-templates/{email_template:name}/customizations/{email_template_customization:language}"
        );
        let group = catalogue.kind("group").unwrap();
        assert_eq!(
            catalogue.file_pattern(group, group.primary()),
            "groups/{profile.name}"
        );
    }

    fn okta() -> &'static Catalogue {
        Catalogue::okta().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_embedded_catalogue_loads_with_a_field_index_per_kind() {
        let catalogue = okta();
        for kind in catalogue.kinds() {
            assert!(
                catalogue.fields(&kind.name).is_some(),
                "{} has no field index: run `BUTTERFLY_BLESS=1 cargo test --locked --tests catalogue_spec`",
                kind.name
            );
        }
    }

    /// The offline half of the spec contract: the committed indexes are checked against the
    /// spec in `tests/it/catalogue_spec.rs`; here every named path is checked against them.
    #[test]
    fn every_named_field_is_in_the_kinds_response_schema() {
        let catalogue = okta();
        let mut missing = Vec::new();
        for kind in catalogue.kinds() {
            let Some(index) = catalogue.fields(&kind.name) else {
                continue;
            };
            for (field, path) in kind.named_paths() {
                if !index.has_response_field(&path) {
                    missing.push(format!("{}: `{field}` names `{path}`", kind.source));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "not in Okta's response schemas:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn restore_order_puts_every_dependency_first_and_deletes_reverse_it() {
        let catalogue = okta();
        let order = catalogue.restore_order().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(order.len(), catalogue.kinds().len());
        let position = |name: &str| order.iter().position(|k| k == name).unwrap();
        for (kind, deps) in order::dependencies(catalogue.kinds()) {
            for (dep, why) in deps {
                assert!(
                    position(dep) < position(kind),
                    "{dep} must be restored before {kind} ({why:?})"
                );
            }
        }
        let deletes = order::delete_order(catalogue.kinds()).unwrap();
        assert_eq!(deletes.first(), order.last());
        assert_eq!(deletes.last(), order.first());
    }

    #[test]
    fn requested_scopes_drop_factors_manage_and_add_the_system_log() {
        let scopes = okta().requested_scopes();
        assert!(scopes.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        assert!(!scopes.iter().any(|s| s == "okta.factors.manage"));
        assert!(scopes.iter().any(|s| s == "okta.logs.read"));
        assert!(scopes.iter().any(|s| s == "okta.groups.manage"));
        // A read scope covered by its manage scope is not asked for twice.
        assert!(!scopes.iter().any(|s| s == "okta.groups.read"));
        // Kinds outside the published list are still readable.
        assert!(scopes.iter().any(|s| s == "okta.schemas.read"));
        for scope in okta().read_scopes() {
            assert!(scope.ends_with(".read"), "{scope}");
        }
    }
}
