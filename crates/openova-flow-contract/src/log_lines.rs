//! Log lines (server.md §3.7): the POST body, its validation texts, and the
//! canonical line objects of the GET response.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

use crate::quote::go_quote;

/// Log level; absent, `null` and `""` mean `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogLevel {
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub const ALL: [LogLevel; 4] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// A validated line to append (no seq yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogLine {
    pub node_id: String,
    pub exec_id: String,
    pub level: LogLevel,
    pub message: String,
    pub occurred_at: i64,
}

/// A stored line, as returned by `GET …/log-lines`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub seq: u64,
    pub node_id: String,
    pub exec_id: String,
    pub level: LogLevel,
    pub message: String,
    pub occurred_at: i64,
}

impl LogLine {
    pub fn from_new(seq: u64, l: NewLogLine) -> Self {
        LogLine {
            seq,
            node_id: l.node_id,
            exec_id: l.exec_id,
            level: l.level,
            message: l.message,
            occurred_at: l.occurred_at,
        }
    }
}

/// Why a log-lines POST was rejected; `to_string()` is the 400 body text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogLinesError {
    #[error("parse body: {0}")]
    Parse(String),
    #[error("lines[{index}].{detail}")]
    Invalid { index: usize, detail: String },
}

/// Decodes and validates a `POST …/log-lines` body. `now_ms` fills an absent
/// `occurredAt`. All or nothing.
pub fn decode_log_lines(body: &[u8], now_ms: i64) -> Result<Vec<NewLogLine>, LogLinesError> {
    let raw: Option<RawBody> =
        serde_json::from_slice(body).map_err(|e| LogLinesError::Parse(e.to_string()))?;
    let lines = raw.and_then(|r| r.lines).unwrap_or_default();
    lines
        .into_iter()
        .enumerate()
        .map(|(index, l)| {
            let invalid = |detail: String| LogLinesError::Invalid { index, detail };
            let node_id = l.node_id.unwrap_or_default();
            let exec_id = l.exec_id.unwrap_or_default();
            for (name, v) in [("nodeId", &node_id), ("execId", &exec_id)] {
                if v.is_empty() {
                    return Err(invalid(format!("{name} must be non-empty")));
                }
                if v.contains('\0') {
                    return Err(invalid(format!("{name} must not contain U+0000")));
                }
            }
            let level = match l.level.as_deref().unwrap_or("") {
                "" => LogLevel::Info,
                s => LogLevel::parse(s).ok_or_else(|| {
                    invalid(format!(
                        "level must be one of debug, info, warn, error; got {}",
                        go_quote(s)
                    ))
                })?,
            };
            let message = l.message.unwrap_or_default();
            if message.contains('\0') {
                return Err(invalid("message must not contain U+0000".to_owned()));
            }
            Ok(NewLogLine {
                node_id,
                exec_id,
                level,
                message,
                occurred_at: l.occurred_at.unwrap_or(now_ms),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct RawBody {
    lines: Option<Vec<RawLine>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLine {
    node_id: Option<String>,
    exec_id: Option<String>,
    level: Option<String>,
    message: Option<String>,
    occurred_at: Option<i64>,
}

/// Keys in order `seq, nodeId, execId, level, message, occurredAt`.
impl Serialize for LogLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("nodeId", &self.node_id)?;
        m.serialize_entry("execId", &self.exec_id)?;
        m.serialize_entry("level", self.level.as_str())?;
        m.serialize_entry("message", &self.message)?;
        m.serialize_entry("occurredAt", &self.occurred_at)?;
        m.end()
    }
}

/// The GET response body `{"lines":[…]}` (without the trailing newline).
pub fn lines_response_json(lines: &[LogLine]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        lines: &'a [LogLine],
    }
    crate::canonical::to_vec(&Body { lines })
}

/// A parsed stored line, for clients reading `GET …/log-lines`.
impl<'de> Deserialize<'de> for LogLine {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            seq: u64,
            node_id: String,
            exec_id: String,
            level: String,
            message: String,
            occurred_at: i64,
        }
        let w = Wire::deserialize(d)?;
        Ok(LogLine {
            seq: w.seq,
            node_id: w.node_id,
            exec_id: w.exec_id,
            level: LogLevel::parse(&w.level).unwrap_or_default(),
            message: w.message,
            occurred_at: w.occurred_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        decode_log_lines(body.as_bytes(), 7)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn accepts_and_defaults() {
        let lines = decode_log_lines(
            br#"{"lines":[{"nodeId":"n","execId":"e","level":"warn","message":"m","occurredAt":5},{"nodeId":"n","execId":"e","level":null}]}"#,
            7,
        )
        .unwrap();
        assert_eq!(lines[0].level, LogLevel::Warn);
        assert_eq!(lines[0].occurred_at, 5);
        assert_eq!(lines[1].level, LogLevel::Info, "null level → info");
        assert_eq!(lines[1].message, "");
        assert_eq!(lines[1].occurred_at, 7, "absent occurredAt → receive time");
        assert!(decode_log_lines(b"{}", 0).unwrap().is_empty());
        assert!(decode_log_lines(b"null", 0).unwrap().is_empty());
        assert!(
            decode_log_lines(br#"{"lines":null}"#, 0)
                .unwrap()
                .is_empty()
        );
        assert!(decode_log_lines(br#"{"lines":[]}"#, 0).unwrap().is_empty());
        let lvl =
            decode_log_lines(br#"{"lines":[{"nodeId":"n","execId":"e","level":""}]}"#, 0).unwrap();
        assert_eq!(lvl[0].level, LogLevel::Info, "empty level → info");
    }

    #[test]
    fn rejection_texts_server_md_3_7() {
        assert!(err("{").starts_with("parse body: "));
        assert!(err(r#"{"lines":{}}"#).starts_with("parse body: "));
        assert!(
            err(r#"{"lines":[{"nodeId":"n","execId":"e","occurredAt":1.5}]}"#)
                .starts_with("parse body: ")
        );
        assert_eq!(
            err(r#"{"lines":[{"execId":"e"}]}"#),
            "lines[0].nodeId must be non-empty"
        );
        assert_eq!(
            err(r#"{"lines":[{"nodeId":"a\u0000","execId":"e"}]}"#),
            "lines[0].nodeId must not contain U+0000"
        );
        assert_eq!(
            err(r#"{"lines":[{"nodeId":"n","execId":"e"},{"nodeId":"n"}]}"#),
            "lines[1].execId must be non-empty"
        );
        assert_eq!(
            err(r#"{"lines":[{"nodeId":"n","execId":"e\u0000"}]}"#),
            "lines[0].execId must not contain U+0000"
        );
        assert_eq!(
            err(r#"{"lines":[{"nodeId":"n","execId":"e","level":"fatal"}]}"#),
            r#"lines[0].level must be one of debug, info, warn, error; got "fatal""#
        );
        assert_eq!(
            err(r#"{"lines":[{"nodeId":"n","execId":"e","message":"x\u0000"}]}"#),
            "lines[0].message must not contain U+0000"
        );
    }

    #[test]
    fn canonical_line_and_response() {
        let line = LogLine {
            seq: 12,
            node_id: "fsn1:bp-cilium".into(),
            exec_id: "e-17".into(),
            level: LogLevel::Warn,
            message: "retrying <now>".into(),
            occurred_at: 1_715_680_800_123,
        };
        assert_eq!(
            String::from_utf8(lines_response_json(std::slice::from_ref(&line))).unwrap(),
            r#"{"lines":[{"seq":12,"nodeId":"fsn1:bp-cilium","execId":"e-17","level":"warn","message":"retrying \u003cnow\u003e","occurredAt":1715680800123}]}"#
        );
        assert_eq!(lines_response_json(&[]), br#"{"lines":[]}"#);
        let back: LogLine = serde_json::from_slice(&crate::canonical::to_vec(&line)).unwrap();
        assert_eq!(back, line);
    }
}
