//! Shared helpers of the integration tests: where `../shared` is, and how a test that needs
//! something missing skips — loudly, and never in CI, where `BUTTERFLY_REQUIRE_ALL=1` turns
//! every skip into a failure.

use std::path::{Path, PathBuf};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the project (or `BUTTERFLY_SHARED_DIR`).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("BUTTERFLY_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("..").join("shared"))
}

/// Returns `Some(path)` when `path` exists. Otherwise prints why the test skips and returns
/// `None`, or panics when `BUTTERFLY_REQUIRE_ALL` is set (CI sets it).
pub fn require_file(path: &Path, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    let message = format!("SKIPPED: {what} is missing at {}", path.display());
    if std::env::var_os("BUTTERFLY_REQUIRE_ALL").is_some_and(|v| v != "0" && !v.is_empty()) {
        panic!("{message} (BUTTERFLY_REQUIRE_ALL is set, so a skip is a failure)");
    }
    eprintln!("{message}");
    None
}
