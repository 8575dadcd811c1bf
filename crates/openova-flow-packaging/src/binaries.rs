//! The service binaries that are built static, packaged as images and smoke-tested.

/// One packaged service binary. Crate, binary and image share the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceBinary {
    /// Crate name = binary name = image name (`openova-flow-server`, …).
    pub name: &'static str,
    /// The port its health endpoint listens on by default (`EXPOSE`).
    pub port: u16,
    /// One line for the image's `org.opencontainers.image.description`.
    pub description: &'static str,
}

/// The three service binaries, in build order.
pub const SERVICE_BINARIES: [ServiceBinary; 3] = [
    ServiceBinary {
        name: "openova-flow-server",
        port: 8080,
        description: "OpenovaFlow flow server (HTTP + SSE event router)",
    },
    ServiceBinary {
        name: "openova-flow-emitter",
        port: 8081,
        description: "OpenovaFlow Flux emitter",
    },
    ServiceBinary {
        name: "openova-flow-proxy",
        port: 8080,
        description: "OpenovaFlow authenticating proxy",
    },
];

/// Looks a service binary up by name.
pub fn by_name(name: &str) -> Option<ServiceBinary> {
    SERVICE_BINARIES.iter().copied().find(|b| b.name == name)
}

/// Splits the service binaries into those whose crate is in the workspace and
/// those that are not there yet (given the workspace's package names).
pub fn partition_present<'a>(
    workspace_packages: impl IntoIterator<Item = &'a str> + Clone,
) -> (Vec<ServiceBinary>, Vec<ServiceBinary>) {
    SERVICE_BINARIES
        .iter()
        .copied()
        .partition(|b| workspace_packages.clone().into_iter().any(|p| p == b.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_match_the_specs() {
        assert_eq!(by_name("openova-flow-server").map(|b| b.port), Some(8080));
        assert_eq!(by_name("openova-flow-emitter").map(|b| b.port), Some(8081));
        assert_eq!(by_name("openova-flow-proxy").map(|b| b.port), Some(8080));
        assert_eq!(by_name("openova-flow"), None);
    }

    #[test]
    fn partition_reports_missing_crates() {
        let pkgs = ["openova-flow-contract", "openova-flow-server", "xtask"];
        let (present, missing) = partition_present(pkgs.iter().copied());
        assert_eq!(
            present.iter().map(|b| b.name).collect::<Vec<_>>(),
            ["openova-flow-server"]
        );
        assert_eq!(
            missing.iter().map(|b| b.name).collect::<Vec<_>>(),
            ["openova-flow-emitter", "openova-flow-proxy"]
        );
    }
}
