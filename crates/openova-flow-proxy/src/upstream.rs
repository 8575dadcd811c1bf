//! Upstream resolution (proxy.md §6): the per-deployment overrides file, the
//! default base URL, and building the upstream URL from scratch.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use serde::Deserialize;

use crate::config::{BaseUrl, ConfigError};
use crate::ids::DeploymentId;

/// The upstream operation of a proxied route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET …/snapshot`
    Snapshot,
    /// `POST …/events`
    Events,
    /// `GET …/stream`
    Stream,
}

impl Op {
    fn suffix(self) -> &'static str {
        match self {
            Op::Snapshot => "snapshot",
            Op::Events => "events",
            Op::Stream => "stream",
        }
    }
}

/// `<base>/v1/flows/<id as one encoded segment>/<op>`. Nothing of the client's
/// path or query is reused.
pub fn upstream_url(base: &BaseUrl, id: &DeploymentId, op: Op) -> String {
    format!(
        "{}/v1/flows/{}/{}",
        base.as_str(),
        id.to_path_segment(),
        op.suffix()
    )
}

/// `deploymentId → serverUrl`.
pub type DeploymentMap = HashMap<String, BaseUrl>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Entry {
    server_url: String,
}

/// Parses the deployments file: a YAML map `deploymentId → {serverUrl}`.
/// Keys must be valid ids and `serverUrl` an absolute http/https URL. An empty
/// document is an empty map. The error is one line.
pub fn parse_deployments_file(text: &str) -> Result<DeploymentMap, String> {
    let raw: Option<BTreeMap<String, Entry>> =
        serde_yaml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
    let mut map = DeploymentMap::new();
    for (key, entry) in raw.unwrap_or_default() {
        let id = DeploymentId::parse(&key).map_err(|_| {
            format!("key {key:?} is not a valid deploymentId ([A-Za-z0-9._:-]{{1,128}})")
        })?;
        let url = BaseUrl::parse(&entry.server_url).map_err(|detail| {
            format!(
                "{key}: serverUrl {:?} is not an absolute http or https URL ({detail})",
                entry.server_url
            )
        })?;
        map.insert(id.as_str().to_owned(), url);
    }
    Ok(map)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a reload check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// No file configured, or its modification time did not change.
    Unchanged,
    /// The file changed and the new map is in use.
    Reloaded,
    /// The file changed but could not be used; the previous map stays.
    Failed(String),
}

/// Resolves a deployment's upstream base URL.
#[derive(Debug)]
pub struct Upstreams {
    default: BaseUrl,
    file: Option<PathBuf>,
    map: RwLock<Arc<DeploymentMap>>,
    mtime: Mutex<Option<SystemTime>>,
}

impl Upstreams {
    /// Loads the deployments file (if any). Any problem is a configuration error.
    pub fn load(default: BaseUrl, file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let (map, mtime) = match &file {
            Some(path) => {
                let (map, mtime) =
                    read_file(path).map_err(|detail| ConfigError::DeploymentsFile {
                        path: path.clone(),
                        detail,
                    })?;
                (map, Some(mtime))
            }
            None => (DeploymentMap::new(), None),
        };
        Ok(Self {
            default,
            file,
            map: RwLock::new(Arc::new(map)),
            mtime: Mutex::new(mtime),
        })
    }

    /// The id's `serverUrl` from the file, else the default.
    pub fn base_for(&self, id: &DeploymentId) -> BaseUrl {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.get(id.as_str())
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }

    /// Whether a deployments file is configured.
    pub fn has_file(&self) -> bool {
        self.file.is_some()
    }

    /// Re-reads the file when its modification time changed. A failed reload
    /// keeps the previous map. (Blocking file I/O: small, local.)
    pub fn reload_if_changed(&self) -> ReloadOutcome {
        let Some(path) = &self.file else {
            return ReloadOutcome::Unchanged;
        };
        let current = std::fs::metadata(path).and_then(|m| m.modified());
        let mut last = self.mtime.lock().unwrap_or_else(PoisonError::into_inner);
        match current {
            Ok(t) if Some(t) == *last => return ReloadOutcome::Unchanged,
            Ok(_) | Err(_) => {}
        }
        match read_file(path) {
            Ok((map, mtime)) => {
                *last = Some(mtime);
                *self.map.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
                ReloadOutcome::Reloaded
            }
            Err(detail) => {
                // Remember the failing version so the error is logged once per change.
                if let Ok(t) = current {
                    *last = Some(t);
                }
                ReloadOutcome::Failed(detail)
            }
        }
    }
}

