//! `--write-tree DIR`: writes a simulated org as a fixture tree (the canonical org-repo layout,
//! with `secrets.json` beside `okta/`), so benchmarks of diff and compliance get a large org
//! without an hours-long backup, and the tree loads again with `--fixture DIR`.
//!
//! Never overwrites: DIR must not exist or be empty. The tree is written into a sibling folder
//! and renamed into place at the end, so an interrupted run leaves no half tree at DIR.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::fixture::SECRETS_FILE;
use super::org::Org;
use super::present::Secrets;
use crate::catalogue::Catalogue;
use crate::snapshot::tree::{self, Entry, TreeError};

/// Why a tree could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}: already exists and is not empty; give a new folder")]
    NotEmpty(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the org cannot be laid out as files: {0}")]
    Tree(#[from] TreeError),
    #[error("the org holds an object of kind `{0}`, which the catalogue does not know")]
    UnknownKind(String),
}

/// What was written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Written {
    pub tree: PathBuf,
    pub files: usize,
    pub objects: usize,
}

/// Writes `org` (and its secrets' plaintext) as a fixture tree at `dir`.
pub fn write_tree(
    catalogue: &Catalogue,
    org: &Org,
    secrets: &Secrets,
    dir: &Path,
) -> Result<Written, ExportError> {
    ensure_writable(dir)?;
    let files = files(catalogue, org)?;
    let staging = staging_dir(dir);
    let result = write_files(&staging, &files, secrets).and_then(|()| {
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(|source| ExportError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::rename(&staging, dir).map_err(|source| ExportError::Io {
            path: dir.to_path_buf(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result?;
    Ok(Written {
        tree: dir.to_path_buf(),
        files: files.len(),
        objects: org.len(),
    })
}

/// Refuses a folder that exists and is not empty (a tree is never written over another).
pub fn ensure_writable(dir: &Path) -> Result<(), ExportError> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|source| ExportError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if entries.next().is_some() {
            return Err(ExportError::NotEmpty(dir.to_path_buf()));
        }
    }
    Ok(())
}

/// The files of `org`'s tree: relative path to canonical text.
pub fn files(catalogue: &Catalogue, org: &Org) -> Result<BTreeMap<String, String>, ExportError> {
    // The layout reads every body at once (relationship files gather their members), so the
    // org's bodies are parsed here, for as long as the files take to build.
    let objects: Vec<(&super::org::Object, String, serde_json::Value)> = org
        .objects()
        .map(|object| (object, object.key(), object.body()))
        .collect();
    let mut entries = Vec::with_capacity(objects.len());
    for (object, key, body) in &objects {
        let kind = catalogue
            .kind(&object.kind)
            .ok_or_else(|| ExportError::UnknownKind(object.kind.to_string()))?;
        entries.push(Entry {
            kind,
            id: &object.id,
            key,
            parent: object.parent.as_ref().map(|(kind, key)| (&**kind, &**key)),
            body,
        });
    }
    Ok(tree::files(&entries)?)
}

fn staging_dir(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "tree".to_string());
    dir.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn write_files(
    root: &Path,
    files: &BTreeMap<String, String>,
    secrets: &Secrets,
) -> Result<(), ExportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    for (relative, text) in files {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    std::fs::create_dir_all(root).map_err(io(root))?;
    if !secrets.is_empty() {
        let path = root.join(SECRETS_FILE);
        let mut text = serde_json::to_string_pretty(secrets).unwrap_or_default();
        text.push('\n');
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixture::FixtureTree;

    #[test]
    fn the_tiny_fixture_writes_back_to_the_same_files() {
        let catalogue = Catalogue::okta().expect("catalogue");
        let tree = FixtureTree::embedded("tiny").expect("tiny is embedded");
        let org = Org::load(catalogue, &tree).expect("tiny loads");
        let written = files(catalogue, &org).expect("lays out");
        let original: BTreeMap<String, String> = tree.files.iter().cloned().collect();
        assert_eq!(
            written.keys().collect::<Vec<_>>(),
            original.keys().collect::<Vec<_>>()
        );
        for (path, text) in &original {
            assert_eq!(&written[path], text, "{path}");
        }
    }
}
