//! `<epoch>-<seq>` event ids and the resume decision (contract.md §8, §10).

use std::cmp::Ordering;
use std::fmt;

/// Length of the epochs a server generates (8 characters of `[A-Za-z0-9]`).
pub const EPOCH_LEN: usize = 8;

/// The alphabet epochs are drawn from.
pub const EPOCH_ALPHABET: &[u8; 62] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The id of an event: `<epoch>-<seq>`, e.g. `q7Xk2mPz-42`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId {
    pub epoch: String,
    pub seq: u64,
}

impl EventId {
    pub fn new(epoch: impl Into<String>, seq: u64) -> Self {
        EventId {
            epoch: epoch.into(),
            seq,
        }
    }

    /// Parses a received id. Split at the first `-`: the left part must be
    /// 1–32 characters of `[A-Za-z0-9]`, the right 1–20 decimal digits that
    /// fit a `u64`. Anything else (including the literal `0`) is malformed: `None`.
    pub fn parse(s: &str) -> Option<EventId> {
        let (epoch, seq) = s.split_once('-')?;
        if !is_valid_epoch(epoch)
            || seq.is_empty()
            || seq.len() > 20
            || !seq.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(EventId {
            epoch: epoch.to_owned(),
            seq: seq.parse().ok()?,
        })
    }

