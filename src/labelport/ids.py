"""25-character cuid-style identifiers.

A new id is ``c`` + 8 base-36 characters of milliseconds since the epoch + 4 of a process counter
+ 4 of a process fingerprint + 8 random ones, so ids sort roughly by creation time. Ids derived from
content (:func:`derived_id`) are stable: importing the same source twice yields the same ids.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_counter = itertools.count(secrets.randbelow(36**4))
_FINGERPRINT = None
ID_RE = re.compile(r"^[a-z0-9]{25}$")


def _base36(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def _fingerprint() -> str:
    global _FINGERPRINT
    if _FINGERPRINT is None:
        _FINGERPRINT = _base36(os.getpid() * 7919 + secrets.randbelow(36**4), 4)
    return _FINGERPRINT


def new_id() -> str:
    """A fresh 25-character id."""
    millis = time.time_ns() // 1_000_000
    return (
        "c"
        + _base36(millis, 8)
        + _base36(next(_counter) % 36**4, 4)
        + _fingerprint()
        + _base36(secrets.randbits(42), 8)
    )


def derived_id(*parts: str) -> str:
    """A 25-character id that depends only on ``parts`` (stable across imports)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return "c" + _base36(int.from_bytes(digest[:16], "big"), 24)


def is_id(value: object) -> bool:
    return isinstance(value, str) and ID_RE.match(value) is not None
