//! Rendered Helm output, parsed, and the assertions `cargo xtask charts` makes
//! on it (packaging.md §1.5 step 4). Every check returns a list of problems,
//! one line each, naming the object; an empty list means the check passed.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use thiserror::Error;

/// The registry prefix every default image reference starts with.
pub const DEFAULT_IMAGE_PREFIX: &str = "harbor.openova.io/proxy-";

/// One Kubernetes object from a rendered template.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// Template path, e.g. `openova-flow-server/templates/service.yaml`.
    pub template: String,
    /// The object.
    pub doc: Value,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.doc["kind"].as_str().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.doc["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// `Kind/name`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("{template}: rendered YAML does not parse: {source}")]
    Yaml {
        template: String,
        source: serde_yaml::Error,
    },
    #[error("{template}: rendered document is not JSON-compatible: {source}")]
    Json {
        template: String,
        source: serde_json::Error,
    },
}

/// Parses Helm's `template path → manifest text` map into objects; empty
/// documents (a disabled template) are dropped.
pub fn parse_rendered(rendered: &BTreeMap<String, String>) -> Result<Vec<Manifest>, ManifestError> {
    use serde::Deserialize as _;
    let mut out = Vec::new();
    for (template, text) in rendered {
        for de in serde_yaml::Deserializer::from_str(text) {
            let yaml =
                serde_yaml::Value::deserialize(de).map_err(|source| ManifestError::Yaml {
                    template: template.clone(),
                    source,
                })?;
            if yaml.is_null() {
                continue;
            }
            let doc = serde_json::to_value(&yaml).map_err(|source| ManifestError::Json {
                template: template.clone(),
                source,
            })?;
            out.push(Manifest {
                template: template.clone(),
                doc,
            });
        }
    }
    Ok(out)
}

/// Objects of one kind.
pub fn of_kind<'a>(ms: &'a [Manifest], kind: &str) -> Vec<&'a Manifest> {
    ms.iter().filter(|m| m.kind() == kind).collect()
}

const WORKLOAD_KINDS: [&str; 3] = ["Deployment", "DaemonSet", "StatefulSet"];

/// Workload objects (Deployment, DaemonSet, StatefulSet).
pub fn workloads(ms: &[Manifest]) -> Vec<&Manifest> {
    ms.iter()
        .filter(|m| WORKLOAD_KINDS.contains(&m.kind()))
        .collect()
}

fn pod_spec(m: &Manifest) -> &Value {
    &m.doc["spec"]["template"]["spec"]
}

fn containers(m: &Manifest) -> Vec<&Value> {
    let spec = pod_spec(m);
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec[*k].as_array())
        .flatten()
        .collect()
}

/// The env var `name` of the first container of the first workload.
pub fn env<'a>(ms: &'a [Manifest], name: &str) -> Option<&'a Value> {
    workloads(ms)
        .into_iter()
        .flat_map(containers)
        .filter_map(|c| c["env"].as_array())
        .flatten()
        .find(|e| e["name"] == name)
}

/// Every image reference rendered: containers and CNPG's `spec.imageName`.
pub fn image_refs(ms: &[Manifest]) -> Vec<String> {
    let mut refs: Vec<String> = workloads(ms)
        .into_iter()
        .flat_map(containers)
        .filter_map(|c| c["image"].as_str().map(str::to_owned))
        .collect();
    refs.extend(
        of_kind(ms, "Cluster")
            .into_iter()
            .filter_map(|c| c.doc["spec"]["imageName"].as_str().map(str::to_owned)),
    );
    refs
}

/// The prefix every image must start with, given `global.imageRegistry`.
pub fn expected_image_prefix(global_image_registry: Option<&str>) -> String {
    match global_image_registry {
        Some(r) if !r.is_empty() => format!("{}/", r.trim_end_matches('/')),
        _ => DEFAULT_IMAGE_PREFIX.to_owned(),
    }
}

/// Every image starts with `prefix`.
pub fn check_images(ms: &[Manifest], prefix: &str) -> Vec<String> {
    let refs = image_refs(ms);
    let mut problems: Vec<String> = refs
        .iter()
        .filter(|r| !r.starts_with(prefix))
        .map(|r| format!("image {r} does not start with {prefix}"))
        .collect();
    if refs.is_empty() && !workloads(ms).is_empty() {
        problems.push("no image reference rendered".to_owned());
    }
    problems
}

