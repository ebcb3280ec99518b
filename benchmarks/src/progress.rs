//! Progress reporting: an indicatif bar over the configurations of a run when stderr is a
//! terminal, plain lines otherwise (logs, CI, the integration tests).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress of one suite run.
pub struct Progress {
    bar: ProgressBar,
    interactive: bool,
}

impl Progress {
    /// A bar over `total` configurations.
    #[must_use]
    pub fn new(total: u64) -> Self {
        let interactive = std::io::stderr().is_terminal();
        let bar =
            if interactive { ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} (eta {eta}) {wide_msg}")
                .expect("the template is valid"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar, interactive }
    }

    /// A progress reporter that only prints lines (for set-up steps outside a suite).
    #[must_use]
    pub fn lines_only() -> Self {
        Self { bar: ProgressBar::hidden(), interactive: false }
    }

    /// Shows what is running now.
    pub fn set_message(&self, message: impl Into<String>) {
        let message = message.into();
        if self.interactive {
            self.bar.set_message(message);
        }
    }

    /// Prints a line above the bar (or to stderr when there is no bar).
    pub fn println(&self, line: impl AsRef<str>) {
        if self.interactive {
            self.bar.println(line.as_ref());
        } else {
            eprintln!("{}", line.as_ref());
        }
    }

    /// One configuration finished.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
