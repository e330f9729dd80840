//! Durations in the configuration: a number of seconds (`30`, `0.5`) or a string with a unit
//! (`"500ms"`, `"30s"`, `"2m"`), because both are what people write in YAML.

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
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 * 365.0 {
        return Err(E::custom(format!(
            "{secs} is not a usable duration: give a positive number of seconds"
        )));
    }
    Ok(Seconds(Duration::from_secs_f64(secs)))
}

/// Parse `"500ms"`, `"30s"`, `"2m"`, `"1h"` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Some(number * factor)
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Seconds;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a duration: seconds as a number, or a string like \"500ms\", \"30s\", \"2m\"",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                from_seconds(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                from_seconds(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                from_seconds(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                match parse_duration(v) {
                    Some(secs) => from_seconds(secs),
                    None => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("30s"), Some(30.0));
        assert_eq!(parse_duration("2m"), Some(120.0));
        assert_eq!(parse_duration("1.5"), Some(1.5));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
    }
}
