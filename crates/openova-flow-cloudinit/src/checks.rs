//! Checks on the template source (before rendering) and on every rendered
//! user_data (after).

use std::collections::BTreeMap;

use serde_yaml::Value as Yaml;

use crate::error::{Error, Result, SourceFile};

/// Hetzner accepts 32 KiB of user_data; this is the byte limit we enforce.
pub const USER_DATA_LIMIT: usize = 32_256;

/// Where the Flux objects are written on the node.
pub const FLUX_BOOTSTRAP_PATH: &str = "/var/lib/openova/flux-bootstrap.yaml";

/// The `postBuild.substitute` keys every region must carry, as strings.
pub const SUBSTITUTE_KEYS: &[&str] = &[
    "SOVEREIGN_FQDN",
    "SOVEREIGN_LB_IP",
    "SOVEREIGN_DEPLOYMENT_ID",
    "SOVEREIGN_REGION_KEY",
    "SOVEREIGN_IS_PRIMARY",
    "SOVEREIGN_FLOW_SERVER_URL",
];

/// Finds `${NAME}`, `${NAME:-x}`, `${NAME:=x}`, `${NAME-x}`, `${NAME=x}` with
/// an upper-case `NAME` that is not escaped as `$${`: OpenTofu would try to
/// evaluate it (and fail, or worse, succeed) instead of leaving it to Flux.
/// Comment lines are included, since `templatefile()` parses them too.
pub fn lint_template(file: &SourceFile) -> Result<()> {
    let text = &file.text;
    let bytes = text.as_bytes();
    let mut search = 0;
    while let Some(found) = text[search..].find("${") {
        let at = search + found;
        search = at + 2;
        if at > 0 && bytes[at - 1] == b'$' {
            continue;
        }
        let body = &text[at + 2..];
        let name_len = body
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        if name_len == 0 || body.as_bytes()[0].is_ascii_digit() {
            continue;
        }
        let rest = &body[name_len..];
        if ["}", ":-", ":=", "-", "="]
            .iter()
            .any(|s| rest.starts_with(s))
        {
            let end = body.find('}').map_or(name_len, |i| i + 1).min(60);
            let shown = format!("${{{}", &body[..end]);
            return Err(Error::at(
                Some(file.location(at)),
                format!(
                    "unescaped Flux placeholder {shown}; write $${} so OpenTofu emits it literally",
                    &shown[1..]
                ),
            ));
        }
    }
    Ok(())
}

/// One rendered region, as the checks see it.
#[derive(Debug, Clone)]
pub struct Rendered<'a> {
    /// The region key.
    pub key: &'a str,
    /// `true` for the primary.
    pub primary: bool,
    /// The user_data.
    pub user_data: &'a str,
}

/// The substitute map of one region, after checks 1 and 2.
pub type Substitute = BTreeMap<String, String>;

fn fail(key: &str, msg: impl std::fmt::Display) -> Error {
    Error::msg(format!("{key}: {msg}"))
}

