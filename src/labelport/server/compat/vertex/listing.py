"""ListDatasets ``filter``, ``orderBy`` and paging over dataset views (pure).

Filter terms, joined by ``AND``: ``displayName`` / ``display_name`` and ``metadataSchemaUri`` /
``metadata_schema_uri`` with ``=`` or ``!=``; ``labels.KEY=VALUE`` / ``!=``; ``labels.KEY:*`` and
``labels:KEY`` (the label is set). Values may be quoted (``"…"`` or ``'…'``) or not, as the
export documentation's ``?filter=displayName=NAME`` example sends them. ``orderBy``:
``display_name``, ``create_time``, ``update_time`` (camelCase too), each optionally ``desc``,
comma-separated. Page tokens are opaque offsets.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from labelport.errors import InvalidSpec
from labelport.export.formats import vertex_schemas as schemas
from labelport.services.vertex_datasets import DatasetView

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

Predicate = Callable[[DatasetView], bool]

_TERM = re.compile(r"^(?P<field>[A-Za-z_][\w.\-/]*)\s*(?P<op>!=|=)\s*(?P<value>.+)$")
_HAS_LABEL = re.compile(r"^labels\.(?P<key>[^\s:=!]+)\s*:\s*\*$|^labels\s*:\s*(?P<key2>\S+)$")
_AND = re.compile(r"\s+AND\s+")
_FIELDS = {
    "displayName": "display_name",
    "display_name": "display_name",
    "metadataSchemaUri": "metadata_schema_uri",
    "metadata_schema_uri": "metadata_schema_uri",
}
_ORDER = {
    "display_name": "display_name",
    "displayName": "display_name",
    "create_time": "create_time",
    "createTime": "create_time",
    "update_time": "update_time",
    "updateTime": "update_time",
}


def _unquote(text: str, where: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text[:1] in "\"'" or text[-1:] in "\"'":
        raise InvalidSpec(f"{where}: unbalanced quotes in {text!r}")
    return text


def parse_filter(text: str | None) -> list[Predicate]:
    """The filter's terms as predicates (all must hold); InvalidSpec naming ``filter``."""
    if text is None or not text.strip():
        return []
    return [_term(part.strip()) for part in _AND.split(text.strip())]


def _term(text: str) -> Predicate:
    has = _HAS_LABEL.match(text)
    if has is not None:
        key = has["key"] or _unquote(has["key2"], "filter")
        return lambda view: key in view.labels
    match = _TERM.match(text)
    if match is None:
        raise InvalidSpec(
            f"filter: cannot read {text!r}; use displayName=NAME, labels.KEY=VALUE, "
            "metadataSchemaUri=URI (= or !=), labels.KEY:* or terms joined by AND"
        )
    name, negate = match["field"], match["op"] == "!="
    value = _unquote(match["value"], "filter")
    if name.startswith("labels."):
        key = name.removeprefix("labels.")

        def label(view: DatasetView) -> bool:
            return (view.labels.get(key) == value) != negate

        return label
    field = _FIELDS.get(name)
    if field is None:
        raise InvalidSpec(
            f"filter: unknown field {name!r}; filter on displayName, metadataSchemaUri or labels"
        )
    if field == "display_name":
        return lambda view: (view.name == value) != negate
    return lambda view: (schemas.metadata_schema_uri(view.kind) == value) != negate


@dataclass(frozen=True, slots=True)
class Order:
    key: str
    descending: bool


def parse_order(text: str | None) -> list[Order]:
    if text is None or not text.strip():
        return []
    orders: list[Order] = []
    for part in text.split(","):
        words = part.split()
        if (
            not words
            or len(words) > 2
            or (len(words) == 2 and words[1].lower() not in ("desc", "asc"))
        ):
            raise InvalidSpec(
                f"orderBy: cannot read {part.strip()!r}; use e.g. 'display_name desc'"
            )
        key = _ORDER.get(words[0])
        if key is None:
            raise InvalidSpec(
                f"orderBy: unknown field {words[0]!r}; use display_name, create_time or update_time"
            )
        orders.append(Order(key, len(words) == 2 and words[1].lower() == "desc"))
    return orders


def _sorter(key: str) -> Callable[[DatasetView], Any]:
    def sort_key(view: DatasetView) -> Any:
        if key == "display_name":
            return view.name
        return view.created_at if key == "create_time" else view.updated_at

    return sort_key


def apply(
    views: Sequence[DatasetView],
    *,
    filter: str | None = None,
    order_by: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
) -> tuple[list[DatasetView], str | None]:
    """One page of the views that pass ``filter``, in ``order_by`` order, and the next token."""
    predicates = parse_filter(filter)
    orders = parse_order(order_by)
    size = _page_size(page_size)
    start = decode_token(page_token)
    chosen = [v for v in views if all(p(v) for p in predicates)]
    for order in reversed(orders):  # stable sorts, last key first
        chosen.sort(key=_sorter(order.key), reverse=order.descending)
    page = chosen[start : start + size]
    following = start + size
    return page, encode_token(following) if following < len(chosen) else None


def _page_size(value: int | None) -> int:
    if value is None or value == 0:
        return DEFAULT_PAGE_SIZE
    if value < 0:
        raise InvalidSpec(f"pageSize: {value} is negative")
    return min(value, MAX_PAGE_SIZE)


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        kind, _, number = text.partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidSpec(f"pageToken: {token!r} is not a token this server gave out")
