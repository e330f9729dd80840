//! A result's cells typed by their column's `rowType`: the SQL API sends every cell as a
//! string (or `null`), in the forms its reference documents for `jsonv2`, and this turns
//! each into the JSON value it stands for. A cell that does not parse as its type stays the
//! string Snowflake sent, so nothing is lost.

use serde_json::{Number, Value};

use crate::wire::RowType;

/// The cell `raw` of a column of type `column`.
pub fn decode(column: &RowType, raw: Option<&str>) -> Value {
    let Some(raw) = raw else {
        return Value::Null;
    };
    let kind = column.kind.to_ascii_lowercase();
    let typed = match kind.as_str() {
        "fixed" if column.scale.unwrap_or(0) == 0 => integer(raw),
        "fixed" | "real" | "float" | "double" => float(raw),
        "boolean" => boolean(raw),
        "date" => raw
            .parse::<i64>()
            .ok()
            .map(|days| Value::String(date(days))),
        "time" => nanos(raw).map(|n| Value::String(time_of_day(n.rem_euclid(DAY_NANOS)))),
        "timestamp_ntz" => nanos(raw).map(|n| Value::String(timestamp(n, None))),
        "timestamp_ltz" => nanos(raw).map(|n| Value::String(timestamp(n, Some(0)))),
        "timestamp_tz" => timestamp_tz(raw),
        "variant" | "object" | "array" => serde_json::from_str(raw).ok(),
        _ => None,
    };
    typed.unwrap_or_else(|| Value::String(raw.to_string()))
}

/// An integer exactly: as a JSON number when it fits 64 bits, else the digits as a string.
fn integer(raw: &str) -> Option<Value> {
    if let Ok(n) = raw.parse::<i64>() {
        return Some(Value::Number(n.into()));
    }
    if let Ok(n) = raw.parse::<u64>() {
        return Some(Value::Number(n.into()));
    }
    raw.parse::<i128>()
        .ok()
        .map(|_| Value::String(raw.to_string()))
}

fn float(raw: &str) -> Option<Value> {
    raw.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

fn boolean(raw: &str) -> Option<Value> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(Value::Bool(true)),
        "false" | "0" => Some(Value::Bool(false)),
        _ => None,
    }
}

const NANOS: i128 = 1_000_000_000;
const DAY_NANOS: i128 = 86_400 * NANOS;