/// Labels shared by every object (packaging.md §1.1).
pub fn check_labels(ms: &[Manifest]) -> Vec<String> {
    let required = [
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
        "app.kubernetes.io/component",
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
    ];
    let mut problems = Vec::new();
    for m in ms {
        let labels = &m.doc["metadata"]["labels"];
        for l in required {
            if labels[l].as_str().is_none_or(str::is_empty) {
                problems.push(format!("{}: label {l} missing", m.id()));
            }
        }
        if labels["app.kubernetes.io/part-of"] != "openova-flow" {
            problems.push(format!(
                "{}: label app.kubernetes.io/part-of is not openova-flow",
                m.id()
            ));
        }
    }
    problems
}

fn probe_ok(probe: &Value, path: &str, ports: &[&str]) -> bool {
    let get = &probe["httpGet"];
    get["path"] == path && get["port"].as_str().is_some_and(|p| ports.contains(&p))
}

/// Pod and container security, probes, resources and the writable `/tmp`.
pub fn check_workloads(ms: &[Manifest]) -> Vec<String> {
    let mut problems = Vec::new();
    for m in workloads(ms) {
        let id = m.id();
        let spec = pod_spec(m);
        let psc = &spec["securityContext"];
        let pod_ok = psc["runAsNonRoot"] == true
            && psc["runAsUser"] == 65532
            && psc["runAsGroup"] == 65532
            && psc["fsGroup"] == 65532
            && psc["seccompProfile"]["type"] == "RuntimeDefault";
        if !pod_ok {
            problems.push(format!(
                "{id}: pod securityContext must be runAsNonRoot, 65532/65532/fsGroup 65532, seccomp RuntimeDefault; got {psc}"
            ));
        }
        let tmp_volumes: Vec<&str> = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v.get("emptyDir").is_some())
            .filter_map(|v| v["name"].as_str())
            .collect();
        for c in containers(m) {
            let cname = c["name"].as_str().unwrap_or("?");
            let sc = &c["securityContext"];
            let ok = sc["allowPrivilegeEscalation"] == false
                && sc["readOnlyRootFilesystem"] == true
                && sc["capabilities"]["drop"] == json!(["ALL"])
                && sc["runAsNonRoot"] != false
                && (sc["runAsUser"].is_null() || sc["runAsUser"] == 65532);
            if !ok {
                problems.push(format!(
                    "{id} container {cname}: securityContext must forbid privilege escalation, use a read-only root filesystem and drop ALL capabilities; got {sc}"
                ));
            }
            let ports: Vec<&str> = c["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str())
                .collect();
            if !probe_ok(&c["livenessProbe"], "/healthz", &ports) {
                problems.push(format!(
                    "{id} container {cname}: livenessProbe must GET /healthz on a named container port"
                ));
            }
            if !probe_ok(&c["readinessProbe"], "/readyz", &ports) {
                problems.push(format!(
                    "{id} container {cname}: readinessProbe must GET /readyz on a named container port"
                ));
            }
            let res = &c["resources"];
            for k in ["requests", "limits"] {
                if res[k]["cpu"].is_null() || res[k]["memory"].is_null() {
                    problems.push(format!(
                        "{id} container {cname}: resources.{k} needs cpu and memory"
                    ));
                }
            }
            let tmp_mounted = c["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|vm| {
                    vm["mountPath"] == "/tmp"
                        && vm["name"]
                            .as_str()
                            .is_some_and(|n| tmp_volumes.contains(&n))
                });
            if !tmp_mounted {
                problems.push(format!(
                    "{id} container {cname}: no emptyDir mounted at /tmp"
                ));
            }
        }
    }
    problems
}

fn replicas(m: &Manifest) -> i64 {
    m.doc["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn automount(ms: &[Manifest], want: bool) -> Vec<String> {
    workloads(ms)
        .into_iter()
        .filter(|m| pod_spec(m)["automountServiceAccountToken"] != want)
        .map(|m| format!("{}: automountServiceAccountToken must be {want}", m.id()))
        .collect()
}

/// A Service maps port 80 to the container port named `http`.
fn check_service_http(ms: &[Manifest], service_port: i64) -> Vec<String> {
    let mut problems = Vec::new();
    let services = of_kind(ms, "Service");
    if services.len() != 1 {
        return vec![format!("expected one Service, found {}", services.len())];
    }
    let ports = &services[0].doc["spec"]["ports"];
    if ports[0]["port"] != service_port || ports[0]["targetPort"] != "http" {
        problems.push(format!(
            "{}: expected port {service_port} -> targetPort http, got {ports}",
            services[0].id()
        ));
    }
    let named_http = workloads(ms).into_iter().flat_map(containers).any(|c| {
        c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "http")
    });
    if !named_http {
        problems.push("no container port named http".to_owned());
    }
    problems
}