fn read_file(path: &Path) -> Result<(DeploymentMap, SystemTime), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let mtime = meta.modified().map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    Ok((parse_deployments_file(&text)?, mtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DeploymentId {
        DeploymentId::parse(s).unwrap()
    }

    #[test]
    fn url_is_built_from_scratch_with_prefix_kept() {
        let base = BaseUrl::parse("https://h/flow/").unwrap();
        assert_eq!(
            upstream_url(&base, &id("5a175e0a88c99cec"), Op::Snapshot),
            "https://h/flow/v1/flows/5a175e0a88c99cec/snapshot"
        );
        let base = BaseUrl::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            upstream_url(&base, &id("a:b"), Op::Events),
            "http://127.0.0.1:9/v1/flows/a:b/events"
        );
        assert_eq!(
            upstream_url(&base, &id("x"), Op::Stream),
            "http://127.0.0.1:9/v1/flows/x/stream"
        );
    }

    #[test]
    fn deployments_file_parses() {
        let map = parse_deployments_file(
            "5a175e0a88c99cec:\n  serverUrl: https://openova-flow.tenant-7.example.org/\nother:\n  serverUrl: http://10.0.0.1:8080\n",
        )
        .unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(
            map["5a175e0a88c99cec"].as_str(),
            "https://openova-flow.tenant-7.example.org"
        );
        assert_eq!(map["other"].as_str(), "http://10.0.0.1:8080");
        assert!(parse_deployments_file("").unwrap().is_empty());
        assert!(
            parse_deployments_file("# only a comment\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn deployments_file_rejects_bad_entries() {
        for (text, needle) in [
            ("a/b:\n  serverUrl: http://h\n", "not a valid deploymentId"),
            (
                "\"..\":\n  serverUrl: http://h\n",
                "not a valid deploymentId",
            ),
            ("a:\n  serverUrl: ftp://h\n", "serverUrl"),
            ("a:\n  serverUrl: /relative\n", "serverUrl"),
            ("a:\n  serverURL: http://h\n", "unknown field"),
            ("a: http://h\n", ""),
            ("- a\n- b\n", ""),
            ("a:\n  serverUrl: [\n", ""),
        ] {
            let err = parse_deployments_file(text).unwrap_err();
            assert!(err.contains(needle), "{text:?} → {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn resolution_uses_entry_else_default_and_reloads_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deps.yaml");
        std::fs::write(&path, "d1:\n  serverUrl: http://one\n").unwrap();
        let default = BaseUrl::parse("http://default").unwrap();
        let up = Upstreams::load(default, Some(path.clone())).unwrap();
        assert_eq!(up.base_for(&id("d1")).as_str(), "http://one");
        assert_eq!(up.base_for(&id("d2")).as_str(), "http://default");
        assert_eq!(up.reload_if_changed(), ReloadOutcome::Unchanged);

        // A broken edit keeps the previous map.
        std::fs::write(&path, "d1: [\n").unwrap();
        bump_mtime(&path, 10);
        assert!(matches!(up.reload_if_changed(), ReloadOutcome::Failed(_)));
        assert_eq!(up.base_for(&id("d1")).as_str(), "http://one");
        assert_eq!(up.reload_if_changed(), ReloadOutcome::Unchanged);

        std::fs::write(&path, "d2:\n  serverUrl: http://two\n").unwrap();
        bump_mtime(&path, 20);
        assert_eq!(up.reload_if_changed(), ReloadOutcome::Reloaded);
        assert_eq!(up.base_for(&id("d1")).as_str(), "http://default");
        assert_eq!(up.base_for(&id("d2")).as_str(), "http://two");
    }

    #[test]
    fn invalid_file_at_start_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deps.yaml");
        std::fs::write(&path, "bad id:\n  serverUrl: http://h\n").unwrap();
        let err = Upstreams::load(BaseUrl::parse("http://d").unwrap(), Some(path)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot load OPENOVA_FLOW_DEPLOYMENTS_FILE")
        );
        let missing = dir.path().join("missing.yaml");
        assert!(Upstreams::load(BaseUrl::parse("http://d").unwrap(), Some(missing)).is_err());
    }

    /// Sets the file's mtime `secs` seconds into the future so a change is
    /// visible even on filesystems with coarse timestamps.
    fn bump_mtime(path: &Path, secs: u64) {
        let t = SystemTime::now() + std::time::Duration::from_secs(secs);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
}
