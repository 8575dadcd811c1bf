//! Retry waits (emitter.md §7): 200 ms doubling per consecutive failure,
//! capped at 30 s, jittered by a uniform factor in [0.75, 1.25]; a
//! `Retry-After` header replaces the computed wait, capped at 300 s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const BASE: Duration = Duration::from_millis(200);
pub const CAP: Duration = Duration::from_secs(30);
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

/// Consecutive-failure counter.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The wait before the next attempt after one more failure. `jitter` is a
    /// uniform sample from [0, 1); `retry_after` (already parsed) wins.
    pub fn next_wait(&mut self, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let n = self.failures;
        self.failures = self.failures.saturating_add(1);
        if let Some(ra) = retry_after {
            return ra.min(RETRY_AFTER_CAP);
        }
        let factor = 0.75 + 0.5 * jitter.clamp(0.0, 1.0);
        base_wait(n).mul_f64(factor)
    }
}

/// The un-jittered wait after `n` previous consecutive failures.
pub fn base_wait(n: u32) -> Duration {
    BASE.checked_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
        .unwrap_or(CAP)
        .min(CAP)
}

/// `Retry-After`: delay-seconds or an HTTP date (IMF-fixdate), relative to `now`.
/// A date in the past means "now" (zero wait).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = parse_http_date(v)?;
    let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now_secs)))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) → unix seconds.
pub fn parse_http_date(v: &str) -> Option<u64> {
    let parts: Vec<&str> = v.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)?
        + 1;
    let text = format!("{year}-{month:02}-{day:0>2}T{time}Z");
    let ms = crate::timing::parse_rfc3339_ms(&text)?;
    u64::try_from(ms / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_and_cap() {
        let ms = |n| base_wait(n).as_millis();
        assert_eq!([ms(0), ms(1), ms(2), ms(3)], [200, 400, 800, 1600]);
        assert_eq!(ms(7), 25_600);
        assert_eq!(ms(8), 30_000);
        assert_eq!(ms(40), 30_000);
        assert_eq!(ms(u32::MAX), 30_000);
    }

    #[test]
    fn jitter_bounds() {
        for n in 0..12 {
            let mut lo = Backoff { failures: n };
            let mut hi = Backoff { failures: n };
            let base = base_wait(n);
            assert_eq!(lo.next_wait(0.0, None), base.mul_f64(0.75));
            assert_eq!(hi.next_wait(1.0, None), base.mul_f64(1.25));
            assert!(hi.next_wait(0.999, None) <= CAP.mul_f64(1.25));
        }
        let mut b = Backoff::new();
        b.next_wait(0.5, None);
        b.next_wait(0.5, None);
        assert_eq!(b.failures(), 2);
        b.reset();
        assert_eq!(b.next_wait(0.5, None), BASE);
    }

    #[test]
    fn retry_after_replaces_and_is_capped() {
        let mut b = Backoff::new();
        assert_eq!(
            b.next_wait(0.5, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            b.next_wait(0.5, Some(Duration::from_secs(9999))),
            RETRY_AFTER_CAP
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // 06 Nov 1994 08:49:37
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 CET",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }
}
