"""Validate one canonical (Labelbox export-v2) row and normalise it for the loader. Pure.

:func:`check_row` raises :class:`~labelport.imports.base.Problem` naming the field path
(``projects.<id>.labels[0].label_details.created_at``) and the reason, for what labelport cannot
take. What it can keep without knowing it (unknown fields, unknown enum values, other spellings
of known ones) is noted in the row's :class:`~labelport.imports.checks.Notes` and kept: each
checked part holds its ``source`` object, from which :mod:`labelport.imports.shaping` records
what the export must give back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labelport import vocab
from labelport.imports.annotations import check_annotations
from labelport.imports.base import JSON, Problem
from labelport.imports.checks import (
    Notes,
    email_of,
    id_of,
    identifier,
    integer,
    integer_of,
    is_id,
    keys,
    listed,
    number,
    numbers_of,
    string,
    string_of,
    timestamp_of,
    type_name,
)
from labelport.times import parse_timestamp

ATTACHMENT_TYPES = (
    "IMAGE",
    "VIDEO",
    "AUDIO",
    "IMAGE_OVERLAY",
    "HTML",
    "RAW_TEXT",
    "TEXT_URL",
    "PDF_URL",
    "CAMERA_IMAGE",
)

# The keys labelport renders, per object, in export order.
ROW_KEYS = (
    "data_row",
    "media_attributes",
    "attachments",
    "metadata_fields",
    "embeddings",
    "projects",
    "experiments",
)
IMPORT_ONLY_KEYS = frozenset({"media_type"})  # read, never exported
DATA_ROW_KEYS = ("id", "global_key", "external_id", "row_data", "details")
DETAILS_KEYS = (
    "dataset_id",
    "dataset_name",
    "created_at",
    "updated_at",
    "last_activity_at",
    "created_by",
)
PROJECT_KEYS = ("name", "labels", "project_details", "project_tags")
PROJECT_DETAILS_KEYS = (
    "ontology_id",
    "task_id",
    "task_name",
    "batch_id",
    "batch_name",
    "workflow_status",
    "priority",
    "selected_label_id",
    "consensus_expected_label_count",
    "workflow_history",
)
LABEL_KEYS = ("id", "label_kind", "version", "label_details", "performance_details", "annotations")
LABEL_DETAILS_KEYS = (
    "created_at",
    "updated_at",
    "created_by",
    "content_last_updated_at",
    "reviews",
)
PERFORMANCE_KEYS = (
    "seconds_to_create",
    "seconds_to_review",
    "skipped",
    "benchmark_reference_label",
    "benchmark_score",
    "consensus_score",
    "consensus_label_count",
    "consensus_labels",
    "performance_details_v2",
)
PERFORMANCE_V2_KEYS = (
    "seconds_to_create",
    "seconds_to_review",
    "seconds_to_rework",
    "seconds_total",
)
EXPERIMENT_KEYS = ("name", "runs")
RUN_KEYS = ("name", "run_data_row_id", "labels", "predictions", "split")
RUN_LABEL_KEYS = ("id", "label_kind", "version", "annotations")
EMBEDDING_KEYS = ("id", "name", "dimensions", "is_custom", "values")
METADATA_KEYS = ("schema_id", "schema_name", "value")
ATTACHMENT_KEYS = ("id", "type", "value", "name")
MAX_ID = 64

_ROW = frozenset(ROW_KEYS) | IMPORT_ONLY_KEYS
_DATA_ROW = frozenset(DATA_ROW_KEYS)
_DETAILS = frozenset(DETAILS_KEYS)
_PROJECT = frozenset(PROJECT_KEYS)
_PROJECT_DETAILS = frozenset(PROJECT_DETAILS_KEYS)
_LABEL = frozenset(LABEL_KEYS)
_LABEL_DETAILS = frozenset(LABEL_DETAILS_KEYS)
_PERFORMANCE = frozenset(PERFORMANCE_KEYS)
_PERFORMANCE_V2 = frozenset(PERFORMANCE_V2_KEYS)
_EXPERIMENT = frozenset(EXPERIMENT_KEYS)
_RUN = frozenset(RUN_KEYS)
_RUN_LABEL = frozenset(RUN_LABEL_KEYS)
_EMBEDDING = frozenset(EMBEDDING_KEYS)
_METADATA = frozenset(METADATA_KEYS)
_ATTACHMENT = frozenset(ATTACHMENT_KEYS)
_ENUM_VALUE = frozenset({"schema_id", "schema_name"})
_VECTOR = frozenset({"value"})


@dataclass(slots=True)
class CheckedLabel:
    id: str
    label_kind: str
    version: str
    annotations: JSON
    source: JSON  # the label object as given
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    content_last_updated_at: datetime | None = None
    reviews: list[Any] = field(default_factory=list)
    performance: JSON | None = None


@dataclass(slots=True)
class CheckedProject:
    id: str
    name: str
    labels: list[CheckedLabel] | None  # None: the entry carried no ``labels`` (kept as stored)
    details: JSON | None
    tags: list[Any] | None
    source: JSON  # the project entry as given
    workflow_status: str | None = None  # stored form (vocab), None: unknown
    history_times: list[datetime | None] = field(default_factory=list)


@dataclass(slots=True)
class CheckedRun:
    model_id: str
    model_name: str
    id: str
    name: str
    run_data_row_id: str | None
    split: str | None  # stored form (vocab), None: none given or no known split
    labels: list[CheckedLabel] | None  # None: not carried (kept as stored)
    predictions: list[CheckedLabel] | None
    source: JSON  # the run entry as given
    model_source: JSON  # the model's entry (name, runs) as given


@dataclass(slots=True)
class CheckedRow:
    id: str | None
    global_key: str | None
    external_id: str | None
    row_data: str
    media_type: str | None
    media_attributes: JSON | None
    attachments: list[JSON] | None
    metadata: list[JSON] | None
    embeddings: list[JSON] | None
    dataset_id: str | None
    dataset_name: str | None
    created_at: datetime | None
    updated_at: datetime | None
    last_activity_at: datetime | None
    created_by: str | None
    projects: list[CheckedProject]
    runs: list[CheckedRun]
    source: JSON  # the row as given
    notes: Notes
    shaped: bool = True  # False: labelport's own full shape (ParsedRow.shaped)
    digest: bytes | None = None  # what the loader wrote this row from (load.source_digest)

    def activity_times(self) -> Iterator[datetime]:
        """Every timestamp that counts as activity on this row (labels, reviews, history)."""
        for value in (self.created_at, self.updated_at):
            if value is not None:
                yield value
        for project in self.projects:
            yield from (t for t in project.history_times if t is not None)
            for lab in project.labels or ():
                for value in (lab.created_at, lab.updated_at, lab.content_last_updated_at):
                    if value is not None:
                        yield value
                for review in lab.reviews:
                    if isinstance(review, dict) and isinstance(review.get("created_at"), str):
                        with suppress(ValueError):
                            yield parse_timestamp(review["created_at"])


# ---------------------------------------------------------------------------------------------
# rows


def _label(value: Any, path: str, notes: Notes, *, in_run: bool) -> CheckedLabel:
    lab = keys(value, path, _RUN_LABEL if in_run else _LABEL, ("id",), notes)
    lid = lab["id"]
    if not is_id(lid):
        identifier(lid, f"{path}.id", optional=False)
    kind = string_of(lab, "label_kind", path, 32)
    version = string_of(lab, "version", path, 16)
    annotations = lab.get("annotations")
    out = CheckedLabel(
        id=str(lid),
        label_kind=kind or "Default",
        version=version or "1.0.0",
        annotations=check_annotations(
            annotations if annotations is not None else {}, f"{path}.annotations", notes
        ),
        source=lab,
    )
    if in_run:
        return out
    if (details := lab.get("label_details")) is not None:
        dpath = f"{path}.label_details"
        keys(details, dpath, _LABEL_DETAILS, (), notes)
        out.created_at = timestamp_of(details, "created_at", dpath)
        out.updated_at = timestamp_of(details, "updated_at", dpath)
        out.created_by = email_of(details, "created_by", dpath)
        out.content_last_updated_at = timestamp_of(details, "content_last_updated_at", dpath)
        reviews = details.get("reviews")
        if reviews is not None:
            out.reviews = (
                reviews if reviews.__class__ is list else listed(reviews, f"{dpath}.reviews")
            )
    if (perf := lab.get("performance_details")) is not None:
        ppath = f"{path}.performance_details"
        keys(perf, ppath, _PERFORMANCE, (), notes)
        numbers_of(perf, _PERFORMANCE_NUMBERS, ppath)
        integer_of(perf, "consensus_label_count", ppath)
        if perf.get("skipped") is not None and not isinstance(perf["skipped"], bool):
            raise Problem(
                f"{ppath}.skipped", f"expected true or false, got {type_name(perf['skipped'])}"
            )
        id_of(perf, "benchmark_reference_label", ppath)
        consensus = perf.get("consensus_labels")
        if consensus is not None and consensus.__class__ is not list:
            listed(consensus, f"{ppath}.consensus_labels")
        if (v2 := perf.get("performance_details_v2")) is not None:
            keys(v2, f"{ppath}.performance_details_v2", _PERFORMANCE_V2, (), notes)
            numbers_of(v2, PERFORMANCE_V2_KEYS, f"{ppath}.performance_details_v2")
        out.performance = perf
    return out


_PERFORMANCE_NUMBERS = (
    "seconds_to_create",
    "seconds_to_review",
    "benchmark_score",
    "consensus_score",
)


def _labels(value: Any, path: str, notes: Notes, *, in_run: bool) -> list[CheckedLabel]:
    items = value if value.__class__ is list else listed(value, path)
    return [_label(lab, f"{path}[{i}]", notes, in_run=in_run) for i, lab in enumerate(items)]


def _project(pid: str, value: Any, path: str, notes: Notes) -> CheckedProject:
    entry = keys(value, path, _PROJECT, (), notes)
    name = string_of(entry, "name", path, 500)
    labels = (  # left out: the catalog's stay; null: none
        _labels(entry["labels"] or [], f"{path}.labels", notes, in_run=False)
        if "labels" in entry
        else None
    )
    details = entry.get("project_details")
    times: list[datetime | None] = []
    status: str | None = None
    if details is not None:
        dpath = f"{path}.project_details"
        keys(details, dpath, _PROJECT_DETAILS, (), notes)
        given = details.get("workflow_status")
        if given is not None:
            if not isinstance(given, str):
                raise Problem(
                    f"{dpath}.workflow_status", f"expected a string, got {type_name(given)}"
                )
            status = vocab.workflow_status(given)
            if status is None:
                notes.unknown_value(f"{dpath}.workflow_status", given, vocab.WORKFLOW_STATUSES)
        for key in ("ontology_id", "task_id", "batch_id", "selected_label_id"):
            id_of(details, key, dpath)
        string_of(details, "task_name", dpath, 500)
        string_of(details, "batch_name", dpath, 500)
        integer_of(details, "priority", dpath)
        integer_of(details, "consensus_expected_label_count", dpath)
        if details.get("batch_name") is not None and details.get("batch_id") is None:
            raise Problem(f"{dpath}.batch_id", "is required when batch_name is given")
        history = details.get("workflow_history")
        for i, entry_ in enumerate(listed(history, f"{dpath}.workflow_history") if history else ()):
            if not isinstance(entry_, dict):
                raise Problem(
                    f"{dpath}.workflow_history[{i}]", f"expected an object, got {type_name(entry_)}"
                )
            times.append(timestamp_of(entry_, "created_at", f"{dpath}.workflow_history[{i}]"))
    tags = entry.get("project_tags")
    if tags is not None:
        listed(tags, f"{path}.project_tags")
    if name is None:
        raise Problem(f"{path}.name", "is required")
    return CheckedProject(pid, name, labels, details, tags, entry, status, times)


def _runs(mid: str, value: Any, path: str, notes: Notes) -> list[CheckedRun]:
    entry = keys(value, path, _EXPERIMENT, ("name", "runs"), notes)
    model_name = str(string(entry["name"], f"{path}.name", limit=500))
    runs = entry["runs"]
    if not isinstance(runs, dict):
        raise Problem(
            f"{path}.runs", f"expected an object keyed by model run id, got {type_name(runs)}"
        )
    out = []
    for rid, run in runs.items():
        rpath = f"{path}.runs.{rid}"
        identifier(rid, rpath, optional=False)
        keys(run, rpath, _RUN, ("name",), notes)
        given = run.get("split")
        split: str | None = None
        if given is not None:
            if not isinstance(given, str):
                raise Problem(f"{rpath}.split", f"expected a string, got {type_name(given)}")
            split = vocab.split(given)
            if split is None:
                notes.unknown_value(f"{rpath}.split", given, vocab.SPLITS)
        labels = run.get("labels")
        predictions = run.get("predictions")
        out.append(
            CheckedRun(
                model_id=mid,
                model_name=model_name,
                id=rid,
                name=str(string(run["name"], f"{rpath}.name", limit=500)),
                run_data_row_id=identifier(run.get("run_data_row_id"), f"{rpath}.run_data_row_id"),
                split=split,
                labels=None
                if "labels" not in run
                else _labels(labels or [], f"{rpath}.labels", notes, in_run=True),
                predictions=None
                if "predictions" not in run
                else _labels(predictions or [], f"{rpath}.predictions", notes, in_run=True),
                source=run,
                model_source=entry,
            )
        )
    return out


def _attachments(value: Any, notes: Notes) -> list[JSON]:
    items = listed(value, "attachments")
    for i, item in enumerate(items):
        path = f"attachments[{i}]"
        keys(item, path, _ATTACHMENT, ("type", "value"), notes)
        if item["type"] not in ATTACHMENT_TYPES:
            notes.unknown_value(f"{path}.type", item["type"], ATTACHMENT_TYPES)
        string(item["value"], f"{path}.value")
        identifier(item.get("id"), f"{path}.id")
        string(item.get("name"), f"{path}.name")
    return items


def _plain_metadata(item: Any) -> bool:
    """Is ``item`` a metadata field :func:`_metadata` takes as it is, with nothing to note: known
    keys, an id or a name, a string or number value?"""
    if item.__class__ is not dict or not item.keys() <= _METADATA:
        return False
    sid, name, value = item.get("schema_id"), item.get("schema_name"), item.get("value")
    return (
        (sid is not None or name is not None)
        and (sid is None or is_id(sid))
        and (name is None or (name.__class__ is str and len(name) <= 500))
        and value.__class__ in _PLAIN_VALUES
    )


_PLAIN_VALUES = frozenset({str, int, float})


def _metadata(value: Any, notes: Notes) -> list[JSON]:
    items = listed(value, "metadata_fields")
    for i, item in enumerate(items):
        if _plain_metadata(item):
            continue
        path = f"metadata_fields[{i}]"
        keys(item, path, _METADATA, (), notes)
        identifier(item.get("schema_id"), f"{path}.schema_id")
        string(item.get("schema_name"), f"{path}.schema_name", limit=500)
        if item.get("schema_id") is None and item.get("schema_name") is None:
            raise Problem(path, "needs schema_id or schema_name")
        if "value" not in item or item["value"] is None:
            raise Problem(f"{path}.value", "is required")
        val = item["value"]
        if isinstance(val, dict):
            keys(val, f"{path}.value", _ENUM_VALUE, (), notes)
            if val.get("schema_id") is None and val.get("schema_name") is None:
                raise Problem(f"{path}.value", "an enum value needs schema_id or schema_name")
        elif isinstance(val, list):
            for j, item_number in enumerate(val):
                number(item_number, f"{path}.value[{j}]")
        elif isinstance(val, bool) or not isinstance(val, str | int | float):
            raise Problem(f"{path}.value", f"unsupported metadata value {type_name(val)}")
    return items


def _embeddings(value: Any, notes: Notes) -> list[JSON]:
    items = listed(value, "embeddings")
    for i, item in enumerate(items):
        path = f"embeddings[{i}]"
        keys(item, path, _EMBEDDING, ("id", "name", "dimensions", "values"), notes)
        identifier(item["id"], f"{path}.id")
        dims = integer(item["dimensions"], f"{path}.dimensions")
        if not isinstance(item.get("is_custom", False), bool):
            raise Problem(f"{path}.is_custom", "expected true or false")
        for j, vec in enumerate(listed(item["values"], f"{path}.values")):
            vpath = f"{path}.values[{j}]"
            keys(vec, vpath, _VECTOR, ("value",), notes)
            numbers = listed(vec["value"], f"{vpath}.value")
            if len(numbers) != dims:
                raise Problem(f"{vpath}.value", f"has {len(numbers)} numbers, dimensions is {dims}")
            for k, item_number in enumerate(numbers):
                number(item_number, f"{vpath}.value[{k}]")
    return items


def check_row(row: JSON) -> CheckedRow:
    """Validate one canonical row; raise Problem on the first thing labelport cannot take.
    Unknown fields and values are noted in the result's ``notes`` and kept."""
    notes = Notes()
    keys(row, "", _ROW, ("data_row",), notes)
    dr = keys(row["data_row"], "data_row", _DATA_ROW, (), notes)
    row_data = dr.get("row_data")
    if not isinstance(row_data, str) or not row_data:
        raise Problem("data_row.row_data", "is required (a URL or the inline content as a string)")
    details = dr.get("details")
    if details is not None:
        keys(details, "data_row.details", _DETAILS, (), notes)
    else:
        details = {}
    media_type = row.get("media_type")
    if media_type is not None:
        upper = media_type.upper() if isinstance(media_type, str) else None
        if upper not in vocab.MEDIA_TYPES:
            notes.unknown_value("media_type", media_type, vocab.MEDIA_TYPES)
            media_type = None
        else:
            media_type = upper
    media_attributes = row.get("media_attributes")
    if media_attributes is not None and not isinstance(media_attributes, dict):
        raise Problem("media_attributes", f"expected an object, got {type_name(media_attributes)}")
    projects_in = row.get("projects") or {}
    if not isinstance(projects_in, dict):
        raise Problem(
            "projects", f"expected an object keyed by project id, got {type_name(projects_in)}"
        )
    projects = []
    for pid, entry in projects_in.items():
        if not is_id(pid):
            identifier(pid, f"projects.{pid}", optional=False)
        projects.append(_project(pid, entry, f"projects.{pid}", notes))
    experiments = row.get("experiments") or {}
    if not isinstance(experiments, dict):
        raise Problem(
            "experiments", f"expected an object keyed by model id, got {type_name(experiments)}"
        )
    runs: list[CheckedRun] = []
    for mid, entry in experiments.items():
        identifier(mid, f"experiments.{mid}", optional=False)
        runs.extend(_runs(mid, entry, f"experiments.{mid}", notes))
    # checked in the order of the row's fields
    row_id = id_of(dr, "id", "data_row")
    global_key = string_of(dr, "global_key", "data_row", 1024)
    external_id = string_of(dr, "external_id", "data_row", 1024)
    attachments = row.get("attachments")
    metadata = row.get("metadata_fields")
    embeddings = row.get("embeddings")
    return CheckedRow(
        id=row_id,
        global_key=global_key,
        external_id=external_id,
        row_data=row_data,
        media_type=media_type,
        media_attributes=media_attributes,
        attachments=_attachments(attachments, notes) if attachments is not None else None,
        metadata=_metadata(metadata, notes) if metadata is not None else None,
        embeddings=_embeddings(embeddings, notes) if embeddings is not None else None,
        dataset_id=id_of(details, "dataset_id", "data_row.details"),
        dataset_name=string_of(details, "dataset_name", "data_row.details", 500),
        created_at=timestamp_of(details, "created_at", "data_row.details"),
        updated_at=timestamp_of(details, "updated_at", "data_row.details"),
        last_activity_at=timestamp_of(details, "last_activity_at", "data_row.details"),
        created_by=email_of(details, "created_by", "data_row.details"),
        projects=projects,
        runs=runs,
        source=row,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# media type

_MIME_PREFIX = (
    ("application/vnd.labelbox.conversational", "CONVERSATIONAL"),
    ("application/pdf", "PDF"),
    ("application/dicom", "DICOM"),
    ("text/html", "HTML"),
    ("image/", "IMAGE"),
    ("video/", "VIDEO"),
    ("audio/", "AUDIO"),
    ("text/", "TEXT"),
)
_EXTENSIONS = {
    **dict.fromkeys(("jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff"), "IMAGE"),
    **dict.fromkeys(("mp4", "mov", "webm", "avi", "mkv"), "VIDEO"),
    **dict.fromkeys(("mp3", "wav", "flac", "ogg", "m4a"), "AUDIO"),
    **dict.fromkeys(("txt", "md"), "TEXT"),
    **dict.fromkeys(("html", "htm"), "HTML"),
    "pdf": "PDF",
    "dcm": "DICOM",
}


def infer_media_type(row: CheckedRow, default: str | None = None) -> str:
    """The media type of a row: explicit, from its mime type, annotation shape, or file name."""
    if row.media_type:
        return row.media_type
    mime = (row.media_attributes or {}).get("mime_type")
    if isinstance(mime, str):
        for prefix, kind in _MIME_PREFIX:
            if mime.startswith(prefix):
                return kind
    if (row.media_attributes or {}).get("asset_type") == "conversational":
        return "CONVERSATIONAL"
    for lab in (lab for p in row.projects for lab in p.labels or ()):
        ann = lab.annotations
        if "groups" in ann:
            return "DICOM"
        if "frames" in ann or lab.label_kind == "Video":
            return "VIDEO"
        if "timestamp" in ann:
            return "AUDIO"
        for obj in ann.get("objects", []):
            kind = obj.get("annotation_kind", "") if isinstance(obj, dict) else ""
            if kind.startswith("Geo"):
                return "TMS_GEO"
            if kind.startswith("Document"):
                return "PDF"
            if kind.startswith("Conversational"):
                return "CONVERSATIONAL"
    path = row.row_data.split("?", 1)[0].rsplit("/", 1)[-1]
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if default:
        return default
    return "IMAGE" if row.row_data.startswith(("http://", "https://", "gs://", "s3://")) else "TEXT"
