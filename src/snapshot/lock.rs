//! The snapshot lock: one writer of an org repository's snapshot branch at a time. A lock file
//! in the repository's common git dir (`butterfly/snapshot.lock`), created with `create_new`,
//! holds its holder's pid, host, start time (RFC 3339) and run id; a second run refuses naming
//! them, or with [`Wait`] polls until the lock is free. A lock whose holder is gone (a run
//! killed with `kill -9`) is taken over with a warning: on Linux the holder is alive while
//! `/proc/<pid>` exists and its process start time is the one recorded (so a reused pid does
//! not keep a dead lock); elsewhere on Unix `kill(pid, 0)` says; a holder on another host, or
//! on a system with neither, is always taken as alive (remove the file by hand if that host is
//! gone). A lock file that is still empty or unreadable is waited for while it is younger than
//! five seconds (its writer may be between creating and writing it), then taken over. The lock
//! is released on drop.
//!
//! It knows nothing of git: it guards a path.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// How often a waiting run looks at the lock again.
const POLL: Duration = Duration::from_millis(200);

/// A lock file that cannot be parsed is one whose writer died between creating and writing
/// it (microseconds apart), unless it is younger than this: then its writer may still be at it.
const UNREADABLE_GRACE: Duration = Duration::from_secs(5);

/// What to do when another live run holds the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Refuse at once ([`LockError::Held`]).
    No,
    /// Poll until the lock is free, at most this long ([`LockError::TimedOut`]).
    For(Duration),
    /// Poll until the lock is free, however long that takes.
    Forever,
}

/// Who holds a lock: the content of the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// The host name, so a lock on a shared file system is never judged by another host's pids.
    pub host: String,
    /// When the lock was taken, RFC 3339 in UTC.
    pub started: String,
    pub run_id: String,
    /// The holder's process start time as the kernel counts it (Linux: field 22 of
    /// `/proc/<pid>/stat`), to tell the holder from a later process given the same pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<u64>,
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{path}: another run holds the snapshot lock: pid {} on {}, started {}, run {}; wait for it to finish{}",
        .holder.pid, .holder.host, .holder.started, .holder.run_id, remedy(.holder)
    )]
    Held { path: PathBuf, holder: Box<Holder> },
    #[error(
        "{path}: waited {waited:?} for the snapshot lock, still held by pid {} on {}, started {}, run {}",
        .holder.pid, .holder.host, .holder.started, .holder.run_id
    )]
    TimedOut {
        path: PathBuf,
        holder: Box<Holder>,
        waited: Duration,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn remedy(holder: &Holder) -> String {
    if holder.host == host_name() {
        String::new()
    } else {
        " (it runs on another host, so whether it is alive cannot be checked from here: remove the file if that run is gone)".to_string()
    }
}

/// A held lock; dropping it removes the lock file (if it is still this holder's).
#[derive(Debug)]
pub struct SnapshotLock {
    path: PathBuf,
    holder: Holder,
    took_over: Option<Holder>,
}

impl SnapshotLock {
    /// Takes the lock at `path` (its folder is created) for the run `run_id`.
    pub fn acquire(path: &Path, run_id: &str, wait: Wait) -> Result<SnapshotLock, LockError> {
        let io_error = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(io_error)?;
        }
        let ours = Holder {
            pid: std::process::id(),
            host: host_name(),
            started: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            run_id: run_id.to_string(),
            process_start: process_start(std::process::id()),
        };
        let text = serde_json::to_string(&ours).map_err(|e| io_error(io::Error::other(e)))?;
        let begun = Instant::now();
        let mut took_over = None;
        let mut announced = false;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut file) => {
                    file.write_all(text.as_bytes())
                        .and_then(|()| file.write_all(b"\n"))
                        .map_err(io_error)?;
                    return Ok(SnapshotLock {
                        path: path.to_path_buf(),
                        holder: ours,
                        took_over,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(e)),
            }
            match read_holder(path).map_err(io_error)? {
                // Released between our attempt and our look: try again at once.
                Current::Gone => continue,
                Current::Unreadable { old_enough: true } => {
                    tracing::warn!(lock = %path.display(), "taking over an empty or unreadable snapshot lock left by a run that died while writing it");
                    if remove_if_unchanged(path, None).map_err(io_error)? {
                        continue;
                    }
                }
                // Its writer may be between creating and writing it: look again shortly,
                // whatever `wait` says (it is taken over once old enough).
                Current::Unreadable { old_enough: false } => {}
                Current::Held(holder) => {
                    if liveness(&holder) == Liveness::Gone {
                        tracing::warn!(
                            lock = %path.display(),
                            pid = holder.pid,
                            started = %holder.started,
                            run = %holder.run_id,
                            "taking over the snapshot lock of a run that is gone"
                        );
                        if remove_if_unchanged(path, Some(&holder)).map_err(io_error)? {
                            took_over = Some(holder);
                        }
                        continue;
                    }
                    let waited = begun.elapsed();
                    match wait {
                        Wait::No => {
                            return Err(LockError::Held {
                                path: path.to_path_buf(),
                                holder: Box::new(holder),
                            });
                        }
                        Wait::For(limit) if waited >= limit => {
                            return Err(LockError::TimedOut {
                                path: path.to_path_buf(),
                                holder: Box::new(holder),
                                waited,
                            });
                        }
                        Wait::For(_) | Wait::Forever => {
                            if !announced {
                                tracing::info!(
                                    lock = %path.display(),
                                    pid = holder.pid,
                                    started = %holder.started,
                                    run = %holder.run_id,
                                    "waiting for another run to release the snapshot lock"
                                );
                                announced = true;
                            }
                        }
                    }
                }
            }
            thread::sleep(POLL);
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// The holder of a stale lock this one replaced (also logged as a warning when it happened).
    pub fn took_over(&self) -> Option<&Holder> {
        self.took_over.as_ref()
    }
}

impl Drop for SnapshotLock {
    fn drop(&mut self) {
        match remove_if_unchanged(&self.path, Some(&self.holder)) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(lock = %self.path.display(), "the snapshot lock was no longer ours when released; left as it is")
            }
            Err(e) => {
                tracing::warn!(lock = %self.path.display(), error = %e, "could not remove the snapshot lock")
            }
        }
    }
}

