"""The export dialog: what to export (scope, params, filters, format) and starting it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from labelport import services
from labelport.errors import InvalidInput, InvalidSpec, NotFound, PermissionDenied
from labelport.export.spec import MAX_IDS, SCOPES, Scope
from labelport.server.web import browse, forms, render
from labelport.server.web.grids import panel_for
from labelport.server.web.visit import (
    SCOPE_PATHS,
    SCOPE_TITLES,
    FormBody,
    Visit,
    page,
    posted,
    query_form,
    visit,
)
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.vocab import MEDIA_TYPES

router = APIRouter(include_in_schema=False)


def _filters_summary(filters: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name, value in filters.items():
        label = forms.FILTER_LABELS.get(name, name)
        if name in forms.DATES:
            text = f"{value[0] or '…'} to {value[1] or '…'}"
        elif isinstance(value, list):
            shown = ", ".join(map(str, value[:5]))
            text = shown + (f" and {len(value) - 5:,} more" if len(value) > 5 else "")
        else:
            text = str(value)
        out.append((label, text))
    return out


@dataclass
class Dialog:
    """The export dialog's state: where it was opened and what it offers."""

    scope_kind: str  # a scope kind, or forms.SELECTION
    scope_id: str | None = None
    scope_name: str | None = None
    ids: list[str] | None = None
    filters: dict[str, Any] | None = None
    count: str | None = None
    note: str | None = None
    blocked: str | None = None  # why the export cannot be started from here
    preselect_projects: tuple[str, ...] = ()
    preselect_runs: tuple[str, ...] = ()


def _dialog(v: Visit, d: Dialog, ef: forms.ExportForm | None, status: int = 200) -> Response:
    store, org = v.ctx.store, v.principal.org_id
    kind = "data_rows" if d.scope_kind == forms.SELECTION else d.scope_kind
    errors = ef.errors.fields if ef is not None else {}
    chosen_params = set(ef.params) if ef is not None else set()
    side = forms.catalog_side(kind)
    vertex_ok = kind == "dataset" and not d.filters
    sets = browse.annotation_sets(store, org, str(d.scope_id)) if vertex_ok else []
    roots = [f"file://{root}" for root in v.ctx.settings.destination_roots]
    filters = d.filters or {}
    context = v.base(
        dialog=d,
        kind=kind,
        scope_title=SCOPE_TITLES[d.scope_kind],
        scope_path=SCOPE_PATHS.get(kind),
        filters_json=orjson.dumps(filters).decode(),
        filters_summary=_filters_summary(filters),
        ids_text="\n".join(d.ids or []),
        switches=forms.switches(kind),
        labels=forms.PARAM_LABELS,
        chosen_params=chosen_params,
        catalog_side=side,
        projects=browse.choices(store, org, "projects") if side else [],
        model_runs=browse.choices(store, org, "model-runs") if side else [],
        chosen_projects=set((ef.params.get("project_ids") or []) if ef else d.preselect_projects),
        chosen_runs=set((ef.params.get("model_run_ids") or []) if ef else d.preselect_runs),
        media_types=MEDIA_TYPES,
        override=(ef.params.get("media_type_override") or "") if ef else "",
        vertex_ok=vertex_ok,
        annotation_sets=sets,
        destination_roots=roots,
        form=ef,
        errors=errors,
        can_complete_only=kind == "project",
    )
    return render.page("export_new.html", context, status)


def _dialog_from_grid(v: Visit, form: forms.Form) -> Dialog:
    kind = forms.one(form, "scope_kind", 20)
    if kind not in SCOPES or kind in ("data_rows",):
        raise InvalidInput(
            f"Scope: {kind!r} is not something to export from here "
            "(open the dialog from a catalog, dataset, project, model run or slice page)"
        )
    item_id = forms.one(form, "scope_id", 1000) or None
    panel = panel_for(v, kind, item_id, form)
    if panel.grid.errors or panel.query is None:
        message = "; ".join(panel.grid.errors.fields.values())
        raise InvalidInput(f"The filters are not valid: {message}")
    store = v.ctx.store
    preselect = (item_id,) if kind == "project" and item_id else ()
    runs = (item_id,) if kind == "model_run" and item_id else ()
    if panel.grid.needs_ids:
        ids = browse.matching_ids(store, panel.query, MAX_IDS + 1)
        d = Dialog(
            forms.SELECTION,
            ids=ids[:MAX_IDS],
            count=f"{len(ids):,}" if len(ids) <= MAX_IDS else f"more than {MAX_IDS:,}",
            note=(
                "Media type, dataset and metadata filters are not export filters: the rows "
                "matching them now are exported as a selection of data rows."
            ),
        )
        if len(ids) > MAX_IDS:
            d.blocked = (
                f"More than {MAX_IDS:,} rows match. With media type, dataset or metadata "
                f"filters an export takes at most {MAX_IDS:,} rows. Narrow the filters, or save "
                "them as a slice (without metadata) and export the slice."
            )
        return d
    return Dialog(
        kind,
        scope_id=item_id,
        scope_name=panel.scope_name,
        filters=panel.grid.export_filters(),
        count=str(browse.count(store, panel.query)),
        preselect_projects=preselect,
        preselect_runs=runs,
    )


