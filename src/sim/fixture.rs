//! Fixture orgs: the files of a fixture tree (`okta/**.json` in the canonical org-repo layout,
//! plus `secrets.json` beside `okta/`), read from a folder or from the fixtures embedded in the
//! binary at build time (`fixtures/orgs/<name>/`), so `butterfly sim --fixture small` works
//! from an installed binary.
//!
//! Must not interpret the files: `sim::org` turns them into objects.

use std::path::{Path, PathBuf};

use super::org::FixtureError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_fixtures.rs"));
}

/// The file beside `okta/` holding the plaintext of the fixture's fingerprinted secrets.
pub const SECRETS_FILE: &str = "secrets.json";

/// The files of one fixture org, in memory.
#[derive(Clone, Debug)]
pub struct FixtureTree {
    /// Where the files came from, for messages: a folder, or `fixture <name> (embedded)`.
    pub origin: PathBuf,
    /// `(path relative to the fixture root, text)` of every `okta/**.json` file, sorted.
    pub files: Vec<(String, String)>,
    /// The text of `secrets.json`, when the fixture has one.
    pub secrets: Option<String>,
}

impl FixtureTree {
    /// The names of the fixtures embedded in this binary.
    pub fn embedded_names() -> Vec<&'static str> {
        let mut names: Vec<&str> = embedded::FIXTURES
            .iter()
            .map(|(name, _, _)| *name)
            .collect();
        names.dedup();
        names
    }

    /// An embedded fixture by name.
    pub fn embedded(name: &str) -> Option<FixtureTree> {
        let mut tree = FixtureTree {
            origin: PathBuf::from(format!("fixture {name} (embedded)")),
            files: Vec::new(),
            secrets: None,
        };
        let mut found = false;
        for (fixture, path, text) in embedded::FIXTURES {
            if *fixture != name {
                continue;
            }
            found = true;
            if *path == SECRETS_FILE {
                tree.secrets = Some((*text).to_string());
            } else {
                tree.files.push(((*path).to_string(), (*text).to_string()));
            }
        }
        tree.files.sort();
        found.then_some(tree)
    }

    /// A fixture given on the command line: an embedded fixture's name, or a folder holding
    /// `okta/`. A value naming both an embedded fixture and an existing folder is the folder.
    pub fn find(name_or_path: &str) -> Result<FixtureTree, FixtureError> {
        let path = Path::new(name_or_path);
        if path.is_dir() {
            return FixtureTree::read_dir(path);
        }
        if let Some(tree) = FixtureTree::embedded(name_or_path) {
            return Ok(tree);
        }
        Err(FixtureError::NotFound {
            name: name_or_path.to_string(),
            embedded: FixtureTree::embedded_names().join(", "),
        })
    }

    /// Reads a fixture folder: every `okta/**.json` file and `secrets.json`.
    pub fn read_dir(dir: &Path) -> Result<FixtureTree, FixtureError> {
        let root = dir.join(crate::snapshot::layout::ROOT);
        if !root.is_dir() {
            return Err(FixtureError::NoTree {
                path: dir.to_path_buf(),
            });
        }
        let mut paths = Vec::new();
        collect_json(&root, &mut paths)?;
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let relative = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            files.push((relative, read(&path)?));
        }
        files.sort();
        let secrets_path = dir.join(SECRETS_FILE);
        let secrets = if secrets_path.exists() {
            Some(read(&secrets_path)?)
        } else {
            None
        };
        Ok(FixtureTree {
            origin: dir.to_path_buf(),
            files,
            secrets,
        })
    }

    /// The path of a file of this fixture, for messages.
    pub fn path_of(&self, relative: &str) -> PathBuf {
        self.origin.join(relative)
    }
}

fn read(path: &Path) -> Result<String, FixtureError> {
    std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FixtureError> {
    let entries = std::fs::read_dir(dir).map_err(|source| FixtureError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| FixtureError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|source| FixtureError::Read {
            path: path.clone(),
            source,
        })?;
        if file_type.is_dir() {
            collect_json(&path, out)?;
        } else if file_type.is_file() && path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiny_fixture_is_embedded_with_its_secrets() {
        assert!(FixtureTree::embedded_names().contains(&"tiny"));
        let tree = FixtureTree::embedded("tiny").expect("tiny is embedded");
        assert!(tree.secrets.is_some());
        assert!(tree.files.iter().all(|(path, _)| path.starts_with("okta/")));
        assert!(
            tree.files
                .iter()
                .any(|(path, _)| path == "okta/groups/Engineering.json")
        );
    }

    #[test]
    fn an_unknown_name_lists_the_embedded_fixtures() {
        let error = FixtureTree::find("no-such-fixture")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no-such-fixture"), "{error}");
        assert!(error.contains("tiny"), "{error}");
    }

    #[test]
    fn a_folder_reads_like_the_embedded_copy() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/orgs/tiny");
        let from_disk = FixtureTree::read_dir(&dir).expect("tiny reads");
        let embedded = FixtureTree::embedded("tiny").expect("tiny is embedded");
        assert_eq!(from_disk.files, embedded.files);
        assert_eq!(from_disk.secrets, embedded.secrets);
    }
}
