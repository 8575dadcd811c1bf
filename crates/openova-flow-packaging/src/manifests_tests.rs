//! Unit tests of the chart assertions on small hand-written manifests.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;

const LABELS: &str = r#"
    app.kubernetes.io/name: x
    app.kubernetes.io/instance: x
    app.kubernetes.io/version: "0.1.0"
    app.kubernetes.io/component: server
    app.kubernetes.io/part-of: openova-flow
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: x-0.1.0"#;

fn server_yaml(replicas: u32, backend: &str) -> String {
    let dsn = if backend == "postgres" {
        "
            - name: FLOW_SERVER_PG_DSN
              valueFrom:
                secretKeyRef: {name: openova-flow-pg-app, key: uri}"
    } else {
        ""
    };
    let strategy = if backend == "postgres" {
        "{type: RollingUpdate, rollingUpdate: {maxUnavailable: 0}}"
    } else {
        "{type: Recreate}"
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: openova-flow-server
  labels:{LABELS}
spec:
  replicas: {replicas}
  strategy: {strategy}
  template:
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        fsGroup: 65532
        seccompProfile: {{type: RuntimeDefault}}
      containers:
        - name: server
          image: harbor.openova.io/proxy-ghcr/openova-io/openova-flow-server:0.1.0
          ports: [{{name: http, containerPort: 8080}}]
          env:
            - {{name: FLOW_SERVER_LISTEN_ADDR, value: ":8080"}}
            - {{name: FLOW_SERVER_BACKEND, value: {backend}}}{dsn}
          livenessProbe: {{httpGet: {{path: /healthz, port: http}}}}
          readinessProbe: {{httpGet: {{path: /readyz, port: http}}}}
          resources:
            requests: {{cpu: 25m, memory: 64Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
          volumeMounts: [{{name: tmp, mountPath: /tmp}}]
      volumes: [{{name: tmp, emptyDir: {{}}}}]
---
apiVersion: v1
kind: Service
metadata:
  name: openova-flow-server
  labels:{LABELS}
spec:
  ports: [{{name: http, port: 80, targetPort: http}}]
"#
    )
}

const PDB: &str = r#"apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: openova-flow-server
  labels:
    app.kubernetes.io/name: x
    app.kubernetes.io/instance: x
    app.kubernetes.io/version: "0.1.0"
    app.kubernetes.io/component: server
    app.kubernetes.io/part-of: openova-flow
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: x-0.1.0
spec:
  minAvailable: 1
"#;

const CLUSTER: &str = r#"apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata:
  name: openova-flow-pg
  labels:
    app.kubernetes.io/name: x
    app.kubernetes.io/instance: x
    app.kubernetes.io/version: "0.1.0"
    app.kubernetes.io/component: server
    app.kubernetes.io/part-of: openova-flow
    app.kubernetes.io/managed-by: Helm
    helm.sh/chart: x-0.1.0
spec:
  instances: 2
  imageName: harbor.openova.io/proxy-ghcr/cloudnative-pg/postgresql:16
"#;

fn parse(files: &[(&str, &str)]) -> Vec<Manifest> {
    let map: BTreeMap<String, String> = files
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse_rendered(&map).unwrap()
}

fn server(replicas: u32, backend: &str, extra: &[&str]) -> Vec<Manifest> {
    let mut files = vec![("t/server.yaml".to_owned(), server_yaml(replicas, backend))];
    for (i, e) in extra.iter().enumerate() {
        files.push((format!("t/extra{i}.yaml"), (*e).to_owned()));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    parse(&refs)
}

fn edit(ms: &mut [Manifest], kind: &str, f: impl Fn(&mut Value)) {
    for m in ms.iter_mut().filter(|m| m.kind() == kind) {
        f(&mut m.doc);
    }
}

#[test]
fn parses_multi_document_templates_and_drops_empty_ones() {
    let ms = parse(&[
        ("a.yaml", "\n---\n# only a comment\n"),
        (
            "b.yaml",
            "kind: A\nmetadata: {name: a}\n---\nkind: B\nmetadata: {name: b}\n",
        ),
    ]);
    assert_eq!(
        ms.iter().map(Manifest::id).collect::<Vec<_>>(),
        ["A/a", "B/b"]
    );
    assert_eq!(ms[1].template, "b.yaml");
}

#[test]
fn bad_yaml_names_the_template() {
    let map = BTreeMap::from([("t/x.yaml".to_owned(), "a: [\n".to_owned())]);
    let err = parse_rendered(&map).unwrap_err().to_string();
    assert!(err.starts_with("t/x.yaml:"), "{err}");
}

#[test]
fn a_good_memory_server_passes() {
    let ms = server(1, "memory", &[]);
    assert_eq!(
        check_chart("openova-flow-server", &ms, DEFAULT_IMAGE_PREFIX),
        Vec::<String>::new()
    );
}

#[test]
fn a_good_postgres_ha_server_passes() {
    let ms = server(2, "postgres", &[PDB, CLUSTER]);
    assert_eq!(
        check_chart("openova-flow-server", &ms, DEFAULT_IMAGE_PREFIX),
        Vec::<String>::new()
    );
    assert!(
        check_expect(
            &ms,
            &Expect::SecretRef("FLOW_SERVER_PG_DSN", "openova-flow-pg-app", "uri")
        )
        .is_ok()
    );
}

#[test]
fn pdb_must_follow_replicas() {
    let missing = check_chart(
        "openova-flow-server",
        &server(2, "postgres", &[CLUSTER]),
        DEFAULT_IMAGE_PREFIX,
    );
    assert!(
        missing
            .iter()
            .any(|p| p.contains("expected one PodDisruptionBudget")),
        "{missing:?}"
    );
    let extra = check_chart(
        "openova-flow-server",
        &server(1, "memory", &[PDB]),
        DEFAULT_IMAGE_PREFIX,
    );
    assert!(
        extra
            .iter()
            .any(|p| p.contains("no PodDisruptionBudget expected")),
        "{extra:?}"
    );
}

#[test]
fn memory_backend_with_two_replicas_is_flagged() {
    let p = check_server(&server(2, "memory", &[PDB]));
    assert!(
        p.iter()
            .any(|p| p.contains("memory backend with more than one replica")),
        "{p:?}"
    );
    assert_eq!(p.len(), 1, "{p:?}");
}

#[test]
fn dsn_must_come_from_the_cnpg_app_secret() {
    let mut ms = server(2, "postgres", &[PDB, CLUSTER]);
    edit(&mut ms, "Cluster", |d| {
        d["metadata"]["name"] = json!("other-pg")
    });
    let p = check_server(&ms);
    assert!(
        p.iter().any(|p| p.contains("Secret other-pg-app key uri")),
        "{p:?}"
    );
}

#[test]
fn security_context_regressions_are_caught() {
    type Mutation = fn(&mut Value);
    let cases: [(&str, Mutation); 5] = [
        ("read-only", |d| {
            d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] =
                json!(false)
        }),
        ("capabilities", |d| {
            d["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"] =
                json!({"drop": ["NET_RAW"]})
        }),
        ("pod securityContext", |d| {
            d["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = json!(0)
        }),
        ("livenessProbe", |d| {
            d["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["path"] =
                json!("/")
        }),
        ("resources.limits", |d| {
            d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] =
                json!({"cpu": "1"})
        }),
    ];
    for (needle, mutate) in cases {
        let mut ms = server(1, "memory", &[]);
        edit(&mut ms, "Deployment", mutate);
        let p = check_workloads(&ms);
        assert!(p.iter().any(|p| p.contains(needle)), "{needle}: {p:?}");
    }
}

#[test]
fn missing_tmp_volume_is_caught() {
    let mut ms = server(1, "memory", &[]);
    edit(&mut ms, "Deployment", |d| {
        d["spec"]["template"]["spec"]["volumes"] = json!([])
    });
    assert!(check_workloads(&ms).iter().any(|p| p.contains("/tmp")));
}

#[test]
fn images_must_use_the_expected_registry() {
    let ms = server(2, "postgres", &[PDB, CLUSTER]);
    assert_eq!(image_refs(&ms).len(), 2);
    assert!(check_images(&ms, DEFAULT_IMAGE_PREFIX).is_empty());
    let p = check_images(&ms, &expected_image_prefix(Some("registry.example.org/")));
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(expected_image_prefix(Some("")), DEFAULT_IMAGE_PREFIX);
}

#[test]
fn service_must_target_the_named_port() {
    let mut ms = server(1, "memory", &[]);
    edit(&mut ms, "Service", |d| {
        d["spec"]["ports"][0]["targetPort"] = json!(8080)
    });
    assert!(
        check_server(&ms)
            .iter()
            .any(|p| p.contains("targetPort http"))
    );
}

#[test]
fn labels_are_required_on_every_object() {
    let mut ms = server(1, "memory", &[]);
    edit(&mut ms, "Service", |d| {
        d["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app.kubernetes.io/part-of");
    });
    let p = check_labels(&ms);
    assert_eq!(
        p,
        ["Service/openova-flow-server: label app.kubernetes.io/part-of is not openova-flow"]
    );
}

const EMITTER: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: openova-flow-emitter}
spec:
  template:
    spec:
      automountServiceAccountToken: true
      tolerations:
        - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
        - {key: node-role.kubernetes.io/master, operator: Exists, effect: NoSchedule}
      containers:
        - name: emitter
          env:
            - {name: FLOW_SERVER_URL, value: "http://s"}
            - {name: FLOW_ID, value: "0123456789012345"}
            - {name: REGION_KEY, value: fsn1}
            - {name: NAMESPACE_FILTER, value: flux-system}
            - {name: HEALTH_LISTEN_ADDR, value: ":8081"}
            - {name: LEASE_NAME, value: openova-flow-emitter-leader}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: openova-flow-emitter}
rules:
  - {apiGroups: [helm.toolkit.fluxcd.io], resources: [helmreleases], verbs: [get, list, watch]}
  - {apiGroups: [source.toolkit.fluxcd.io], resources: [helmcharts], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: openova-flow-emitter}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: openova-flow-emitter-leader}