/// Checks 1, 2 and 5 for one region and returns its substitute map.
pub fn check_region(r: &Rendered<'_>) -> Result<Substitute> {
    let key = r.key;
    if r.user_data.len() > USER_DATA_LIMIT {
        return Err(fail(
            key,
            format!(
                "rendered user_data is {} bytes; the limit is {USER_DATA_LIMIT}",
                r.user_data.len()
            ),
        ));
    }
    if !r.user_data.starts_with("#cloud-config\n") {
        return Err(fail(
            key,
            "user_data does not start with \"#cloud-config\\n\"",
        ));
    }
    let doc: Yaml = serde_yaml::from_str(r.user_data)
        .map_err(|e| fail(key, format!("user_data is not valid YAML: {e}")))?;
    let Yaml::Mapping(root) = &doc else {
        return Err(fail(key, "user_data is not a YAML mapping"));
    };
    let content = root
        .get("write_files")
        .and_then(Yaml::as_sequence)
        .and_then(|files| {
            files
                .iter()
                .find(|f| f.get("path").and_then(Yaml::as_str) == Some(FLUX_BOOTSTRAP_PATH))
        })
        .and_then(|f| f.get("content"))
        .and_then(Yaml::as_str)
        .ok_or_else(|| {
            fail(
                key,
                format!("write_files has no {FLUX_BOOTSTRAP_PATH} with string content"),
            )
        })?;
    let mut substitute = None;
    for d in serde_yaml::Deserializer::from_str(content) {
        let doc = <Yaml as serde::Deserialize>::deserialize(d)
            .map_err(|e| fail(key, format!("{FLUX_BOOTSTRAP_PATH} is not valid YAML: {e}")))?;
        let is_kit = doc.get("kind").and_then(Yaml::as_str) == Some("Kustomization")
            && doc
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Yaml::as_str)
                == Some("bootstrap-kit");
        if is_kit {
            substitute = doc
                .get("spec")
                .and_then(|s| s.get("postBuild"))
                .and_then(|p| p.get("substitute"))
                .cloned();
        }
    }
    unquoted_substitute(content).map_or(Ok(()), |k| {
        Err(fail(
            key,
            format!("substitute {k} is not a quoted string; YAML may read it as a number, bool or null (write ${{jsonencode(...)}})"),
        ))
    })?;
    let Some(Yaml::Mapping(map)) = substitute else {
        return Err(fail(
            key,
            format!(
                "{FLUX_BOOTSTRAP_PATH} has no Kustomization bootstrap-kit with spec.postBuild.substitute"
            ),
        ));
    };
    let mut out = Substitute::new();
    for wanted in SUBSTITUTE_KEYS {
        match map.get(*wanted) {
            Some(Yaml::String(s)) => {
                if s.contains("${") {
                    return Err(fail(
                        key,
                        format!("substitute {wanted} contains \"${{\": {s:?}"),
                    ));
                }
                out.insert((*wanted).to_string(), s.clone());
            }
            Some(other) => {
                let kind = match other {
                    Yaml::Null => "null",
                    Yaml::Bool(_) => "a bool",
                    Yaml::Number(_) => "a number",
                    _ => "not a string",
                };
                return Err(fail(
                    key,
                    format!(
                        "substitute {wanted} is {kind}, not a string; quote it with jsonencode()"
                    ),
                ));
            }
            None => return Err(fail(key, format!("substitute is missing {wanted}"))),
        }
    }
    for (k, v) in &map {
        if let (Some(k), Yaml::String(s)) = (k.as_str(), v)
            && s.contains("${")
        {
            return Err(fail(key, format!("substitute {k} contains \"${{\": {s:?}")));
        }
    }
    Ok(out)
}

/// The first key of a block-style `substitute:` mapping whose value is not a
/// quoted scalar. YAML libraries disagree on plain scalars (`0123456789012345`
/// is a string to one, a float to Go's), so only quoted values are safe.
fn unquoted_substitute(content: &str) -> Option<String> {
    let mut lines = content.lines();
    let indent = loop {
        let line = lines.next()?;
        if line.trim() == "substitute:" {
            break line.len() - line.trim_start().len();
        }
    };
    for line in lines {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.len() - trimmed.len() <= indent {
            break;
        }
        if let Some((k, v)) = trimmed.split_once(':') {
            let v = v.trim_start();
            if !(v.starts_with('"') || v.starts_with('\'')) {
                return Some(k.trim().to_string());
            }
        }
    }
    None
}

