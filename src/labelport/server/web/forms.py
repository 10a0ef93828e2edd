"""The pages' forms as data: what a filter panel or the export dialog sent, validated.

Pure: no database, no request. A form arrives as a multi-dict (``name -> [values]``, what
:func:`urllib.parse.parse_qs` gives). Filters are turned into the Labelbox-shaped ``filters`` dict
an export takes and checked by :func:`labelport.export.spec.parse_filters` — the export's own
validation — one filter at a time, so every wrong field gets its own message and each message
names the field it is about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from labelport.errors import InvalidSpec
from labelport.export.spec import (
    FILTERS_BY_SCOPE,
    MAX_IDS,
    PARAMS_BY_SCOPE,
    SCOPES,
    Filters,
    parse_filters,
)

Form = Mapping[str, Sequence[str]]

DATES = ("last_activity_at", "label_created_at")
FILTER_LABELS = {
    "last_activity_at": "Last activity",
    "label_created_at": "Label created",
    "workflow_status": "Workflow status",
    "batch_ids": "Batches",
    "global_keys": "Global keys",
    "data_row_ids": "Data row ids",
    "media_type": "Media type",
    "dataset_ids": "Datasets",
    "metadata": "Metadata field",
}
# What the filter panel of each kind of page offers: the scope's export filters, and on the
# catalog side also media type, datasets and metadata (which a slice can save, except metadata).
VIEW_FILTERS: dict[str, tuple[str, ...]] = {
    "catalog": (*FILTERS_BY_SCOPE["catalog"], "media_type", "dataset_ids"),
    "dataset": (*FILTERS_BY_SCOPE["dataset"], "media_type"),
    "project": FILTERS_BY_SCOPE["project"],
    "model_run": (),
    "slice": (),
}
METADATA_VIEWS = ("catalog", "dataset")
# Filters the export of the scope cannot carry: "all matching" becomes a set of data rows.
GRID_ONLY = ("media_type", "dataset_ids")

PARAM_LABELS = {
    "attachments": "Attachments",
    "metadata_fields": "Metadata fields",
    "embeddings": "Embeddings",
    "data_row_details": "Data row details (dataset, created, last activity)",
    "interpolated_frames": "Interpolated frames (video, DICOM)",
    "media_type_override": "Assemble rows as media type",
    "project_details": "Project details (workflow status, batch, history)",
    "label_details": "Label details (author, dates, reviews)",
    "performance_details": "Performance details (timing, consensus)",
    "predictions": "Predictions",
    "model_run_details": "Model run details (split)",
    "all_projects": "Labels of every project",
    "all_model_runs": "Predictions of every model run",
    "project_ids": "Projects",
    "model_run_ids": "Model runs",
}
# Params that are not a plain checkbox in the dialog.
_NOT_SWITCHES = ("project_ids", "model_run_ids", "media_type_override")


def switches(kind: str) -> tuple[str, ...]:
    """The optional fields a scope offers as checkboxes."""
    return tuple(p for p in PARAMS_BY_SCOPE[kind] if p not in _NOT_SWITCHES)


def catalog_side(kind: str) -> bool:
    """Scopes that choose which projects and model runs to include."""
    return "project_ids" in PARAMS_BY_SCOPE[kind]


# ------------------------------------------------------------------------------------ helpers


def one(form: Form, key: str, limit: int = 10_000) -> str:
    values = form.get(key) or ()
    return values[0].strip()[:limit] if values else ""


def many(form: Form, key: str) -> list[str]:
    return [v.strip() for v in form.get(key) or () if v.strip()]


_SPLIT = re.compile(r"[\s,]+")


def id_list(text: str) -> list[str]:
    """Ids typed one per line (or separated by commas or spaces)."""
    return [part for part in _SPLIT.split(text) if part]


@dataclass
class Errors:
    """Messages per form field, in the order they were found."""

    fields: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.fields)


_FILTER_KEY = re.compile(r"^filters\.([A-Za-z_]+)(?:\[(\d+)\])?")


def filter_field(message: str) -> str:
    """The panel field an InvalidSpec message about filters is about."""
    match = _FILTER_KEY.match(message)
    if match:
        name, index = match.group(1), match.group(2)
        if name in DATES and index in ("0", "1"):
            return f"{name}_{'from' if index == '0' else 'to'}"
        return name
    if "global_keys" in message:
        return "global_keys"
    return "filters"


def readable(message: str) -> str:
    """An InvalidSpec message with its ``filters.name[i]:`` prefix turned into the field label."""
    match = _FILTER_KEY.match(message)
    if not match:
        return message
    name, index = match.group(1), match.group(2)
    label = FILTER_LABELS.get(name, name)
    if name in DATES and index in ("0", "1"):
        label += " (from)" if index == "0" else " (to)"
    rest = message[match.end() :].lstrip(":").strip()
    return f"{label}: {rest}"


# ------------------------------------------------------------------------------- filter panel


@dataclass
class GridForm:
    """A filter panel as submitted: the filters dict, the metadata condition, and its errors."""

    kind: str
    filters: dict[str, Any]
    metadata_field: str = ""
    metadata_value: str = ""
    parsed: Filters | None = None
    errors: Errors = field(default_factory=Errors)

    @property
    def metadata(self) -> tuple[str, str] | None:
        if self.metadata_field:
            return self.metadata_field, self.metadata_value
        return None

    @property
    def active(self) -> bool:
        return bool(self.filters) or self.metadata is not None

    def export_filters(self) -> dict[str, Any]:
        """The filters the scope's export takes (without the grid-only ones)."""
        return {k: v for k, v in self.filters.items() if k not in GRID_ONLY}

    @property
    def needs_ids(self) -> bool:
        """True when an export of "all matching" cannot be the scope with these filters."""
        return self.metadata is not None or any(k in self.filters for k in GRID_ONLY)


