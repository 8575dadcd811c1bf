//! Go-style durations (`10s`, `1m30s`, `1.5h`, `250ms`), as the rest of the
//! platform writes them. Pure.

use std::time::Duration;

/// Parses a Go `time.ParseDuration` string without sign: one or more
/// `<number><unit>` pairs, units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, numbers
/// with an optional fraction. A bare `0` is zero. Returns `None` when the
/// text is not such a duration or overflows.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after_int) = rest.split_at(int_len);
        let (frac_part, after_num) = match after_int.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                f.split_at(n)
            }
            None => ("", after_int),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = after_num
            .char_indices()
            .find(|&(_, c)| c.is_ascii_digit() || c == '.')
            .map_or(after_num.len(), |(i, _)| i);
        let (unit, next) = after_num.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return None,
        };
        let int_value: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut value = int_value.checked_mul(unit_nanos)?;
        // Fraction: digits / 10^len of the unit, truncated to whole nanoseconds.
        let mut scale = unit_nanos;
        for d in frac_part.bytes().take(30) {
            scale /= 10;
            value = value.checked_add(u128::from(d - b'0') * scale)?;
        }
        total_nanos = total_nanos.checked_add(value)?;
        rest = next;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).ok()?;
    let nanos = u32::try_from(total_nanos % 1_000_000_000).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_forms() {
        let cases = [
            ("10s", Duration::from_secs(10)),
            ("1m30s", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("250ms", Duration::from_millis(250)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            (
                "2h45m10.5s",
                Duration::from_millis((2 * 3600 + 45 * 60) * 1000 + 10_500),
            ),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
        ];
        for (text, want) in cases {
            assert_eq!(parse_go_duration(text), Some(want), "{text}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for text in [
            "", "10", "s", "fast", "1d", "-1s", "+1s", "1 s", " 1s", "1s ", "1..5s", ".s", "1sm",
        ] {
            assert_eq!(parse_go_duration(text), None, "{text:?}");
        }
        assert_eq!(parse_go_duration(&format!("{}h", u128::MAX)), None);
    }
}
