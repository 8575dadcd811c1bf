//! The OpenovaFlow wire contract (`shared/spec/contract.md`), in one place.
//!
//! Every component — server, emitter, proxy, CLI, UI tests — speaks through
//! these types. The crate is pure: no I/O, no async, no clocks, no randomness.
//!
//! * [`message`] — the six [`FlowMessage`] variants and their objects.
//! * [`decode`] — bytes → validated [`FlowMessage`], with the exact error texts
//!   of contract.md §5.
//! * [`canonical`] — the canonical output form (§6): fixed key order,
//!   omit-empty rules, HTML-safe escaping.
//! * [`fold`] — the materialised flow state and how each message changes it (§7).
//! * [`event_id`] — `<epoch>-<seq>` ids and the resume decision (§8, §10).
//! * [`sse`] — byte-exact SSE frames (§9).
//! * [`log_lines`] — the log-lines request/response shapes (server.md §3.7).
//! * [`quote`] — Go `%q` quoting used inside error texts.
#![forbid(unsafe_code)]

pub mod canonical;
pub mod decode;
pub mod event_id;
pub mod fold;
pub mod log_lines;
pub mod message;
pub mod quote;
pub mod sse;

pub use decode::{DecodeError, decode_message};
pub use event_id::{EventId, ResumeDecision, resume_decision};
pub use fold::{FlowLimits, FlowState, FoldError};
pub use message::{
    Condition, FlowInstance, FlowMessage, FlowNode, MessageType, Meta, RelPair, Relationship,
    RelationshipType, TriggerWhen, Triggerer,
};

/// Validates a flowId as it appears in a URL path segment (after percent
/// decoding): `[A-Za-z0-9._:-]{1,128}` (server.md §2).
pub fn is_valid_flow_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::is_valid_flow_id;

    #[test]
    fn flow_id_rules_server_md_2() {
        assert!(is_valid_flow_id("f1"));
        assert!(is_valid_flow_id("dep-abc.x_y:z"));
        assert!(is_valid_flow_id(&"a".repeat(128)));
        assert!(!is_valid_flow_id(&"a".repeat(129)));
        assert!(!is_valid_flow_id(""));
        assert!(!is_valid_flow_id("a/b"));
        assert!(!is_valid_flow_id("a b"));
        assert!(!is_valid_flow_id("é"));
        assert!(!is_valid_flow_id("a%2Fb"));
    }
}
