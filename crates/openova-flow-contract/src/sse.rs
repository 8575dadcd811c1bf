//! Byte-exact SSE frames (contract.md §9).
//!
//! Lines end with `\n`, every frame ends with an empty line, `data` is one
//! line of canonical JSON. The retry prefix is written immediately before the
//! first frame of every stream, inside the same block.

use crate::event_id::EventId;
use crate::message::MessageType;

/// Written before the first frame of every stream.
pub const RETRY_PREFIX: &[u8] = b"retry: 2000\n";

/// `event: heartbeat\ndata: {}\n\n` — no `id:` line.
pub const HEARTBEAT_FRAME: &[u8] = b"event: heartbeat\ndata: {}\n\n";

/// The `id:` of a snapshot frame for a flow with no incarnation.
pub const NO_INCARNATION_ID: &str = "0";

/// `event: <type>\nid: <epoch>-<seq>\ndata: <json>\n\n`.
pub fn event_frame(event: MessageType, id: &EventId, data_json: &[u8]) -> Vec<u8> {
    frame(event.as_str(), &id.to_string(), data_json)
}

/// A server-generated snapshot frame; `id` is `None` for a flow with no
/// incarnation (the line is then `id: 0`).
pub fn snapshot_frame(id: Option<&EventId>, snapshot_json: &[u8]) -> Vec<u8> {
    let id = id.map_or_else(|| NO_INCARNATION_ID.to_owned(), EventId::to_string);
    frame(MessageType::Snapshot.as_str(), &id, snapshot_json)
}

fn frame(event: &str, id: &str, data: &[u8]) -> Vec<u8> {
    debug_assert!(!data.contains(&b'\n'), "SSE data must be one line");
    let mut out = Vec::with_capacity(event.len() + id.len() + data.len() + 24);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\nid: ");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    out
}

/// One parsed frame, for consumers (CLI, tests, load tool).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
    /// The `retry:` value, when the block carried one.
    pub retry: Option<u64>,
}

/// An incremental SSE parser for the subset this contract writes (and the
/// usual tolerance: `\r\n`, comments, fields without a space).
#[derive(Debug, Default)]
pub struct FrameParser {
    buf: Vec<u8>,
}

impl FrameParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every frame completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some((content_end, block_end)) = find_block_end(&self.buf) {
            let block: Vec<u8> = self.buf.drain(..block_end).collect();
            if let Some(f) = parse_block(&block[..content_end]) {
                frames.push(f);
            }
        }
        frames
    }
}

/// (end of block content, end including the blank line)
fn find_block_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some((i, i + 2));
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

fn parse_block(block: &[u8]) -> Option<Frame> {
    let text = String::from_utf8_lossy(block);
    let mut f = Frame::default();
    let mut any = false;
    let mut data_lines: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = line
            .split_once(':')
            .map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "event" => {
                f.event = value.to_owned();
                any = true;
            }
            "id" => {
                f.id = Some(value.to_owned());
                any = true;
            }
            "data" => {
                data_lines.push(value);
                any = true;
            }
            "retry" => f.retry = value.parse().ok(),
            _ => {}
        }
    }
    f.data = data_lines.join("\n");
    any.then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_byte_exact() {
        let id = EventId::new("q7Xk2mPz", 3);
        assert_eq!(
            event_frame(MessageType::UpsertRels, &id, br#"{"type":"upsert-rels"}"#),
            b"event: upsert-rels\nid: q7Xk2mPz-3\ndata: {\"type\":\"upsert-rels\"}\n\n"
        );
        assert_eq!(
            snapshot_frame(None, b"{}"),
            b"event: snapshot\nid: 0\ndata: {}\n\n"
        );
        assert_eq!(
            snapshot_frame(Some(&id), b"{}"),
            b"event: snapshot\nid: q7Xk2mPz-3\ndata: {}\n\n"
        );
        assert_eq!(HEARTBEAT_FRAME, b"event: heartbeat\ndata: {}\n\n");
        assert_eq!(RETRY_PREFIX, b"retry: 2000\n");
    }

    #[test]
    fn parser_reads_what_we_write_in_any_chunking() {
        let mut bytes = RETRY_PREFIX.to_vec();
        bytes.extend(snapshot_frame(Some(&EventId::new("E", 1)), b"{\"a\":1}"));
        bytes.extend_from_slice(HEARTBEAT_FRAME);
        bytes.extend(event_frame(
            MessageType::DeleteNodes,
            &EventId::new("E", 2),
            b"{}",
        ));
        for chunk in [1usize, 3, 7, bytes.len()] {
            let mut p = FrameParser::new();
            let frames: Vec<Frame> = bytes.chunks(chunk).flat_map(|c| p.push(c)).collect();
            assert_eq!(frames.len(), 3);
            assert_eq!(frames[0].retry, Some(2000));
            assert_eq!(frames[0].event, "snapshot");
            assert_eq!(frames[0].id.as_deref(), Some("E-1"));
            assert_eq!(frames[0].data, "{\"a\":1}");
            assert_eq!(frames[1].event, "heartbeat");
            assert_eq!(frames[1].id, None);
            assert_eq!(frames[2].id.as_deref(), Some("E-2"));
        }
    }

    #[test]
    fn parser_tolerates_crlf_and_comments() {
        let mut p = FrameParser::new();
        let frames = p.push(b": hello\r\nevent: x\r\ndata:1\r\ndata: 2\r\n\r\n");
        assert_eq!(
            frames,
            vec![Frame {
                event: "x".into(),
                id: None,
                data: "1\n2".into(),
                retry: None
            }]
        );
    }
}
