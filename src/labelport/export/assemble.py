"""Assemble canonical rows for a page of data-row ids: a fixed number of batched queries per page.

:func:`fetch` does the reading (one query per kind of child, never one per row); :func:`build_row`
is pure and turns what was read into a canonical row dict.

Speed: stored JSON documents (annotations, reviews, attachments, metadata values, embeddings…)
are read as text and spliced into the output as :class:`orjson.Fragment` — never decoded and
encoded again — and timestamps are formatted by the database into the export form
(``2023-03-15T14:46:58.000+00:00``). Only video and DICOM labels are decoded, and only when
``interpolated_frames`` asks for their in-between frames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.export.interpolate import interpolate_frames
from labelport.store.shapes import apply as shaped

JSON = dict[str, Any]
Fragment = orjson.Fragment

_VIDEO_LIKE = ("VIDEO", "DICOM")


@dataclass(frozen=True, slots=True)
class Include:
    """What a row carries beyond ``data_row`` and ``media_attributes`` (always there)."""

    attachments: bool = True
    metadata_fields: bool = True
    embeddings: bool = True
    data_row_details: bool = True
    project_details: bool = True
    label_details: bool = True
    performance_details: bool = True
    predictions: bool = True
    model_run_details: bool = True
    interpolated_frames: bool = False
    media_type_override: str | None = None
    # Imported rows as their source had them (store/shapes.py); False: the catalog's own view
    # (every key labelport keeps, as it keeps it), for pages that show catalog values.
    source_shapes: bool = True
    projects: tuple[str, ...] | None = None  # None: every project; (): none
    model_runs: tuple[str, ...] | None = None  # None: every model run; (): none


@dataclass(slots=True)
class Page:
    """Everything read for one page of data rows, grouped by data-row id."""

    rows: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    embeddings: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    projects: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    labels: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))
    history: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))
    runs: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    run_labels: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))
    predictions: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))


class _Sql:
    """The SQL of one page, for one dialect and one :class:`Include`, compiled once.

    Pages are read through the driver's own cursor (plain tuples, no per-row result processing),
    with the page's ids bound as one parameter: a JSON array on SQLite (``json_each``), an array
    on PostgreSQL (``= ANY``). Every statement's text is the same for every page.
    """

    def __init__(self, dialect: str, include: Include) -> None:
        self.sqlite = dialect == "sqlite"
        self.include = include
        ids = "IN (SELECT value FROM json_each(?))" if self.sqlite else "= ANY(%s)"
        self._ids = ids

        def ts(column: str) -> str:
            if self.sqlite:  # stored as 'YYYY-MM-DD hh:mm:ss.ffffff'; formatted by _timestamps
                return column
            return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')"""

        def doc(column: str) -> str:
            # SQLite hands a BLOB over as bytes: no UTF-8 decoding here and no encoding again
            # when orjson splices it (annotations are most of an export's bytes).
            return f"CAST({column} AS BLOB)" if self.sqlite else column

        def only(column: str, values: tuple[str, ...] | None) -> str:
            return "" if values is None else f" AND {column} {ids}"

        details = include.data_row_details
        self.rows = (
            "SELECT d.id, d.org_id, d.global_key, d.external_id, d.row_data, d.media_type,"
            " d.media_attributes, "
            + ("d.attachments" if include.attachments else "NULL")
            + ", d.shape"
            + (
                f", d.dataset_id, ds.name, {ts('d.created_at')}, {ts('d.updated_at')},"
                f" {ts('d.last_activity_at')}, u.email"
                " FROM data_row d JOIN dataset ds ON ds.id = d.dataset_id"
                " LEFT JOIN app_user u ON u.id = d.created_by_id"
                if details
                else " FROM data_row d"
            )
            + f" WHERE d.id {ids}"
        )
        self.metadata = (
            "SELECT m.data_row_id, m.schema_id, f.name, m.value FROM data_row_metadata m"
            f" JOIN metadata_field f ON f.id = m.schema_id WHERE m.data_row_id {ids}"
            " ORDER BY m.data_row_id, m.position"
        )
        self.embeddings = (
            "SELECT de.data_row_id, e.id, e.name, e.dimensions, e.is_custom, de.vectors"
            " FROM data_row_embedding de JOIN embedding e ON e.id = de.embedding_id"
            f" WHERE de.data_row_id {ids} ORDER BY de.data_row_id, de.position"
        )
        projects = include.projects
        self.projects = (
            "SELECT pdr.data_row_id, pdr.project_id, pdr.workflow_status, pdr.priority,"
            " pdr.batch_id, pdr.task_id, pdr.task_name, pdr.consensus_expected_label_count,"
            " pdr.selected_label_id, p.name, p.ontology_id, p.tags, b.name, pdr.shape"
            " FROM project_data_row pdr JOIN project p ON p.id = pdr.project_id"
            " LEFT JOIN batch b ON b.id = pdr.batch_id"
            f" WHERE pdr.data_row_id {ids}"
            + only("pdr.project_id", projects)
            + " ORDER BY pdr.data_row_id, pdr.position"
        )
        label_columns = (
            f"l.data_row_id, l.project_id, l.id, l.label_kind, l.version, {doc('l.annotations')},"
            " l.shape"
        )
        joins = ""
        if include.label_details:
            label_columns += (
                f", {ts('l.created_at')}, {ts('l.updated_at')}, u.email,"
                f" {ts('l.content_last_updated_at')}, l.reviews"
            )
            joins = " LEFT JOIN app_user u ON u.id = l.created_by_id"
        if include.performance_details:
            label_columns += (
                ", l.seconds_to_create, l.seconds_to_review, l.skipped,"
                " l.benchmark_reference_label, l.benchmark_score, l.consensus_score,"
                " l.consensus_label_count, l.consensus_labels, l.performance_v2"
            )
        self.labels = (
            f"SELECT {label_columns} FROM label l{joins} WHERE l.data_row_id {ids}"
            + only("l.project_id", projects)
            + " ORDER BY l.data_row_id, l.project_id, l.position"
        )
        self.history = (
            "SELECT h.data_row_id, h.project_id, h.entry FROM workflow_history h"
            f" WHERE h.data_row_id {ids}"
            + only("h.project_id", projects)
            + " ORDER BY h.data_row_id, h.project_id, h.position"
        )
        runs = include.model_runs
        self.runs = (
            "SELECT mr.data_row_id, mr.model_run_id, mr.run_data_row_id, mr.split, r.name,"
            " m.id, m.name, mr.shape FROM model_run_data_row mr"
            " JOIN model_run r ON r.id = mr.model_run_id JOIN model m ON m.id = r.model_id"
            f" WHERE mr.data_row_id {ids}"
            + only("mr.model_run_id", runs)
            + " ORDER BY mr.data_row_id, mr.position"
        )
        self.run_tables = {
            table: (
                "SELECT x.data_row_id, x.model_run_id, x.id, x.label_kind, x.version,"
                f" {doc('x.annotations')}, x.shape FROM {table} x WHERE x.data_row_id {ids}"
                + only("x.model_run_id", runs)
                + " ORDER BY x.data_row_id, x.model_run_id, x.position"
            )
            for table in ("model_run_label", "prediction")
        }

    def bind(self, values: Sequence[str]) -> Any:
        return orjson.dumps(list(values)).decode() if self.sqlite else list(values)


