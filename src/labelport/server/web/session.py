"""Signing in to the web pages: an API key once, then a signed session cookie.

The sign-in form takes an API key (``lp_<key id>_<secret>``), checks it like every other surface
(:func:`labelport.services.authenticate`) and answers with a cookie that holds the key's **id**
(never its secret), a random nonce and the time it was issued, signed with HMAC-SHA256 under a key
derived from the server's link-signing secret. Every request re-reads the key: a revoked key (or a
deleted user) ends its sessions at once. A session also ends after :data:`SESSION_TTL` seconds.

Forms that change something carry a CSRF token, an HMAC of the session's nonce; the sign-in form
(before there is a session) carries one bound to a short-lived nonce cookie of its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from labelport.server.signing import Signer
from labelport.services import Principal
from labelport.store import Store
from labelport.store import schema as s

SESSION_COOKIE = "lp_session"
LOGIN_COOKIE = "lp_login"
SESSION_TTL = 12 * 3600
LOGIN_TTL = 3600


def session_key(signer: Signer) -> bytes:
    """The key sessions are signed with: derived from (never equal to) the link secret."""
    return bytes.fromhex(signer.signature("labelport:web-session-key", 0))


def _mac(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    key_id: str
    nonce: str
    issued: int

    def encode(self, key: bytes) -> str:
        raw = orjson.dumps({"k": self.key_id, "n": self.nonce, "t": self.issued})
        payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{payload}.{_mac(key, 'session', payload)}"

    @classmethod
    def decode(cls, value: str, key: bytes, *, now: float | None = None) -> Session | None:
        """The session in a cookie value, or None when it is forged, malformed or too old."""
        payload, dot, signature = value.partition(".")
        if not dot or not hmac.compare_digest(_mac(key, "session", payload), signature):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, orjson.JSONDecodeError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        key_id, nonce, issued = data.get("k"), data.get("n"), data.get("t")
        if not (isinstance(key_id, str) and isinstance(nonce, str) and isinstance(issued, int)):
            return None
        moment = time.time() if now is None else now
        if not issued <= moment + 60 or moment - issued > SESSION_TTL:
            return None
        return cls(key_id, nonce, issued)

    def csrf(self, key: bytes) -> str:
        return _mac(key, "csrf", self.nonce)


def new_session(key_id: str) -> Session:
    return Session(key_id, secrets.token_urlsafe(16), int(time.time()))


def principal_of(store: Store, key_id: str) -> Principal | None:
    """The user behind a key id while the key is live (not revoked), else None."""
    k, u = s.api_key, s.user
    with store.read() as conn:
        row = conn.execute(
            sa.select(u.c.id, u.c.email, u.c.role, u.c.org_id)
            .join(u, u.c.id == k.c.user_id)
            .where(k.c.id == key_id, k.c.revoked_at.is_(None))
        ).first()
    if row is None:
        return None
    return Principal(row.id, row.email, row.role, row.org_id, key_id)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(
    response: Response, request: Request, session: Session, key: bytes, *, secure: bool = False
) -> None:
    """Set the session cookie; ``Secure`` over HTTPS (or when the public URL is https)."""
    response.set_cookie(
        SESSION_COOKIE,
        session.encode(key),
        max_age=SESSION_TTL,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure or _secure(request),
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def read_session(request: Request, key: bytes) -> Session | None:
    value = request.cookies.get(SESSION_COOKIE)
    if not value or len(value) > 4096:
        return None
    return Session.decode(value, key)


# ------------------------------------------------------------------------------ sign-in CSRF


def login_nonce(request: Request, key: bytes) -> tuple[str, bool]:
    """The sign-in nonce of this browser (from its cookie) and whether it is new."""
    value = request.cookies.get(LOGIN_COOKIE, "")
    nonce, dot, signature = value.partition(".")
    if dot and nonce and hmac.compare_digest(_mac(key, "login-cookie", nonce), signature):
        return nonce, False
    return secrets.token_urlsafe(16), True


def set_login_nonce(response: Response, request: Request, nonce: str, key: bytes) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        f"{nonce}.{_mac(key, 'login-cookie', nonce)}",
        max_age=LOGIN_TTL,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def login_csrf(nonce: str, key: bytes) -> str:
    return _mac(key, "login-csrf", nonce)


def same(a: str | None, b: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return isinstance(a, str) and hmac.compare_digest(a.encode(), b.encode())
