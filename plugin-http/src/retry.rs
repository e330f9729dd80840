//! When a request is tried again, and after how long: the statuses and failures that mean
//! "later", `Retry-After` read in both of its forms, and an exponential backoff between tries.
//!
//! A `429` means the server did not take the request, so any method is tried again. A `503`,
//! `502` or `504`, or a connection that failed, is tried again only for a request that may be
//! repeated (GET, HEAD, PUT, DELETE, OPTIONS, or one marked so), unless a `503` says when with
//! `Retry-After`, which is the server saying it did nothing. Everything else is the caller's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How hard a client tries.
#[derive(Clone, Debug)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The wait after the first failure without a `Retry-After`; doubled after each.
    pub first_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
    /// The most a request waits in all; a `Retry-After` beyond what is left is not waited for
    /// (the answer is returned, and says when to come back).
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_wait: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// No second try.
    pub fn never() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff after failure number `failure` (1 for the first), capped at `max_delay`.
    pub fn backoff(&self, failure: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failure.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// Whether a response with `status` may be tried again, for a request that may (`repeatable`)
/// or may not be repeated, given whether the server said when (`Retry-After`).
pub fn retryable_status(status: u16, repeatable: bool, said_when: bool) -> bool {
    match status {
        429 => true,
        503 => repeatable || said_when,
        502 | 504 => repeatable,
        _ => false,
    }
}

/// What a `Retry-After` value asks for, seen at `now`: a number of seconds, or an HTTP date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`; a date already past means at once). `None` when it is
/// neither.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// Seconds since the Unix epoch of an IMF-fixdate (RFC 9110 §5.6.7), the form servers send.
fn http_date(value: &str) -> Option<u64> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let (_, rest) = value.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(str::parse::<u64>);
    let (hour, minute, second) = (
        clock.next()?.ok()?,
        clock.next()?.ok()?,
        clock.next()?.ok()?,
    );
    if parts.next()? != "GMT" || parts.next().is_some() || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// algorithm); `None` before 1970.
fn days_from_civil(year: i64, month: i64, day: u64) -> Option<u64> {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + i64::try_from(day).ok()? - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    u64::try_from(era * 146_097 + day_of_era - 719_468).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date past means at once"
        );
        assert_eq!(
            retry_after("Thu, 01 Jan 1970 00:00:00 GMT", UNIX_EPOCH),
            Some(Duration::ZERO)
        );
        assert_eq!(
            http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(1_835_481_599),
            "a leap day"
        );
        for bad in [
            "",
            "-5",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn which_statuses_are_tried_again() {
        assert!(
            retryable_status(429, false, false),
            "throttled: never taken"
        );
        assert!(retryable_status(503, true, false));
        assert!(
            !retryable_status(503, false, false),
            "a POST that may have run"
        );
        assert!(retryable_status(503, false, true), "the server said when");
        assert!(retryable_status(502, true, false));
        assert!(!retryable_status(504, false, true));
        for status in [200, 400, 401, 403, 404, 409, 500] {
            assert!(!retryable_status(status, true, true), "{status}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let retry = Retry {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..Retry::default()
        };
        let waits: Vec<u128> = (1..=5).map(|n| retry.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350, 350]);
        assert_eq!(
            retry.backoff(200),
            Duration::from_millis(350),
            "no overflow"
        );
    }
}
