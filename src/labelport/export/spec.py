"""What an export asks for, validated before any work: scope, params, filters and format.

Everything here is pure. :func:`parse_spec` takes the ``params`` and ``filters`` dicts shaped
exactly like the Labelbox SDK's and either returns an :class:`ExportSpec` or raises
:class:`~labelport.errors.InvalidSpec` naming the key and the reason. Labelbox silently ignores a
param or filter that does not apply to the scope; labelport refuses it.

Availability follows the seeds' tables (``seeds/001``, ``003``):

=====================  =======  =========  ======================================
param                  project  model run  dataset, slice, catalog, data rows
=====================  =======  =========  ======================================
attachments, metadata_fields, embeddings, data_row_details, interpolated_frames,
media_type_override    yes      yes        yes
project_details, label_details, performance_details
                       yes      --         yes
predictions, model_run_details
                       --       yes        yes (see below)
project_ids, model_run_ids, all_projects, all_model_runs
                       --       --         yes
=====================  =======  =========  ======================================

The seeds' parameter table marks ``predictions`` and ``model_run_details`` as model-run only, but
their field table lists ``predictions`` and ``split`` as *optional* in Catalog exports, and the
Labelbox SDK sends ``includePredictions`` for catalog, dataset and slice exports. The only way to
ask for those optional fields is the param, so catalog-side scopes accept both.

Filters: project takes all six; dataset and catalog take the dates and the id lists; a set of
data rows takes the dates; model runs and slices take none (a slice *is* a saved filter).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from labelport import vocab
from labelport.errors import InvalidSpec
from labelport.times import format_timestamp, local_to_utc
from labelport.vocab import MEDIA_TYPES

SCOPES = ("project", "dataset", "slice", "model_run", "data_rows", "catalog")
FORMATS = ("ndjson", "vertex", "diffgram")  # see labelport.export.formats
MAX_IDS = 2000  # the seeds' cap on id filters; also the cap of a data_rows scope, on every face

_COMMON = (
    "attachments",
    "metadata_fields",
    "embeddings",
    "data_row_details",
    "interpolated_frames",
    "media_type_override",
)
_PROJECT_SIDE = ("project_details", "label_details", "performance_details")
_RUN_SIDE = ("predictions", "model_run_details")
_SELECTION = ("project_ids", "model_run_ids", "all_projects", "all_model_runs")
_CATALOG_PARAMS = _COMMON + _PROJECT_SIDE + _RUN_SIDE + _SELECTION

PARAMS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "project": _COMMON + _PROJECT_SIDE,
    "model_run": _COMMON + _RUN_SIDE,
    "dataset": _CATALOG_PARAMS,
    "slice": _CATALOG_PARAMS,
    "catalog": _CATALOG_PARAMS,
    "data_rows": _CATALOG_PARAMS,
}
ALL_PARAMS = _CATALOG_PARAMS

_DATES = ("last_activity_at", "label_created_at")
_ID_LISTS = ("global_keys", "data_row_ids")
FILTERS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "project": (*_DATES, "workflow_status", "batch_ids", *_ID_LISTS),
    "dataset": (*_DATES, *_ID_LISTS),
    "catalog": (*_DATES, *_ID_LISTS),
    "data_rows": _DATES,
    "model_run": (),
    "slice": (),
}
ALL_FILTERS = FILTERS_BY_SCOPE["project"]
SLICE_FILTERS = (*_DATES, *_ID_LISTS, "media_type", "dataset_ids")

WORKFLOW_STATUSES = {
    "ToLabel": "TO_LABEL",
    "InReview": "IN_REVIEW",
    "InRework": "IN_REWORK",
    "Done": "DONE",
}
# Labelbox's MediaType enum names that mean one of ours.
MEDIA_TYPE_ALIASES = {
    "DOCUMENT": "PDF",
    "GEOSPATIAL_TILE": "TMS_GEO",
    "SIMPLE_TILE": "TMS_GEO",
    "LLM_PROMPT_CREATION": "LLM",
    "LLM_PROMPT_RESPONSE_CREATION": "LLM",
}

SCOPE_LABELS = {
    "project": "a project export",
    "model_run": "a model run export",
    "dataset": "a dataset export",
    "slice": "a slice export",
    "catalog": "a catalog export",
    "data_rows": "a data rows export",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Where the rows come from. ``id`` for project/dataset/slice/model_run; ``data_row_ids`` or
    ``global_keys`` for data_rows; nothing for catalog.

    A project scope can be narrowed further by the compatibility surfaces (never by the
    Labelbox-shaped params and filters, whose tables are the seeds'): ``dataset_id`` keeps the
    project's rows of one dataset (a Diffgram directory), ``workflow_statuses`` the rows in one of
    those statuses (Diffgram's "incomplete files only"). Both are part of the scope, so the
    manifest and the task fingerprint show them.
    """

    kind: str
    id: str | None = None
    data_row_ids: tuple[str, ...] = ()
    global_keys: tuple[str, ...] = ()
    dataset_id: str | None = None
    workflow_statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.dataset_id or self.workflow_statuses) and self.kind != "project":
            raise InvalidSpec("only a project scope can be narrowed to a dataset or to statuses")
        unknown = set(self.workflow_statuses) - set(WORKFLOW_STATUSES.values())
        if unknown:
            raise InvalidSpec(f"unknown workflow statuses in the scope: {sorted(unknown)}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.id is not None:
            out["id"] = self.id
        if self.data_row_ids:
            out["data_row_ids"] = list(self.data_row_ids)
        if self.global_keys:
            out["global_keys"] = list(self.global_keys)
        if self.dataset_id is not None:
            out["dataset_id"] = self.dataset_id
        if self.workflow_statuses:
            out["workflow_statuses"] = list(self.workflow_statuses)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Scope:
        return cls(
            kind=d["kind"],
            id=d.get("id"),
            data_row_ids=tuple(d.get("data_row_ids") or ()),
            global_keys=tuple(d.get("global_keys") or ()),
            dataset_id=d.get("dataset_id"),
            workflow_statuses=tuple(d.get("workflow_statuses") or ()),
        )


Range = tuple[datetime | None, datetime | None]


@dataclass(frozen=True, slots=True)
class Params:
    attachments: bool = False
    metadata_fields: bool = False
    embeddings: bool = False
    data_row_details: bool = False
    project_details: bool = False
    label_details: bool = False
    performance_details: bool = False
    interpolated_frames: bool = False
    predictions: bool = False
    model_run_details: bool = False
    project_ids: tuple[str, ...] | None = None
    model_run_ids: tuple[str, ...] | None = None
    all_projects: bool = False
    all_model_runs: bool = False
    media_type_override: str | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    last_activity_at: Range | None = None
    label_created_at: Range | None = None
    workflow_status: str | None = None  # stored form: TO_LABEL, IN_REVIEW, IN_REWORK, DONE
    batch_ids: tuple[str, ...] | None = None
    global_keys: tuple[str, ...] | None = None
    data_row_ids: tuple[str, ...] | None = None
    media_type: tuple[str, ...] | None = None  # slices only
    dataset_ids: tuple[str, ...] | None = None  # slices only


@dataclass(frozen=True, slots=True)
class ExportSpec:
    scope: Scope
    params: Params
    filters: Filters
    format: str = "ndjson"
    timezone: str = "UTC"
    # The normalized request: every param of the scope with its effective value, and the filters
    # with dates in UTC. This is what the manifest records and what the fingerprint hashes.
    normalized_params: dict[str, Any] = field(default_factory=dict)
    normalized_filters: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Equal requests, equal fingerprint (used to find an identical running export)."""
        doc = {
            "scope": self.scope.to_json(),
            "params": self.normalized_params,
            "filters": self.normalized_filters,
            "format": self.format,
        }
        return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def every_param(kind: str, *, interpolated_frames: bool = True) -> dict[str, Any]:
    """Every switch a scope takes, on: what an export "with every param" sends. Catalog-side
    scopes also get ``all_projects`` and ``all_model_runs``."""
    skip = {"media_type_override", "project_ids", "model_run_ids"}
    if not interpolated_frames:
        skip.add("interpolated_frames")
    return {name: True for name in PARAMS_BY_SCOPE[kind] if name not in skip}


# --------------------------------------------------------------------------------------- parse


def parse_spec(
    scope: Scope,
    params: Mapping[str, Any] | None = None,
    filters: Mapping[str, Any] | None = None,
    *,
    timezone: str = "UTC",
    format: str = "ndjson",
) -> ExportSpec:
    """Validate an export request. Raises :class:`InvalidSpec` on the first thing wrong."""
    _check_scope(scope)
    if format not in FORMATS:
        raise InvalidSpec(f"unknown export format {format!r} (known: {', '.join(FORMATS)})")
    tz = zone(timezone)
    p = parse_params(scope.kind, params)
    f = parse_filters(FILTERS_BY_SCOPE[scope.kind], filters, tz, where=SCOPE_LABELS[scope.kind])
    allowed = PARAMS_BY_SCOPE[scope.kind]
    normalized_params = {name: _plain(getattr(p, name)) for name in allowed}
    return ExportSpec(
        scope=scope,
        params=p,
        filters=f,
        format=format,
        timezone=timezone,
        normalized_params=normalized_params,
        normalized_filters=normalize_filters(f),
    )


def _check_scope(scope: Scope) -> None:
    if scope.kind not in SCOPES:
        raise InvalidSpec(f"unknown export scope {scope.kind!r} (known: {', '.join(SCOPES)})")
    if scope.kind in ("project", "dataset", "slice", "model_run"):
        if not isinstance(scope.id, str) or not scope.id:
            raise InvalidSpec(f"{SCOPE_LABELS[scope.kind]} needs the {_noun(scope.kind)} id")
        if scope.data_row_ids or scope.global_keys:
            raise InvalidSpec(f"{SCOPE_LABELS[scope.kind]} takes one id, not data rows")
    elif scope.kind == "data_rows":
        if scope.id is not None:
            raise InvalidSpec("a data rows export takes data row ids or global keys, not an id")
        if bool(scope.data_row_ids) == bool(scope.global_keys):
            raise InvalidSpec("a data rows export needs data row ids or global keys (one of them)")
        given = len(scope.data_row_ids) + len(scope.global_keys)
        if given > MAX_IDS:
            raise InvalidSpec(
                f"a data rows export takes at most {MAX_IDS:,} ids or global keys, not "
                f"{given:,} (the same cap as the id filters); for more, export a dataset, a "
                "project or a slice with filters"
            )
        for value in (*scope.data_row_ids, *scope.global_keys):
            if not isinstance(value, str) or not value:
                raise InvalidSpec(f"data rows must be non-empty strings, got {value!r}")
    elif scope.id is not None or scope.data_row_ids or scope.global_keys:
        raise InvalidSpec("a catalog export takes no id (narrow it with filters)")


def _noun(kind: str) -> str:
    return {"model_run": "model run", "slice": "slice"}.get(kind, kind)


def parse_params(kind: str, params: Mapping[str, Any] | None) -> Params:
    if params is None:
        return Params()
    if not isinstance(params, Mapping):
        raise InvalidSpec(f"params must be an object, got {_type(params)}")
    allowed = PARAMS_BY_SCOPE[kind]
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name == "media_attributes":
            if value not in (None, True):
                raise InvalidSpec("params.media_attributes: media attributes are always exported")
            continue
        if name not in ALL_PARAMS:
            raise InvalidSpec(
                f"params.{name}: unknown param (known: {', '.join(ALL_PARAMS)}, media_attributes)"
            )
        if name not in allowed:
            raise InvalidSpec(
                f"params.{name}: not available for {SCOPE_LABELS[kind]} "
                f"(available: {', '.join(allowed)})"
            )
        if value is None:
            continue
        if name in ("project_ids", "model_run_ids"):
            values[name] = _id_list(value, f"params.{name}", limit=None, allow_empty=True)
        elif name == "media_type_override":
            values[name] = _media_type(value)
        elif not isinstance(value, bool):
            raise InvalidSpec(f"params.{name}: expected true or false, got {value!r}")
        else:
            values[name] = value
    for ids, every in (("project_ids", "all_projects"), ("model_run_ids", "all_model_runs")):
        if values.get(every) and values.get(ids):
            raise InvalidSpec(f"params: give {ids} or {every}, not both")
    return Params(**values)


def _media_type(value: Any) -> str:
    if isinstance(value, str):
        upper = value.strip().upper()
        upper = MEDIA_TYPE_ALIASES.get(upper, upper)
        if upper in MEDIA_TYPES:
            return upper
    raise InvalidSpec(
        f"params.media_type_override: {value!r} is not a media type "
        f"(one of {', '.join(MEDIA_TYPES)})"
    )


def parse_filters(
    allowed: Sequence[str],
    filters: Mapping[str, Any] | None,
    zone: ZoneInfo,
    *,
    where: str,
) -> Filters:
    """Validate ``filters`` against the names ``allowed`` (``where`` names the scope in errors)."""
    if filters is None:
        return Filters()
    if not isinstance(filters, Mapping):
        raise InvalidSpec(f"filters must be an object, got {_type(filters)}")
    known = (*ALL_FILTERS, "media_type", "dataset_ids")
    values: dict[str, Any] = {}
    for name, value in filters.items():
        if name not in known:
            raise InvalidSpec(f"filters.{name}: unknown filter (known: {', '.join(ALL_FILTERS)})")
        if name not in allowed:
            available = ", ".join(allowed) if allowed else "none"
            raise InvalidSpec(f"filters.{name}: not available for {where} (available: {available})")
        if value is None:
            continue
        key = f"filters.{name}"
        if name in _DATES:
            values[name] = parse_range(value, zone, key)
        elif name == "workflow_status":
            stored = vocab.workflow_status(value)  # any spelling, any letter case
            if stored is None:
                raise InvalidSpec(
                    f"{key}: {value!r} is not a workflow status "
                    f"(one of {', '.join(WORKFLOW_STATUSES)}; one value, not a list)"
                )
            values[name] = stored
        elif name == "media_type":
            types = _id_list(value, key, limit=None, allow_empty=False)
            values[name] = tuple(_media_type(t) for t in types)
        else:
            values[name] = _id_list(value, key, limit=MAX_IDS, allow_empty=False)
    if values.get("global_keys") and values.get("data_row_ids"):
        raise InvalidSpec("filters: data_row_ids and global_keys cannot both be given")
    return Filters(**values)


def normalize_filters(f: Filters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*ALL_FILTERS, "media_type", "dataset_ids"):
        value = getattr(f, name)
        if value is None:
            continue
        if name in _DATES:
            out[name] = [format_timestamp(value[0]), format_timestamp(value[1])]
        elif name == "workflow_status":
            out[name] = vocab.FILTER_SPELLINGS[value]
        else:
            out[name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# ----------------------------------------------------------------------------------- dates

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})")
DATE_FORMATS = (
    "YYYY-MM-DD, YYYY-MM-DD hh:mm:ss (both in the organization's timezone) "
    "or ISO 8601 with an offset, YYYY-MM-DDThh:mm:ss±hhmm"
)


def parse_range(value: Any, zone: ZoneInfo, key: str) -> Range | None:
    """``[start, end]`` with either end None; inclusive. Both None means no bound at all."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise InvalidSpec(f"{key}: expected [start, end] (either may be null), got {value!r}")
    start = parse_date(value[0], zone, f"{key}[0]", side="start")
    end = parse_date(value[1], zone, f"{key}[1]", side="end")
    if start is None and end is None:
        return None
    if start is not None and end is not None and start > end:
        raise InvalidSpec(f"{key}: the start {value[0]!r} is after the end {value[1]!r}")
    return (start, end)


def parse_date(
    value: Any, zone: ZoneInfo, key: str, *, side: Literal["start", "end"]
) -> datetime | None:
    """One end of a date range, as a UTC instant. Local forms are read in ``zone``, DST gaps
    and folds as :func:`labelport.times.local_to_utc` says (a start in a gap begins at the
    first instant after it)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSpec(f"{key}: expected a date string or null, got {_type(value)}")
    text = value.strip()
    try:
        if _DATE.fullmatch(text):
            local = datetime.strptime(text, "%Y-%m-%d")
        elif _DATE_TIME.fullmatch(text):
            local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        elif _ISO.fullmatch(text):
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        else:
            raise InvalidSpec(f"{key}: {value!r} is not a date; use {DATE_FORMATS}")
    except ValueError as exc:
        raise InvalidSpec(f"{key}: {value!r} is not a valid date: {exc}") from exc
    return local_to_utc(local, zone, side)


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; InvalidSpec when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSpec(f"unknown timezone {name!r}") from exc


# ------------------------------------------------------------------------------------ helpers


def _id_list(value: Any, key: str, *, limit: int | None, allow_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise InvalidSpec(f"{key}: expected a list, got {_type(value)}")
    if not value and not allow_empty:
        raise InvalidSpec(f"{key}: the list is empty")
    if limit is not None and len(value) > limit:
        raise InvalidSpec(f"{key}: at most {limit:,} values, got {len(value):,}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise InvalidSpec(f"{key}[{i}]: expected a non-empty string, got {item!r}")
    return tuple(dict.fromkeys(value))


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
