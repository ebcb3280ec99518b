//! Helpers shared by the integration tests: the binary, scratch folders, a copy of data/.

#![allow(dead_code)] // Each test file uses its own subset.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `benchmarks` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_benchmarks"))
}

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate sits in the repository").to_path_buf()
}

/// A fresh, empty scratch folder unique to this test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("benchmarks-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// A scratch repository root holding a copy of the committed data sets (no comparisons/).
pub fn scratch_root(name: &str) -> PathBuf {
    let root = scratch(name);
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for entry in std::fs::read_dir(repo_root().join("data")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, data.join(path.file_name().unwrap())).unwrap();
        }
    }
    root
}

/// Removes a scratch folder once a test has passed (a failing test leaves it for inspection).
pub fn cleanup(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}
