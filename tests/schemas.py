"""The Kubernetes OpenAPI schemas of every supported minor version, as JSON Schema.

The schemas are the ones the `kubernetes-validate` package ships (generated from each release's
OpenAPI document; the ``-strict`` variants reject unknown fields). kubernetes_validate.validate
reads the 1.3 MB definitions file again on every call; this helper loads each version once and
keeps one validator per (version, kind).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

SUPPORTED_MINORS = tuple(f"1.{minor}" for minor in range(30, 38))  # 1.30 .. 1.37 (latest)


def _directory(version: str) -> Any:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    return root.joinpath(f"v{version}.0-local-strict")


@functools.cache
def _registry(version: str) -> Any:
    # jsonschema and referencing are imported by the workers that validate, not at collection
    from referencing import Registry, Resource

    definitions = json.loads(_directory(version).joinpath("_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> Any:
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = json.loads(_directory(version).joinpath(f"{kind.lower()}-{group}.json").read_text())
    import jsonschema
    from referencing import Resource

    registry = Resource.from_contents(schema) @ _registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def schema_errors(obj: dict[str, Any], version: str) -> list[str]:
    """Every way ``obj`` breaks the strict schema of Kubernetes ``version`` (empty: valid)."""
    validator = _validator(version, obj["kind"], obj["apiVersion"])
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(obj)
    ]


def assert_valid_everywhere(obj: dict[str, Any]) -> None:
    """``obj`` (or each item of a List) is valid at every supported minor version."""
    items = obj.get("items", []) if obj.get("kind") == "List" else [obj]
    for item in items:
        for version in SUPPORTED_MINORS:
            errors = schema_errors(item, version)
            assert not errors, f"{item.get('kind')} invalid for Kubernetes {version}: {errors}"
