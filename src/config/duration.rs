//! Durations in the configuration: a number of seconds (`30`, `0.5`) or a string with a unit
//! (`"500ms"`, `"30s"`, `"2m"`), because both are what people write in YAML. [`Seconds`] must
//! be positive; a [`Pause`] may be `0`, which turns its setting off.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// A duration read from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(Duration);

impl Seconds {
    /// Whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// Milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Duration> for Seconds {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

fn from_seconds<E: de::Error>(secs: f64) -> Result<Seconds, E> {
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 * 3650.0 {
        return Err(E::custom(format!(
            "{secs} is not a usable duration: give a positive number of seconds"
        )));
    }
    Ok(Seconds(Duration::from_secs_f64(secs)))
}

/// Parse `"100us"`, `"500ms"`, `"30s"`, `"2m"`, `"1h"`, `"90d"` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" => 1.0,
        "us" | "µs" => 0.000_001,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return None,
    };
    Some(number * factor)
}

/// A duration that may be zero, for settings where `0` turns something off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pause(Duration);

impl Pause {
    /// Microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self(Duration::from_micros(micros))
    }

    /// The duration (zero: off).
    pub fn get(self) -> Duration {
        self.0
    }
}

/// Reads a duration as a number of seconds, before any range check.
struct SecondsVisitor;

impl de::Visitor<'_> for SecondsVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a duration: seconds as a number, or a string like \"500ms\", \"30s\", \"2m\"")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        parse_duration(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_seconds(deserializer.deserialize_any(SecondsVisitor)?)
    }
}

impl<'de> Deserialize<'de> for Pause {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let secs = deserializer.deserialize_any(SecondsVisitor)?;
        if secs == 0.0 {
            return Ok(Self(Duration::ZERO));
        }
        from_seconds(secs).map(|s| Self(s.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("250us"), Some(0.000_25));
        assert_eq!(parse_duration("30s"), Some(30.0));
        assert_eq!(parse_duration("2m"), Some(120.0));
        assert_eq!(parse_duration("1.5"), Some(1.5));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }
}
