//! PostgreSQL's binary `numeric` format, read to and written from a decimal string, so a
//! value of any precision crosses the plugin without passing through a float or a
//! fixed-width decimal (PostgreSQL allows 131072 digits before the point and 16383 after).
//!
//! The wire form: `ndigits`, `weight`, `sign`, `dscale` (each 16 bits), then `ndigits`
//! base-10000 digits, the first worth `10000^weight`.

use std::fmt;

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const PLUS_INFINITY: u16 = 0xD000;
const MINUS_INFINITY: u16 = 0xF000;
/// The largest display scale the format can carry.
const MAX_SCALE: usize = 0x3FFF;

/// Why bytes or a string are not a numeric.
#[derive(Debug)]
pub struct NumericError(pub String);

impl fmt::Display for NumericError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NumericError {}

/// The decimal string of a binary numeric: `-12.50` keeps its scale, `NaN`, `Infinity`.
pub fn decode(raw: &[u8]) -> Result<String, NumericError> {
    let short = || NumericError("a numeric value from the server is truncated".into());
    let word = |i: usize| -> Result<u16, NumericError> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(short)
    };
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i16 as i64;
    let sign = word(2)?;
    let dscale = word(3)? as usize;
    match sign {
        NAN => return Ok("NaN".into()),
        PLUS_INFINITY => return Ok("Infinity".into()),
        MINUS_INFINITY => return Ok("-Infinity".into()),
        POSITIVE | NEGATIVE => {}
        other => return Err(NumericError(format!("unknown numeric sign {other:#x}"))),
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<_, _>>()?;
    let digit = |index: i64| -> u16 {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == NEGATIVE {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        out.push_str(&digit(0).to_string());
        for i in 1..=weight {
            out.push_str(&format!("{:04}", digit(i)));
        }
    }
    if dscale > 0 {
        let mut fraction = String::with_capacity(dscale + 4);
        let mut index = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit(index)));
            index += 1;
        }
        fraction.truncate(dscale);
        out.push('.');
        out.push_str(&fraction);
    }
    Ok(out)
}

/// The binary numeric of a decimal string (`-12.50`, `0.001`, `NaN`, `Infinity`); no
/// exponent, no spaces, no separators.
pub fn encode(text: &str) -> Result<Vec<u8>, NumericError> {
    let special = match text {
        "NaN" => Some(NAN),
        "Infinity" => Some(PLUS_INFINITY),
        "-Infinity" => Some(MINUS_INFINITY),
        _ => None,
    };
    if let Some(sign) = special {
        return Ok(words(&[0, 0, sign, 0]));
    }
    let invalid = || {
        NumericError(
            "not a decimal number (digits with an optional sign and point, e.g. \"-12.50\")".into(),
        )
    };
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid());
    }
    if fraction.len() > MAX_SCALE {
        return Err(NumericError(format!(
            "more than {MAX_SCALE} digits after the point"
        )));
    }
    let whole = whole.trim_start_matches('0');
    // Whole digits padded on the left and fraction digits on the right to groups of four.
    let left_pad = (4 - whole.len() % 4) % 4;
    let right_pad = (4 - fraction.len() % 4) % 4;
    let padded: String = "0".repeat(left_pad) + whole + fraction + &"0".repeat(right_pad);
    let mut groups: Vec<u16> = padded
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
        .collect();
    let mut weight = (left_pad + whole.len()) as i64 / 4 - 1;
    // Leading zero groups lower the weight; trailing ones are implied by it.
    let leading = groups.iter().take_while(|&&g| g == 0).count();
    groups.drain(..leading);
    weight -= leading as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let weight = i16::try_from(weight)
        .map_err(|_| NumericError("the number is too large for PostgreSQL's numeric".into()))?;
    let ndigits = u16::try_from(groups.len())
        .map_err(|_| NumericError("the number has too many digits".into()))?;
    let sign = if negative && !groups.is_empty() {
        NEGATIVE
    } else {
        POSITIVE
    };
    let mut header = vec![ndigits, weight as u16, sign, fraction.len() as u16];
    header.extend(groups);
    Ok(words(&header))
}

fn words(words: &[u16]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn decimals_survive_the_round_trip_digit_for_digit() {
        let huge = format!("{}.{}", "9".repeat(1000), "1".repeat(500));
        for text in [
            "0",
            "1",
            "-1",
            "12.50",
            "-0.001",
            "10000",
            "123456789.000000001",
            "0.00",
            "NaN",
            "Infinity",
            "-Infinity",
            &huge,
        ] {
            assert_eq!(decode(&encode(text).unwrap()).unwrap(), text);
        }
        assert_eq!(decode(&encode("007.10").unwrap()).unwrap(), "7.10");
        assert_eq!(decode(&encode("-0").unwrap()).unwrap(), "0");
        assert_eq!(decode(&encode(".5").unwrap()).unwrap(), "0.5");
    }

    #[test]
    fn what_is_not_a_decimal_is_refused() {
        for text in [
            "", "-", ".", "1e5", "1,5", " 1", "1 ", "0x10", "1.2.3", "١٢", "1'; drop",
        ] {
            assert!(encode(text).is_err(), "{text:?} was accepted");
        }
        assert!(decode(&[0, 1]).is_err());
    }
}
