"""The source shapes of checked rows: what the export must give back that the columns cannot.

See :mod:`labelport.store.shapes` for what a shape says and how exports apply it. Each function
here takes one checked part (and, where the loader normalises a value, what it stored) and
returns the shape of its table row, or None when labelport's own rendering is the source as it
was. Pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from labelport.imports.canonical import (
    DATA_ROW_KEYS,
    DETAILS_KEYS,
    EMBEDDING_KEYS,
    EXPERIMENT_KEYS,
    IMPORT_ONLY_KEYS,
    LABEL_DETAILS_KEYS,
    LABEL_KEYS,
    METADATA_KEYS,
    PERFORMANCE_KEYS,
    PROJECT_DETAILS_KEYS,
    PROJECT_KEYS,
    ROW_KEYS,
    RUN_KEYS,
    RUN_LABEL_KEYS,
    CheckedLabel,
    CheckedProject,
    CheckedRow,
    CheckedRun,
)
from labelport.store import shapes
from labelport.store.shapes import Shape
from labelport.times import format_timestamp, parse_timestamp

# Keys labelport leaves out of its own rendering when they are null.
DATA_ROW_OMIT_NULL = ("global_key", "external_id")
PROJECT_OMIT_NULL = ("project_tags",)
# Sections a row may leave out and the catalog keeps from before: shown when not empty.
_KEPT_SECTIONS = ("media_attributes", "attachments", "metadata_fields", "embeddings")
_TOP_KEYS = (*ROW_KEYS, *sorted(IMPORT_ONLY_KEYS))  # import-only keys: read, never exported
_DERIVED_LABEL = ("label_kind", "version", "annotations")  # null given: not Default, 1.0.0, {}
_FLOAT_COLUMNS = ("seconds_to_create", "seconds_to_review", "benchmark_score", "consensus_score")


def _timestamps(source: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Timestamps the export would spell otherwise: the source's spelling."""
    out = {}
    for name in names:
        given = source.get(name)
        if not isinstance(given, str) or (
            len(given) == 29
            and given[10] == "T"
            and given[19] == "."
            and given.endswith("+00:00")
            and given[:4].isdigit()
        ):
            continue  # exactly the export form (the fixed places; the checks parsed it)
        if format_timestamp(_parsed(str(given))) != given:
            out[name] = given
    return out


def _parsed(text: str) -> datetime:
    return parse_timestamp(text)


