"""OpenAPI v3 for kubectl: ``/openapi/v3`` (the index) and ``/openapi/v3/api/v1``.

kubectl (--validate=strict, the default) asks ``/openapi/v3`` whether the server validates
fields itself: a PATCH operation for the object's kind with a ``fieldValidation`` query
parameter means yes (k8s.io/cli-runtime pkg/resource/query_param_verifier_v3.go
supportsQueryParamV3). It then sends ``fieldValidation=Strict`` with the write and leaves the
schema check to the server, which refuses unknown fields ("strict decoding error: unknown
field", k8s.io/apimachinery pkg/runtime/serializer/json strict decoding). Without /openapi/v3
it falls back to /openapi/v2, which client-go reads as protobuf only (discovery_client.go
OpenAPISchema), so the sandbox serves v3.

The schemas are openapi-v2.json's (derived from kubernetes-validate by scripts/gen_openapi.py),
with references moved to #/components/schemas as in a real v3 document.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

JSON = dict[str, Any]
SCHEMAS = Path(__file__).with_name("openapi-v2.json")
# kubernetes/api core/v1 and the API server's registered operations (names as real documents
# have them: api/openapi-spec/v3/api__v1_openapi.json)
_KINDS = {"pods": "Pod", "nodes": "Node", "namespaces": "Namespace"}
_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "fieldValidation instructs the server on how to handle objects in the "
    "request (POST/PUT/PATCH) containing unknown or duplicate fields.",
    "schema": {"type": "string", "uniqueItems": True},
}


@functools.cache
def definitions() -> JSON:
    data: JSON = json.loads(SCHEMAS.read_text())["definitions"]
    return data


def _v3(node: Any) -> Any:
    if isinstance(node, list):
        return [_v3(v) for v in node]
    if isinstance(node, dict):
        return {
            k: (
                v.replace("#/definitions/", "#/components/schemas/")
                if k == "$ref" and isinstance(v, str)
                else _v3(v)
            )
            for k, v in node.items()
        }
    return node


@functools.cache
def group_document() -> bytes:
    """``/openapi/v3/api/v1``: the core group's operations kubectl looks for, and the schemas."""
    paths: JSON = {}
    for plural, kind in _KINDS.items():
        gvk = {"group": "", "version": "v1", "kind": kind}
        base = (
            f"/api/v1/namespaces/{{namespace}}/{plural}"
            if plural == "pods"
            else f"/api/v1/{plural}"
        )
        ref = {"$ref": f"#/components/schemas/io.k8s.api.core.v1.{kind}"}
        body = {"content": {"application/json": {"schema": ref}}}
        if plural == "pods":
            paths[base] = {
                "post": {
                    "operationId": "createCoreV1NamespacedPod",
                    "parameters": [_FIELD_VALIDATION],
                    "requestBody": body,
                    "x-kubernetes-action": "post",
                    "x-kubernetes-group-version-kind": gvk,
                }
            }
        paths[f"{base}/{{name}}"] = {
            "patch": {
                "operationId": f"patchCoreV1{'Namespaced' if plural == 'pods' else ''}{kind}",
                "parameters": [_FIELD_VALIDATION],
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
            }
        }
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.1"},
        "paths": paths,
        "components": {"schemas": _v3(definitions())},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def index() -> JSON:
    """``/openapi/v3``: where each group-version's document is, with its content hash."""
    digest = hashlib.sha512(group_document()).hexdigest()[:128]
    return {"paths": {"api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={digest}"}}}


def unknown_fields(obj: Any, definition: str, path: str = "") -> list[str]:
    """The fields of ``obj`` that its schema does not declare, as strict decoding names them
    (``spec.containers[0].foo``)."""
    schema = definitions().get(definition) or {}
    return _unknown(obj, schema, path)


def _resolve(schema: JSON) -> JSON:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        found: JSON = definitions().get(ref.removeprefix("#/definitions/")) or {}
        return found
    return schema


def _unknown(obj: Any, schema: JSON, path: str) -> list[str]:
    schema = _resolve(schema)
    found: list[str] = []
    if isinstance(obj, dict) and "properties" in schema:
        props = schema["properties"]
        for key, value in obj.items():
            name = f"{path}.{key}" if path else str(key)
            if key not in props:
                found.append(name)
            else:
                found += _unknown(value, props[key], name)
    elif isinstance(obj, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in obj.items():
            found += _unknown(value, schema["additionalProperties"], f"{path}[{key}]")
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(obj):
            found += _unknown(value, schema["items"], f"{path}[{i}]")
    return found
