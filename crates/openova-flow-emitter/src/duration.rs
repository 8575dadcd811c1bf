//! Go-style duration notation (`200ms`, `10s`, `5m`, `1m30s`, `1.5h`), as used
//! by every duration setting of the emitter (emitter.md §1).

use std::time::Duration;

/// Parses a Go `time.ParseDuration` string. Signs are not accepted and the
/// result must be greater than zero (`0` and `0s` are rejected), because every
/// emitter duration is a positive interval.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => return None,
        };
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        let mut nanos = int.checked_mul(unit_nanos)?;
        // Fractions: exact to the nanosecond, extra digits truncated as Go does.
        let mut scale = unit_nanos;
        for d in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            nanos = nanos.checked_add(u128::from(d - b'0') * scale)?;
        }
        total_nanos = total_nanos.checked_add(nanos)?;
        rest = tail;
    }
    if total_nanos == 0 || total_nanos > u128::from(u64::MAX) {
        return None;
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).ok()?;
    let sub = u32::try_from(total_nanos % 1_000_000_000).ok()?;
    Some(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_notation() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("200ms"), Some(ms(200)));
        assert_eq!(parse_go_duration("10s"), Some(ms(10_000)));
        assert_eq!(parse_go_duration("5m"), Some(ms(300_000)));
        assert_eq!(parse_go_duration("1m30s"), Some(ms(90_000)));
        assert_eq!(parse_go_duration("1.5h"), Some(ms(5_400_000)));
        assert_eq!(parse_go_duration(".5s"), Some(ms(500)));
        assert_eq!(parse_go_duration("1h2m3s4ms"), Some(ms(3_723_004)));
        assert_eq!(
            parse_go_duration("1500us"),
            Some(ms(1) + Duration::from_micros(500))
        );
        assert_eq!(parse_go_duration("1µs"), Some(Duration::from_micros(1)));
        assert_eq!(parse_go_duration("7ns"), Some(Duration::from_nanos(7)));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "fast",
            "10",
            "0",
            "0s",
            "-1s",
            "+1s",
            "1.2.3s",
            "s",
            ".s",
            "1d",
            "1 s",
            "1S",
            "10s ",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
    }
}