/// A PDB `minAvailable: 1` exists exactly when the Deployment has more than one replica.
fn check_pdb(ms: &[Manifest]) -> Vec<String> {
    let pdbs = of_kind(ms, "PodDisruptionBudget");
    let n = of_kind(ms, "Deployment").first().map_or(1, |d| replicas(d));
    match (n > 1, pdbs.as_slice()) {
        (true, [pdb]) if pdb.doc["spec"]["minAvailable"] == 1 => vec![],
        (true, _) => vec![format!(
            "replicas {n}: expected one PodDisruptionBudget with minAvailable 1"
        )],
        (false, []) => vec![],
        (false, _) => vec![format!("replicas {n}: no PodDisruptionBudget expected")],
    }
}

fn check_httproute(ms: &[Manifest], service: &str, port: i64) -> Vec<String> {
    let mut problems = Vec::new();
    for r in of_kind(ms, "HTTPRoute") {
        let spec = &r.doc["spec"];
        let parents_ok = spec["parentRefs"].as_array().is_some_and(|p| {
            !p.is_empty()
                && p.iter()
                    .all(|p| p["name"].is_string() && p["namespace"].is_string())
        });
        if !parents_ok {
            problems.push(format!("{}: parentRefs need name and namespace", r.id()));
        }
        if spec["hostnames"].as_array().is_none_or(|h| h.len() != 1) {
            problems.push(format!("{}: expected exactly one hostname", r.id()));
        }
        let backend = &spec["rules"][0]["backendRefs"][0];
        if backend["name"] != service || backend["port"] != port {
            problems.push(format!(
                "{}: the rule must send to Service {service} port {port}, got {backend}",
                r.id()
            ));
        }
        if spec["rules"][0]["matches"][0]["path"] != json!({"type": "PathPrefix", "value": "/"}) {
            problems.push(format!("{}: the rule must match PathPrefix /", r.id()));
        }
    }
    problems
}

/// `env` is read from Secret `secret` key `key`.
fn secret_ref_is(e: Option<&Value>, secret: &str, key: &str) -> bool {
    e.is_some_and(|e| {
        let r = &e["valueFrom"]["secretKeyRef"];
        r["name"] == secret && r["key"] == key
    })
}

/// Chart-specific checks for the flow server (packaging.md §1.2).
pub fn check_server(ms: &[Manifest]) -> Vec<String> {
    let mut problems = check_service_http(ms, 80);
    problems.extend(check_pdb(ms));
    problems.extend(automount(ms, false));
    problems.extend(check_httproute(ms, "openova-flow-server", 80));
    let deployment = of_kind(ms, "Deployment");
    let Some(d) = deployment.first() else {
        problems.push("no Deployment rendered".to_owned());
        return problems;
    };
    let backend = env(ms, "FLOW_SERVER_BACKEND").map(|e| e["value"].clone());
    let postgres = backend == Some(json!("postgres"));
    if !postgres && replicas(d) > 1 {
        problems.push("memory backend with more than one replica".to_owned());
    }
    let strategy = &d.doc["spec"]["strategy"];
    let strategy_ok = if postgres {
        strategy["type"] == "RollingUpdate" && strategy["rollingUpdate"]["maxUnavailable"] == 0
    } else {
        strategy["type"] == "Recreate"
    };
    if !strategy_ok {
        problems.push(format!("strategy {strategy} does not fit the backend"));
    }
    let dsn = env(ms, "FLOW_SERVER_PG_DSN");
    match (postgres, of_kind(ms, "Cluster").first()) {
        (true, Some(cluster)) => {
            let secret = format!("{}-app", cluster.name());
            if !secret_ref_is(dsn, &secret, "uri") {
                problems.push(format!(
                    "FLOW_SERVER_PG_DSN must come from Secret {secret} key uri"
                ));
            }
        }
        (true, None) => {
            if dsn.is_none_or(|e| e["valueFrom"]["secretKeyRef"].is_null()) {
                problems.push("FLOW_SERVER_PG_DSN must come from a Secret".to_owned());
            }
        }
        (false, _) => {
            if dsn.is_some() {
                problems.push("FLOW_SERVER_PG_DSN rendered for the memory backend".to_owned());
            }
        }
    }
    if env(ms, "FLOW_SERVER_LISTEN_ADDR").map(|e| &e["value"]) != Some(&json!(":8080")) {
        problems.push("FLOW_SERVER_LISTEN_ADDR must be \":8080\"".to_owned());
    }
    problems
}