rules:
  - {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: openova-flow-emitter-leader}
"#;

#[test]
fn emitter_rbac_and_leader_election() {
    let good = parse(&[("e.yaml", EMITTER)]);
    assert_eq!(check_emitter(&good), Vec::<String>::new());

    // The reference's bug: helmcharts under the helm.toolkit group.
    let mut wrong_group = good.clone();
    edit(&mut wrong_group, "ClusterRole", |d| {
        d["rules"][1]["apiGroups"] = json!(["helm.toolkit.fluxcd.io"])
    });
    assert!(
        check_emitter(&wrong_group)
            .iter()
            .any(|p| p.contains("rules must be exactly"))
    );

    let mut no_pod_name = good.clone();
    edit(&mut no_pod_name, "DaemonSet", |d| {
        let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap();
        env.retain(|e| e["name"] != "POD_NAME");
    });
    assert!(
        check_emitter(&no_pod_name)
            .iter()
            .any(|p| p.contains("POD_NAME"))
    );

    let mut no_lease = good.clone();
    edit(&mut no_lease, "DaemonSet", |d| {
        let env = d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap();
        env.retain(|e| e["name"] != "LEASE_NAME");
    });
    let p = check_emitter(&no_lease);
    assert!(
        p.iter()
            .any(|p| p.contains("several pods without leader election")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.contains("Lease Role rendered without leader election")),
        "{p:?}"
    );

    let mut no_tolerations = good;
    edit(&mut no_tolerations, "DaemonSet", |d| {
        d["spec"]["template"]["spec"]["tolerations"] = json!([])
    });
    assert_eq!(
        check_emitter(&no_tolerations)
            .iter()
            .filter(|p| p.contains("missing toleration"))
            .count(),
        2
    );
}