enum Current {
    Gone,
    Unreadable { old_enough: bool },
    Held(Holder),
}

fn read_holder(path: &Path) -> io::Result<Current> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Current::Gone),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => String::new(),
        Err(e) => return Err(e),
    };
    match serde_json::from_str::<Holder>(&text) {
        Ok(holder) => Ok(Current::Held(holder)),
        Err(_) => {
            let modified = match fs::metadata(path).and_then(|m| m.modified()) {
                Ok(modified) => modified,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Current::Gone),
                Err(e) => return Err(e),
            };
            let age = SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default();
            Ok(Current::Unreadable {
                old_enough: age >= UNREADABLE_GRACE,
            })
        }
    }
}

/// Removes the lock file if it still holds `expected` (`None`: if it is still unreadable).
/// Taking over is a rename to a name of our own first, so of two runs taking over the same
/// stale lock only one removes it; if what we renamed turns out to be a fresh lock (another
/// run took over and locked in between), it is linked back, which fails only if a third run
/// locked meanwhile.
fn remove_if_unchanged(path: &Path, expected: Option<&Holder>) -> io::Result<bool> {
    let aside = path.with_extension(format!("lock.{}", std::process::id()));
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    }
    let text = fs::read_to_string(&aside).unwrap_or_default();
    let found = serde_json::from_str::<Holder>(&text).ok();
    if found.as_ref() == expected {
        fs::remove_file(&aside)?;
        return Ok(true);
    }
    let restored = fs::hard_link(&aside, path);
    fs::remove_file(&aside)?;
    match restored {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Liveness {
    Alive,
    Gone,
    /// Cannot be told from here: treated as alive.
    Unknown,
}

fn liveness(holder: &Holder) -> Liveness {
    if holder.host != host_name() {
        return Liveness::Unknown;
    }
    process_liveness(holder.pid, holder.process_start)
}

#[cfg(target_os = "linux")]
fn process_liveness(pid: u32, recorded_start: Option<u64>) -> Liveness {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Liveness::Gone,
        Err(_) => Liveness::Unknown,
        Ok(stat) => match (recorded_start, parse_start(&stat)) {
            (Some(recorded), Some(now)) if recorded != now => Liveness::Gone,
            _ => Liveness::Alive,
        },
    }
}

#[cfg(all(unix, not(target_os = "linux")))]
fn process_liveness(pid: u32, _recorded_start: Option<u64>) -> Liveness {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return Liveness::Unknown;
    };
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return Liveness::Alive;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Liveness::Gone,
        // EPERM: it exists, owned by someone else.
        _ => Liveness::Alive,
    }
}

#[cfg(not(unix))]
fn process_liveness(_pid: u32, _recorded_start: Option<u64>) -> Liveness {
    Liveness::Unknown
}

/// The start time of a process, where the system tells it (Linux).
fn process_start(pid: u32) -> Option<u64> {
    if cfg!(target_os = "linux") {
        parse_start(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    } else {
        None
    }
}

/// Field 22 (`starttime`) of `/proc/<pid>/stat`; the command name (field 2) may hold spaces
/// and parentheses, so fields are counted after its closing parenthesis.
fn parse_start(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buffer = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
        if unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0 {
            let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
            return String::from_utf8_lossy(&buffer[..end]).into_owned();
        }
        String::new()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_default()
    }
}

