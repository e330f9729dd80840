//! Turning a run's output lines into progress notifications at a rate a client can take.
//!
//! A chatty command prints far more lines than anyone wants as notifications. The throttle
//! sends at most one every [`MIN_INTERVAL`] (20 a second): the first line at once, then the
//! latest line each time the interval has passed, and, when the run ends, the last line if it
//! was not sent yet. The progress value is the number of lines seen so far (stdout and stderr
//! together), so it rises with every notification; there is no total.

use std::time::{Duration, Instant};

use crate::capture::LineBatch;

/// The shortest time between two notifications.
pub const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// Where a notification goes: (lines so far, the line to show).
pub type Report<'a> = &'a dyn Fn(u64, &str);

/// Rate-limits line notifications (see the module docs).
pub struct Throttle<'a> {
    report: Report<'a>,
    lines: u64,
    pending: Option<String>,
    last_sent: Option<Instant>,
}

impl<'a> Throttle<'a> {
    /// A throttle sending to `report`.
    pub fn new(report: Report<'a>) -> Self {
        Self {
            report,
            lines: 0,
            pending: None,
            last_sent: None,
        }
    }

    /// Lines arrived; `prefix` marks their stream (empty for stdout).
    pub fn lines(&mut self, batch: LineBatch, prefix: &str) {
        self.lines += batch.count;
        if let Some(line) = batch.last {
            self.pending = Some(format!("{prefix}{line}"));
        }
        self.tick();
    }

    /// Send the latest line if the interval has passed since the last notification.
    pub fn tick(&mut self) {
        if self.last_sent.is_some_and(|at| at.elapsed() < MIN_INTERVAL) {
            return;
        }
        self.flush();
    }

    /// Send the latest line now, if there is one not sent yet.
    pub fn flush(&mut self) {
        if let Some(line) = self.pending.take() {
            (self.report)(self.lines, &line);
            self.last_sent = Some(Instant::now());
        }
    }

    /// How many lines were seen.
    pub fn count(&self) -> u64 {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn batch(count: u64, last: &str) -> LineBatch {
        LineBatch {
            count,
            last: Some(last.to_string()),
        }
    }

    #[test]
    fn first_at_once_then_at_most_one_per_interval_and_always_the_last() {
        let sent = RefCell::new(Vec::new());
        let report = |n: u64, line: &str| sent.borrow_mut().push((n, line.to_string()));
        let mut throttle = Throttle::new(&report);
        throttle.lines(batch(1, "one"), "");
        throttle.lines(batch(2, "three"), "");
        throttle.lines(batch(1, "oops"), "stderr: ");
        throttle.tick();
        assert_eq!(*sent.borrow(), vec![(1, "one".to_string())]);
        throttle.flush();
        throttle.flush();
        assert_eq!(
            *sent.borrow(),
            vec![(1, "one".to_string()), (4, "stderr: oops".to_string())]
        );
        assert_eq!(throttle.count(), 4);
    }
}