fn rules(m: &Manifest) -> Value {
    m.doc["rules"].clone()
}

/// Chart-specific checks for the emitter (packaging.md §1.3).
pub fn check_emitter(ms: &[Manifest]) -> Vec<String> {
    let mut problems = automount(ms, true);
    let want_cluster = json!([
        {"apiGroups": ["helm.toolkit.fluxcd.io"], "resources": ["helmreleases"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["source.toolkit.fluxcd.io"], "resources": ["helmcharts"], "verbs": ["get", "list", "watch"]}
    ]);
    let want_role = json!([
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]);
    match of_kind(ms, "ClusterRole").as_slice() {
        [cr] if rules(cr) == want_cluster => {}
        [cr] => problems.push(format!(
            "{}: rules must be exactly {want_cluster}, got {}",
            cr.id(),
            rules(cr)
        )),
        other => problems.push(format!("expected one ClusterRole, found {}", other.len())),
    }
    if of_kind(ms, "ClusterRoleBinding").len() != 1 {
        problems.push("expected one ClusterRoleBinding".to_owned());
    }
    let lease = env(ms, "LEASE_NAME");
    let roles = of_kind(ms, "Role");
    if lease.is_some() {
        match roles.as_slice() {
            [r] if rules(r) == want_role => {}
            [r] => problems.push(format!(
                "{}: rules must be exactly {want_role}, got {}",
                r.id(),
                rules(r)
            )),
            other => problems.push(format!(
                "leader election needs one Role, found {}",
                other.len()
            )),
        }
        if of_kind(ms, "RoleBinding").len() != 1 {
            problems.push("leader election needs one RoleBinding".to_owned());
        }
        let pod_name = env(ms, "POD_NAME");
        if pod_name.is_none_or(|e| e["valueFrom"]["fieldRef"]["fieldPath"] != "metadata.name") {
            problems.push("POD_NAME must come from fieldRef metadata.name".to_owned());
        }
    } else if !roles.is_empty() {
        problems.push("Lease Role rendered without leader election".to_owned());
    }
    for w in workloads(ms) {
        let multi = w.kind() == "DaemonSet" || replicas(w) > 1;
        if multi && lease.is_none() {
            problems.push(format!("{}: several pods without leader election", w.id()));
        }
        if w.kind() == "DaemonSet" {
            let tol = &pod_spec(w)["tolerations"];
            for key in [
                "node-role.kubernetes.io/control-plane",
                "node-role.kubernetes.io/master",
            ] {
                let present = tol.as_array().is_some_and(|t| {
                    t.iter().any(|t| {
                        t["key"] == key && t["operator"] == "Exists" && t["effect"] == "NoSchedule"
                    })
                });
                if !present {
                    problems.push(format!(
                        "{}: missing toleration {key} Exists NoSchedule",
                        w.id()
                    ));
                }
            }
        }
    }
    for name in [
        "FLOW_SERVER_URL",
        "FLOW_ID",
        "REGION_KEY",
        "NAMESPACE_FILTER",
        "HEALTH_LISTEN_ADDR",
    ] {
        if env(ms, name).is_none() {
            problems.push(format!("env {name} not rendered"));
        }
    }
    problems
}

/// Chart-specific checks for the proxy (packaging.md §1.4).
pub fn check_proxy(ms: &[Manifest]) -> Vec<String> {
    let mut problems = check_service_http(ms, 80);
    problems.extend(check_pdb(ms));
    problems.extend(automount(ms, false));
    problems.extend(check_httproute(ms, "openova-flow-proxy", 80));
    let sources: Vec<&str> = [
        "OPENOVA_FLOW_JWKS_URL",
        "OPENOVA_FLOW_JWKS_FILE",
        "OPENOVA_FLOW_JWT_SECRET",
    ]
    .into_iter()
    .filter(|n| env(ms, n).is_some())
    .collect();
    if sources.len() != 1 {
        problems.push(format!(
            "exactly one auth source must be rendered, got {sources:?}"
        ));
    }
    let mounted = |dir: &str| {
        workloads(ms).into_iter().flat_map(containers).any(|c| {
            c["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|vm| {
                    vm["mountPath"].as_str().is_some_and(|p| dir.starts_with(p))
                        && vm["readOnly"] == true
                })
        })
    };
    for file_env in ["OPENOVA_FLOW_JWKS_FILE", "OPENOVA_FLOW_DEPLOYMENTS_FILE"] {
        if let Some(path) = env(ms, file_env).and_then(|e| e["value"].as_str())
            && !mounted(path)
        {
            problems.push(format!("{file_env}={path} is not on a read-only mount"));
        }
    }
    if env(ms, "OPENOVA_FLOW_SERVER_URL").is_none() {
        problems.push("OPENOVA_FLOW_SERVER_URL not rendered".to_owned());
    }
    problems
}

