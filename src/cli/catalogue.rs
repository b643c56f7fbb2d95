//! `butterfly catalogue [KIND] [--scopes[=default|read|manage]] [--order] [--format text|json]`:
//! prints the resource catalogue, one kind in detail, the scopes to grant, or the restore order.

use std::fmt::Write as _;

use anyhow::anyhow;
use clap::ValueEnum;
use serde_json::{Value, json};

use super::{Failure, Outcome};
use crate::catalogue::{Catalogue, Endpoint, Kind, ListEndpoint, Shape, Variant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeSet {
    /// What Butterfly requests by default: the published manage scopes plus read scopes
    Default,
    /// Least privilege for backups only
    Read,
    /// Backup and restore of every kind
    Manage,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show one kind in full (fields, references, system objects)
    pub kind: Option<String>,

    /// Print the OAuth scopes to grant Butterfly's Okta app, one per line
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "default", conflicts_with = "order")]
    pub scopes: Option<ScopeSet>,

    /// Print the kinds in restore order (deletes run in reverse)
    #[arg(long)]
    pub order: bool,

    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let catalogue = Catalogue::okta().map_err(|e| anyhow!("{e}"))?;
    let output = render(catalogue, &args)?;
    print!("{output}");
    Ok(Outcome::Done)
}

/// Renders what `args` asks for; pure so tests can call it.
pub fn render(catalogue: &Catalogue, args: &Args) -> Result<String, Failure> {
    if let Some(set) = args.scopes {
        let scopes = match set {
            ScopeSet::Default => catalogue.requested_scopes(),
            ScopeSet::Read => catalogue.read_scopes(),
            ScopeSet::Manage => catalogue.manage_scopes(),
        };
        return Ok(match args.format {
            Format::Json => {
                let list: Vec<Value> = scopes
                    .iter()
                    .map(|s| json!({"scope": s, "kinds": catalogue.kinds_for_scope(s)}))
                    .collect();
                pretty(&Value::Array(list))
            }
            Format::Text => {
                let mut out = String::new();
                for scope in &scopes {
                    let _ = writeln!(out, "{scope}");
                }
                out
            }
        });
    }
    if args.order {
        let order = catalogue.restore_order().map_err(|e| anyhow!("{e}"))?;
        return Ok(match args.format {
            Format::Json => {
                pretty(&json!({"restore": order, "delete": order.iter().rev().collect::<Vec<_>>()}))
            }
            Format::Text => {
                let mut out = String::new();
                for (i, kind) in order.iter().enumerate() {
                    let _ = writeln!(out, "{:>3}. {kind}", i + 1);
                }
                out
            }
        });
    }
    let kinds: Vec<&Kind> = match &args.kind {
        Some(name) => vec![
            catalogue
                .kind(name)
                .ok_or_else(|| unknown_kind(catalogue, name))?,
        ],
        None => catalogue.kinds().iter().collect(),
    };
    Ok(match args.format {
        Format::Json => {
            let list: Vec<Value> = kinds.iter().map(|k| kind_json(catalogue, k)).collect();
            if args.kind.is_some() {
                pretty(&list[0])
            } else {
                pretty(&Value::Array(list))
            }
        }
        Format::Text => {
            let mut out = String::new();
            if args.kind.is_none() {
                let _ = writeln!(
                    out,
                    "{} Okta resource kinds. `butterfly catalogue KIND` shows one in full.\n",
                    kinds.len()
                );
            }
            for kind in kinds {
                write_kind(&mut out, catalogue, kind, args.kind.is_some());
                out.push('\n');
            }
            out
        }
    })
}

