//! What a command-line call reports on stderr while it runs: a progress bar for a long
//! request (`switchboard search` while the files index is first built: one line, redrawn in
//! place, cleared when the request ends, drawn only when stderr is a terminal), and the
//! notices a provider meant for the person (`note: …`, always).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::requester::LocalReport;

/// Columns of the bar itself.
const WIDTH: usize = 30;

/// Redraws at most this often.
const EVERY: Duration = Duration::from_millis(100);

/// The bar and the notices.
pub struct ProgressBar {
    terminal: bool,
    state: Mutex<State>,
}

struct State {
    drawn: Option<Instant>,
    shown: bool,
}

/// The line for `progress` of `total` with `message`, without the carriage return.
fn line(progress: f64, total: Option<f64>, message: Option<&str>) -> String {
    let message = message.unwrap_or("working");
    match total.filter(|t| *t > 0.0) {
        Some(total) => {
            let share = (progress / total).clamp(0.0, 1.0);
            let filled = (share * WIDTH as f64).round() as usize;
            format!(
                "{message} [{}{}] {:>3.0}%",
                "#".repeat(filled),
                " ".repeat(WIDTH - filled),
                share * 100.0
            )
        }
        None => format!("{message}: {progress:.0}"),
    }
}

impl ProgressBar {
    /// Reporting on stderr; the bar only when it is a terminal.
    pub fn on_stderr() -> Arc<Self> {
        Arc::new(Self {
            terminal: std::io::stderr().is_terminal(),
            state: Mutex::new(State {
                drawn: None,
                shown: false,
            }),
        })
    }

    /// Clear the bar's line, if anything was drawn.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.shown {
            let mut err = std::io::stderr().lock();
            // The terminal is gone or full: nothing to do about a progress bar.
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            state.shown = false;
        }
    }
}

impl LocalReport for ProgressBar {
    fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        if !self.terminal {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let done = total.is_some_and(|t| progress >= t);
        if !done && state.drawn.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        state.drawn = Some(Instant::now());
        state.shown = true;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{}", line(progress, total, message));
        let _ = err.flush();
    }

    fn notice(&self, text: &str) {
        self.finish();
        let _ = writeln!(std::io::stderr().lock(), "note: {text}");
    }
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn lines_show_the_share_done() {
        assert_eq!(
            line(50.0, Some(200.0), Some("indexing 200 files")),
            format!(
                "indexing 200 files [{}{}]  25%",
                "#".repeat(8),
                " ".repeat(22)
            )
        );
        assert!(line(300.0, Some(200.0), None).ends_with("100%"));
        assert_eq!(line(7.0, None, None), "working: 7");
        assert_eq!(line(1.0, Some(0.0), Some("x")), "x: 1");
    }
}