/// Everything `cargo xtask charts` asserts on a successful render of `chart`
/// (objects, security, images under `image_prefix`, chart-specific rules).
/// A render with no objects passes here; [`Expect::ZeroDocs`] asks for that.
pub fn check_chart(chart: &str, ms: &[Manifest], image_prefix: &str) -> Vec<String> {
    if ms.is_empty() {
        return vec![];
    }
    let mut problems = check_labels(ms);
    problems.extend(check_workloads(ms));
    problems.extend(check_images(ms, image_prefix));
    problems.extend(match chart {
        "openova-flow-server" => check_server(ms),
        "openova-flow-emitter" => check_emitter(ms),
        "openova-flow-proxy" => check_proxy(ms),
        other => vec![format!("unknown chart {other}")],
    });
    problems
}

/// A case-specific expectation on one `ci/*-values.yaml` render.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Nothing is rendered (`enabled: false`).
    ZeroDocs,
    /// Exactly `n` objects of this kind.
    Count(&'static str, usize),
    /// The (single) workload's `spec.replicas`.
    Replicas(i64),
    /// Env var with this literal value.
    Env(&'static str, &'static str),
    /// Env var not rendered.
    NoEnv(&'static str),
    /// Env var from `secretKeyRef` (secret, key).
    SecretRef(&'static str, &'static str, &'static str),
    /// Every container image contains this text.
    ImageContains(&'static str),
}

/// Checks one expectation.
pub fn check_expect(ms: &[Manifest], e: &Expect) -> Result<(), String> {
    let ok = match e {
        Expect::ZeroDocs => ms.is_empty(),
        Expect::Count(kind, n) => of_kind(ms, kind).len() == *n,
        Expect::Replicas(n) => workloads(ms).first().is_some_and(|w| replicas(w) == *n),
        Expect::Env(name, value) => env(ms, name).is_some_and(|e| e["value"] == *value),
        Expect::NoEnv(name) => env(ms, name).is_none(),
        Expect::SecretRef(name, secret, key) => secret_ref_is(env(ms, name), secret, key),
        Expect::ImageContains(text) => {
            let refs: Vec<String> = workloads(ms)
                .into_iter()
                .flat_map(containers)
                .filter_map(|c| c["image"].as_str().map(str::to_owned))
                .collect();
            !refs.is_empty() && refs.iter().all(|r| r.contains(text))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {e:?}"))
    }
}

/// The case-specific expectations for `charts/<chart>/ci/<case>.yaml`; `None`
/// for a values file without any (only [`check_chart`] applies).
pub fn case_expectations(chart: &str, case: &str) -> Option<Vec<Expect>> {
    use Expect::*;
    let list = match (chart, case) {
        (_, "disabled-values") => vec![ZeroDocs],
        ("openova-flow-server" | "openova-flow-proxy", "kit-secondary") => vec![ZeroDocs],
        ("openova-flow-server", "kit-primary") => vec![
            Count("Cluster", 1),
            Count("HTTPRoute", 1),
            Env("FLOW_SERVER_BACKEND", "postgres"),
            SecretRef("FLOW_SERVER_PG_DSN", "openova-flow-pg-app", "uri"),
        ],
        ("openova-flow-proxy", "kit-primary") => vec![Count("Deployment", 1)],
        ("openova-flow-emitter", "kit-primary" | "kit-secondary") => {
            vec![Count("DaemonSet", 1), Count("Role", 1)]
        }
        ("openova-flow-server", "tag-values") => vec![
            Count("Deployment", 1),
            Replicas(1),
            Count("PodDisruptionBudget", 0),
            Count("Cluster", 0),
            Count("HTTPRoute", 0),
            Env("FLOW_SERVER_BACKEND", "memory"),
            NoEnv("FLOW_SERVER_INGEST_TOKEN"),
            NoEnv("FLOW_SERVER_CORS_ORIGINS"),
            ImageContains("/openova-flow-server:0.1.0"),
        ],
        ("openova-flow-server", "digest-values") => vec![ImageContains(
            "openova-flow-server@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )],
        ("openova-flow-server", "postgres-ha-values") => vec![
            Replicas(2),
            Count("PodDisruptionBudget", 1),
            Count("Cluster", 1),
            Count("HTTPRoute", 1),
            Env("FLOW_SERVER_BACKEND", "postgres"),
            SecretRef("FLOW_SERVER_PG_DSN", "openova-flow-pg-app", "uri"),
            SecretRef(
                "FLOW_SERVER_INGEST_TOKEN",
                "openova-flow-tokens",
                "ingest-token",
            ),
            SecretRef(
                "FLOW_SERVER_READ_TOKEN",
                "openova-flow-tokens",
                "read-token",
            ),
            Env("FLOW_SERVER_CORS_ORIGINS", "https://console.example.org"),
        ],
        ("openova-flow-server", "postgres-existing-secret-values") => vec![
            Replicas(1),
            Count("PodDisruptionBudget", 0),
            Count("Cluster", 0),
            SecretRef("FLOW_SERVER_PG_DSN", "flow-pg-dsn", "dsn"),
        ],
        ("openova-flow-server", "registry-values") => vec![Count("Cluster", 1)],
        ("openova-flow-emitter", "daemonset-values") => vec![
            Count("DaemonSet", 1),
            Count("Role", 1),
            Env("LEASE_NAME", "openova-flow-emitter-leader"),
            Env("NAMESPACE_FILTER", "flux-system"),
            Env("HEALTH_LISTEN_ADDR", ":8081"),
            SecretRef("FLOW_SERVER_TOKEN", "openova-flow-tokens", "ingest-token"),
        ],
        ("openova-flow-emitter", "deployment-values") => vec![
            Count("Deployment", 1),
            Replicas(1),
            Count("Role", 0),
            NoEnv("LEASE_NAME"),
            NoEnv("POD_NAME"),
            Env("NAMESPACE_FILTER", ""),
            ImageContains("@sha256:"),
        ],
        ("openova-flow-emitter", "registry-values") => {
            vec![Count("Deployment", 1), Replicas(2), Count("Role", 1)]
        }
        ("openova-flow-proxy", "jwks-url-values") => vec![
            Replicas(2),
            Count("PodDisruptionBudget", 1),
            Count("HTTPRoute", 1),
            Env(
                "OPENOVA_FLOW_JWKS_URL",
                "https://auth.example.org/realms/sovereign/protocol/openid-connect/certs",
            ),
            Env(
                "OPENOVA_FLOW_JWT_ISSUER",
                "https://auth.example.org/realms/sovereign",
            ),
            SecretRef(
                "OPENOVA_FLOW_SERVER_READ_TOKEN",
                "openova-flow-tokens",
                "read-token",
            ),
            SecretRef(
                "OPENOVA_FLOW_SERVER_INGEST_TOKEN",
                "openova-flow-tokens",
                "ingest-token",
            ),
        ],
        ("openova-flow-proxy", "jwks-configmap-values") => vec![
            Replicas(1),
            Count("PodDisruptionBudget", 0),
            Count("ConfigMap", 1),
            Env("OPENOVA_FLOW_JWKS_FILE", "/etc/openova-flow/jwks/jwks.json"),
            Env("OPENOVA_FLOW_JWT_AUDIENCE", "openova-flow"),
            Env(
                "OPENOVA_FLOW_DEPLOYMENTS_FILE",
                "/etc/openova-flow/deployments/deployments.yaml",
            ),
        ],
        ("openova-flow-proxy", "jwt-secret-values") => vec![
            SecretRef("OPENOVA_FLOW_JWT_SECRET", "openova-flow-jwt", "secret"),
            Env("OPENOVA_FLOW_TLS_SKIP_VERIFY", "true"),
            Env("OPENOVA_FLOW_PROXY_TIMEOUT", "30s"),
            NoEnv("OPENOVA_FLOW_JWKS_URL"),
        ],
        _ => return None,
    };
    Some(list)
}

#[cfg(test)]
#[path = "manifests_tests.rs"]
mod tests;
