//! The one notification channel shared by every replica (server.md §10.2).

use serde_json::Value;

/// `LISTEN`/`pg_notify` channel.
pub const CHANNEL: &str = "openova_flow_events";

/// A parsed notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// An event was committed: `{"op":"event","flowId":…,"epoch":…,"seq":…}`.
    Event {
        flow_id: String,
        epoch: String,
        seq: u64,
    },
    /// The flow was deleted: `{"op":"delete","flowId":…}`.
    Delete { flow_id: String },
}

/// `{"op":"event","flowId":"f1","epoch":"q7Xk2mPz","seq":7}`.
pub fn event_payload(flow_id: &str, epoch: &str, seq: u64) -> String {
    format!(
        r#"{{"op":"event","flowId":{},"epoch":{},"seq":{seq}}}"#,
        json_string(flow_id),
        json_string(epoch)
    )
}

/// `{"op":"delete","flowId":"f1"}`.
pub fn delete_payload(flow_id: &str) -> String {
    format!(r#"{{"op":"delete","flowId":{}}}"#, json_string(flow_id))
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// Parses a payload; `None` for anything else (ignored, with a debug log).
pub fn parse(payload: &str) -> Option<Note> {
    let v: Value = serde_json::from_str(payload).ok()?;
    let flow_id = v.get("flowId")?.as_str()?.to_owned();
    match v.get("op")?.as_str()? {
        "event" => Some(Note::Event {
            flow_id,
            epoch: v.get("epoch")?.as_str()?.to_owned(),
            seq: v.get("seq")?.as_u64()?,
        }),
        "delete" => Some(Note::Delete { flow_id }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_exactly_as_specified_and_round_trip() {
        let e = event_payload("f1", "q7Xk2mPz", 7);
        assert_eq!(
            e,
            r#"{"op":"event","flowId":"f1","epoch":"q7Xk2mPz","seq":7}"#
        );
        assert_eq!(
            parse(&e),
            Some(Note::Event {
                flow_id: "f1".into(),
                epoch: "q7Xk2mPz".into(),
                seq: 7
            })
        );
        let d = delete_payload("a.b:c-d_e");
        assert_eq!(d, r#"{"op":"delete","flowId":"a.b:c-d_e"}"#);
        assert_eq!(
            parse(&d),
            Some(Note::Delete {
                flow_id: "a.b:c-d_e".into()
            })
        );
    }

    #[test]
    fn foreign_payloads_are_ignored() {
        for p in [
            "",
            "7",
            "{}",
            r#"{"op":"event","flowId":"f"}"#,
            r#"{"op":"x","flowId":"f"}"#,
        ] {
            assert_eq!(parse(p), None, "{p}");
        }
    }
}
