#!/usr/bin/env python3
"""Derive the sandbox API server's OpenAPI v2 document from the kubernetes-validate package.

kubectl's client-side validation (`kubectl apply`, `create`, `replace`: --validate=strict by
default) fetches /openapi/v3 and, when the server has none, /openapi/v2, and checks an object
against the definition whose x-kubernetes-group-version-kind names its kind (kubectl
pkg/util/openapi, k8s.io/kube-openapi pkg/util/proto). kubernetes-validate (PyPI, Apache-2.0)
ships the Kubernetes API's definitions as JSON Schema, converted from the API server's own
swagger.json (openapi2jsonschema); this script converts the definitions the sandbox serves -
Pod, Node, Namespace and what they reference - back to Swagger 2.0 (type lists without "null",
"$ref" into #/definitions) and writes kubectl_userns/sandbox/api/openapi-v2.json.

    .venv/bin/pip install kubernetes-validate && .venv/bin/python scripts/gen_openapi.py

``--check`` compares instead of writing (tests/test_apply.py runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "kubectl_userns" / "sandbox" / "api" / "openapi-v2.json"
# the sandbox API server reports v1.33.1 (sandbox/api/discovery.py SERVER_VERSION)
SCHEMA_VERSION = "v1.33.0"
ROOTS = (
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.PodList",
    "io.k8s.api.core.v1.Node",
    "io.k8s.api.core.v1.NodeList",
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.NamespaceList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
)


def load_definitions() -> dict[str, Any]:
    from importlib import resources

    base = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    text = (base / f"{SCHEMA_VERSION}-local" / "_definitions.json").read_text()
    defs: dict[str, Any] = json.loads(text)["$defs"]
    return defs


def to_swagger(node: Any) -> Any:
    """A JSON Schema node as Swagger 2.0 has it."""
    if isinstance(node, list):
        return [to_swagger(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/$defs/", "#/definitions/")
        elif key == "type" and isinstance(value, list):
            kinds = [v for v in value if v != "null"]
            if kinds:
                out[key] = kinds[0]
        elif key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: to_swagger(v) for k, v in value.items()}
        else:
            out[key] = to_swagger(value)
    return out


def closure(defs: dict[str, Any], roots: tuple[str, ...]) -> list[str]:
    """The definitions ``roots`` reach through $ref, sorted."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        stack = [defs[name]]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                ref = item.get("$ref")
                if isinstance(ref, str) and ref.startswith("#/$defs/"):
                    todo.append(ref.removeprefix("#/$defs/"))
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return sorted(seen)


def document() -> str:
    defs = load_definitions()
    doc = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": f"{SCHEMA_VERSION} (kubectl-userns sandbox)"},
        "paths": {},
        "definitions": {name: to_swagger(defs[name]) for name in closure(defs, ROOTS)},
    }
    return json.dumps(doc, indent=None, separators=(",", ":"), sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    args = parser.parse_args()
    text = document()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(
                f"{TARGET.relative_to(ROOT)} out of date: run scripts/gen_openapi.py",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