/// Checks 3 and 4 across regions (check 6 is done on the inputs).
pub fn check_consistency(regions: &[(Rendered<'_>, Substitute)]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for (r, s) in regions {
        if !seen.insert(r.key) {
            return Err(fail(
                r.key,
                "region key is not unique (a secondary's key equals another key)",
            ));
        }
        let get = |k: &str| s.get(k).map_or("", String::as_str);
        if get("SOVEREIGN_REGION_KEY") != r.key {
            return Err(fail(
                r.key,
                format!(
                    "SOVEREIGN_REGION_KEY is {:?}, expected {:?}",
                    get("SOVEREIGN_REGION_KEY"),
                    r.key
                ),
            ));
        }
        let expected = if r.primary { "true" } else { "false" };
        if get("SOVEREIGN_IS_PRIMARY") != expected {
            return Err(fail(
                r.key,
                format!(
                    "SOVEREIGN_IS_PRIMARY is {:?}, expected {expected:?}",
                    get("SOVEREIGN_IS_PRIMARY")
                ),
            ));
        }
    }
    if let Some((first, fs)) = regions.first() {
        for (r, s) in &regions[1..] {
            for k in ["SOVEREIGN_FQDN", "SOVEREIGN_DEPLOYMENT_ID"] {
                if s.get(k) != fs.get(k) {
                    return Err(fail(
                        r.key,
                        format!(
                            "{k} is {:?} but {:?} in {}; all regions must share it",
                            s.get(k),
                            fs.get(k),
                            first.key
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(src: &str) -> std::result::Result<(), String> {
        lint_template(&SourceFile::new("t.tftpl", src)).map_err(|e| e.to_string())
    }

    #[test]
    fn lint_finds_unescaped_flux_placeholders() {
        assert_eq!(
            lint("a\n# ${SOVEREIGN_FQDN:-x}\n").unwrap_err(),
            "t.tftpl:2:3: unescaped Flux placeholder ${SOVEREIGN_FQDN:-x}; write $${SOVEREIGN_FQDN:-x} so OpenTofu emits it literally"
        );
        for bad in ["${A}", "${A_1:=x}", "${B-x}", "${B=x}", "${_X}"] {
            assert!(lint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lint_accepts_escapes_and_template_references() {
        for ok in [
            "$${SOVEREIGN_FQDN:-x}",
            "${sovereign_fqdn}",
            "${jsonencode(X)}",
            "${A.b}",
            "${A + 1}",
            "${9}",
            "$$${A}",
            "%{ if A }",
        ] {
            assert!(lint(ok).is_ok(), "{ok}");
        }
    }

    const GOOD: &str = r#"#cloud-config
write_files:
  - path: /var/lib/openova/flux-bootstrap.yaml
    content: |
      apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      metadata:
        name: openova
      ---
      apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata:
        name: bootstrap-kit
      spec:
        postBuild:
          substitute:
            SOVEREIGN_FQDN: "a.example"
            SOVEREIGN_LB_IP: "203.0.113.10"
            SOVEREIGN_DEPLOYMENT_ID: "0123456789012345"
            SOVEREIGN_REGION_KEY: "fsn1"
            SOVEREIGN_IS_PRIMARY: "true"
            SOVEREIGN_FLOW_SERVER_URL: ""
"#;

    fn region<'a>(key: &'a str, primary: bool, text: &'a str) -> Rendered<'a> {
        Rendered {
            key,
            primary,
            user_data: text,
        }
    }

    #[test]
    fn a_good_region_yields_its_substitute_map() {
        let s = check_region(&region("fsn1", true, GOOD)).unwrap();
        assert_eq!(s["SOVEREIGN_DEPLOYMENT_ID"], "0123456789012345");
        assert_eq!(s.len(), 6);
    }

    #[test]
    fn unquoted_substitute_values_fail() {
        for (from, to, kind) in [
            (
                "\"0123456789012345\"",
                "0123456789012345",
                "SOVEREIGN_DEPLOYMENT_ID is not a quoted string",
            ),
            (
                "\"0123456789012345\"",
                "",
                "SOVEREIGN_DEPLOYMENT_ID is not a quoted string",
            ),
            (
                "\"true\"",
                "true",
                "SOVEREIGN_IS_PRIMARY is not a quoted string",
            ),
        ] {
            let text = GOOD.replacen(from, to, 1);
            let e = check_region(&region("fsn1", true, &text))
                .unwrap_err()
                .to_string();
            assert!(e.contains(kind), "{e}");
        }
    }

    #[test]
    fn flow_style_non_strings_fail_on_type() {
        let block_start = GOOD.find("          substitute:").unwrap();
        let text = format!(
            "{}          substitute: {{SOVEREIGN_FQDN: \"a\", SOVEREIGN_LB_IP: 1, SOVEREIGN_DEPLOYMENT_ID: \"\", SOVEREIGN_REGION_KEY: \"k\", SOVEREIGN_IS_PRIMARY: \"true\", SOVEREIGN_FLOW_SERVER_URL: \"\"}}\n",
            &GOOD[..block_start]
        );
        let e = check_region(&region("k", true, &text))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "k: substitute SOVEREIGN_LB_IP is a number, not a string; quote it with jsonencode()"
        );
    }

    #[test]
    fn structural_failures() {
        let e = check_region(&region("k", true, &GOOD.replace("#cloud-config\n", ""))).unwrap_err();
        assert!(e.to_string().contains("#cloud-config"));
        let e = check_region(&region("k", true, "#cloud-config\n- a\n")).unwrap_err();
        assert!(e.to_string().contains("not a YAML mapping"));
        let e = check_region(&region("k", true, "#cloud-config\na: [\n")).unwrap_err();
        assert!(e.to_string().contains("not valid YAML"));
        let e =
            check_region(&region("k", true, &GOOD.replace("bootstrap-kit", "other"))).unwrap_err();
        assert!(e.to_string().contains("has no Kustomization bootstrap-kit"));
        let e = check_region(&region(
            "k",
            true,
            &GOOD.replace("            SOVEREIGN_LB_IP: \"203.0.113.10\"\n", ""),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("missing SOVEREIGN_LB_IP"));
        let e =
            check_region(&region("k", true, &GOOD.replace("203.0.113.10", "${X}"))).unwrap_err();
        assert!(e.to_string().contains("contains \"${\""));
        let e =
            check_region(&region("k", true, &GOOD.replace(FLUX_BOOTSTRAP_PATH, "/x"))).unwrap_err();
        assert!(e.to_string().contains("write_files has no"));
    }

    #[test]
    fn size_limit_names_the_byte_count() {
        let big = format!("{GOOD}# {}\n", "x".repeat(USER_DATA_LIMIT));
        let e = check_region(&region("fsn1", true, &big)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "fsn1: rendered user_data is {} bytes; the limit is 32256",
                big.len()
            )
        );
    }

    #[test]
    fn consistency_across_regions() {
        let primary = GOOD.to_string();
        let secondary = GOOD
            .replace("\"fsn1\"", "\"hel1-1\"")
            .replace("\"true\"", "\"false\"");
        let s1 = check_region(&region("fsn1", true, &primary)).unwrap();
        let s2 = check_region(&region("hel1-1", false, &secondary)).unwrap();
        check_consistency(&[
            (region("fsn1", true, &primary), s1.clone()),
            (region("hel1-1", false, &secondary), s2.clone()),
        ])
        .unwrap();
        let e = check_consistency(&[
            (region("fsn1", true, &primary), s1.clone()),
            (region("hel1-2", false, &secondary), s2.clone()),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("SOVEREIGN_REGION_KEY is \"hel1-1\", expected \"hel1-2\"")
        );
        let e = check_consistency(&[(region("hel1-1", true, &secondary), s2.clone())]).unwrap_err();
        assert!(e.to_string().contains("SOVEREIGN_IS_PRIMARY"));
        let mut other_id = s2.clone();
        other_id.insert("SOVEREIGN_DEPLOYMENT_ID".into(), "x".into());
        let e = check_consistency(&[
            (region("fsn1", true, &primary), s1.clone()),
            (region("hel1-1", false, &secondary), other_id),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("all regions must share it"));
        let e = check_consistency(&[
            (region("fsn1", true, &primary), s1.clone()),
            (region("fsn1", false, &primary), s1),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("not unique"));
    }
}