@lru_cache(maxsize=64)
def _sql(dialect: str, include: Include) -> _Sql:
    return _Sql(dialect, include)


def fetch(conn: sa.Connection, org_id: str, ids: Sequence[str], include: Include) -> Page:
    """Read everything ``include`` asks for about ``ids`` (rows of other organizations are
    left out), in a fixed number of statements whatever the number of ids."""
    page = Page()
    if not ids:
        return page
    sql = _sql(conn.dialect.name, include)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        page_ids = sql.bind(ids)
        cursor.execute(sql.rows, (page_ids,))
        rows = cursor.fetchall()
        if sql.sqlite and include.data_row_details:
            rows = [(*r[:11], *map(_sqlite_ts, r[11:14]), r[14]) for r in rows]
        page.rows = {r[0]: r for r in rows if r[1] == org_id}
        if include.metadata_fields:
            cursor.execute(sql.metadata, (page_ids,))
            _group(cursor.fetchall(), page.metadata)
        if include.embeddings:
            cursor.execute(sql.embeddings, (page_ids,))
            _group(cursor.fetchall(), page.embeddings)
        if include.projects != ():
            extra = () if include.projects is None else (sql.bind(include.projects),)
            cursor.execute(sql.projects, (page_ids, *extra))
            _group(cursor.fetchall(), page.projects)
            cursor.execute(sql.labels, (page_ids, *extra))
            labels = cursor.fetchall()
            if sql.sqlite and include.label_details:
                ts = _sqlite_ts
                labels = [(*x[:7], ts(x[7]), ts(x[8]), x[9], ts(x[10]), *x[11:]) for x in labels]
            _group_pairs(labels, page.labels)
            if include.project_details:
                cursor.execute(sql.history, (page_ids, *extra))
                history = page.history
                for drid, pid, entry in cursor.fetchall():
                    history[(pid, drid)].append(Fragment(entry))
        if include.model_runs != ():
            extra = () if include.model_runs is None else (sql.bind(include.model_runs),)
            cursor.execute(sql.runs, (page_ids, *extra))
            _group(cursor.fetchall(), page.runs)
            cursor.execute(sql.run_tables["model_run_label"], (page_ids, *extra))
            _group_pairs(cursor.fetchall(), page.run_labels)
            if include.predictions:
                cursor.execute(sql.run_tables["prediction"], (page_ids, *extra))
                _group_pairs(cursor.fetchall(), page.predictions)
    finally:
        cursor.close()
    return page


