"""Helm driver for `cargo xtask charts` (packaging.md §1.5).

Reads one JSON request on stdin and writes one JSON answer on stdout, so the
Rust side owns every decision and this file only calls Helm's Go SDK
(helm-python-sdk) and kubernetes-validate:

    {"kube_version": "v1.31.0",
     "ops": [{"op": "lint", "chart": DIR, "values_file": FILE|null},
             {"op": "render", "chart": DIR, "values_file": FILE|null,
              "name": NAME, "namespace": NS, "values": {...}|null,
              "validate": true}]}

    {"helm_sdk": VERSION, "results": [
        {"errors": [...], "warnings": [...], "infos": [...]},                # lint
        {"manifests": {TEMPLATE: TEXT}, "error": null,
         "validation": [{"template", "object", "outcome", "message"}]}]}      # render

`outcome` is "ok", "invalid" or "no-schema". Values files are read with
Helm's own YAML loader; `values` (JSON) is merged on top, maps recursively.
"""

import json
import sys

import helm_python as helm
import yaml
from kubernetes_validate import utils as kv


def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v) if k in base else v
        return out
    return over


def load_values(op):
    values = {}
    if op.get("values_file"):
        with open(op["values_file"], encoding="utf-8") as f:
            values = helm.values_from_yaml(f.read()) or {}
    if op.get("values"):
        values = merge(values, op["values"])
    return values


def lint(op, kube_version):
    report = helm.lint(
        op["chart"], load_values(op), strict=True, kube_version=kube_version
    )
    by = {1: "infos", 2: "warnings", 3: "errors"}
    out = {"errors": [], "warnings": [], "infos": []}
    for m in report.get("messages") or []:
        out[by.get(m.get("severity"), "errors")].append(
            "%s: %s" % (m.get("path"), (m.get("error") or "").strip())
        )
    for e in report.get("errors") or []:
        text = str(e).strip()
        if text and not any(text in x for x in out["errors"]):
            out["errors"].append(text)
    return out


def validate(manifests, kube_version):
    results = []
    for template, text in sorted(manifests.items()):
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            obj = "%s/%s" % (doc.get("kind"), (doc.get("metadata") or {}).get("name"))
            try:
                kv.validate(doc, kube_version, strict=True)
                results.append({"template": template, "object": obj, "outcome": "ok", "message": ""})
            except kv.SchemaNotFoundError as e:
                results.append({"template": template, "object": obj, "outcome": "no-schema",
                                "api_version": doc.get("apiVersion"), "kind": doc.get("kind"),
                                "message": e.message})
            except kv.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                results.append({"template": template, "object": obj, "outcome": "invalid",
                                "message": "%s: %s" % (path, e.message)})
    return results


def render(op, kube_version):
    try:
        with helm.Chart.load(op["chart"]) as chart:
            manifests = chart.render(
                values=load_values(op),
                name=op.get("name"),
                namespace=op.get("namespace"),
                is_install=True,
            )
    except helm.HelmError as e:
        return {"manifests": {}, "error": "%s: %s" % (type(e).__name__, e), "validation": []}
    validation = validate(manifests, kube_version) if op.get("validate") else []
    return {"manifests": manifests, "error": None, "validation": validation}


def main():
    helm.disable_logging()
    request = json.load(sys.stdin)
    kube_version = request.get("kube_version", "v1.31.0")
    results = []
    for op in request["ops"]:
        if op["op"] == "lint":
            results.append(lint(op, kube_version))
        elif op["op"] == "render":
            results.append(render(op, kube_version))
        else:
            raise SystemExit("helm_driver: unknown op %r" % op["op"])
    json.dump({"helm_sdk": helm.helm_sdk_version(), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
