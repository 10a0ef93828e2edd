"""The native REST API under ``/api/v1``: the catalog, imports and exports.

Each concept has its module; this package joins their routers.
"""

from __future__ import annotations

from fastapi import APIRouter

from labelport.server.auth import Viewer
from labelport.server.native import catalog, exports, imports

router = APIRouter(prefix="/api/v1")


@router.get("/me", tags=["auth"], summary="The user and organization behind the API key")
def me(principal: Viewer) -> dict[str, str]:
    return {
        "user_id": principal.user_id,
        "email": principal.email,
        "role": principal.role,
        "organization_id": principal.org_id,
    }


router.include_router(catalog.router)
router.include_router(imports.router)
router.include_router(exports.router)
