//! The embedded files. Every asset is served with its content type and a
//! strong `ETag` (a content hash computed once), `Cache-Control: no-cache`
//! (revalidate each time: file names carry no version).

use std::sync::OnceLock;

/// The HTML template of the page; `{{API_BASE}}`, `{{FLOW_ID}}` and
/// `{{ASSET_BASE}}` are substituted per response.
pub(crate) const INDEX_TEMPLATE: &str = include_str!("../assets/index.html");

/// One embedded file under `/ui/`.
#[derive(Debug)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file served under `/ui/`.
pub static ASSETS: &[Asset] = &[
    Asset {
        name: "app.mjs",
        content_type: JS,
        body: include_str!("../assets/app.mjs"),
    },
    Asset {
        name: "fold.mjs",
        content_type: JS,
        body: include_str!("../assets/fold.mjs"),
    },
    Asset {
        name: "model.mjs",
        content_type: JS,
        body: include_str!("../assets/model.mjs"),
    },
    Asset {
        name: "layout.mjs",
        content_type: JS,
        body: include_str!("../assets/layout.mjs"),
    },
    Asset {
        name: "connection.mjs",
        content_type: JS,
        body: include_str!("../assets/connection.mjs"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/style.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../assets/favicon.svg"),
    },
];

pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

impl Asset {
    /// A strong validator: `"<16 hex digits>"` of the FNV-1a hash of the body.
    pub fn etag(&self) -> &'static str {
        static TAGS: OnceLock<Vec<String>> = OnceLock::new();
        let tags = TAGS.get_or_init(|| {
            ASSETS
                .iter()
                .map(|a| format!("\"{:016x}\"", fnv1a(a.body.as_bytes())))
                .collect()
        });
        ASSETS
            .iter()
            .position(|a| std::ptr::eq(a, self))
            .and_then(|i| tags.get(i))
            .map_or("\"0\"", String::as_str)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".mjs")) {
            for line in a.body.lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .split('"')
                    .nth(1)
                    .and_then(|p| p.strip_prefix("./"))
                    .unwrap_or_else(|| panic!("{}: unexpected import {line}", a.name));
                assert!(
                    find(target).is_some(),
                    "{} imports {target}, not embedded",
                    a.name
                );
            }
        }
        for needle in [
            "{{ASSET_BASE}}app.mjs",
            "{{ASSET_BASE}}style.css",
            "{{ASSET_BASE}}favicon.svg",
        ] {
            assert!(INDEX_TEMPLATE.contains(needle), "{needle}");
        }
    }

    #[test]
    fn etags_differ_per_content_and_are_quoted() {
        let tags: std::collections::BTreeSet<_> = ASSETS.iter().map(Asset::etag).collect();
        assert_eq!(tags.len(), ASSETS.len());
        assert!(
            tags.iter()
                .all(|t| t.starts_with('"') && t.ends_with('"') && t.len() == 18)
        );
    }

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