@router.get("/exports/new", include_in_schema=False)
@page
def export_dialog(request: Request) -> Response:
    v = visit(request)
    return _dialog(v, _dialog_from_grid(v, query_form(request)), None)


@router.post("/exports/new", include_in_schema=False)
@page
def export_dialog_for_selection(
    request: Request, form: dict[str, list[str]] = FormBody
) -> Response:
    v = posted(request, form, "viewer")
    if forms.one(form, "all", 5) == "1":  # "select all matching": the scope and its filters
        return _dialog(v, _dialog_from_grid(v, form), None)
    wanted = list(dict.fromkeys(forms.many(form, "row")))
    if len(wanted) > MAX_IDS:
        raise InvalidInput(
            f"{len(wanted):,} rows are selected; an export of a selection takes at most "
            f"{MAX_IDS:,} (export all matching rows instead)"
        )
    if not wanted:
        raise InvalidInput("no rows are selected: tick the rows to export first")
    ids = browse.known_rows(v.ctx.store, v.principal.org_id, wanted)
    if not ids:
        raise NotFound("data rows", ", ".join(wanted[:3]))
    kind = forms.one(form, "view_kind", 20)
    item_id = forms.one(form, "view_id", 1000)
    missing = len(wanted) - len(ids)
    d = Dialog(
        forms.SELECTION,
        ids=ids,
        count=f"{len(ids):,}",
        note=f"{missing:,} selected rows were not found and are left out." if missing else None,
        preselect_projects=(item_id,) if kind == "project" and item_id else (),
        preselect_runs=(item_id,) if kind == "model_run" and item_id else (),
    )
    return _dialog(v, d, None)


@router.post("/exports", include_in_schema=False)
@page
def start_export(request: Request, form: dict[str, list[str]] = FormBody) -> Response:
    v = posted(request, form, "editor")
    try:
        filters = orjson.loads(forms.one(form, "filters", 500_000) or "{}")
    except orjson.JSONDecodeError:
        filters = None
    ef = forms.export_form(form, filters if isinstance(filters, dict) else {})
    if not isinstance(filters, dict):
        ef.errors.add("filters", "Filters: not a filters object (open the dialog again)")
    d = Dialog(
        ef.scope_kind if ef.scope_kind in SCOPE_TITLES else "catalog",
        scope_id=ef.scope_id,
        ids=ef.ids,
        filters=filters if isinstance(filters, dict) else {},
        count=f"{len(ef.ids):,}" if ef.scope_kind == forms.SELECTION else None,
    )
    if not ef.errors and ef.scope_kind != forms.SELECTION and ef.kind in SCOPE_PATHS:
        try:
            d.scope_name = browse.check_scope(
                v.ctx.store, v.principal.org_id, Scope(ef.kind, ef.scope_id), v.timezone
            )
        except InvalidSpec as exc:
            ef.errors.add("scope", f"Scope: {exc.message}")
    if not ef.errors:
        try:
            task = _start(v, ef)
        except InvalidSpec as exc:
            ef.errors.add(forms.export_field(exc.message), exc.message)
        except NotFound as exc:
            where = {"project": "project_ids", "model run": "model_run_ids"}
            field = where.get(exc.kind, "annotation_set" if "annotation" in exc.kind else "scope")
            ef.errors.add(field, exc.message)
        except PermissionDenied as exc:
            ef.errors.add("destination", f"Destination: {exc.message}")
        else:
            v.ctx.pool.wake()
            note = "?reused=1" if task.reused else ""
            return RedirectResponse(f"/exports/{render.path(task.id)}{note}", status_code=303)
    return _dialog(v, d, ef, 400)


def _start(v: Visit, ef: forms.ExportForm) -> TaskInfo:
    store, org = v.ctx.store, v.principal.org_id
    if ef.format == "vertex":
        if ef.kind != "dataset" or ef.filters:
            raise InvalidSpec(
                "format: a Vertex-style export takes a whole dataset (open the dialog from a "
                "dataset page without filters)"
            )
        if not ef.destination:
            raise InvalidSpec("destination: give the storage directory (file://… or gs://…)")
        from labelport.services import vertex_datasets
        from labelport.vertex_vocab import SET_NAME_LABEL

        config: dict[str, Any] = {"gcsDestination": {"outputUriPrefix": ef.destination}}
        if ef.annotation_set:
            config["annotationsFilter"] = f"labels.{SET_NAME_LABEL}={ef.annotation_set}"
        started = vertex_datasets.start_export(
            store, v.ctx.settings, org, str(ef.scope_id), config, user_id=v.principal.user_id
        )
        return started.task
    scope = Scope(
        ef.kind,
        ef.scope_id if ef.kind != "data_rows" else None,
        data_row_ids=tuple(ef.ids) if ef.kind == "data_rows" else (),
    )
    spec = services.export_spec(store, org, scope, ef.params, ef.filters or None)
    return export_tasks.create(store, org, spec, user_id=v.principal.user_id, name=ef.name or None)
