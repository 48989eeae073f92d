//! Duration strings in the configuration: `"10ms"`, `"1s"`, `"1.5s"`, `"2m"`.

use std::time::Duration;

/// Parse a duration string: a non-negative decimal number followed by one of
/// the units `ms`, `s` or `m`. The result must be a whole number of
/// milliseconds (`"1.5ms"` is refused). On error, returns a reason a person
/// can act on.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = "expected a number followed by ms, s or m, e.g. \"10ms\", \"1s\", \"1.5s\", \"2m\"";
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(format!("\"{text}\" is not a valid duration; {hint}"));
    }
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "" => return Err(format!("\"{text}\" has no unit; {hint}")),
        other => return Err(format!("unknown unit \"{other}\" in \"{text}\"; {hint}")),
    };
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty()
        || !digits_ok(int_part)
        || !digits_ok(frac_part)
        || (number.contains('.') && frac_part.is_empty())
    {
        return Err(format!("\"{text}\" is not a valid duration; {hint}"));
    }
    let too_long = || format!("\"{text}\" is too long");
    let whole: u64 = int_part.parse().map_err(|_| too_long())?;
    let mut ms = whole.checked_mul(unit_ms).ok_or_else(too_long)?;
    if !frac_part.is_empty() {
        if frac_part.len() > 9 {
            return Err(format!("\"{text}\" has too many decimal places"));
        }
        // frac / 10^len * unit_ms must be a whole number of milliseconds.
        let scale = 10u64.pow(frac_part.len() as u32);
        let frac: u64 = frac_part.parse().map_err(|_| too_long())?;
        let num = frac * unit_ms; // frac < 10^9, unit_ms <= 60_000: no overflow
        if num % scale != 0 {
            return Err(format!(
                "\"{text}\" is finer than the 1ms resolution of durations"
            ));
        }
        ms = ms.checked_add(num / scale).ok_or_else(too_long)?;
    }
    Ok(Duration::from_millis(ms))
}

/// Format a duration the way the configuration writes it (`"1500ms"`, `"2s"`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms != 0 && ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        let ok = [
            ("10ms", 10),
            ("0ms", 0),
            ("0s", 0),
            ("1s", 1000),
            ("1.5s", 1500),
            ("0.01s", 10),
            ("2m", 120_000),
            ("1.5m", 90_000),
            ("40.95s", 40_950),
            (" 3s ", 3000),
        ];
        for (text, ms) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_bad_strings() {
        for text in [
            "",
            "1",
            "s",
            "1h",
            "-1s",
            "1.s",
            ".5s",
            "1..5s",
            "1.5ms",
            "1 s",
            "1e3ms",
            "abc",
            "99999999999999999999s",
            "0.0000000001s",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::ZERO), "0ms");
    }
}
