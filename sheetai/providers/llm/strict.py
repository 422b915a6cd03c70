"""pydantic's JSON schema, made acceptable to OpenAI's strict structured outputs.

Strict mode wants every object closed (``additionalProperties: false``) with every property
listed in ``required`` (optional values are nullable instead), no ``default``, and a ``$ref``
standing alone. pydantic's public :meth:`~pydantic.BaseModel.model_json_schema` gives the rest;
this module only closes that gap, so the schema does not depend on the OpenAI SDK's internals.
The output is the same as the SDK's own helper gives, so cache keys (which hash the schema) are
unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["strict_json_schema"]


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict JSON schema of ``model``.

    >>> from pydantic import create_model
    >>> strict_json_schema(create_model("A", note=(str | None, None)))["properties"]["note"]
    {'anyOf': [{'type': 'string'}, {'type': 'null'}], 'title': 'Note'}
    >>> strict_json_schema(create_model("A", note=(str | None, None)))["required"]
    ['note']
    """
    schema = model.model_json_schema()
    return _strict(schema, schema)


def _strict(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    for definition in (node.get("$defs") or {}).values():
        _strict(definition, root)
    if node.get("type") == "object":
        node.setdefault("additionalProperties", False)
    properties = node.get("properties")
    if isinstance(properties, dict):
        node["required"] = list(properties)
        node["properties"] = {key: _strict(value, root) for key, value in properties.items()}
    if isinstance(node.get("items"), dict):
        node["items"] = _strict(node["items"], root)
    if isinstance(node.get("anyOf"), list):
        node["anyOf"] = [_strict(variant, root) for variant in node["anyOf"]]
    all_of = node.get("allOf")
    if isinstance(all_of, list):
        if len(all_of) == 1:
            node.update(_strict(node.pop("allOf")[0], root))
        else:
            node["allOf"] = [_strict(part, root) for part in all_of]
    if "default" in node and node["default"] is None:
        del node["default"]  # the value is nullable and required: a default means nothing
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        # Strict mode refuses siblings next to "$ref" (a description, say): inline the target,
        # the node's own keys winning.
        merged = {**_resolve(root, ref), **node}
        del merged["$ref"]
        return _strict(merged, root)
    return node


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    """The schema a local ``$ref`` (``#/$defs/Name``) points at."""
    if not ref.startswith("#/"):
        raise ValueError(f"cannot resolve $ref {ref!r}: only local references are supported")
    target: Any = root
    for key in ref[2:].split("/"):
        target = target[key]
    if not isinstance(target, dict):
        raise ValueError(f"$ref {ref!r} does not point at a schema")
    return target