/// `"seconds.fraction"` (the fraction up to 9 digits, the sign in front) as nanoseconds.
fn nanos(raw: &str) -> Option<i128> {
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || fraction.len() > 9
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let fraction: i128 = format!("{fraction:0<9}").parse().ok()?;
    let total = whole.checked_mul(NANOS)?.checked_add(fraction)?;
    Some(if negative { -total } else { total })
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (Howard Hinnant's civil_from_days).
fn date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `HH:MM:SS[.fraction]` of nanoseconds since midnight, the fraction without trailing zeros.
fn time_of_day(nanos: i128) -> String {
    let seconds = nanos / NANOS;
    let fraction = nanos % NANOS;
    let clock = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction == 0 {
        clock
    } else {
        let digits = format!("{fraction:09}");
        format!("{clock}.{}", digits.trim_end_matches('0'))
    }
}

/// ISO 8601 of nanoseconds since the epoch, shifted by `offset` minutes and suffixed with it
/// when given (`Z` for zero), without a zone for `None` (a wall-clock `TIMESTAMP_NTZ`).
fn timestamp(nanos: i128, offset: Option<i64>) -> String {
    let local = nanos + i128::from(offset.unwrap_or(0)) * 60 * NANOS;
    let days = local.div_euclid(DAY_NANOS);
    let day = date(i64::try_from(days).unwrap_or(i64::MAX / 2));
    let clock = time_of_day(local.rem_euclid(DAY_NANOS));
    let zone = match offset {
        None => String::new(),
        Some(0) => "Z".to_string(),
        Some(minutes) => {
            let sign = if minutes < 0 { '-' } else { '+' };
            format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
        }
    };
    format!("{day}T{clock}{zone}")
}

/// `"seconds.fraction offset"`: the offset is minutes east of UTC plus 1440, as the SQL API
/// sends it.
fn timestamp_tz(raw: &str) -> Option<Value> {
    let (instant, offset) = raw.split_once(' ')?;
    let offset = offset.trim().parse::<i64>().ok()? - 1_440;
    if offset.abs() > 1_440 {
        return None;
    }
    Some(Value::String(timestamp(nanos(instant)?, Some(offset))))
}

/// A cell as the readable table shows it.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn column(kind: &str, scale: i64) -> RowType {
        RowType {
            name: "C".to_string(),
            kind: kind.to_string(),
            scale: Some(scale),
            precision: Some(38),
            nullable: Some(true),
        }
    }

    fn cell(kind: &str, scale: i64, raw: &str) -> Value {
        decode(&column(kind, scale), Some(raw))
    }

    #[test]
    fn numbers_keep_their_exact_value() {
        assert_eq!(cell("fixed", 0, "42"), json!(42));
        assert_eq!(cell("fixed", 0, "-9223372036854775808"), json!(i64::MIN));
        assert_eq!(cell("fixed", 0, "18446744073709551615"), json!(u64::MAX));
        let big = "99999999999999999999999999999999999999";
        assert_eq!(cell("fixed", 0, big), json!(big), "38 digits stay exact");
        assert_eq!(cell("FIXED", 2, "1234.50"), json!(1234.5));
        assert_eq!(cell("real", 0, "0.25"), json!(0.25));
        assert_eq!(
            cell("real", 0, "NaN"),
            json!("NaN"),
            "no JSON number for it"
        );
        assert_eq!(decode(&column("fixed", 0), None), Value::Null);
    }

    #[test]
    fn booleans_text_json_and_binary() {
        assert_eq!(cell("boolean", 0, "true"), json!(true));
        assert_eq!(cell("boolean", 0, "0"), json!(false));
        assert_eq!(cell("text", 0, "budget 2027"), json!("budget 2027"));
        assert_eq!(
            cell("variant", 0, "{\n  \"a\": [1, 2]\n}"),
            json!({"a": [1, 2]})
        );
        assert_eq!(cell("array", 0, "[\"x\"]"), json!(["x"]));
        assert_eq!(cell("object", 0, "not json"), json!("not json"));
        assert_eq!(cell("binary", 0, "48656c6c6f"), json!("48656c6c6f"));
    }

    #[test]
    fn dates_and_times_become_iso_8601() {
        assert_eq!(cell("date", 0, "0"), json!("1970-01-01"));
        assert_eq!(cell("date", 0, "20454"), json!("2026-01-01"));
        assert_eq!(cell("date", 0, "-1"), json!("1969-12-31"));
        assert_eq!(cell("date", 0, "19416"), json!("2023-02-28"));
        assert_eq!(cell("date", 0, "19782"), json!("2024-02-29"));
        assert_eq!(cell("time", 9, "45296.500000000"), json!("12:34:56.5"));
        assert_eq!(cell("time", 0, "0"), json!("00:00:00"));
        assert_eq!(
            cell("timestamp_ntz", 9, "1767225600.123456789"),
            json!("2026-01-01T00:00:00.123456789")
        );
        assert_eq!(
            cell("timestamp_ltz", 3, "1767225600.000"),
            json!("2026-01-01T00:00:00Z")
        );
        assert_eq!(
            cell("timestamp_ntz", 9, "-1.500000000"),
            json!("1969-12-31T23:59:58.5"),
            "before the epoch counts down"
        );
        assert_eq!(
            cell("timestamp_tz", 9, "1616173619.000000000 960"),
            json!("2021-03-19T09:06:59-08:00"),
            "960 = 1440 - 480 minutes"
        );
        assert_eq!(
            cell("timestamp_tz", 9, "1616173619.000000000 1500"),
            json!("2021-03-19T18:06:59+01:00")
        );
        assert_eq!(
            cell("timestamp_tz", 9, "1616173619.000000000 1440"),
            json!("2021-03-19T17:06:59Z")
        );
        assert_eq!(cell("timestamp_ntz", 9, "soon"), json!("soon"));
        assert_eq!(cell("timestamp_tz", 9, "12.5"), json!("12.5"));
    }
}
