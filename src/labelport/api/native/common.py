"""Pieces every native router shares: strict query strings, and errors that name their field.

A query parameter a route does not declare is an error (400 naming it), never silently ignored:
``?limt=10`` is a typo the caller wants to hear about. Mount :data:`StrictQuery` on a router
(``APIRouter(dependencies=[StrictQuery])``) or on one route.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from pydantic import BaseModel

from labelport.errors import InvalidInput, LabelportError

# Query keys any route accepts (none so far; signed links declare theirs as parameters).
ALWAYS_ALLOWED: frozenset[str] = frozenset()


def with_field(error: LabelportError, field: str) -> LabelportError:
    """``error`` carrying the request field it is about (the native error body shows it)."""
    error.field = field
    return error


def invalid(message: str, field: str) -> LabelportError:
    """A 400 about one field of the request (``query:limit``, ``body:scope.kind``...)."""
    return with_field(InvalidInput(message), field)


def declared_query(dependant: Any) -> set[str]:
    """The query parameter names a route's dependency tree declares."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        for field in current.query_params:
            annotation = getattr(field.field_info, "annotation", None)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names.update(info.alias or name for name, info in annotation.model_fields.items())
            else:
                names.add(field.alias)
        stack.extend(current.dependencies)
    return names


def strict_query(request: Request) -> None:
    """Reject query parameters the matched route does not declare."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = declared_query(dependant) | ALWAYS_ALLOWED
    unknown = sorted({key for key in request.query_params if key not in allowed})
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no query parameters"
        plural = "s" if len(unknown) > 1 else ""
        raise invalid(
            f"unknown query parameter{plural} {', '.join(map(repr, unknown))} "
            f"(this endpoint takes: {takes})",
            f"query:{unknown[0]}",
        )


StrictQuery = Depends(strict_query)
