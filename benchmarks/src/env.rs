//! Virtualenvs for the Python frameworks: `comparisons/.venv-<env>`, created from the pinned
//! `comparisons/<requirements>` on first use and reused afterwards (PROTOCOL.md).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::interrupt;
use crate::paths::comparisons_dir;
use crate::progress::Progress;

/// Virtualenvs that no benchmarked framework uses but the Python tests do, as (env,
/// requirements): `benchmarks setup` creates them. ArviZ checks that gen-runtime's CmdStan CSV
/// export reads back (comparisons/tests/test_arviz.py).
pub const TEST_ONLY_ENVS: &[(&str, &str)] = &[("arviz", "requirements-arviz.txt")];

/// `comparisons/.venv-<env>`.
#[must_use]
pub fn venv_dir(root: &Path, env: &str) -> PathBuf {
    comparisons_dir(root).join(format!(".venv-{env}"))
}

/// The interpreter of a virtualenv.
#[must_use]
pub fn venv_python(root: &Path, env: &str) -> PathBuf {
    venv_dir(root, env).join("bin").join("python")
}

/// Whether the virtualenv exists (its interpreter is there).
#[must_use]
pub fn venv_exists(root: &Path, env: &str) -> bool {
    venv_python(root, env).exists()
}

/// Where the output of creating `env` is logged (next to the env, git-ignored like it).
#[must_use]
pub fn install_log(root: &Path, env: &str) -> PathBuf {
    comparisons_dir(root).join(format!(".venv-{env}.install.log"))
}

/// Outcome of setting up each env in this process, so frameworks sharing an env try only once.
static ATTEMPTS: Mutex<Option<HashMap<PathBuf, Result<PathBuf, String>>>> = Mutex::new(None);

/// Returns the interpreter of `env`, creating the env first if it does not exist:
/// `<python> -m venv comparisons/.venv-<env>`, then
/// `comparisons/.venv-<env>/bin/pip install -r comparisons/<requirements>`.
///
/// On failure the half-made env is removed (so the next run tries again) and the error names the
/// step and ends with the tail of the log.
pub fn ensure_venv(root: &Path, env: &str, requirements: &str, python: &str, progress: &Progress) -> Result<PathBuf, String> {
    let dir = venv_dir(root, env);
    let mut attempts = ATTEMPTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let attempts = attempts.get_or_insert_with(HashMap::new);
    if let Some(previous) = attempts.get(&dir) {
        return previous.clone();
    }
    let outcome = if venv_exists(root, env) { Ok(venv_python(root, env)) } else { create(root, env, requirements, python, progress) };
    attempts.insert(dir, outcome.clone());
    outcome
}

fn create(root: &Path, env: &str, requirements: &str, python: &str, progress: &Progress) -> Result<PathBuf, String> {
    let dir = venv_dir(root, env);
    let requirements_path = comparisons_dir(root).join(requirements);
    if !requirements_path.is_file() {
        return Err(format!("requirements file {} not found", requirements_path.display()));
    }
    let log = install_log(root, env);
    progress.println(format!(
        "creating virtualenv {} and installing {} (first use; this can take minutes; log: {})",
        dir.display(),
        requirements_path.display(),
        log.display()
    ));
    progress.set_message(format!("pip install -r {requirements}"));
    let result = run_logged(Command::new(python).arg("-m").arg("venv").arg(&dir), &log, "python -m venv").and_then(|()| {
        run_logged(
            Command::new(dir.join("bin").join("pip")).args(["install", "--disable-pip-version-check", "-r"]).arg(&requirements_path),
            &log,
            "pip install",
        )
    });
    match result {
        Ok(()) => {
            progress.println(format!("virtualenv {} ready", dir.display()));
            Ok(venv_python(root, env))
        }
        Err(e) => {
            // Only this function created the directory, so removing it loses nothing of anyone's.
            let _ = fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Runs `cmd` with its output appended to `log`; the error says which step failed, with the
/// log's tail. Honours a stop request by killing the step.
fn run_logged(cmd: &mut Command, log: &Path, step: &str) -> Result<(), String> {
    let file = fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let err_file = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd.stdin(Stdio::null()).stdout(file).stderr(err_file).spawn().map_err(|e| format!("{step} could not start: {e}"))?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if interrupt::requested() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{step} interrupted"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if status.success() {
        Ok(())
    } else {
        let text = fs::read_to_string(log).unwrap_or_default();
        Err(format!("{step} failed ({status}): {}", tail(&text, 600)))
    }
}

/// The last `max` characters of `text`, on a character boundary, single-lined.
#[must_use]
pub fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    let start = text.char_indices().rev().nth(max.saturating_sub(1)).map_or(0, |(i, _)| i);
    let prefix = if start > 0 { "..." } else { "" };
    format!("{prefix}{}", text[start..].replace('\n', " | "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(super::tail("abc\ndef", 3), "...def");
        assert_eq!(super::tail("ab", 10), "ab");
    }
}
