//! Turns what the walk reads into the files of a snapshot: each object canonicalised, named
//! (id, key among its kind, parent), stored as it arrives (only a handle and its name are
//! kept), relationship members gathered per parent and sorted, and the kinds that failed left
//! out. `finish` places every file and builds `.butterfly/index.json`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::catalogue::{Catalogue, Kind, Shape};
use crate::provider::okta::walk::{Event, NodeId};
use crate::snapshot::canonical::{self, Context};
use crate::snapshot::layout::LayoutError;
use crate::snapshot::tree::{Assembly, Identity, TreeError};

/// Where file contents go as they are made (git's object database, or memory in tests).
pub trait Store {
    type Handle;
    type Error: std::error::Error + Send + Sync + 'static;
    fn put(&mut self, text: &str) -> Result<Self::Handle, Self::Error>;
}

/// Keeps the texts themselves.
#[derive(Debug, Default)]
pub struct Texts;

impl Store for Texts {
    type Handle = String;
    type Error = std::convert::Infallible;
    fn put(&mut self, text: &str) -> Result<String, Self::Error> {
        Ok(text.to_string())
    }
}

/// One resource in `.butterfly/index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IndexEntry {
    pub kind: String,
    /// The natural key as shown to people (`Engineering`, `Default Policy`).
    pub name: String,
    pub path: String,
}

/// A file with what the index says of it.
struct Content<'c, H> {
    handle: H,
    kind: &'c str,
    /// Id, key and entry.
    index: Option<(String, String, IndexEntry)>,
}

/// Why the collected objects cannot become files.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("storing a file: {0}")]
    Store(Box<dyn std::error::Error + Send + Sync>),
    #[error("{kind}: an object has no id at `{field}`: {object}")]
    NoId {
        kind: String,
        field: String,
        object: String,
    },
}

/// What was read of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindResult {
    /// Objects (members, for relationship kinds).
    pub objects: u64,
    /// Files made.
    pub files: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The org lacks the feature (not counted as incomplete).
    pub unavailable: bool,
}

/// The snapshot files of the kinds read, and what became of every kind.
pub struct Collected<H> {
    /// Path, kind and content, sorted by path; only kinds read completely.
    pub files: Vec<(String, String, H)>,
    /// Id → entry, for every resource of the kinds read.
    pub index: BTreeMap<String, IndexEntry>,
    pub kinds: BTreeMap<String, KindResult>,
}

/// Collects a walk's events.
pub struct Collector<'c, S: Store> {
    catalogue: &'c Catalogue,
    context: Context<'c>,
    store: S,
    assembly: Assembly<Content<'c, S::Handle>>,
    /// Parents' names, for their children.
    nodes: HashMap<NodeId, (String, String)>,
    parent_kinds: BTreeSet<String>,
    /// Relationship members gathered per (kind, variant, parent) until the parent's last page.
    members: HashMap<(String, usize, NodeId), Vec<Value>>,
    kinds: BTreeMap<String, KindResult>,
    failed: BTreeSet<String>,
}

impl<'c, S: Store> Collector<'c, S> {
    pub fn new(catalogue: &'c Catalogue, context: Context<'c>, store: S) -> Self {
        let parent_kinds = catalogue
            .kinds()
            .iter()
            .flat_map(|k| k.parents())
            .map(str::to_string)
            .collect();
        Collector {
            catalogue,
            context,
            store,
            assembly: Assembly::default(),
            nodes: HashMap::new(),
            parent_kinds,
            members: HashMap::new(),
            kinds: BTreeMap::new(),
            failed: BTreeSet::new(),
        }
    }

    /// Takes one event of the walk.
    pub fn take(&mut self, event: Event) -> Result<(), CollectError> {
        match event {
            Event::Page {
                kind,
                variant,
                parent,
                items,
                last,
            } => {
                let Some(kind) = self.catalogue.kind(&kind) else {
                    return Ok(());
                };
                if self.failed.contains(&kind.name) {
                    return Ok(());
                }
                let parent_ref = parent.and_then(|p| self.nodes.get(&p).cloned());
                if parent.is_some() && parent_ref.is_none() {
                    tracing::warn!(kind = kind.name, "objects of an unknown parent skipped");
                    return Ok(());
                }
                match &kind.shape {
                    Shape::Relationship { .. } => {
                        let Some(parent) = parent else {
                            return Ok(());
                        };
                        let key = (kind.name.clone(), variant, parent);
                        let gathered = self.members.entry(key.clone()).or_default();
                        for (_, raw) in items {
                            gathered.push(canonical::canonicalize(kind, &raw, &self.context));
                        }
                        if last {
                            let members = self.members.remove(&key).unwrap_or_default();
                            if let Some(parent_ref) = parent_ref {
                                self.add_members(kind, variant, &parent_ref, members)?;
                            }
                        }
                    }
                    Shape::Resource | Shape::Singleton => {
                        for (node, raw) in items {
                            self.add_object(kind, variant, node, parent_ref.as_ref(), &raw)?;
                        }
                    }
                }
            }
            Event::KindDone { kind, outcome } => {
                let result = self.kinds.entry(kind.clone()).or_default();
                if let Err(failure) = outcome {
                    result.unavailable = failure.is_unavailable();
                    result.fix = Some(failure.fix().to_string());
                    result.failure = Some(failure.to_string());
                    self.failed.insert(kind);
                }
            }
        }
        Ok(())
    }

