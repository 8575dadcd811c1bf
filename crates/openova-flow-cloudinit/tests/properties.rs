//! Properties the design relies on.

use openova_flow_cloudinit::template::{Mode, go_tokens};
use openova_flow_cloudinit::{Value, json};
use proptest::prelude::*;

/// Characters YAML 1.1 parsers treat as line breaks or refuse raw (NEL,
/// BOM, C1 controls, surrogates are impossible in Rust strings). `jsonencode`
/// leaves them raw, so they are outside the "always a valid YAML string"
/// guarantee (documented in docs/cloudinit.md).
fn yaml_safe(c: char) -> bool {
    !matches!(
        c,
        '\u{80}'..='\u{9f}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
    )
}

proptest! {
    /// `jsonencode` of any string is a YAML double-quoted scalar that reads
    /// back as the same string: the quoting rule of the substitute block.
    #[test]
    fn jsonencode_is_a_yaml_string_of_the_same_value(s in "\\PC*".prop_map(|s| s.chars().filter(|c| yaml_safe(*c)).collect::<String>())) {
        let value = Value::string(s);
        let Value::String(normalised) = &value else { unreachable!() };
        let doc = format!("k: {}\n", json::encode(&value));
        let parsed: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap();
        prop_assert_eq!(parsed["k"].as_str(), Some(normalised.as_str()));
    }

    /// Also for strings made of the characters that matter most.
    #[test]
    fn jsonencode_tricky_alphabet(s in "[\"\\\\<>&\t\n\r\u{1}\u{2028}\u{2029}: #'{}%$é]{0,40}") {
        let value = Value::string(s);
        let Value::String(normalised) = &value else { unreachable!() };
        let doc = format!("k: {}\n", json::encode(&value));
        let parsed: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap();
        prop_assert_eq!(parsed["k"].as_str(), Some(normalised.as_str()));
        let back: serde_json::Value = serde_json::from_str(&json::encode(&value)).unwrap();
        prop_assert_eq!(back.as_str(), Some(normalised.as_str()));
    }

    /// A raw DEL is valid JSON but not YAML: the render check catches it.
    #[test]
    fn del_breaks_yaml(prefix in "[a-z]{0,5}") {
        let doc = format!("k: {}\n", json::encode(&Value::string(format!("{prefix}\u{7f}"))));
        prop_assert!(serde_yaml::from_str::<serde_yaml::Value>(&doc).is_err());
    }

    /// Re-tokenising a literal the way Go's scanner does loses nothing: the
    /// decoded tokens concatenate to hcl-edit's decoded literal.
    #[test]
    fn go_tokens_concatenate_to_the_literal(raw in "([a-z \t\n]|\\$\\$\\{|%%\\{|\\$|%|\r\n){0,30}") {
        // A trailing lone `$`/`%` followed by nothing is still a literal.
        let parsed = hcl_edit::parser::parse_template(&raw);
        prop_assume!(parsed.is_ok());
        let template = parsed.unwrap();
        let decoded: String = template
            .iter()
            .filter_map(|e| e.as_literal().map(|l| l.as_str().to_string()))
            .collect();
        let joined: String = go_tokens(&raw, Mode::Bare).concat();
        prop_assert_eq!(joined, decoded);
    }
}
