"""Who is asking: API keys as Bearer tokens (or HTTP Basic id:secret), and roles.

Every route but health, the docs and signed downloads needs a key. A key belongs to a user, the
user to one organization, and every query a route makes is scoped to that organization, so another
organization's ids answer 404. Roles are ordered viewer < editor < admin:

* viewer: read the catalog, exports and their files;
* editor: also import, export, cancel and archive exports, and save slices and annotation sets;
* admin: also manage users and API keys.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from labelport import services
from labelport.errors import AuthenticationFailed, PermissionDenied
from labelport.server.context import Context
from labelport.services import Principal
from labelport.store import Store

ROLE_ORDER = {"viewer": 0, "editor": 1, "admin": 2}


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def _bearer(request: Request) -> Principal:
    return bearer_principal(context(request).store, request)


def bearer_principal(store: Store, request: Request) -> Principal:
    """The user behind the request's ``Authorization: Bearer <API key>``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        raise AuthenticationFailed("an API key is required: send 'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed("the Authorization header must read 'Bearer <API key>'")
    return services.authenticate(store, value.strip())


def _basic(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise AuthenticationFailed(
            "HTTP Basic credentials are required (username: API key id, password: its secret)"
        )
    try:
        key_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("the Basic credentials are not valid base64") from None
    if not sep:
        raise AuthenticationFailed("the Basic credentials must read 'key id:secret'")
    return services.authenticate_pair(context(request).store, key_id, secret)


def check_role(principal: Principal, role: str) -> Principal:
    if ROLE_ORDER.get(principal.role, -1) < ROLE_ORDER[role]:
        raise PermissionDenied(f"this needs the {role} role; {principal.email} is {principal.role}")
    return principal


def _need(role: str, basic: bool = False) -> object:
    get = _basic if basic else _bearer

    def dependency(request: Request) -> Principal:
        principal = check_role(get(request), role)
        request.state.principal = principal
        return principal

    dependency.__name__ = f"{'basic_' if basic else ''}{role}"
    return Depends(dependency)


Viewer = Annotated[Principal, _need("viewer")]
Editor = Annotated[Principal, _need("editor")]
Admin = Annotated[Principal, _need("admin")]
BasicViewer = Annotated[Principal, _need("viewer", basic=True)]
BasicEditor = Annotated[Principal, _need("editor", basic=True)]
Ctx = Annotated[Context, Depends(context)]
