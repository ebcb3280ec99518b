//! Ctrl-C (SIGINT) and SIGTERM: the handler only raises a flag; the suite checks it between
//! repeats and configurations, finishes writing the file it is on, and exits cleanly, so no
//! measured row is lost.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once per process; later calls are no-ops).
pub fn install() -> anyhow::Result<()> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        result = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C means the user does not want to wait for the current run.
                std::process::exit(130);
            }
            eprintln!("\ninterrupted: finishing the current file, then stopping (Ctrl-C again to abort)");
        });
    });
    result.map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
}

/// Whether a stop was requested.
#[must_use]
pub fn requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Error returned by a run that was cut short by a stop request (not a failure of the framework).
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;
