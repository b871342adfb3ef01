"""Every server frame the tests receive is checked against the AsyncAPI message schemas.

The schemas come from the same generator that serves ``/api/v1/asyncapi.json``
(``ticker.web.asyncapi``) — made stricter here: no object may carry a property the document does
not name, so a field sent but not described fails the test that saw it. (The served document
leaves objects open, as a contract that grows by adding fields must.)
"""

from __future__ import annotations

import copy
import functools
from collections import Counter
from typing import Any

from jsonschema import Draft202012Validator

from ticker.web.asyncapi import document, server_models, sse_models

checked: Counter[str] = Counter()  # frames validated in this test process, by type


def _closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        closed = {k: _closed(v) for k, v in schema.items()}
        if closed.get("type") == "object" and "properties" in closed:
            closed.setdefault("additionalProperties", False)
        return closed
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


@functools.cache
def _validators() -> dict[str, Draft202012Validator]:
    doc = document("http://127.0.0.1/")
    schemas = _closed(copy.deepcopy(doc["components"]["schemas"]))
    return {
        name: Draft202012Validator({"$ref": message["payload"]["$ref"],
                                    "components": {"schemas": schemas}})
        for name, message in doc["components"]["messages"].items()
    }


@functools.cache
def _names(transport: str) -> frozenset[str]:
    models = server_models() if transport == "ws" else sse_models()
    return frozenset(str(m.__struct_config__.tag) for m in models)


def check_server_frame(frame: dict[str, Any], transport: str = "ws") -> None:
    """Fail unless ``frame`` is a message the AsyncAPI document says the server sends on
    ``transport`` (``ws`` or ``sse``) and validates against its schema."""
    kind = frame.get("type")
    assert kind in _names(transport), f"{transport} frame of undocumented type: {frame}"
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _validators()[str(kind)].iter_errors(frame)]
    assert not errors, f"{kind} frame breaks its AsyncAPI schema: {errors}\n{frame}"
    checked[str(kind)] += 1
