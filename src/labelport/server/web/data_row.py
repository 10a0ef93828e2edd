"""One data row: its media and its export row."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.server.web import browse, render
from labelport.server.web.visit import clean_id, page, visit

router = APIRouter(include_in_schema=False)


@router.get("/data-rows/{row_id:path}", include_in_schema=False)
@page
def data_row(request: Request, row_id: str) -> Response:
    v = visit(request)
    row_id = clean_id(row_id)
    row = browse.data_row(v.ctx.store, v.principal.org_id, row_id)  # as an export shows it
    kept = browse.data_row(v.ctx.store, v.principal.org_id, row_id, as_exported=False)
    media_type = browse.media_type_of(v.ctx.store, v.principal.org_id, row_id)
    image = render.thumbnail({"media_type": media_type, "row_data": row["data_row"]["row_data"]})
    projects = kept.get("projects") or {}
    runs = []
    for model_id, model in (kept.get("experiments") or {}).items():
        for run_id, run in (model.get("runs") or {}).items():
            runs.append(
                {"id": run_id, "model_id": model_id, "model_name": model.get("name"), **run}
            )
    return render.page(
        "row.html",
        v.base(
            row=row,
            data_row=kept["data_row"],
            projects=projects,
            runs=runs,
            media_type=media_type,
            image=image,
        ),
    )