def _nulls(source: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Lists the source gave as ``null`` (the catalog renders them ``[]``)."""
    if None not in source.values():
        return {}
    return {name: None for name in names if name in source and source[name] is None}


def row_shape(
    row: CheckedRow,
    metadata_values: list[Any] | None,
    old: Shape | None,
    existed: bool,
) -> Shape | None:
    """The shape of the ``data_row`` row: the top level, ``data_row``, its details, and the
    items of ``metadata_fields`` and ``embeddings``. ``metadata_values`` are the values as
    stored (enum values completed); ``old`` the row's shape before this import."""
    source = row.source
    dr = source["data_row"]
    old = old or {}
    old_subs = old.get("s", {})
    old_lists = old.get("l", {})
    nested: dict[str, Shape | None] = {}
    # data_row and its details
    details_src = dr.get("details")
    details_shape: Shape | None = None
    if isinstance(details_src, dict):
        over = _timestamps(details_src, ("created_at", "updated_at", "last_activity_at"))
        over.update(
            _nulls(
                details_src,
                ("dataset_id", "dataset_name", "created_at", "updated_at", "last_activity_at"),
            )
        )
        details_shape = shapes.of(details_src, DETAILS_KEYS, overrides=over)
    dr_absent_ok = ("id",)
    dr_shape = shapes.of(
        dr,
        DATA_ROW_KEYS,
        omit_null=DATA_ROW_OMIT_NULL,
        nested={"details": details_shape} if details_shape is not None else None,
        always=dr_absent_ok,
    )
    if details_src is None and existed and _shown(old_subs.get("data_row"), "details"):
        # details left out now, known from before: shown as before
        dr_shape = _without_absent(dr_shape, "details")
        previous = (old_subs.get("data_row") or {}).get("s", {}).get("details")
        if previous is not None:
            dr_shape = {
                **(dr_shape or {}),
                "s": {**(dr_shape or {}).get("s", {}), "details": previous},
            }
    nested["data_row"] = dr_shape
    lists: dict[str, list[Shape | None]] = {}
    if row.metadata is not None:
        items = []
        for i, item in enumerate(row.metadata):
            stored = metadata_values[i] if metadata_values is not None else item.get("value")
            over = {} if shapes.same_json(stored, item.get("value")) else {"value": item["value"]}
            over.update(_nulls(item, ("schema_id", "schema_name")))
            items.append(shapes.of(item, METADATA_KEYS, overrides=over))
        lists["metadata_fields"] = items
    elif "metadata_fields" in old_lists:
        lists["metadata_fields"] = old_lists["metadata_fields"]
    if row.embeddings is not None:
        lists["embeddings"] = [shapes.of(item, EMBEDDING_KEYS) for item in row.embeddings]
    elif "embeddings" in old_lists:
        lists["embeddings"] = old_lists["embeddings"]
    over = _nulls(source, ROW_KEYS[1:])  # every section but data_row: null kept as null
    shape = shapes.of(
        source,
        _TOP_KEYS,  # a top-level section left out is "e" below, not absent
        overrides=over,
        nested=nested,
        lists=lists,
        always=_TOP_KEYS,
    )
    empty_when_absent = [k for k in (*_KEPT_SECTIONS, "projects", "experiments") if k not in source]
    if empty_when_absent:
        shape = {**(shape or {}), "e": empty_when_absent}
    return shape


def _shown(shape: Shape | None, key: str) -> bool:
    return shape is None or key not in shape.get("a", ())


def _without_absent(shape: Shape | None, key: str) -> Shape | None:
    if shape is None:
        return None
    out = dict(shape)
    out["a"] = [k for k in out.get("a", ()) if k != key]
    return {k: v for k, v in out.items() if v} or None


def project_shape(project: CheckedProject) -> Shape | None:
    """The shape of a ``project_data_row`` row: the project entry and its details."""
    source = project.source
    nested: dict[str, Shape | None] = {}
    details = project.details
    if isinstance(details, dict):
        over = _nulls(details, ("ontology_id", "workflow_history"))
        given = details.get("workflow_status")
        if given is not None and given != project.workflow_status:
            over["workflow_status"] = given
        nested["project_details"] = shapes.of(details, PROJECT_DETAILS_KEYS, overrides=over)
    shape = shapes.of(
        source,
        PROJECT_KEYS,
        omit_null=PROJECT_OMIT_NULL,
        overrides=_nulls(source, ("labels",)),
        nested=nested,
        always=("name", "labels"),
    )
    if "labels" not in source:
        shape = {**(shape or {}), "e": ["labels"]}
    return shape


def label_shape(label: CheckedLabel) -> Shape | None:
    """The shape of a project ``label`` row: the label, its details and performance."""
    source = label.source
    nested: dict[str, Shape | None] = {}
    details = source.get("label_details")
    if isinstance(details, dict):
        over = _timestamps(details, ("created_at", "updated_at", "content_last_updated_at"))
        over.update(_nulls(details, ("created_at", "updated_at", "reviews")))
        nested["label_details"] = shapes.of(details, LABEL_DETAILS_KEYS, overrides=over)
    perf = source.get("performance_details")
    if isinstance(perf, dict):
        exact = {k: perf[k] for k in _FLOAT_COLUMNS if type(perf.get(k)) is int}
        nested["performance_details"] = shapes.of(perf, PERFORMANCE_KEYS, overrides=exact)
    return shapes.of(
        source,
        LABEL_KEYS,
        overrides=_nulls(source, _DERIVED_LABEL),
        nested=nested,
        always=("id",),
    )


def run_label_shape(label: CheckedLabel) -> Shape | None:
    """The shape of a model run's label or prediction row."""
    return shapes.of(
        label.source,
        RUN_LABEL_KEYS,
        overrides=_nulls(label.source, _DERIVED_LABEL),
        always=("id",),
    )


def run_shape(run: CheckedRun) -> Shape | None:
    """The shape of a ``model_run_data_row`` row: the run entry, and (``m``) its model's."""
    source = run.source
    over = _nulls(source, ("run_data_row_id", "labels", "predictions"))
    given = source.get("split")
    if given is not None and given != run.split:
        over["split"] = given
    shape = shapes.of(source, RUN_KEYS, overrides=over, always=("name",))
    empty = [k for k in ("labels", "predictions") if k not in source]
    if empty:
        shape = {**(shape or {}), "e": empty}
    model = shapes.of(run.model_source, EXPERIMENT_KEYS)
    if model is not None:
        shape = {**(shape or {}), "m": model}
    return shape
