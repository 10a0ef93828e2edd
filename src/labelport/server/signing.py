"""Signed links: a path, an expiry and an HMAC-SHA256 over both, checked without a database.

A link reads ``<path>?expires=<unix seconds>&signature=<64 hex>``. Changing any byte of the path
or the expiry breaks the signature (403); a link past its expiry answers 410 even when intact.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

from labelport.errors import Gone, PermissionDenied


class LinkTampered(PermissionDenied):
    """The signature does not match the path and expiry."""


class LinkExpired(Gone):
    """The link was genuine but its time is up."""


class Signer:
    def __init__(self, secret: bytes, *, ttl: int = 3600) -> None:
        if len(secret) < 16:
            raise ValueError("a signing secret needs at least 16 bytes")
        self._secret = secret
        self.ttl = ttl

    def signature(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, path: str, ttl: int | None = None, *, now: float | None = None) -> str:
        """``path`` with its expiry and signature as the query string."""
        expires = int((time.time() if now is None else now) + (self.ttl if ttl is None else ttl))
        query = urlencode({"expires": expires, "signature": self.signature(path, expires)})
        return f"{path}?{query}"

    def check(
        self, path: str, expires: str | None, signature: str | None, *, now: float | None = None
    ) -> None:
        if not expires or not signature:
            raise LinkTampered("this link is not signed (expires and signature are required)")
        try:
            when = int(expires)
        except ValueError:
            raise LinkTampered("this link's expiry is not a number") from None
        if not hmac.compare_digest(self.signature(path, when), signature):
            raise LinkTampered("this link's signature does not match; it was changed")
        if (time.time() if now is None else now) > when:
            raise LinkExpired("this link has expired; ask for a new one")


def load_secret(configured: str | None, home: Path) -> bytes:
    """The configured secret, else one generated once into ``<home>/secret.key`` (mode 600)."""
    if configured:
        return configured.encode()
    path = home / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    home.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(value)
    tmp.chmod(0o600)
    try:
        tmp.rename(path) if not path.exists() else tmp.unlink()
    except FileExistsError:
        tmp.unlink()
    return path.read_bytes().strip()
