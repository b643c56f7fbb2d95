//! The System Log events behind a snapshot's changes (DESIGN.md): read for the time since the
//! previous backup, saved in the commit that holds their changes as
//! `.butterfly/changes/<time>.json`, so "who changed what" works later without credentials.
//! A backup that changes nothing makes no commit: its events wait in the git folder
//! (`butterfly/pending-changes.json`) for the next commit that does. How far the log has been
//! read is kept there too (`butterfly/changes-until`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::snapshot::repo::OrgRepo;

/// The folder of the changes files in a snapshot.
pub const DIR: &str = ".butterfly/changes";

/// Where the state lives.
pub struct ChangeLog {
    dir: PathBuf,
}

/// The change log's state cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct ChangeLogError {
    pub path: PathBuf,
    pub problem: String,
}

impl ChangeLog {
    pub fn of(repo: &OrgRepo) -> ChangeLog {
        ChangeLog {
            dir: repo.git().commondir().join("butterfly"),
        }
    }

    fn until_path(&self) -> PathBuf {
        self.dir.join("changes-until")
    }

    fn pending_path(&self) -> PathBuf {
        self.dir.join("pending-changes.json")
    }

    /// Up to when the log has been read.
    pub fn read_until(&self) -> Option<DateTime<Utc>> {
        let text = std::fs::read_to_string(self.until_path()).ok()?;
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Events read by backups that made no commit.
    pub fn pending(&self) -> Result<Vec<Value>, ChangeLogError> {
        let path = self.pending_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ChangeLogError {
                path,
                problem: format!("not the JSON array of events Butterfly wrote: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(ChangeLogError {
                path,
                problem: e.to_string(),
            }),
        }
    }

    /// Keeps `events` for the next commit (replacing what was pending: pass them all).
    pub fn keep_pending(&self, events: &[Value]) -> Result<(), ChangeLogError> {
        let text = serde_json::to_vec_pretty(events).map_err(|e| ChangeLogError {
            path: self.pending_path(),
            problem: e.to_string(),
        })?;
        write(&self.pending_path(), &text)
    }

    /// The pending events went into a commit.
    pub fn clear_pending(&self) -> Result<(), ChangeLogError> {
        match std::fs::remove_file(self.pending_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ChangeLogError {
                path: self.pending_path(),
                problem: e.to_string(),
            }),
        }
    }

    /// The log has been read up to `until`.
    pub fn advance(&self, until: DateTime<Utc>) -> Result<(), ChangeLogError> {
        write(&self.until_path(), until.to_rfc3339().as_bytes())
    }
}

/// The snapshot path of the changes file of a backup at `time`.
pub fn file_name(time: DateTime<Utc>) -> String {
    format!("{DIR}/{}.json", time.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// The changes file's text: the events, oldest first, without repeats.
pub fn file_text(mut events: Vec<Value>) -> Vec<u8> {
    events.sort_by(|a, b| {
        (a["published"].as_str(), a["uuid"].as_str())
            .cmp(&(b["published"].as_str(), b["uuid"].as_str()))
    });
    events.dedup_by(|a, b| a["uuid"] == b["uuid"] && !a["uuid"].is_null());
    let mut text = serde_json::to_vec_pretty(&events).unwrap_or_else(|_| b"[]".to_vec());
    text.push(b'\n');
    text
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ChangeLogError> {
    let error = |e: std::io::Error| ChangeLogError {
        path: path.to_path_buf(),
        problem: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).map_err(error)?;
    std::fs::rename(&temporary, path).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pending_events_and_the_cursor_survive_between_runs() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        std::fs::write(dir.path().join("butterfly.toml"), "").unwrap();
        let repo = OrgRepo::open(dir.path()).unwrap();
        let log = ChangeLog::of(&repo);
        assert_eq!(log.read_until(), None);
        assert!(log.pending().unwrap().is_empty());
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        log.advance(t).unwrap();
        assert_eq!(log.read_until(), Some(t));
        log.keep_pending(&[json!({"uuid": "a"})]).unwrap();
        assert_eq!(log.pending().unwrap(), vec![json!({"uuid": "a"})]);
        log.clear_pending().unwrap();
        assert!(log.pending().unwrap().is_empty());
        assert_eq!(file_name(t), ".butterfly/changes/20261123T100000.000Z.json");
    }

    #[test]
    fn the_file_is_ordered_without_repeats() {
        let text = file_text(vec![
            json!({"uuid": "b", "published": "2026-11-23T10:00:02.000Z"}),
            json!({"uuid": "a", "published": "2026-11-23T10:00:01.000Z"}),
            json!({"uuid": "b", "published": "2026-11-23T10:00:02.000Z"}),
        ]);
        let events: Vec<Value> = serde_json::from_slice(&text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["uuid"], "a");
    }
}
