//! Node timing (emitter.md §3 "Timing"): `startedAt` from the observed
//! pending → non-pending transition, `endedAt` from the Ready=True condition.
//! Pure: the caller passes the previous observation and the clock's value.

use openova_flow_contract::FlowNode;

use crate::mapper::{PENDING, RUNNING, SUCCEEDED};

/// What the emitter remembers about one node between observations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimingState {
    /// The status of the previous observation.
    pub status: String,
    /// The fixed `startedAt`, if the start was observed.
    pub started_at: Option<i64>,
}

/// Sets `node.started_at`/`ended_at` from the previous observation (`None`
/// for the first sighting) and returns the state to keep.
/// `ready_transition_ms` is the Ready condition's `lastTransitionTime`.
pub fn apply_timing(
    prev: Option<&TimingState>,
    node: &mut FlowNode,
    ready_transition_ms: Option<i64>,
    now_ms: i64,
) -> TimingState {
    let status = node.status.as_str();
    let started_at = if status == PENDING {
        None
    } else {
        let observed_start = || {
            if status == RUNNING {
                ready_transition_ms.unwrap_or(now_ms)
            } else {
                now_ms
            }
        };
        match prev {
            // First sighting: only a running node's start counts as observed.
            None => (status == RUNNING).then(observed_start),
            Some(p) if p.status == PENDING => Some(observed_start()),
            Some(p) => p.started_at,
        }
    };
    let ended_at = if status == SUCCEEDED {
        ready_transition_ms
    } else {
        None
    };
    node.started_at = match (started_at, ended_at) {
        (Some(s), Some(e)) if s > e => Some(e),
        (s, _) => s,
    };
    node.ended_at = ended_at;
    TimingState {
        status: node.status.clone(),
        started_at,
    }
}

/// Parses an RFC 3339 timestamp (`2024-05-01T10:00:00Z`, fractional seconds
/// and numeric offsets allowed) into unix milliseconds.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &text[start..i];
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        millis = digits.parse().ok()?;
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_secs;
    Some(secs * 1000 + millis)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::FAILED;

    fn node(status: &str) -> FlowNode {
        FlowNode {
            id: "fsn1:x".into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn step(
        prev: Option<&TimingState>,
        status: &str,
        ltt: Option<i64>,
        now: i64,
    ) -> (FlowNode, TimingState) {
        let mut n = node(status);
        let s = apply_timing(prev, &mut n, ltt, now);
        (n, s)
    }

    #[test]
    fn pending_has_no_start() {
        let (n, s) = step(None, PENDING, Some(5), 100);
        assert_eq!((n.started_at, n.ended_at), (None, None));
        assert_eq!(s.started_at, None);
    }

    #[test]
    fn first_sighting_running_uses_ready_transition_else_now() {
        let (n, _) = step(None, RUNNING, Some(50), 100);
        assert_eq!(n.started_at, Some(50));
        let (n, _) = step(None, RUNNING, None, 100);
        assert_eq!(n.started_at, Some(100));
    }

    #[test]
    fn first_sighting_finished_has_no_start() {
        let (n, _) = step(None, SUCCEEDED, Some(70), 100);
        assert_eq!((n.started_at, n.ended_at), (None, Some(70)));
        let (n, s) = step(None, FAILED, Some(70), 100);
        assert_eq!((n.started_at, n.ended_at), (None, None));
        // A later running phase did not leave pending: still unknown.
        let (n, _) = step(Some(&s), RUNNING, Some(80), 200);
        assert_eq!(n.started_at, None);
    }

    #[test]
    fn pending_to_running_to_succeeded() {
        let (_, s) = step(None, PENDING, None, 100);
        let (n, s) = step(Some(&s), RUNNING, Some(150), 200);
        assert_eq!(n.started_at, Some(150));
        // kept while non-pending
        let (n, s) = step(Some(&s), RUNNING, Some(160), 300);
        assert_eq!(n.started_at, Some(150));
        let (n, s) = step(Some(&s), SUCCEEDED, Some(400), 500);
        assert_eq!((n.started_at, n.ended_at), (Some(150), Some(400)));
        // back to pending clears it
        let (n, s) = step(Some(&s), PENDING, None, 600);
        assert_eq!(n.started_at, None);
        assert_eq!(s.started_at, None);
    }

    #[test]
    fn pending_to_succeeded_uses_observation_time_and_clamps() {
        let (_, s) = step(None, PENDING, None, 100);
        // Observed at 1000 but Ready=True since 900: start clamped to end.
        let (n, s) = step(Some(&s), SUCCEEDED, Some(900), 1000);
        assert_eq!((n.started_at, n.ended_at), (Some(900), Some(900)));
        assert_eq!(s.started_at, Some(1000));
        let (n, _) = step(Some(&s), SUCCEEDED, None, 1100);
        assert_eq!((n.started_at, n.ended_at), (Some(1000), None));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T10:00:00Z"),
            Some(1_714_557_600_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T10:00:00.5Z"),
            Some(1_714_557_600_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T10:00:00.123456789Z"),
            Some(1_714_557_600_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T12:00:00+02:00"),
            Some(1_714_557_600_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59Z"), Some(-1000));
        for bad in [
            "",
            "2024-05-01",
            "2024-05-01T10:00:00",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00+0200",
            "x024-05-01T10:00:00Z",
            "2024-05-01T10:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
