//! Durations, sizes, rates and percentages written for humans: `"1m30s"`,
//! `"500ms"`, `"16MiB"`, `"100/s"`, `"20%"`.
//!
//! The same parsers serve the configuration file and the command line, so a
//! value means the same thing wherever it is typed. The serde newtypes at the
//! bottom let a TOML value be read through them, so a bad value is reported at
//! its own position.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

use super::values::RateLimit;

const DURATION_FORMS: &str = "a duration such as \"500ms\", \"30s\", \"2m\", \"1h\" or \"1m30s\" (units: ms, s, m, h)";
const RATE_FORMS: &str = "a rate such as \"100/s\", \"20/m\" or \"5/10s\" (<count>/<unit>: a whole number of at least 1, then s, m, h or a duration)";
const PERCENT_FORMS: &str = "a percentage such as \"20%\" (a whole number from 0 to 100, then %)";
const SIZE_FORMS: &str = "a size in bytes such as 1048576, or a string such as \"100B\", \"512KiB\", \"16MiB\" or \"1MB\" (units: B, KB, MB, GB, KiB, MiB, GiB)";

/// Parses a duration: one or more `<whole number><unit>` parts, units `ms`,
/// `s`, `m` and `h`, as in `"500ms"`, `"30s"`, `"2m"`, `"1h"`, `"1m30s"`.
/// A bare number is refused: its unit would be a guess.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let bad = |why: &str| Err(format!("invalid duration \"{s}\": {why}; expected {DURATION_FORMS}"));
    if text.is_empty() {
        return bad("it is empty");
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return bad("each part must start with a whole number");
        }
        let Ok(number) = rest[..digits].parse::<u64>() else {
            return bad("the number is too large");
        };
        rest = &rest[digits..];
        let unit_len = rest.len() - rest.trim_start_matches(|c: char| !c.is_ascii_digit()).len();
        let part = match &rest[..unit_len] {
            "ms" => Some(Duration::from_millis(number)),
            "s" => Some(Duration::from_secs(number)),
            "m" => number.checked_mul(60).map(Duration::from_secs),
            "h" => number.checked_mul(3600).map(Duration::from_secs),
            "" => return bad("a number has no unit"),
            other => return bad(&format!("unknown unit \"{other}\"")),
        };
        rest = &rest[unit_len..];
        match part.and_then(|part| total.checked_add(part)) {
            Some(sum) => total = sum,
            None => return bad("it is too large"),
        }
    }
    Ok(total)
}

/// Parses a size in bytes: a whole number with an optional unit, `B`, `KB`,
/// `MB`, `GB` (powers of 1000) or `KiB`, `MiB`, `GiB` (powers of 1024), as in
/// `"100B"`, `"512KiB"`, `"16MiB"`, `"1MB"`. Units ignore case; a space may
/// separate number and unit; a bare number is bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let text = s.trim();
    let bad = |why: &str| Err(format!("invalid size \"{s}\": {why}; expected {SIZE_FORMS}"));
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return bad("it must start with a whole number");
    }
    let Ok(number) = text[..digits].parse::<usize>() else {
        return bad("the number is too large");
    };
    let unit = text[digits..].trim_start();
    let multiplier: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return bad(&format!("unknown unit \"{unit}\"")),
    };
    match number.checked_mul(multiplier) {
        Some(bytes) => Ok(bytes),
        None => bad("it is too large"),
    }
}

/// Parses a rate, `<count>/<unit>`: `count` requests (a whole number of at
/// least 1) per `s`, `m`, `h` or a duration, as in `"100/s"`, `"20/m"`,
/// `"5/10s"`.
pub fn parse_rate(s: &str) -> Result<RateLimit, String> {
    let bad = |why: &str| Err(format!("invalid rate \"{s}\": {why}; expected {RATE_FORMS}"));
    let Some((count, unit)) = s.trim().split_once('/') else {
        return bad("it has no `/`");
    };
    let (count, unit) = (count.trim(), unit.trim());
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return bad("the count must be a whole number");
    }
    let count = match count.parse::<u32>() {
        Ok(0) => return bad("the count must be at least 1"),
        Ok(count) => count,
        Err(_) => return bad("the count is too large"),
    };
    let per = match unit {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "" => return bad("the unit is missing"),
        other => match parse_duration(other) {
            Ok(per) if per.is_zero() => return bad("the unit must be longer than zero"),
            Ok(per) => per,
            Err(_) => return bad(&format!("unknown unit \"{other}\"")),
        },
    };
    Ok(RateLimit { count, per })
}

/// Parses a percentage: a whole number from 0 to 100 followed by `%`, as in
/// `"20%"`. The `%` is required, so 20 and 0.2 cannot be confused.
pub fn parse_percent(s: &str) -> Result<u32, String> {
    let bad = |why: &str| Err(format!("invalid percentage \"{s}\": {why}; expected {PERCENT_FORMS}"));
    let Some(number) = s.trim().strip_suffix('%') else {
        return bad("it does not end with %");
    };
    let number = number.trim_end();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return bad("it must be a whole number");
    }
    match number.parse::<u32>() {
        Ok(n) if n <= 100 => Ok(n),
        _ => bad("it is over 100"),
    }
}

