//! An allocation-light SSE scanner for the frames a flow server writes
//! (contract.md §9): it extracts only what the load tool needs — the event
//! name, the seq of the `id:` line and the `sentAtNs` the publisher put in
//! node `meta`.

/// The kind of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Snapshot,
    Event,
    Heartbeat,
}

/// What the load tool reads from one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub kind: Kind,
    /// The seq of `id: <epoch>-<seq>`; `Some(0)` for `id: 0`; `None` without an id.
    pub seq: Option<u64>,
    /// `meta.sentAtNs` of the first node, for event frames.
    pub sent_at_ns: Option<u64>,
}

/// The meta key carrying the publisher's send time (ns since the tool started).
pub const SENT_AT_KEY: &str = "sentAtNs";

/// Incremental scanner.
#[derive(Debug, Default)]
pub struct Scanner {
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a frame end.
    searched: usize,
}

impl Scanner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; appends every completed frame to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<FrameInfo>) {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        // Resume the search just before the bytes already searched.
        let mut from = self.searched.saturating_sub(1);
        while let Some(end) = find(&self.buf[from..], b"\n\n") {
            let end = from + end;
            if let Some(f) = parse_block(&self.buf[start..end]) {
                out.push(f);
            }
            start = end + 2;
            from = start;
        }
        self.buf.drain(..start);
        self.searched = self.buf.len();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_block(block: &[u8]) -> Option<FrameInfo> {
    let mut kind = None;
    let mut seq = None;
    let mut data: &[u8] = &[];
    for line in block.split(|b| *b == b'\n') {
        if let Some(v) = line.strip_prefix(b"event: ") {
            kind = Some(match v {
                b"snapshot" => Kind::Snapshot,
                b"heartbeat" => Kind::Heartbeat,
                _ => Kind::Event,
            });
        } else if let Some(v) = line.strip_prefix(b"id: ") {
            let digits = match v.iter().rposition(|b| *b == b'-') {
                Some(i) => &v[i + 1..],
                None => v,
            };
            seq = parse_u64(digits);
        } else if let Some(v) = line.strip_prefix(b"data: ") {
            data = v;
        }
    }
    let kind = kind?;
    let sent_at_ns = if kind == Kind::Event {
        find(data, b"\"sentAtNs\":").and_then(|i| {
            let rest = &data[i + 11..];
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            parse_u64(&rest[..n])
        })
    } else {
        None
    };
    Some(FrameInfo {
        kind,
        seq,
        sent_at_ns,
    })
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b"retry: 2000\nevent: snapshot\nid: AbC-0\ndata: {\"nodes\":[{\"meta\":{\"sentAtNs\":1}}]}\n\n\
event: upsert-nodes\nid: AbC-7\ndata: {\"type\":\"upsert-nodes\",\"nodes\":[{\"id\":\"n\",\"meta\":{\"sentAtNs\":123456789}}]}\n\n\
event: heartbeat\ndata: {}\n\n\
event: snapshot\nid: 0\ndata: {}\n\n";

    #[test]
    fn scans_in_any_chunking() {
        for size in [1, 2, 5, 17, STREAM.len()] {
            let mut s = Scanner::new();
            let mut out = Vec::new();
            for c in STREAM.chunks(size) {
                s.push(c, &mut out);
            }
            assert_eq!(
                out,
                vec![
                    FrameInfo {
                        kind: Kind::Snapshot,
                        seq: Some(0),
                        sent_at_ns: None
                    },
                    FrameInfo {
                        kind: Kind::Event,
                        seq: Some(7),
                        sent_at_ns: Some(123_456_789)
                    },
                    FrameInfo {
                        kind: Kind::Heartbeat,
                        seq: None,
                        sent_at_ns: None
                    },
                    FrameInfo {
                        kind: Kind::Snapshot,
                        seq: Some(0),
                        sent_at_ns: None
                    },
                ],
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn matches_what_the_server_writes() {
        use openova_flow_contract::sse::{RETRY_PREFIX, event_frame};
        let id = openova_flow_contract::EventId::new("q7Xk2mPz", 42);
        let mut frame = RETRY_PREFIX.to_vec();
        frame.extend(event_frame(
            openova_flow_contract::MessageType::UpsertNodes,
            &id,
            br#"{"type":"upsert-nodes","nodes":[{"id":"a","flowId":"f","label":"","status":"","meta":{"sentAtNs":5}}]}"#,
        ));
        let mut out = Vec::new();
        Scanner::new().push(&frame, &mut out);
        assert_eq!(out[0].seq, Some(42));
        assert_eq!(out[0].sent_at_ns, Some(5));
    }
}
