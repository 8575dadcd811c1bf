//! The fuzz body shared by the `decode_fold` cargo-fuzz target and the
//! stable corpus test (`cargo test --manifest-path fuzz/Cargo.toml`).
//!
//! The input is split at `\n` into request bodies posted, in order, to one
//! flow. For each body: decoding never panics; an accepted message's
//! canonical JSON re-decodes to the same message; applying it under small
//! caps either changes nothing (`flow too large`) or keeps the counts within
//! the caps; the server snapshot always re-decodes as a `snapshot`, and
//! folding it into an empty state reproduces the state.
#![forbid(unsafe_code)]

use openova_flow_contract::{FlowLimits, FlowState, MessageType, decode_message};

/// Small caps so the size checks are exercised.
pub const LIMITS: FlowLimits = FlowLimits {
    max_nodes: 8,
    max_relationships: 32,
};

/// Runs one fuzz input. Panics on a violated invariant.
pub fn decode_fold(data: &[u8]) {
    let mut state = FlowState::new();
    for body in data.split(|b| *b == b'\n') {
        let mut msg = match decode_message(body) {
            Ok(m) => m,
            Err(e) => {
                // Every rejection has a one-line text.
                assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
                continue;
            }
        };
        msg.stamp_flow_id("fuzz");
        let json = msg.to_canonical_json();
        let again = decode_message(&json).unwrap_or_else(|e| {
            panic!(
                "canonical output does not re-decode: {e}: {}",
                String::from_utf8_lossy(&json)
            )
        });
        assert_eq!(again, msg, "canonical round trip");
        assert_eq!(
            again.to_canonical_json(),
            json,
            "canonical form is a fixed point"
        );

        let before = state.clone();
        match state.apply(msg, &LIMITS) {
            Ok(()) => {
                assert!(state.node_count() <= LIMITS.max_nodes.max(before.node_count()));
                assert!(
                    state.relationship_count()
                        <= LIMITS.max_relationships.max(before.relationship_count())
                );
            }
            Err(_) => assert_eq!(state, before, "a refused message changes nothing"),
        }

        let snap = state.snapshot("fuzz").to_canonical_json();
        let snap_msg = decode_message(&snap).unwrap_or_else(|e| {
            panic!(
                "snapshot does not re-decode: {e}: {}",
                String::from_utf8_lossy(&snap)
            )
        });
        assert_eq!(snap_msg.message_type(), MessageType::Snapshot);
        if state.flow().is_some() {
            let mut rebuilt = FlowState::new();
            rebuilt.apply_unchecked(snap_msg);
            assert_eq!(rebuilt, state, "the snapshot carries the whole state");
        }
    }
}