/// A [`Duration`] read from a TOML string through [`parse_duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DurationValue(pub Duration);

impl<'de> de::Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_FORMS)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DurationValue, E> {
                parse_duration(s).map(DurationValue).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A [`RateLimit`] read from a TOML string through [`parse_rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateValue(pub RateLimit);

impl<'de> de::Deserialize<'de> for RateValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RateValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(RATE_FORMS)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RateValue, E> {
                parse_rate(s).map(RateValue).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A percentage read from a TOML string through [`parse_percent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PercentValue(pub u32);

impl<'de> de::Deserialize<'de> for PercentValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PercentValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(PERCENT_FORMS)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PercentValue, E> {
                parse_percent(s).map(PercentValue).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A size read from a TOML integer (bytes) or string through [`parse_size`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SizeValue(pub usize);

impl<'de> de::Deserialize<'de> for SizeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SizeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SIZE_FORMS)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SizeValue, E> {
                parse_size(s).map(SizeValue).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<SizeValue, E> {
                usize::try_from(n).map(SizeValue).map_err(|_| E::custom(format!("size {n} is too large")))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<SizeValue, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!("size {n} is negative; expected {SIZE_FORMS}"))),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_form() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h2m3s4ms"), Ok(Duration::from_millis(3_723_004)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_say_what_was_expected() {
        for (bad, why) in [
            ("", "empty"),
            ("30", "no unit"),
            ("1m30", "no unit"),
            ("30x", "unknown unit \"x\""),
            ("1.5s", "unknown unit \".\""),
            ("s", "whole number"),
            ("-1s", "whole number"),
            ("99999999999999999999s", "too large"),
            ("18446744073709551615h", "too large"),
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("expected a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn sizes_in_every_form() {
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("16MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("2KB"), Ok(2_000));
        assert_eq!(parse_size("3GB"), Ok(3_000_000_000));
        assert_eq!(parse_size("16 mib"), Ok(16 << 20));
    }

    #[test]
    fn bad_sizes_say_what_was_expected() {
        for (bad, why) in [
            ("", "start with a whole number"),
            ("MiB", "start with a whole number"),
            ("-1", "start with a whole number"),
            ("16XB", "unknown unit \"XB\""),
            ("1.5MiB", "unknown unit \".5MiB\""),
            ("99999999999999999999999", "too large"),
            ("18446744073709551615GiB", "too large"),
        ] {
            let err = parse_size(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("expected a size"), "{bad}: {err}");
        }
    }

    #[test]
    fn rates_in_every_form() {
        let rate = |count, secs| Ok(RateLimit { count, per: Duration::from_secs(secs) });
        assert_eq!(parse_rate("100/s"), rate(100, 1));
        assert_eq!(parse_rate("20/m"), rate(20, 60));
        assert_eq!(parse_rate("1/h"), rate(1, 3600));
        assert_eq!(parse_rate("5/10s"), rate(5, 10));
        assert_eq!(parse_rate("3/1m30s"), rate(3, 90));
        assert_eq!(parse_rate(" 7 / 2m "), rate(7, 120));
        assert_eq!(parse_rate("10/500ms"), Ok(RateLimit { count: 10, per: Duration::from_millis(500) }));
    }

    #[test]
    fn bad_rates_say_what_was_expected() {
        for (bad, why) in [
            ("", "no `/`"),
            ("100", "no `/`"),
            ("/s", "whole number"),
            ("x/s", "whole number"),
            ("-1/s", "whole number"),
            ("1.5/s", "whole number"),
            ("0/s", "at least 1"),
            ("99999999999/s", "too large"),
            ("10/", "unit is missing"),
            ("10/d", "unknown unit \"d\""),
            ("10/10", "unknown unit \"10\""),
            ("10/0s", "longer than zero"),
            ("1/2/s", "unknown unit \"2/s\""),
        ] {
            let err = parse_rate(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("expected a rate such as \"100/s\""), "{bad}: {err}");
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("20%"), Ok(20));
        assert_eq!(parse_percent("0%"), Ok(0));
        assert_eq!(parse_percent("100%"), Ok(100));
        assert_eq!(parse_percent(" 50 % "), Ok(50));
        for (bad, why) in [
            ("20", "does not end with %"),
            ("%", "whole number"),
            ("1.5%", "whole number"),
            ("-1%", "whole number"),
            ("101%", "over 100"),
            ("99999999999%", "over 100"),
        ] {
            let err = parse_percent(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
            assert!(err.contains("expected a percentage such as \"20%\""), "{bad}: {err}");
        }
    }
}
