"""Local ``$ref`` lookup: ``#``, and JSON pointers such as ``#/$defs/Node``."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from llm_simulator.engine.schema.errors import SchemaError
from llm_simulator.engine.schema.normalize import Schema


def lookup(root: Schema, ref: str, path: str = "") -> Schema:
    """The subschema of ``root`` that ``ref`` points to.

    Supports the document itself (``#``, or the root ``$id``), and JSON pointers into it
    (``#/$defs/A``, ``#/definitions/A``, ``#/properties/a``). Remote documents, anchors and
    relative URIs raise ``SchemaError`` saying they are unsupported: the simulator never
    fetches anything.
    """
    base = root.get("$id") if isinstance(root, dict) else None
    if isinstance(base, str) and base and ref.startswith(base):
        # A reference spelled with the root's own absolute URI.
        ref = ref[len(base) :] or "#"
    if ref in ("#", ""):
        return root
    if not ref.startswith("#/"):
        kind = "anchor" if ref.startswith("#") else "remote"
        raise SchemaError(f"unsupported {kind} $ref {ref!r}: only local refs like '#/$defs/Name' are supported", path)
    node: Any = root
    for raw in ref[2:].split("/"):
        token = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise SchemaError(f"unresolvable $ref {ref!r}", path)
    if not isinstance(node, dict | bool):
        raise SchemaError(f"$ref {ref!r} does not point to a schema", path)
    return node