const PROXY: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: openova-flow-proxy}
spec:
  replicas: 1
  template:
    spec:
      automountServiceAccountToken: false
      containers:
        - name: proxy
          ports: [{name: http, containerPort: 8080}]
          env:
            - {name: OPENOVA_FLOW_SERVER_URL, value: "http://s"}
            - {name: OPENOVA_FLOW_JWKS_FILE, value: /etc/openova-flow/jwks/jwks.json}
          volumeMounts:
            - {name: jwks, mountPath: /etc/openova-flow/jwks, readOnly: true}
---
apiVersion: v1
kind: Service
metadata: {name: openova-flow-proxy}
spec:
  ports: [{port: 80, targetPort: http}]
"#;

#[test]
fn proxy_needs_exactly_one_auth_source_on_a_mount() {
    let good = parse(&[("p.yaml", PROXY)]);
    assert_eq!(check_proxy(&good), Vec::<String>::new());

    let mut two = good.clone();
    edit(&mut two, "Deployment", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "OPENOVA_FLOW_JWKS_URL", "value": "https://a"}))
    });
    assert!(
        check_proxy(&two)
            .iter()
            .any(|p| p.contains("exactly one auth source"))
    );

    let mut unmounted = good;
    edit(&mut unmounted, "Deployment", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = json!([])
    });
    assert!(
        check_proxy(&unmounted)
            .iter()
            .any(|p| p.contains("not on a read-only mount"))
    );
}

#[test]
fn expectations() {
    let ms = server(1, "memory", &[]);
    assert!(check_expect(&ms, &Expect::Count("Deployment", 1)).is_ok());
    assert!(check_expect(&ms, &Expect::Count("Cluster", 1)).is_err());
    assert!(check_expect(&ms, &Expect::Replicas(1)).is_ok());
    assert!(check_expect(&ms, &Expect::Env("FLOW_SERVER_BACKEND", "memory")).is_ok());
    assert!(check_expect(&ms, &Expect::Env("FLOW_SERVER_BACKEND", "postgres")).is_err());
    assert!(check_expect(&ms, &Expect::NoEnv("FLOW_SERVER_PG_DSN")).is_ok());
    assert!(check_expect(&ms, &Expect::ImageContains(":0.1.0")).is_ok());
    assert!(check_expect(&ms, &Expect::ImageContains("@sha256:")).is_err());
    assert!(check_expect(&ms, &Expect::ZeroDocs).is_err());
    assert!(check_expect(&[], &Expect::ZeroDocs).is_ok());
    assert_eq!(
        check_chart("openova-flow-server", &[], ""),
        Vec::<String>::new()
    );
}

#[test]
fn every_shipped_ci_values_file_has_expectations() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts");
    let mut n = 0;
    for chart in [
        "openova-flow-server",
        "openova-flow-emitter",
        "openova-flow-proxy",
    ] {
        for e in std::fs::read_dir(root.join(chart).join("ci")).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if let Some(case) = name.strip_suffix(".yaml") {
                assert!(
                    case_expectations(chart, case).is_some(),
                    "{chart}/ci/{name} has no expectations"
                );
                n += 1;
            }
        }
    }
    assert!(n >= 12, "found only {n} ci values files");
}
