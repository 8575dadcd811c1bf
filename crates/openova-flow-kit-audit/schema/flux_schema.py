"""Validates bootstrap-kit documents against the Flux v2.4 API models.

Run by `cargo xtask ci` (gate `kit-schema`) inside target/xtask-venv, where
`cloudcoil-models-fluxcd` (models generated from the Flux 2.4 CRDs) is
installed from xtask/python-requirements.txt.

stdin:  {"cases": [{"id": str, "expect": str|null, "docs": [{"file", "line", "doc"}]}]}
stdout: {"results": {id: ["<file>:<line>: <Kind>/<name>: <field>: <message>", ...]}}

Unknown fields are forbidden (the API server would silently prune them) and
types are strict (no "3" for an integer). Slot files hold only Namespace,
HelmRepository and HelmRelease documents (infra-xtask.md section 3.2).
"""

import json
import sys

try:
    import cloudcoil.pydantic as ccp

    # Must happen before the model modules are imported: every model class
    # created afterwards inherits `extra = "forbid"`.
    ccp.BaseModel.model_config["extra"] = "forbid"
    import pydantic
    from cloudcoil import apimachinery
    from cloudcoil.models.fluxcd.helm import v2 as helm_v2
    from cloudcoil.models.fluxcd.source import v1 as source_v1
except ImportError as exc:  # pragma: no cover - environment problem
    print(
        f"flux_schema.py: {exc}; run `cargo xtask setup` "
        "(cloudcoil-models-fluxcd is pinned in xtask/python-requirements.txt)",
        file=sys.stderr,
    )
    sys.exit(2)

MODELS = {
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"): helm_v2.HelmRelease,
    ("source.toolkit.fluxcd.io/v1", "HelmRepository"): source_v1.HelmRepository,
}
NAMESPACE_KEYS = {"apiVersion", "kind", "metadata", "spec"}


def validate(doc):
    """Error strings for one document (empty when valid)."""
    if not isinstance(doc, dict):
        return ["document is not a mapping"]
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key == ("v1", "Namespace"):
        errors = [f"{k}: Extra inputs are not permitted" for k in sorted(set(doc) - NAMESPACE_KEYS)]
        try:
            apimachinery.ObjectMeta.model_validate(doc.get("metadata") or {}, strict=True)
        except pydantic.ValidationError as exc:
            errors += [f"metadata.{fmt_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        return errors
    model = MODELS.get(key)
    if model is None:
        known = ", ".join(f"{a} {k}" for a, k in [("v1", "Namespace"), *MODELS])
        return [f"{key[0]} {key[1]} is not a slot document; slot files hold {known}"]
    try:
        model.model_validate(doc, strict=True)
        return []
    except pydantic.ValidationError as exc:
        return [f"{fmt_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]


def fmt_loc(loc):
    return ".".join(str(part) for part in loc) or "(document)"


def main():
    request = json.load(sys.stdin)
    results = {}
    for case in request["cases"]:
        lines = []
        for item in case["docs"]:
            doc = item["doc"]
            meta = doc.get("metadata") if isinstance(doc, dict) else None
            name = (meta or {}).get("name", "?") if isinstance(meta, dict) else "?"
            kind = doc.get("kind", "?") if isinstance(doc, dict) else "?"
            for err in validate(doc):
                lines.append(f"{item['file']}:{item['line']}: {kind}/{name}: {err}")
        results[case["id"]] = lines
    json.dump({"results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
