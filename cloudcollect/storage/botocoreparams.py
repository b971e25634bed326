"""A transport :class:`~.transport.Request` as the parameters of botocore's client call
(for :mod:`.botocoretransport`), through botocore's own service model: each wire header
or query parameter is mapped back onto the member whose ``location`` and wire ``name``
say so (``x-amz-meta-*`` onto ``Metadata``), typed as its shape says (integer, long,
boolean), and the body or XML document onto the operation's payload member. A wire name
the operation does not have is a ValueError naming it (a bug, never a user error); the
subresource query of an operation (``uploads``, ``delete``...) is botocore's to send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .transport import SUBRESOURCES, FileSlice, Request

_META = "x-amz-meta-"


def api_params(model: Any, request: Request, bucket: str) -> dict[str, Any]:
    """The client call's parameters for ``request``, through the operation's model."""
    params: dict[str, Any] = {"Bucket": bucket}
    if request.key is not None:
        params["Key"] = request.key
    headers, queries = _wire_members(model)
    metadata: dict[str, str] = {}
    for name, value in request.headers.items():
        lower = name.lower()
        if lower.startswith(_META):
            metadata[lower[len(_META) :]] = value
        elif lower == "content-md5" and request.document is not None:
            continue  # computed over botocore's own serialisation (_add_content_md5)
        else:
            member, shape = _member(headers, lower, request.operation)
            params[member] = _typed(shape, value)
    if metadata:
        params["Metadata"] = metadata
    for name, value in request.query.items():
        if name in SUBRESOURCES.get(request.operation, {}):
            continue
        member, shape = _member(queries, name, request.operation)
        params[member] = _typed(shape, value)
    payload = model.input_shape.serialization.get("payload")
    if request.document is not None:
        params[payload] = dict(request.document)
    elif isinstance(request.body, FileSlice):
        params[payload] = request.body.reader()
    elif request.body is not None:
        params[payload] = request.body
    return params


def _wire_members(model: Any) -> tuple[dict[str, tuple[str, Any]], dict[str, tuple[str, Any]]]:
    headers: dict[str, tuple[str, Any]] = {}
    queries: dict[str, tuple[str, Any]] = {}
    for name, shape in model.input_shape.members.items():
        location = shape.serialization.get("location")
        wire = shape.serialization.get("name", name)
        if location == "header":
            headers[wire.lower()] = (name, shape)
        elif location == "querystring":
            queries[wire] = (name, shape)
    return headers, queries


def _member(members: Mapping[str, tuple[str, Any]], wire: str, operation: str) -> tuple[str, Any]:
    if wire not in members:
        raise ValueError(f"{operation} has no parameter sent as {wire!r}")
    return members[wire]


def _typed(shape: Any, value: str) -> Any:
    if shape.type_name in ("integer", "long"):
        return int(value)
    if shape.type_name == "boolean":
        return value.lower() == "true"
    return value