def grid_form(kind: str, form: Form, zone: ZoneInfo) -> GridForm:
    """Read and check a filter panel of a page of ``kind`` (catalog, dataset, project...)."""
    allowed = VIEW_FILTERS[kind]
    filters: dict[str, Any] = {}
    for name in allowed:
        if name in DATES:
            start, end = one(form, f"{name}_from", 100), one(form, f"{name}_to", 100)
            if start or end:
                filters[name] = [start or None, end or None]
        elif name == "workflow_status":
            value = one(form, name, 100)
            if value:
                filters[name] = value
        elif name in ("global_keys", "data_row_ids"):
            ids = id_list(one(form, name, 200_000))
            if ids:
                filters[name] = ids
        else:  # batch_ids, media_type, dataset_ids: repeated values
            values = many(form, name)
            if values:
                filters[name] = list(dict.fromkeys(values))
    out = GridForm(kind, filters)
    if kind in METADATA_VIEWS:
        out.metadata_field = one(form, "metadata_field", 200)
        out.metadata_value = one(form, "metadata_value", 500)
        if out.metadata_value and not out.metadata_field:
            out.errors.add("metadata_field", "Metadata field: choose the field to compare with")
    where = f"the {kind.replace('_', ' ')} page"
    for name, value in filters.items():
        try:
            parse_filters(allowed, {name: value}, zone, where=where)
        except InvalidSpec as exc:
            field_name = filter_field(exc.message)
            if field_name.startswith(name):
                out.errors.add(field_name, readable(exc.message))
            else:  # a message worded for another place (the media type check is shared)
                reason = exc.message.split(": ", 1)[-1]
                out.errors.add(name, f"{FILTER_LABELS.get(name, name)}: {reason}")
    if not out.errors:
        try:
            out.parsed = parse_filters(allowed, filters, zone, where=where)
        except InvalidSpec as exc:
            out.errors.add(filter_field(exc.message), readable(exc.message))
    return out


def grid_query(grid: GridForm) -> list[tuple[str, str]]:
    """The panel's values as query-string pairs (to carry them into links and the dialog)."""
    pairs: list[tuple[str, str]] = []
    for name, value in grid.filters.items():
        if name in DATES:
            if value[0]:
                pairs.append((f"{name}_from", value[0]))
            if value[1]:
                pairs.append((f"{name}_to", value[1]))
        elif name in ("global_keys", "data_row_ids"):
            pairs.append((name, "\n".join(value)))
        elif isinstance(value, list):
            pairs.extend((name, v) for v in value)
        else:
            pairs.append((name, str(value)))
    if grid.metadata is not None:
        pairs.append(("metadata_field", grid.metadata_field))
        pairs.append(("metadata_value", grid.metadata_value))
    return pairs


