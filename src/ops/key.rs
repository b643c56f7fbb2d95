//! The org's fingerprint key (DESIGN.md): the HMAC key secrets are fingerprinted with, shared
//! by the CLI, CI and the server so they all write the same fingerprints. Taken from
//! `BUTTERFLY_FINGERPRINT_KEY`, else from the repository's git folder
//! (`<git dir>/butterfly/fingerprint-key`, never committed), made there by the first backup.
//! `butterfly key export` prints it for CI and the server; `butterfly key import` stores one.

use std::path::{Path, PathBuf};

use crate::snapshot::fingerprint::{FingerprintKey, FingerprintKeyError};
use crate::snapshot::repo::OrgRepo;

/// The environment variable that overrides the stored key.
pub const ENV: &str = "BUTTERFLY_FINGERPRINT_KEY";

/// Why the key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{ENV}: {0}")]
    Env(FingerprintKeyError),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: FingerprintKeyError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} already holds another key; every fingerprint in the snapshots would change. Remove the file first if that is what you want"
    )]
    Different { path: PathBuf },
    #[error("{0}")]
    Make(FingerprintKeyError),
    #[error(
        "no fingerprint key: set {ENV}, or run butterfly key import, or run a backup (which makes one)"
    )]
    Missing,
}

/// Where a key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env,
    File(PathBuf),
    /// Made now and stored at this path.
    Made(PathBuf),
}

/// The key file of `repo`.
pub fn path(repo: &OrgRepo) -> PathBuf {
    repo.git()
        .commondir()
        .join("butterfly")
        .join("fingerprint-key")
}

/// The key from the environment or the repository, if there is one.
pub fn load(
    repo: &OrgRepo,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<(FingerprintKey, Source)>, KeyError> {
    if let Some(text) = var(ENV).filter(|t| !t.trim().is_empty()) {
        return FingerprintKey::from_hex(&text)
            .map(|k| Some((k, Source::Env)))
            .map_err(KeyError::Env);
    }
    let path = path(repo);
    match std::fs::read_to_string(&path) {
        Ok(text) => FingerprintKey::from_hex(&text)
            .map(|k| Some((k, Source::File(path.clone()))))
            .map_err(|source| KeyError::File { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::Io { path, source }),
    }
}

/// The key, made and stored when there is none yet.
pub fn load_or_make(
    repo: &OrgRepo,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(FingerprintKey, Source), KeyError> {
    if let Some(found) = load(repo, var)? {
        return Ok(found);
    }
    let key = FingerprintKey::generate().map_err(KeyError::Make)?;
    let path = path(repo);
    write(&path, &key)?;
    tracing::info!(path = %path.display(), "made a new fingerprint key");
    Ok((key, Source::Made(path)))
}

/// Stores `key` in the repository; refuses to replace a different one.
pub fn import(repo: &OrgRepo, key: &FingerprintKey) -> Result<PathBuf, KeyError> {
    let path = path(repo);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return match FingerprintKey::from_hex(&text) {
                Ok(existing) if existing.to_hex() == key.to_hex() => Ok(path),
                _ => Err(KeyError::Different { path }),
            };
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(KeyError::Io { path, source }),
    }
    write(&path, key)?;
    Ok(path)
}

/// Writes the key readable by its owner only, through a temporary file.
fn write(path: &Path, key: &FingerprintKey) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let temporary = path.with_extension("tmp");
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&temporary).map_err(io)?;
        file.write_all(format!("{}\n", key.to_hex()).as_bytes())
            .map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&temporary, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, OrgRepo) {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("butterfly.toml"), "").unwrap();
        let repo = OrgRepo::open(dir.path()).unwrap();
        (dir, repo)
    }

    #[test]
    fn the_first_backup_makes_a_key_that_later_runs_read() {
        let (_dir, repo) = repo();
        assert!(load(&repo, |_| None).unwrap().is_none());
        let (made, source) = load_or_make(&repo, |_| None).unwrap();
        assert!(matches!(source, Source::Made(_)));
        let (again, source) = load_or_make(&repo, |_| None).unwrap();
        assert_eq!(again.to_hex(), made.to_hex());
        assert!(matches!(source, Source::File(_)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path(&repo)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }

    #[test]
    fn the_environment_wins_and_a_bad_value_is_named() {
        let (_dir, repo) = repo();
        let hex = "ab".repeat(32);
        let (key, source) = load_or_make(&repo, |_| Some(hex.clone())).unwrap();
        assert_eq!((key.to_hex(), source), (hex, Source::Env));
        let error = load(&repo, |_| Some("xyz".into())).unwrap_err().to_string();
        assert!(error.starts_with(ENV), "{error}");
        assert!(!path(&repo).exists(), "nothing stored");
    }

    #[test]
    fn import_refuses_to_replace_another_key() {
        let (_dir, repo) = repo();
        let key = FingerprintKey::generate().unwrap();
        import(&repo, &key).unwrap();
        import(&repo, &key).unwrap();
        let other = FingerprintKey::generate().unwrap();
        assert!(matches!(
            import(&repo, &other),
            Err(KeyError::Different { .. })
        ));
    }
}
