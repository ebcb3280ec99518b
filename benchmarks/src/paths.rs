//! Where the repository lives, so that the binary finds `data/`, `comparisons/` and `julia/`
//! whichever directory it is started from.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the repository root (used by tests that run the binary on a
/// scratch copy of `data/` and `comparisons/`).
pub const ROOT_ENV: &str = "BENCHMARKS_ROOT";

/// The repository root: `$BENCHMARKS_ROOT` if set, else the nearest ancestor of the current
/// directory that holds `data/README.md` or `comparisons/PROTOCOL.md`, else the parent of this
/// crate's manifest directory (where it was compiled).
#[must_use]
pub fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os(ROOT_ENV) {
        return PathBuf::from(root);
    }
    if let Ok(cwd) = std::env::current_dir() {
        if let Some(found) = cwd.ancestors().find(|dir| is_repo_root(dir)) {
            return found.to_path_buf();
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn is_repo_root(dir: &Path) -> bool {
    dir.join("data/README.md").is_file() || dir.join("comparisons/PROTOCOL.md").is_file()
}

/// `<root>/data`: the standard data sets and the `benchmark_*` result folders.
#[must_use]
pub fn data_dir(root: &Path) -> PathBuf {
    root.join("data")
}

/// `<root>/comparisons`: the Python implementations, their manifests and virtualenvs.
#[must_use]
pub fn comparisons_dir(root: &Path) -> PathBuf {
    root.join("comparisons")
}

/// `<root>/figs`: generated figures (git-ignored).
#[must_use]
pub fn figs_dir(root: &Path) -> PathBuf {
    root.join("figs")
}