/// Only for tests elsewhere in the crate: writes a lock file as a given holder would.
#[cfg(test)]
pub(crate) fn write_lock_file(path: &Path, holder: &Holder) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = fs::File::create(path).unwrap();
    writeln!(file, "{}", serde_json::to_string(holder).unwrap()).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("butterfly").join("snapshot.lock")
    }

    fn holder(pid: u32, process_start: Option<u64>) -> Holder {
        Holder {
            pid,
            host: host_name(),
            started: "2026-01-02T03:04:05Z".to_string(),
            run_id: "run-other".to_string(),
            process_start,
        }
    }

    /// A pid that is not running: a child that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_second_lock_refuses_naming_the_holder_and_the_first_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir);
        let first = SnapshotLock::acquire(&path, "run-1", Wait::No).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let stored: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(stored, *first.holder());
        assert_eq!(stored.pid, std::process::id());
        assert!(chrono::DateTime::parse_from_rfc3339(&stored.started).is_ok());

        let err = SnapshotLock::acquire(&path, "run-2", Wait::No).unwrap_err();
        let message = err.to_string();
        assert!(matches!(&err, LockError::Held { holder, .. } if holder.run_id == "run-1"));
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains(&stored.started), "{message}");
        assert!(message.contains("snapshot.lock"), "{message}");

        drop(first);
        assert!(!path.exists());
        let again = SnapshotLock::acquire(&path, "run-2", Wait::No).unwrap();
        assert_eq!(again.holder().run_id, "run-2");
        assert!(again.took_over().is_none());
    }

    #[test]
    fn waiting_times_out_naming_the_holder_or_gets_the_lock_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir);
        let first = SnapshotLock::acquire(&path, "run-1", Wait::No).unwrap();
        let err = SnapshotLock::acquire(&path, "run-2", Wait::For(Duration::from_millis(300)))
            .unwrap_err();
        assert!(
            matches!(&err, LockError::TimedOut { holder, waited, .. } if holder.run_id == "run-1" && *waited >= Duration::from_millis(300)),
            "{err}"
        );

        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let second = SnapshotLock::acquire(&path, "run-2", Wait::Forever).unwrap();
        releaser.join().unwrap();
        assert_eq!(second.holder().run_id, "run-2");
    }

    #[test]
    fn a_lock_whose_holder_is_gone_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir);
        let stale = holder(dead_pid(), None);
        write_lock_file(&path, &stale);
        let lock = SnapshotLock::acquire(&path, "run-2", Wait::No).unwrap();
        assert_eq!(lock.took_over(), Some(&stale));
        assert_eq!(lock.holder().run_id, "run-2");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_reused_pid_does_not_keep_a_dead_lock() {
        // Our own pid is alive, but with another start time it is another process.
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir);
        let ours = process_start(std::process::id()).unwrap();
        let stale = holder(std::process::id(), Some(ours + 1));
        write_lock_file(&path, &stale);
        let lock = SnapshotLock::acquire(&path, "run-2", Wait::No).unwrap();
        assert_eq!(lock.took_over(), Some(&stale));

        drop(lock);
        let live = holder(std::process::id(), Some(ours));
        write_lock_file(&path, &live);
        let err = SnapshotLock::acquire(&path, "run-3", Wait::No).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err}");
    }

    #[test]
    fn a_holder_on_another_host_is_never_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir);
        let mut remote = holder(dead_pid(), None);
        remote.host = format!("{}-elsewhere", host_name());
        write_lock_file(&path, &remote);
        let err = SnapshotLock::acquire(&path, "run-2", Wait::No).unwrap_err();
        assert!(err.to_string().contains("another host"), "{err}");
    }

    #[test]
    fn an_unreadable_lock_is_stale_only_once_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::File::create(&path).unwrap();
        // Fresh: its writer may still be writing it.
        assert!(matches!(
            read_holder(&path).unwrap(),
            Current::Unreadable { old_enough: false }
        ));
        let old = SystemTime::now() - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let lock = SnapshotLock::acquire(&path, "run-2", Wait::No).unwrap();
        assert_eq!(lock.holder().run_id, "run-2");
    }

    #[test]
    fn drop_leaves_a_lock_that_is_no_longer_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = lock_path(&dir);
        let lock = SnapshotLock::acquire(&path, "run-1", Wait::No).unwrap();
        let other = holder(std::process::id(), None);
        write_lock_file(&path, &other);
        drop(lock);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(serde_json::from_str::<Holder>(&text).unwrap(), other);
    }

    #[test]
    fn start_time_is_read_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20";
        assert_eq!(parse_start(stat), Some(987654));
    }
}
