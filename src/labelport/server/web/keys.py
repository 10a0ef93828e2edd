"""The API keys page (admins): every key of the organization, and revoking one.

A revoked key answers 401 on every surface from its next request on; the web sessions signed in
with it end at their next page (sessions re-read their key on every request). Keys are made with
``labelport keys create`` or ``POST /api/v1/keys``: a secret is shown once, so not on a page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from labelport import services
from labelport.server.web import forms, render
from labelport.server.web.visit import FormBody, clean_id, page, posted, query_form, visit
from labelport.services import queries

router = APIRouter()


@router.get("/keys", include_in_schema=False)
@page
def keys(request: Request) -> Response:
    v = visit(request, "admin")
    form = query_form(request)
    show_revoked = forms.one(form, "revoked", 5) != "0"
    listed = queries.list_keys(v.ctx.store, v.principal.org_id, limit=1000, revoked=show_revoked)
    return render.page(
        "keys.html",
        v.base(
            keys=listed.items,
            more=listed.next_after is not None,
            show_revoked=show_revoked,
            current_key=v.principal.key_id,
        ),
    )


@router.post("/keys/{key_id}/revoke", include_in_schema=False)
@page
def revoke(request: Request, key_id: str, form: dict[str, list[str]] = FormBody) -> Response:
    v = posted(request, form, "admin")
    key_id = clean_id(key_id)
    services.revoke_api_key(v.ctx.store, v.principal.org_id, key_id)
    if key_id == v.principal.key_id:  # this very session ended with its key
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/keys", status_code=303)