    fn add_object(
        &mut self,
        kind: &Kind,
        variant: usize,
        node: NodeId,
        parent: Option<&(String, String)>,
        raw: &Value,
    ) -> Result<(), CollectError> {
        let body = canonical::canonicalize(kind, raw, &self.context);
        let id = match kind.id.as_ref().and_then(|path| path.get(&body)) {
            Some(Value::String(id)) => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ if kind.shape == Shape::Singleton => format!("({})", kind.name),
            _ => {
                return Err(CollectError::NoId {
                    kind: kind.name.clone(),
                    field: kind.id.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                    object: raw.to_string().chars().take(200).collect(),
                });
            }
        };
        let key = match parent {
            Some((_, parent_key)) => format!("{parent_key}/{id}"),
            None => id.clone(),
        };
        let text = canonical::to_text(&body);
        let handle = self
            .store
            .put(&text)
            .map_err(|e| CollectError::Store(Box::new(e)))?;
        let name = kind
            .natural_key()
            .iter()
            .filter_map(|path| match path.get(&body)? {
                Value::String(s) => Some(s.clone()),
                other @ (Value::Number(_) | Value::Bool(_)) => Some(other.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" ");
        let index = kind.id.is_some().then(|| {
            (
                id.clone(),
                key.clone(),
                IndexEntry {
                    kind: kind.name.clone(),
                    name,
                    path: String::new(),
                },
            )
        });
        let variant = kind.variants.get(variant).unwrap_or_else(|| kind.primary());
        self.assembly.add(
            kind,
            variant,
            Identity {
                id: &id,
                key: &key,
                parent: parent.map(|(k, p)| (k.as_str(), p.as_str())),
            },
            &body,
            Content {
                handle,
                kind: self.catalogue_name(kind),
                index,
            },
        )?;
        if self.parent_kinds.contains(&kind.name) {
            self.nodes.insert(node, (kind.name.clone(), key));
        }
        self.kinds.entry(kind.name.clone()).or_default().objects += 1;
        Ok(())
    }

    fn add_members(
        &mut self,
        kind: &Kind,
        variant: usize,
        parent: &(String, String),
        mut members: Vec<Value>,
    ) -> Result<(), CollectError> {
        let result = self.kinds.entry(kind.name.clone()).or_default();
        result.objects += members.len() as u64;
        let Some(first) = members.first().cloned() else {
            return Ok(());
        };
        canonical::sort_members(kind, &mut members);
        let text = canonical::to_text(&Value::Array(members));
        let handle = self
            .store
            .put(&text)
            .map_err(|e| CollectError::Store(Box::new(e)))?;
        let member_id = match &kind.shape {
            Shape::Relationship { member, .. } => member
                .get(&first)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        };
        let variant = kind.variants.get(variant).unwrap_or_else(|| kind.primary());
        self.assembly.add_relationship(
            kind,
            variant,
            (&parent.0, &parent.1),
            &member_id,
            &first,
            Content {
                handle,
                kind: self.catalogue_name(kind),
                index: None,
            },
        )?;
        Ok(())
    }

    /// `kind`'s name as the catalogue holds it (so each file refers to it, not a copy).
    fn catalogue_name(&self, kind: &Kind) -> &'c str {
        self.catalogue
            .kind(&kind.name)
            .map_or("", |k| k.name.as_str())
    }

    /// What has been read of `kind` so far.
    pub fn result(&self, kind: &str) -> KindResult {
        self.kinds.get(kind).cloned().unwrap_or_default()
    }

    /// Places every file of the kinds read completely.
    pub fn finish(mut self) -> Result<Collected<S::Handle>, CollectError> {
        let failed = self.failed.clone();
        self.assembly
            .retain(|content| !failed.contains(content.kind));
        let mut index = BTreeMap::new();
        let mut files = Vec::new();
        for (path, content) in self.assembly.finish()? {
            if let Some((id, key, mut entry)) = content.index {
                entry.path = path.clone();
                // Ids that repeat under different parents (an email template's name under
                // each brand) are indexed by their key, `<parent key>/<id>`.
                if index.contains_key(&id) {
                    index.insert(key, entry);
                } else {
                    index.insert(id, entry);
                }
            }
            self.kinds
                .entry(content.kind.to_string())
                .or_default()
                .files += 1;
            files.push((path, content.kind.to_string(), content.handle));
        }
        Ok(Collected {
            files,
            index,
            kinds: self.kinds,
        })
    }
}
