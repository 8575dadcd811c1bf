//! Checks on the structural evaluation of `flake.nix` with the stub inputs of
//! `nix/stubs/`: attribute names and the image configs the stub
//! `dockerTools.buildLayeredImage` writes as JSON.

use serde_json::Value;

use crate::binaries::{SERVICE_BINARIES, ServiceBinary};
use crate::image::{USER, is_rfc3339};

/// `packages.x86_64-linux` attribute names, sorted.
pub fn expected_packages() -> Vec<String> {
    let mut names: Vec<String> = SERVICE_BINARIES
        .iter()
        .flat_map(|b| [b.name.to_owned(), format!("image-{}", b.name)])
        .chain(["images".to_owned(), "default".to_owned()])
        .collect();
    names.sort();
    names
}

/// `checks.x86_64-linux` attribute names, sorted.
pub fn expected_checks() -> Vec<String> {
    ["clippy", "doc", "fmt", "tests"].map(String::from).to_vec()
}

/// Compares an evaluated attribute name list with the expected one; `Err` lists
/// what is missing and what is extra.
pub fn compare_names(what: &str, got: &[String], want: &[String]) -> Result<(), String> {
    let missing: Vec<&String> = want.iter().filter(|w| !got.contains(w)).collect();
    let extra: Vec<&String> = got.iter().filter(|g| !want.contains(g)).collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{what}: missing {missing:?}, unexpected {extra:?} (expected exactly {want:?})"
    ))
}

/// Problems with one stub image description (`$out` of the stub
/// `buildLayeredImage`); empty when it is what `nix/mk-image.nix` promises.
pub fn check_stub_image(bin: &ServiceBinary, image: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |ok: bool, msg: String| {
        if !ok {
            problems.push(format!("{}: {msg}", bin.name));
        }
    };
    let config = &image["config"];
    expect(
        image["name"] == bin.name,
        format!("name is {}, expected {}", image["name"], bin.name),
    );
    expect(
        config["User"] == USER,
        format!("config.User is {}, expected {USER}", config["User"]),
    );
    let entry = format!("/bin/{}", bin.name);
    expect(
        config["Entrypoint"] == serde_json::json!([entry]),
        format!(
            "config.Entrypoint is {}, expected [\"{entry}\"]",
            config["Entrypoint"]
        ),
    );
    let port = format!("{}/tcp", bin.port);
    expect(
        config["ExposedPorts"].get(&port).is_some(),
        format!("config.ExposedPorts lacks {port}"),
    );
    let revision = &config["Labels"]["org.opencontainers.image.revision"];
    expect(
        revision.as_str().is_some_and(|r| !r.is_empty()),
        "label org.opencontainers.image.revision is missing".to_owned(),
    );
    let created = image["created"].as_str().unwrap_or_default();
    expect(
        is_rfc3339(created),
        format!("created is {created:?}, expected an RFC 3339 time (never \"now\")"),
    );
    expect(
        config["Labels"]["org.opencontainers.image.created"] == image["created"],
        "label org.opencontainers.image.created differs from created".to_owned(),
    );
    let env_ok = config["Env"].as_array().is_some_and(|e| {
        e.iter()
            .any(|v| v.as_str().is_some_and(|s| s.starts_with("SSL_CERT_FILE=")))
    });
    expect(env_ok, "config.Env lacks SSL_CERT_FILE".to_owned());
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binaries::by_name;
    use serde_json::json;

    #[test]
    fn expected_attribute_names() {
        assert_eq!(
            expected_packages(),
            [
                "default",
                "image-openova-flow-emitter",
                "image-openova-flow-proxy",
                "image-openova-flow-server",
                "images",
                "openova-flow-emitter",
                "openova-flow-proxy",
                "openova-flow-server"
            ]
        );
        assert_eq!(expected_checks(), ["clippy", "doc", "fmt", "tests"]);
    }

    #[test]
    fn name_comparison() {
        let want = vec!["a".to_owned(), "b".to_owned()];
        assert!(compare_names("x", &want, &want).is_ok());
        let err = compare_names("x", &["a".to_owned(), "c".to_owned()], &want).unwrap_err();
        assert!(err.contains("missing [\"b\"]") && err.contains("unexpected [\"c\"]"));
    }

    fn good() -> Value {
        json!({
            "name": "openova-flow-server",
            "tag": "dirty",
            "created": "1970-01-01T00:00:01Z",
            "config": {
                "User": "65532:65532",
                "Entrypoint": ["/bin/openova-flow-server"],
                "ExposedPorts": {"8080/tcp": {}},
                "Env": ["SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt"],
                "Labels": {
                    "org.opencontainers.image.revision": "dirty",
                    "org.opencontainers.image.created": "1970-01-01T00:00:01Z"
                }
            }
        })
    }

    #[test]
    fn stub_image_config() {
        let server = by_name("openova-flow-server").unwrap();
        assert_eq!(check_stub_image(&server, &good()), Vec::<String>::new());

        let mut root = good();
        root["config"]["User"] = json!("0:0");
        root["created"] = json!("now");
        let problems = check_stub_image(&server, &root);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("config.User")));
        assert!(problems.iter().any(|p| p.contains("never \"now\"")));

        let emitter = by_name("openova-flow-emitter").unwrap();
        let problems = check_stub_image(&emitter, &good());
        assert!(problems.iter().any(|p| p.contains("8081/tcp")));
        assert!(problems.iter().any(|p| p.contains("Entrypoint")));
    }
}