    /// Orders two ids of the same epoch by seq; ids of different epochs are
    /// not comparable (another incarnation).
    pub fn compare(&self, other: &EventId) -> Option<Ordering> {
        (self.epoch == other.epoch).then(|| self.seq.cmp(&other.seq))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

/// `true` for 1–32 characters of `[A-Za-z0-9]` (the resume-token rule).
pub fn is_valid_epoch(epoch: &str) -> bool {
    (1..=32).contains(&epoch.len()) && epoch.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Builds an epoch from `EPOCH_LEN` random bytes, avoiding `previous`.
///
/// The caller supplies the entropy (the contract does no I/O); each byte is
/// reduced by rejection so every alphabet character is equally likely. Returns
/// `None` if the bytes run out before an acceptable epoch is formed.
pub fn epoch_from_entropy(
    mut bytes: impl Iterator<Item = u8>,
    previous: Option<&str>,
) -> Option<String> {
    loop {
        let mut epoch = String::with_capacity(EPOCH_LEN);
        while epoch.len() < EPOCH_LEN {
            let b = bytes.next()?;
            // 248 = 4 × 62: reject the tail so the modulo is unbiased.
            if b < 248 {
                epoch.push(EPOCH_ALPHABET[usize::from(b % 62)] as char);
            }
        }
        if previous != Some(epoch.as_str()) {
            return Some(epoch);
        }
    }
}

/// The client's last id: the `Last-Event-ID` header if present and non-empty,
/// else the `lastEventId` query parameter (§10: the header wins).
pub fn pick_last_event_id<'a>(header: Option<&'a str>, query: Option<&'a str>) -> Option<&'a str> {
    header
        .filter(|h| !h.is_empty())
        .or(query.filter(|q| !q.is_empty()))
}

/// Where a flow stands, for deciding how a stream opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowPosition<'a> {
    /// `None` when the flow has no incarnation.
    pub epoch: Option<&'a str>,
    /// `S`: the last seq (0 before the first event).
    pub last_seq: u64,
    /// `O`: the oldest retained seq (`last_seq + 1` when nothing is retained).
    pub oldest_retained: u64,
}

/// What a stream sends first (§10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeDecision {
    /// A `snapshot` frame stamped with the current id, then live.
    Snapshot,
    /// Nothing to replay: live from `S+1`.
    Live,
    /// Retained events `after+1 ..= S`, no snapshot frame, then live.
    Replay { after: u64 },
}

/// The §10 table. `last` is the client's id as received (`None` when absent).
pub fn resume_decision(last: Option<&str>, pos: FlowPosition<'_>) -> ResumeDecision {
    let Some(id) = last.and_then(EventId::parse) else {
        return ResumeDecision::Snapshot;
    };
    let Some(epoch) = pos.epoch else {
        return ResumeDecision::Snapshot;
    };
    if id.epoch != epoch {
        return ResumeDecision::Snapshot;
    }
    let (n, s) = (id.seq, pos.last_seq);
    match n.cmp(&s) {
        Ordering::Greater => ResumeDecision::Snapshot,
        Ordering::Equal => ResumeDecision::Live,
        Ordering::Less if n + 1 >= pos.oldest_retained => ResumeDecision::Replay { after: n },
        Ordering::Less => ResumeDecision::Snapshot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse() {
        let id = EventId::new("q7Xk2mPz", 42);
        assert_eq!(id.to_string(), "q7Xk2mPz-42");
        assert_eq!(EventId::parse("q7Xk2mPz-42"), Some(id));
        assert_eq!(
            EventId::parse(&format!("{}-{}", "a".repeat(32), u64::MAX)),
            Some(EventId::new("a".repeat(32), u64::MAX))
        );
    }

    #[test]
    fn malformed_ids() {
        for bad in [
            "",
            "0",
            "garbage",
            "-1",
            "abc-",
            "abc-x",
            "abc--1",
            "abc-+1",
            "ab_c-1",
            "é-1",
            "abc-1 ",
            "abc-18446744073709551616",
            "abc-000000000000000000001",
        ] {
            assert_eq!(EventId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(EventId::parse(&format!("{}-1", "a".repeat(33))), None);
        // Leading zeros within 20 digits are fine.
        assert_eq!(EventId::parse("abc-007"), Some(EventId::new("abc", 7)));
    }

    #[test]
    fn compare_within_epoch_only() {
        let a = EventId::new("e1", 3);
        assert_eq!(a.compare(&EventId::new("e1", 4)), Some(Ordering::Less));
        assert_eq!(a.compare(&EventId::new("e1", 3)), Some(Ordering::Equal));
        assert_eq!(a.compare(&EventId::new("e2", 1)), None);
    }

    #[test]
    fn epochs_from_entropy() {
        let e =
            epoch_from_entropy([0u8, 1, 61, 62, 255, 247, 10, 20, 30].into_iter(), None).unwrap();
        assert_eq!(e.len(), EPOCH_LEN);
        assert!(e.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(&e[..4], "AB9A"); // 255 was rejected, 247 % 62 = 61 → '9'
        // Never the previous epoch.
        let same = [0u8; 8];
        let next = epoch_from_entropy(same.into_iter().chain([1u8; 8]), Some("AAAAAAAA")).unwrap();
        assert_eq!(next, "BBBBBBBB");
        assert_eq!(epoch_from_entropy([0u8; 3].into_iter(), None), None);
    }

    #[test]
    fn header_wins_over_query() {
        assert_eq!(pick_last_event_id(Some("a-2"), Some("a-1")), Some("a-2"));
        assert_eq!(pick_last_event_id(Some(""), Some("a-1")), Some("a-1"));
        assert_eq!(pick_last_event_id(None, Some("a-1")), Some("a-1"));
        assert_eq!(pick_last_event_id(None, Some("")), None);
        assert_eq!(pick_last_event_id(None, None), None);
    }

    /// Every row of contract.md §10.
    #[test]
    fn resume_table_section_10() {
        let pos = FlowPosition {
            epoch: Some("E"),
            last_seq: 10,
            oldest_retained: 5,
        };
        use ResumeDecision::*;
        assert_eq!(resume_decision(None, pos), Snapshot, "no id sent");
        assert_eq!(resume_decision(Some("garbage"), pos), Snapshot, "malformed");
        assert_eq!(resume_decision(Some("0"), pos), Snapshot, "literal 0");
        let none = FlowPosition {
            epoch: None,
            last_seq: 0,
            oldest_retained: 1,
        };
        assert_eq!(
            resume_decision(Some("E-3"), none),
            Snapshot,
            "no incarnation"
        );
        assert_eq!(resume_decision(Some("F-3"), pos), Snapshot, "other epoch");
        assert_eq!(resume_decision(Some("E-11"), pos), Snapshot, "n > S");
        assert_eq!(resume_decision(Some("E-10"), pos), Live, "n = S");
        assert_eq!(resume_decision(Some("E-9"), pos), Replay { after: 9 });
        assert_eq!(
            resume_decision(Some("E-4"), pos),
            Replay { after: 4 },
            "n+1 = O"
        );
        assert_eq!(
            resume_decision(Some("E-3"), pos),
            Snapshot,
            "n+1 < O: evicted"
        );
        assert_eq!(
            resume_decision(Some("E-0"), pos),
            Snapshot,
            "evicted from the start"
        );
        let all = FlowPosition {
            epoch: Some("E"),
            last_seq: 3,
            oldest_retained: 1,
        };
        assert_eq!(
            resume_decision(Some("E-0"), all),
            Replay { after: 0 },
            "replay from the first event"
        );
    }
}