fn unknown_kind(catalogue: &Catalogue, name: &str) -> Failure {
    let close: Vec<&str> = catalogue
        .kinds()
        .iter()
        .map(|k| k.name.as_str())
        .filter(|k| k.contains(name) || name.contains(k))
        .collect();
    let hint = if close.is_empty() {
        "`butterfly catalogue` lists every kind".to_string()
    } else {
        format!("did you mean {}?", close.join(", "))
    };
    Failure::Usage(format!("`{name}` is not a resource kind; {hint}"))
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn list_note(list: &ListEndpoint) -> String {
    let mut notes = vec![list.pagination.as_str().to_string()];
    if let Some(items) = &list.items {
        notes.push(format!("items in `{items}`"));
    }
    if let Some(limit) = list.limit {
        notes.push(format!("limit {limit}"));
    }
    if list.partial {
        notes.push("partial objects: each read again with get".to_string());
    }
    if let Some(each) = &list.each {
        let values: Vec<&str> = each
            .values
            .iter()
            .map(|v| if v.is_empty() { "(none)" } else { v.as_str() })
            .collect();
        notes.push(format!("once per {}: {}", each.param, values.join(" | ")));
    }
    notes.join(", ")
}

fn endpoint_line(
    out: &mut String,
    role: &str,
    endpoint: &Endpoint,
    note: Option<String>,
    kind_bucket: &str,
) {
    let mut line = match role.strip_prefix("lifecycle.") {
        Some(name) => format!("  {:<12} {name}: {endpoint}", "lifecycle"),
        None => format!("  {role:<12} {endpoint}"),
    };
    let mut notes: Vec<String> = note.into_iter().collect();
    if endpoint.bucket != kind_bucket {
        notes.push(format!("bucket {}", endpoint.bucket));
    }
    if !notes.is_empty() {
        let _ = write!(line, "  ({})", notes.join("; "));
    }
    let _ = writeln!(out, "{line}");
}

fn write_variant(out: &mut String, catalogue: &Catalogue, kind: &Kind, variant: &Variant) {
    let bucket = &kind.bucket;
    if kind.variants.len() > 1 {
        let _ = writeln!(out, "  variant {}:", variant.name);
    }
    let _ = writeln!(
        out,
        "  {:<12} okta/{}.json",
        "file",
        catalogue.file_pattern(kind, variant)
    );
    if let Some(parent) = &variant.parent {
        let mut line = format!("  {:<12} {parent}", "parent");
        if let Some(when) = &variant.parent_when {
            let _ = write!(line, " where {when}");
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(from) = &variant.parents_from {
        endpoint_line(
            out,
            "parents from",
            &from.endpoint,
            Some(list_note(from)),
            bucket,
        );
    }
    if let Some(when) = &variant.when {
        let _ = writeln!(out, "  {:<12} {when}", "when");
    }
    if let Some(list) = &variant.endpoints.list {
        endpoint_line(out, "list", &list.endpoint, Some(list_note(list)), bucket);
    }
    for (role, endpoint) in variant
        .endpoints
        .all()
        .into_iter()
        .skip_while(|(r, _)| r == "list")
    {
        endpoint_line(out, &role, endpoint, None, bucket);
    }
}

fn write_kind(out: &mut String, catalogue: &Catalogue, kind: &Kind, full: bool) {
    let _ = writeln!(out, "{} — {}", kind.name, kind.title);
    if full {
        for line in kind.about.lines() {
            let _ = writeln!(out, "  {}", line.trim());
        }
    }
    let manage = if kind.scopes.manage.is_empty() {
        "(not restorable)".to_string()
    } else {
        kind.scopes.manage.join(" + ")
    };
    let _ = writeln!(
        out,
        "  {:<12} read {} · manage {manage}",
        "scopes",
        kind.scopes.read.join(" + ")
    );
    let _ = writeln!(out, "  {:<12} {}", "bucket", kind.bucket);
    if let Some(reason) = &kind.opt_in {
        let _ = writeln!(out, "  {:<12} {reason}", "opt-in");
    }
    for variant in &kind.variants {
        write_variant(out, catalogue, kind, variant);
    }
    if !full {
        return;
    }
    let shape = match &kind.shape {
        Shape::Resource => "one file per object".to_string(),
        Shape::Singleton => "singleton".to_string(),
        Shape::Relationship { member, keep, .. } => {
            let kept = if keep.is_empty() {
                "every field".to_string()
            } else {
                keep.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("one file per parent, members sorted by `{member}`, keeping {kept}")
        }
    };
    let _ = writeln!(out, "  {:<12} {shape}", "shape");
    if let Some(id) = &kind.id {
        let _ = writeln!(out, "  {:<12} {id}", "id");
    }
    let key: Vec<String> = kind.natural_key().iter().map(|p| p.to_string()).collect();
    if !key.is_empty() {
        let _ = writeln!(out, "  {:<12} {}", "natural key", key.join(" + "));
    }
    for (name, source) in &kind.primary().params {
        let _ = writeln!(out, "  {:<12} {{{name}}} = {source}", "param");
    }
    let paths = |list: &[crate::catalogue::FieldPath]| {
        list.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (label, list) in [
        ("volatile", &kind.volatile),
        ("read-only", &kind.read_only),
        ("secret", &kind.secret),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "  {label:<12} {}", paths(list));
        }
    }
    for set in &kind.sets {
        match &set.key {
            Some(key) => {
                let _ = writeln!(out, "  {:<12} {} sorted by {key}", "set", set.path);
            }
            None => {
                let _ = writeln!(out, "  {:<12} {} sorted", "set", set.path);
            }
        }
    }
    for (path, value) in kind.effective_defaults.iter() {
        let _ = writeln!(out, "  {:<12} {path} = {value}", "default");
    }
    for derived in &kind.derived {
        let _ = writeln!(
            out,
            "  {:<12} _derived.{} = {}({})",
            "derived",
            derived.name,
            derived.transform.as_str(),
            derived.from
        );
    }
    for reference in &kind.references {
        let mut line = format!(
            "  {:<12} {} → {}",
            "reference", reference.path, reference.kind
        );
        if let Some(target) = &reference.target {
            let _ = write!(line, ".{target}");
        }
        match reference.embedding {
            crate::catalogue::Embedding::Whole => {}
            crate::catalogue::Embedding::Expression => line.push_str(" (inside an expression)"),
            crate::catalogue::Embedding::Url => line.push_str(" (inside a URL)"),
        }
        if !reference.literals.is_empty() {
            let _ = write!(line, " except {}", reference.literals.join(", "));
        }
        if reference.weak {
            line.push_str(" (weak)");
        }
        let _ = writeln!(out, "{line}");
    }
    if let Some(system) = &kind.system {
        let _ = writeln!(out, "  {:<12} {system}", "system");
    }
    if !kind.after.is_empty() {
        let _ = writeln!(out, "  {:<12} {}", "after", kind.after.join(", "));
    }
    let rules = &kind.constraints;
    if let Some(p) = &rules.delete_requires {
        let _ = writeln!(out, "  {:<12} delete only when {p}", "constraint");
    }
    if let Some(p) = &rules.update_requires {
        let _ = writeln!(out, "  {:<12} update only when {p}", "constraint");
    }
    for path in &rules.immutable {
        let _ = writeln!(
            out,
            "  {:<12} {path} cannot change after creation",
            "constraint"
        );
    }
    if let Some(max) = rules.max_per_parent {
        let _ = writeln!(out, "  {:<12} at most {max} per parent", "constraint");
    }
    for (set, text) in [
        (
            rules.unused_to_delete,
            "cannot be deleted while another object references it",
        ),
        (
            rules.unused_to_deactivate,
            "cannot be deactivated while a policy uses it (E0000148)",
        ),
        (
            rules.serial_writes,
            "writes are reconciled one at a time (423 E0000239 on overlap)",
        ),
        (
            rules.priority,
            "siblings ordered by priority, renumbered by Okta on conflict",
        ),
    ] {
        if set {
            let _ = writeln!(out, "  {:<12} {text}", "constraint");
        }
    }
    if let Some(index) = catalogue.fields(&kind.name) {
        let _ = writeln!(
            out,
            "  {:<12} {} response and {} request fields in Okta's spec",
            "spec",
            index.response.len(),
            index.request.len()
        );
    }
}

fn endpoint_json(endpoint: &Endpoint) -> Value {
    json!({
        "method": endpoint.method.as_str(),
        "path": endpoint.path,
        "fixed": endpoint.fixed,
        "query": endpoint.query,
        "bucket": endpoint.bucket,
    })
}

fn list_json(list: &ListEndpoint) -> Value {
    let mut value = endpoint_json(&list.endpoint);
    value["pagination"] = json!(match list.pagination {
        crate::catalogue::Pagination::Link => "link",
        crate::catalogue::Pagination::Body => "body",
        crate::catalogue::Pagination::None => "none",
    });
    value["items"] = json!(list.items);
    value["limit"] = json!(list.limit);
    value["partial"] = json!(list.partial);
    value["each"] = match &list.each {
        Some(each) => json!({"param": each.param, "values": each.values}),
        None => Value::Null,
    };
    value
}

/// The stable JSON shape of a kind (README documents it).
pub fn kind_json(catalogue: &Catalogue, kind: &Kind) -> Value {
    let strings = |list: &[crate::catalogue::FieldPath]| -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    };
    let variants: Vec<Value> = kind
        .variants
        .iter()
        .map(|v| {
            let mut endpoints = serde_json::Map::new();
            if let Some(list) = &v.endpoints.list {
                endpoints.insert("list".into(), list_json(list));
            }
            for (role, endpoint) in v.endpoints.all() {
                if role != "list" {
                    endpoints.insert(role, endpoint_json(endpoint));
                }
            }
            json!({
                "name": v.name,
                "file": format!("okta/{}.json", catalogue.file_pattern(kind, v)),
                "file_template": v.file.text,
                "parent": v.parent,
                "parent_when": v.parent_when.as_ref().map(ToString::to_string),
                "parents_from": v.parents_from.as_ref().map(list_json),
                "when": v.when.as_ref().map(ToString::to_string),
                "params": v.params.iter().map(|(k, s)| (k.clone(), json!(s.to_string()))).collect::<serde_json::Map<_, _>>(),
                "endpoints": endpoints,
            })
        })
        .collect();
    let shape = match &kind.shape {
        Shape::Resource => json!({"type": "resource"}),
        Shape::Singleton => json!({"type": "singleton"}),
        Shape::Relationship { member, keep, .. } => {
            json!({"type": "relationship", "member": member.to_string(), "keep": strings(keep)})
        }
    };
    json!({
        "kind": kind.name,
        "title": kind.title,
        "about": kind.about,
        "source": kind.source,
        "shape": shape,
        "id": kind.id.as_ref().map(ToString::to_string),
        "natural_key": kind.natural_key().iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "scopes": {"read": kind.scopes.read, "manage": kind.scopes.manage},
        "opt_in": kind.opt_in,
        "variants": variants,
        "fields": {
            "volatile": strings(&kind.volatile),
            "read_only": strings(&kind.read_only),
            "secret": strings(&kind.secret),
            "sets": kind.sets.iter().map(|s| json!({"path": s.path.to_string(), "key": s.key.as_ref().map(ToString::to_string)})).collect::<Vec<_>>(),
            "defaults": kind.effective_defaults.iter().map(|(p, v)| (p.to_string(), v.clone())).collect::<serde_json::Map<_, _>>(),
        },
        "derived": kind.derived.iter().map(|d| json!({"name": d.name, "from": d.from.to_string(), "transform": d.transform.as_str()})).collect::<Vec<_>>(),
        "references": kind.references.iter().map(|r| json!({
            "path": r.path.to_string(),
            "kind": r.kind,
            "target": r.target.as_ref().map(ToString::to_string),
            "embedded": match r.embedding {
                crate::catalogue::Embedding::Whole => Value::Null,
                crate::catalogue::Embedding::Expression => json!("expression"),
                crate::catalogue::Embedding::Url => json!("url"),
            },
            "literals": r.literals,
            "weak": r.weak,
        })).collect::<Vec<_>>(),
        "system": kind.system.as_ref().map(ToString::to_string),
        "after": kind.after,
        "constraints": {
            "delete_requires": kind.constraints.delete_requires.as_ref().map(ToString::to_string),
            "update_requires": kind.constraints.update_requires.as_ref().map(ToString::to_string),
            "immutable": strings(&kind.constraints.immutable),
            "max_per_parent": kind.constraints.max_per_parent,
            "unused_to_delete": kind.constraints.unused_to_delete,
            "unused_to_deactivate": kind.constraints.unused_to_deactivate,
            "serial_writes": kind.constraints.serial_writes,
            "priority": kind.constraints.priority,
        },
        "restorable": kind.is_restorable(),
        "spec_fields": catalogue.fields(&kind.name).map(|i| json!({"response": i.response.len(), "request": i.request.len()})),
    })
}