def _sqlite_ts(text: str | None) -> str | None:
    """SQLite's stored ``YYYY-MM-DD hh:mm:ss[.ffffff]`` in the export form."""
    if text is None:
        return None
    if len(text) >= 23:
        return f"{text[:10]}T{text[11:23]}+00:00"
    return f"{text[:10]}T{text[11:19]}.000+00:00"


def _group(rows: list[Any], into: dict[str, list[Any]]) -> None:
    """Rows whose first column is the data-row id, grouped by it (order kept)."""
    for r in rows:
        into[r[0]].append(r)


def _group_pairs(rows: list[Any], into: dict[tuple[str, str], list[Any]]) -> None:
    """Rows that start with (data-row id, project or model-run id), grouped by (owner, row)."""
    for r in rows:
        into[(r[1], r[0])].append(r)


# ------------------------------------------------------------------------------------- pure part


def build(page: Page, ids: Sequence[str], include: Include) -> list[JSON]:
    """Canonical rows for ``ids`` (ids not in the page are skipped)."""
    return [build_row(page, rid, include) for rid in ids if rid in page.rows]


_EMPTY_DOCS = ("[]", "{}", b"[]", b"{}")


def _frag(text: str | bytes | None, empty: Any = None) -> Any:
    """A stored document spliced in as it is (an empty one as a plain ``[]``/``{}``)."""
    if text is None:
        return empty
    if text in _EMPTY_DOCS:
        return [] if text in ("[]", b"[]") else {}
    return Fragment(text)


def _shape(text: str | bytes | None, include: Include) -> Any:
    return orjson.loads(text) if text is not None and include.source_shapes else None


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)  # SQLite answers 0/1


def build_row(page: Page, rid: str, include: Include) -> JSON:
    """One canonical row; stored JSON is spliced in as :class:`orjson.Fragment`."""
    r = page.rows[rid]
    shape = _shape(r[8], include)
    data_row: JSON = {
        "id": rid,
        "global_key": r[2],
        "external_id": r[3],
        "row_data": r[4],
    }
    if include.data_row_details:
        data_row["details"] = {
            "dataset_id": r[9],
            "dataset_name": r[10],
            "created_at": r[11],
            "updated_at": r[12],
            "last_activity_at": r[13],
            "created_by": r[14],
        }
    out: JSON = {"data_row": data_row, "media_attributes": _frag(r[6], {})}
    if include.attachments:
        out["attachments"] = _frag(r[7], [])
    if include.metadata_fields:
        out["metadata_fields"] = [
            {"schema_id": m[1], "schema_name": m[2], "value": Fragment(m[3])}
            for m in page.metadata.get(rid, ())
        ]
    if include.embeddings:
        out["embeddings"] = [
            {
                "id": e[1],
                "name": e[2],
                "dimensions": e[3],
                "is_custom": bool(e[4]),
                "values": Fragment(e[5]),
            }
            for e in page.embeddings.get(rid, ())
        ]
    interpolate = include.interpolated_frames and (
        (include.media_type_override or r[5]) in _VIDEO_LIKE
    )
    if include.projects != ():
        labels = page.labels
        out["projects"] = {
            p[1]: _project_entry(page, p, labels.get((p[1], rid), ()), include, interpolate)
            for p in page.projects.get(rid, ())
        }
    if include.model_runs != ():
        experiments: JSON = {}
        for run in page.runs.get(rid, ()):
            _, run_id, run_data_row_id, split, run_name, model_id, model_name = run[:7]
            model = experiments.setdefault(model_id, {"name": model_name, "runs": {}})
            key = (run_id, rid)
            run_shape = _shape(run[7], include)
            if run_shape is not None and "m" in run_shape and len(model) == 2:
                model["shape"] = run_shape["m"]  # applied once the model's runs are in
            entry: JSON = {
                "name": run_name,
                "run_data_row_id": run_data_row_id,
                "labels": [
                    _run_label(x, interpolate, include) for x in page.run_labels.get(key, ())
                ],
            }
            if include.predictions:
                entry["predictions"] = [
                    _run_label(x, interpolate, include) for x in page.predictions.get(key, ())
                ]
            if include.model_run_details:
                entry["split"] = split
            model["runs"][run_id] = shaped(entry, run_shape)
        for model in experiments.values():
            if "shape" in model:
                shaped(model, model.pop("shape"))
        out["experiments"] = experiments
    if shape is not None:
        shaped(data_row, (shape.get("s") or {}).get("data_row"), _DATA_ROW_OMIT_NULL)
        return shaped(out, _without(shape, "data_row"))
    shaped(data_row, None, _DATA_ROW_OMIT_NULL)
    return out


