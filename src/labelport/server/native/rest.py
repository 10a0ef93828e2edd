"""What the native REST routes share: strict query strings, errors naming their field, paging,
ids, JSON answers.

* :data:`Strict` (:func:`reject_unknown_query`) — a route dependency: a query key the route
  does not declare is a 400 naming it (FastAPI would silently ignore it, and a typo such as
  ``?limt=5`` would then quietly answer something else than asked). It runs after the route's
  key check, so a request without a key hears 401 first. :data:`StrictQuery` is the same check
  for a whole router (``APIRouter(dependencies=[StrictQuery])``), run before the route's own.
* :func:`invalid` / :class:`InvalidParameter` — a 400 naming the request field it is about
  (``query:limit``, ``body:scope.kind``...), which the native error body shows.
* :data:`Text` — a body string without NUL characters.
* :data:`PageArgs` — ``?limit=`` (1..1000, default 100) and ``?cursor=``, an opaque keyset
  position (``created_at``, ``id``) handed out as ``next_cursor`` by the previous page.
* :func:`json_response` — orjson-encoded answers (stored JSON documents go out as they are).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel

from labelport.errors import InvalidInput, LabelportError, NotFound
from labelport.services.queries import Cursor, Page


class InvalidParameter(InvalidInput):
    """A query parameter (or body field) the route cannot take; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


class TooLarge(InvalidInput):
    http_status = 413


# ------------------------------------------------------------------------------ query strings

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


def reject_unknown_query(request: Request) -> None:
    """400 for a query key the route does not declare (:func:`strict_query`), and for a NUL
    character in any query value (PostgreSQL text cannot hold one; no id, key or name has one)."""
    strict_query(request)
    for key, value in request.query_params.multi_items():
        if "\x00" in value:
            raise InvalidParameter(f"query:{key}", "contains a NUL character")


# Declare it after the route's principal (``_: Strict``): dependencies run in parameter order,
# so a request without a key still gets its 401 first.
Strict = Annotated[None, Depends(reject_unknown_query)]
# The same for every route of a router, before the route's own dependencies.
StrictQuery = Depends(reject_unknown_query)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


# A string body field (PostgreSQL text cannot hold NUL).
Text = Annotated[str, AfterValidator(_no_nul)]


# ------------------------------------------------------------------------------------ paging


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    after: Cursor | None


def encode_cursor(position: Cursor) -> str:
    at, key = position
    raw = orjson.dumps([at.isoformat(), key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, key = orjson.loads(raw)
        if not isinstance(at, str) or not isinstance(key, str):
            raise ValueError
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidParameter(
            "query:cursor", "not a cursor this list handed out (use next_cursor as it is)"
        ) from None
    return moment, key


def paging(
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page (1..1000).")] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=2000, description="The previous page's `next_cursor`."),
    ] = None,
) -> Paging:
    return Paging(limit, None if cursor in (None, "") else decode_cursor(str(cursor)))


PageArgs = Annotated[Paging, Depends(paging)]


# ------------------------------------------------------------------------------------ answers


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json"
    )


def page_response(page: Page) -> Response:
    cursor = None if page.next_after is None else encode_cursor(page.next_after)
    return json_response({"items": page.items, "next_cursor": cursor})


MAX_ID = 64


def check_id(value: str, kind: str) -> str:
    """An id from a path: one that cannot exist answers 404 without asking the database."""
    if not value or len(value) > MAX_ID or "\x00" in value:
        raise NotFound(kind, value[:80])
    return value
