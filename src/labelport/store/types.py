"""Column types shared by SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class Timestamp(sa.types.TypeDecorator[datetime]):
    """UTC instants with millisecond precision (``timestamptz`` on PostgreSQL)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        # SQLite stores text; keep it naive-UTC so that text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JsonText(sa.types.TypeDecorator[Any]):
    """JSON kept as text on both dialects, byte for byte as written.

    Text (not JSONB) keeps key order and lets the exporter splice stored documents into output
    lines without parsing them again.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return orjson.dumps(value).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return orjson.loads(value)


ID = sa.String(64)


def unstorable(value: Any, path: str = "") -> str | None:
    """The path (``a.b[2]``) of the first string in ``value`` (a JSON document) that no catalog
    column can hold, or None: a NUL character (PostgreSQL text refuses it, and no id, key or
    name has one) or an unpaired surrogate (it has no UTF-8 form). Keys are checked too."""
    if isinstance(value, str):
        return path or "value" if _bad_text(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _bad_text(key):
                return where.replace("\x00", "")
            found = unstorable(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = unstorable(item, f"{path}[{n}]")
            if found is not None:
                return found
    return None


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