_DATA_ROW_OMIT_NULL = ("global_key", "external_id")
_PROJECT_OMIT_NULL = ("project_tags",)


def _without(shape: JSON, key: str) -> JSON:
    """``shape`` without its nested shape for ``key`` (applied on its own)."""
    subs = shape.get("s")
    if not subs or key not in subs:
        return shape
    return {**shape, "s": {k: v for k, v in subs.items() if k != key}}


def _project_entry(
    page: Page, p: Any, labels: Sequence[Any], include: Include, interpolate: bool
) -> JSON:
    entry: JSON = {"name": p[9], "labels": [_label(x, include, interpolate) for x in labels]}
    if include.project_details:
        entry["project_details"] = {
            "ontology_id": p[10],
            "task_id": p[5],
            "task_name": p[6],
            "batch_id": p[4],
            "batch_name": p[12],
            "workflow_status": p[2],
            "priority": p[3],
            "selected_label_id": p[8],
            "consensus_expected_label_count": p[7],
            "workflow_history": page.history.get((p[1], p[0]), []),
        }
    entry["project_tags"] = _frag(p[11])
    return shaped(entry, _shape(p[13], include), _PROJECT_OMIT_NULL)


def _annotations(text: str | bytes, interpolate: bool) -> Any:
    if interpolate:
        return interpolate_frames(orjson.loads(text))
    return Fragment(text)


def _label(x: Any, include: Include, interpolate: bool) -> JSON:
    # x: data_row_id, project_id, id, label_kind, version, annotations, shape,
    #    [created_at, updated_at, created_by, content_last_updated_at, reviews],
    #    [seconds_to_create, seconds_to_review, skipped, benchmark_reference_label,
    #     benchmark_score, consensus_score, consensus_label_count, consensus_labels, v2]
    out: JSON = {"id": x[2], "label_kind": x[3], "version": x[4]}
    at = 7
    if include.label_details:
        out["label_details"] = {
            "created_at": x[7],
            "updated_at": x[8],
            "created_by": x[9],
            "content_last_updated_at": x[10],
            "reviews": _frag(x[11]),
        }
        at = 12
    if include.performance_details:
        out["performance_details"] = {
            "seconds_to_create": x[at],
            "seconds_to_review": x[at + 1],
            "skipped": _bool(x[at + 2]),
            "benchmark_reference_label": x[at + 3],
            "benchmark_score": x[at + 4],
            "consensus_score": x[at + 5],
            "consensus_label_count": x[at + 6],
            "consensus_labels": _frag(x[at + 7]),
            "performance_details_v2": _frag(x[at + 8]),
        }
    out["annotations"] = _annotations(x[5], interpolate)
    return shaped(out, _shape(x[6], include))


def _run_label(x: Any, interpolate: bool, include: Include) -> JSON:
    out = {
        "id": x[2],
        "label_kind": x[3],
        "version": x[4],
        "annotations": _annotations(x[5], interpolate),
    }
    return shaped(out, _shape(x[6], include))


def assemble(
    conn: sa.Connection, org_id: str, ids: Sequence[str], include: Include | None = None
) -> list[JSON]:
    """Read and build canonical rows for ``ids`` in one go, as plain (decoded) dicts."""
    include = include or Include()
    rows = build(fetch(conn, org_id, ids, include), ids, include)
    return [orjson.loads(orjson.dumps(row)) for row in rows]
