"""Diffgram ids of canonical rows: kept from a Diffgram import, else derived.

Diffgram ids are integers. :func:`diffgram_origin` tells a row imported from Diffgram (and so its
file id) by its global key and project; :func:`stable_int` derives an integer in
``[2**52, 2**53)`` (:data:`DERIVED_BASE` and up: above any serial id Diffgram hands out, still
exact in JavaScript) from labelport ids, so the same rows always give the same file. The id rules
are in the docstring of :mod:`labelport.export.formats.diffgram`.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from labelport import ids
from labelport.export.formats.diffgram_values import JSON

DERIVED_BASE = 2**52  # derived ids live in [2**52, 2**53)

_GLOBAL_KEY = re.compile(r"diffgram:(.+):(\d+)")


def stable_int(namespace: str, *parts: str) -> int:
    """An integer id in ``[2**52, 2**53)`` that depends only on its parts."""
    text = "\x1f".join(("labelport-diffgram", namespace, *parts))
    digest = hashlib.sha256(text.encode()).digest()
    return DERIVED_BASE + int.from_bytes(digest[:8], "big") % DERIVED_BASE


@lru_cache(maxsize=256)
def _project_of(psid: str, org_id: str | None) -> tuple[str, ...]:
    """The ids a Diffgram import gives the project ``psid``: within the organization (as
    :mod:`labelport.imports.diffgram` derives them), and from the Diffgram id alone (imports
    before catalog version 9, and the converter without an organization)."""
    alone = ids.derived_id("diffgram-project", psid)
    return (alone,) if org_id is None else (ids.derived_id("diffgram-project", org_id, psid), alone)


def diffgram_origin(
    row: JSON, project_id: str | None, org_id: str | None = None
) -> tuple[str, str] | None:
    """``(psid, file key)`` when the row was imported from Diffgram into ``project_id`` (of
    organization ``org_id``)."""
    key = row.get("data_row", {}).get("global_key")
    if project_id is None or not isinstance(key, str):
        return None
    match = _GLOBAL_KEY.fullmatch(key)
    if match is None or str(int(match.group(2))) != match.group(2):
        return None
    if project_id not in _project_of(match.group(1), org_id):
        return None
    return match.group(1), match.group(2)


def file_id_of(row: JSON, project_id: str | None, org_id: str | None = None) -> int:
    """The Diffgram file id of a canonical row: kept from a Diffgram import, else derived."""
    origin = diffgram_origin(row, project_id, org_id)
    if origin is not None:
        return int(origin[1])
    return stable_int("file", str(row.get("data_row", {}).get("id")))
