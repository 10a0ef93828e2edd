"""Users and API keys: create, authenticate, list and revoke.

A key reads ``lp_<key id>_<secret>``; only a hash of the secret is stored, so a key is shown once,
when it is made. The key id and secret also work as HTTP Basic credentials (username = key id,
password = secret). Every request re-reads its key, so a revoked key answers 401 on every surface
from the next request on, and the web sessions signed in with it end.

Emails are compared case-insensitively (``Ann@Acme.test`` and ``ann@acme.test`` are one user) and
kept as first written.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from labelport.errors import AuthenticationFailed, InvalidInput, NotFound
from labelport.ids import new_id
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import utcnow

ROLES = ("admin", "editor", "viewer")
KEY_PREFIX = "lp_"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    email: str
    role: str
    org_id: str
    key_id: str


def ensure_user(store: Store, org_id: str, email: str, role: str = "editor") -> str:
    """The id of the user with ``email`` in the organization (created if new), with ``role``."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}", field="role")
    email = email.strip()
    if "@" not in email:
        raise InvalidInput(f"not an email address: {email!r}", field="email")
    u = s.user
    with store.write() as conn:
        found = conn.execute(
            sa.select(u.c.id)
            .where(u.c.org_id == org_id, sa.func.lower(u.c.email) == email.lower())
            .order_by(u.c.created_at)
            .limit(1)
        ).scalar_one_or_none()
        if found is not None:
            conn.execute(u.update().where(u.c.id == found), {"role": role})
            return str(found)
        uid = new_id()
        conn.execute(
            u.insert(),
            {"id": uid, "org_id": org_id, "email": email, "role": role, "created_at": utcnow()},
        )
        return uid


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(store: Store, org_id: str, user_id: str, name: str | None = None) -> str:
    """Create a key and return it; only its hash is stored, so this is the one time it is seen."""
    key_id = new_id()
    secret = secrets.token_urlsafe(32)
    with store.write() as conn:
        conn.execute(
            s.api_key.insert(),
            {
                "id": key_id,
                "org_id": org_id,
                "user_id": user_id,
                "name": name,
                "secret_hash": _hash_secret(secret),
                "created_at": utcnow(),
            },
        )
    return f"{KEY_PREFIX}{key_id}_{secret}"


def authenticate(store: Store, key: str) -> Principal:
    """The user behind an API key (``lp_<id>_<secret>``), or AuthenticationFailed."""
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        raise AuthenticationFailed("malformed API key")
    key_id, secret = key[len(KEY_PREFIX) :].split("_", 1)
    return authenticate_pair(store, key_id, secret)


def authenticate_pair(store: Store, key_id: str, secret: str) -> Principal:
    k, u = s.api_key, s.user
    with store.read() as conn:
        row = conn.execute(
            sa.select(k.c.secret_hash, k.c.revoked_at, u.c.id, u.c.email, u.c.role, u.c.org_id)
            .join(u, u.c.id == k.c.user_id)
            .where(k.c.id == key_id)
        ).first()
    if row is None or row.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked API key")
    if not hmac.compare_digest(row.secret_hash, _hash_secret(secret)):
        raise AuthenticationFailed("unknown or revoked API key")
    return Principal(row.id, row.email, row.role, row.org_id, key_id)


def revoke_api_key(store: Store, org_id: str, key_id: str) -> bool:
    """Revoke a key of the organization; False if it was revoked already (nothing changes).

    A key of another organization is :class:`NotFound`, like one that never existed.
    """
    k = s.api_key
    with store.write() as conn:
        exists = conn.execute(
            sa.select(k.c.revoked_at).where(k.c.id == key_id, k.c.org_id == org_id)
        ).first()
        if exists is None:
            raise NotFound("API key", key_id)
        if exists.revoked_at is not None:
            return False
        conn.execute(k.update().where(k.c.id == key_id).values(revoked_at=utcnow()))
    return True