# ------------------------------------------------------------------------------- export dialog

SELECTION = "selection"  # the dialog's name for a data_rows scope made of chosen rows


@dataclass
class ExportForm:
    """The export dialog as submitted."""

    scope_kind: str
    scope_id: str | None
    ids: list[str]
    filters: dict[str, Any]
    params: dict[str, Any]
    format: str = "ndjson"
    destination: str = ""
    annotation_set: str = ""
    complete_only: bool = False
    name: str = ""
    errors: Errors = field(default_factory=Errors)

    @property
    def kind(self) -> str:
        """The export scope: a selection is a ``data_rows`` export."""
        return "data_rows" if self.scope_kind == SELECTION else self.scope_kind


def export_form(form: Form, filters: dict[str, Any]) -> ExportForm:
    """Read the dialog (``filters`` are the ones it was opened with, decoded by the caller)."""
    kind = one(form, "scope_kind", 50)
    out = ExportForm(
        scope_kind=kind,
        scope_id=one(form, "scope_id", 1000) or None,
        ids=list(dict.fromkeys(id_list(one(form, "ids", 200_000)))),
        filters=filters,
        params={},
        format=one(form, "format", 50) or "ndjson",
        destination=one(form, "destination", 2000),
        annotation_set=one(form, "annotation_set", 200),
        complete_only=one(form, "complete_only") == "on",
        name=one(form, "name", 500),
    )
    if kind != SELECTION and kind not in SCOPES:
        out.errors.add("scope", f"Scope: unknown scope {kind!r}")
        return out
    if kind == SELECTION:
        if not out.ids:
            out.errors.add("scope", "Scope: no data rows are selected")
        elif len(out.ids) > MAX_IDS:
            out.errors.add(
                "scope",
                f"Scope: {len(out.ids):,} rows are selected; an export of a selection takes at "
                f"most {MAX_IDS:,} (export all matching rows instead)",
            )
    allowed = set(switches(out.kind))
    for name in many(form, "param"):
        if name not in allowed:
            out.errors.add("params", f"Optional fields: {name!r} is not available here")
        else:
            out.params[name] = True
    if catalog_side(out.kind):
        for key in ("project_ids", "model_run_ids"):
            chosen = many(form, key)
            if chosen:
                out.params[key] = chosen
    override = one(form, "media_type_override", 50)
    if override:
        out.params["media_type_override"] = override
    if out.format not in ("ndjson", "vertex"):
        out.errors.add("format", f"Format: unknown format {out.format!r} (ndjson or vertex)")
    if out.complete_only:
        if out.kind != "project":
            out.errors.add("complete_only", "Complete only: only a project export has it")
        elif out.filters.get("workflow_status") not in (None, "Done"):
            out.errors.add(
                "complete_only",
                f"Complete only: the rows are already filtered to workflow status "
                f"{out.filters['workflow_status']}; complete only would export none of them",
            )
        else:
            out.filters = {**out.filters, "workflow_status": "Done"}
    return out


def export_field(message: str) -> str:
    """The dialog field an InvalidSpec message from the export's validation is about."""
    for key in ("project_ids", "all_projects"):
        if message.startswith(f"params.{key}") or f"give project_ids or {key}" in message:
            return "project_ids"
    if message.startswith(("params.model_run_ids", "params.all_model_runs")):
        return "model_run_ids"
    if "model_run_ids or all_model_runs" in message:
        return "model_run_ids"
    if message.startswith("params.media_type_override"):
        return "media_type_override"
    if message.startswith("params"):
        return "params"
    if message.startswith("filters"):
        return "filters"
    if message.startswith("exportConfig.annotationsFilter"):
        return "annotation_set"
    if message.startswith("exportConfig") or "destination" in message:
        return "destination"
    if "format" in message:
        return "format"
    return "scope"
