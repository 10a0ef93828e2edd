"""Validate one canonical (Labelbox export-v2) row and normalise it for the loader. Pure.

:func:`check_row` raises :class:`~labelport.imports.base.Problem` naming the field path
(``projects.<id>.labels[0].label_details.created_at``) and the reason. It returns a
:class:`CheckedRow`: typed values (timestamps parsed, statuses checked) plus the raw annotation
documents, which are stored as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labelport.imports.base import JSON, Problem
from labelport.times import parse_timestamp

MEDIA_TYPES = (
    "IMAGE",
    "VIDEO",
    "TEXT",
    "PDF",
    "TMS_GEO",
    "AUDIO",
    "DICOM",
    "HTML",
    "CONVERSATIONAL",
    "LLM",
)
WORKFLOW_STATUSES = ("TO_LABEL", "IN_REVIEW", "IN_REWORK", "DONE")
SPLITS = ("TRAINING", "VALIDATION", "TEST")
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

# annotation_kind -> the geometry keys one of which it must carry
GEOMETRY: dict[str, tuple[str, ...]] = {
    "ImageBoundingBox": ("bounding_box", "normalized_bounding_box"),
    "ImagePolygon": ("polygon", "normalized_polygon"),
    "ImagePolyline": ("line", "normalized_line"),
    "ImagePoint": ("point",),
    "ImageSegmentationMask": ("composite_mask", "mask"),
    "TextEntity": ("location",),
    "ConversationalTextEntity": ("conversational_location",),
    "DocumentBoundingBox": ("bounding_box",),
    "DocumentEntityToken": ("location",),
    "VideoBoundingBox": ("bounding_box", "normalized_bounding_box"),
    "VideoPolyline": ("line",),
    "VideoPoint": ("point",),
    "VideoSegmentationMask": ("composite_mask", "mask"),
    "DICOMPolyline": ("line",),
    "DICOMSegmentationMask": ("composite_mask", "mask"),
    "GeoBoundingBox": ("geojson",),
    "GeoPolygon": ("geojson",),
    "GeoPolyline": ("geojson",),
    "GeoPoint": ("geojson",),
    "GeoSegmentationMask": ("composite_mask", "mask"),
    "MessageSingleSelection": ("selected_message",),
    "MessageMultiSelection": ("selected_messages",),
    "MessageRanking": ("ranked_messages",),
}
ANSWER_KEYS = (
    "radio_answer",
    "checklist_answers",
    "text_answer",
    "conversational_radio_answer",
    "conversational_checklist_answers",
    "conversational_text_answer",
)

ROW_KEYS = frozenset(
    {
        "data_row",
        "media_attributes",
        "attachments",
        "metadata_fields",
        "embeddings",
        "projects",
        "experiments",
        "media_type",
    }
)
DATA_ROW_KEYS = frozenset({"id", "global_key", "external_id", "row_data", "details"})
DETAILS_KEYS = frozenset(
    {"dataset_id", "dataset_name", "created_at", "updated_at", "last_activity_at", "created_by"}
)
PROJECT_KEYS = frozenset({"name", "labels", "project_details", "project_tags"})
PROJECT_DETAILS_KEYS = frozenset(
    {
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
    }
)
LABEL_KEYS = frozenset(
    {"id", "label_kind", "version", "label_details", "performance_details", "annotations"}
)
LABEL_DETAILS_KEYS = frozenset(
    {"created_at", "updated_at", "created_by", "content_last_updated_at", "reviews"}
)
PERFORMANCE_KEYS = frozenset(
    {
        "seconds_to_create",
        "seconds_to_review",
        "skipped",
        "benchmark_reference_label",
        "benchmark_score",
        "consensus_score",
        "consensus_label_count",
        "consensus_labels",
        "performance_details_v2",
    }
)
PERFORMANCE_V2_KEYS = frozenset(
    {"seconds_to_create", "seconds_to_review", "seconds_to_rework", "seconds_total"}
)
EXPERIMENT_KEYS = frozenset({"name", "runs"})
RUN_KEYS = frozenset({"name", "run_data_row_id", "labels", "predictions", "split"})
RUN_LABEL_KEYS = frozenset({"id", "label_kind", "version", "annotations"})
EMBEDDING_KEYS = frozenset({"id", "name", "dimensions", "is_custom", "values"})
METADATA_KEYS = frozenset({"schema_id", "schema_name", "value"})
ATTACHMENT_KEYS = frozenset({"id", "type", "value", "name"})
MAX_ID = 64
_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(slots=True)
class CheckedLabel:
    id: str
    label_kind: str
    version: str
    annotations: JSON
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
    labels: list[CheckedLabel]
    details: JSON | None
    tags: list[Any] | None
    history_times: list[datetime | None] = field(default_factory=list)


@dataclass(slots=True)
class CheckedRun:
    model_id: str
    model_name: str
    id: str
    name: str
    run_data_row_id: str | None
    split: str | None
    labels: list[CheckedLabel]
    predictions: list[CheckedLabel]


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

    def activity_times(self) -> Iterator[datetime]:
        """Every timestamp that counts as activity on this row (labels, reviews, history)."""
        for value in (self.created_at, self.updated_at):
            if value is not None:
                yield value
        for project in self.projects:
            yield from (t for t in project.history_times if t is not None)
            for lab in project.labels:
                for value in (lab.created_at, lab.updated_at, lab.content_last_updated_at):
                    if value is not None:
                        yield value
                for review in lab.reviews:
                    if isinstance(review, dict) and isinstance(review.get("created_at"), str):
                        with suppress(ValueError):
                            yield parse_timestamp(review["created_at"])


# ---------------------------------------------------------------------------------------------
# small checkers


def _keys(value: Any, path: str, allowed: frozenset[str], required: tuple[str, ...] = ()) -> JSON:
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {_type(value)}")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise Problem(where, f"unknown field (allowed here: {', '.join(sorted(allowed))})")
    for key in required:
        if value.get(key) is None:
            raise Problem(f"{path}.{key}" if path else key, "is required")
    return value


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _str(value: Any, path: str, *, optional: bool = True, limit: int | None = None) -> str | None:
    if value is None:
        if optional:
            return None
        raise Problem(path, "is required")
    if not isinstance(value, str):
        raise Problem(path, f"expected a string, got {_type(value)}")
    if limit is not None and len(value) > limit:
        raise Problem(path, f"longer than {limit} characters")
    return value


def _id(value: Any, path: str, *, optional: bool = True) -> str | None:
    if value is None:
        if optional:
            return None
        raise Problem(path, "is required")
    if not isinstance(value, str) or _ID_RE.fullmatch(value) is None:
        raise Problem(path, f"not a valid id: {value!r} (1-64 letters, digits, '-' or '_')")
    return value


def _time(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Problem(path, f"expected an ISO 8601 timestamp, got {_type(value)}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise Problem(path, f"not an ISO 8601 timestamp: {value!r}") from None


def _num(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path, f"expected a number, got {_type(value)}")
    return float(value)


def _int(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(path, f"expected an integer, got {_type(value)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Problem(path, f"expected a list, got {_type(value)}")
    return value


def _email(value: Any, path: str) -> str | None:
    text = _str(value, path, limit=320)
    if text is not None and "@" not in text:
        raise Problem(path, f"not an email address: {text!r}")
    return text


# ---------------------------------------------------------------------------------------------
# annotations


def check_annotations(value: Any, path: str) -> JSON:
    """Structural checks of a label's ``annotations`` document (kept as given)."""
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {_type(value)}")
    if "frames" in value and "groups" not in value:  # video
        frames = value["frames"]
        if not isinstance(frames, dict):
            raise Problem(f"{path}.frames", f"expected an object, got {_type(frames)}")
        for number, frame in frames.items():
            fpath = f"{path}.frames.{number}"
            if not (number.isdigit() and int(number) >= 1):
                raise Problem(fpath, "frame keys are 1-based frame numbers")
            _frame(frame, fpath)
        _segments(value.get("segments", {}), f"{path}.segments")
    elif "groups" in value:  # DICOM
        groups = value["groups"]
        if not isinstance(groups, dict):
            raise Problem(f"{path}.groups", f"expected an object, got {_type(groups)}")
        for plane, group in groups.items():
            gpath = f"{path}.groups.{plane}"
            if not isinstance(group, dict):
                raise Problem(gpath, f"expected an object, got {_type(group)}")
            for number, frame in (group.get("frames") or {}).items():
                _frame(frame, f"{gpath}.frames.{number}")
            _classifications(group.get("classifications", []), f"{gpath}.classifications")
    else:
        for i, obj in enumerate(_list(value.get("objects", []), f"{path}.objects")):
            _object(obj, f"{path}.objects[{i}]")
        for i, rel in enumerate(_list(value.get("relationships", []), f"{path}.relationships")):
            _relationship(rel, f"{path}.relationships[{i}]")
    for i, obj in enumerate(_list(value.get("timed_objects", []), f"{path}.timed_objects")):
        _object(obj, f"{path}.timed_objects[{i}]")
    _classifications(value.get("classifications", []), f"{path}.classifications")
    return value


def _frame(frame: Any, path: str) -> None:
    if not isinstance(frame, dict):
        raise Problem(path, f"expected an object, got {_type(frame)}")
    objects = frame.get("objects", {})
    if not isinstance(objects, dict):
        raise Problem(f"{path}.objects", "expected an object keyed by feature_id")
    for fid, obj in objects.items():
        _object(obj, f"{path}.objects.{fid}")
    _classifications(frame.get("classifications", []), f"{path}.classifications")


def _segments(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {_type(value)}")
    for fid, runs in value.items():
        if isinstance(runs, dict):  # DICOM: plane -> runs
            continue
        for i, run in enumerate(_list(runs, f"{path}.{fid}")):
            ok = isinstance(run, list) and len(run) == 2 and all(isinstance(n, int) for n in run)
            if not ok or run[0] > run[1]:
                raise Problem(f"{path}.{fid}[{i}]", "expected [start, end] frame numbers")


def _object(obj: Any, path: str) -> None:
    if not isinstance(obj, dict):
        raise Problem(path, f"expected an object, got {_type(obj)}")
    kind = obj.get("annotation_kind")
    if not isinstance(kind, str):
        raise Problem(f"{path}.annotation_kind", "is required")
    geometry = GEOMETRY.get(kind)
    if geometry is None:
        raise Problem(f"{path}.annotation_kind", f"unknown annotation kind {kind!r}")
    if not any(key in obj for key in geometry):
        raise Problem(path, f"{kind} needs one of: {', '.join(geometry)}")
    _str(obj.get("name"), f"{path}.name", optional=False)
    box = obj.get("bounding_box")
    if box is not None:
        if not isinstance(box, dict):
            raise Problem(f"{path}.bounding_box", f"expected an object, got {_type(box)}")
        for key in ("top", "left", "height", "width"):
            if _num(box.get(key), f"{path}.bounding_box.{key}") is None:
                raise Problem(f"{path}.bounding_box.{key}", "is required")
    for key in ("polygon", "line"):
        if key in obj:
            _points(obj[key], f"{path}.{key}")
    if "point" in obj:
        _points([obj["point"]], f"{path}.point")
    _classifications(obj.get("classifications", []), f"{path}.classifications")


def _points(points: Any, path: str) -> None:
    for i, p in enumerate(_list(points, path)):
        if not isinstance(p, dict) or _num(p.get("x"), f"{path}[{i}].x") is None:
            raise Problem(f"{path}[{i}]", "expected {x, y}")
        if _num(p.get("y"), f"{path}[{i}].y") is None:
            raise Problem(f"{path}[{i}].y", "is required")


def _relationship(rel: Any, path: str) -> None:
    if not isinstance(rel, dict):
        raise Problem(path, f"expected an object, got {_type(rel)}")
    kind = rel.get("annotation_kind")
    if kind is not None and not (isinstance(kind, str) and kind.endswith("Relationship")):
        raise Problem(f"{path}.annotation_kind", f"not a relationship kind: {kind!r}")


def _classifications(value: Any, path: str) -> None:
    for i, cls in enumerate(_list(value, path)):
        cpath = f"{path}[{i}]"
        if not isinstance(cls, dict):
            raise Problem(cpath, f"expected an object, got {_type(cls)}")
        _str(cls.get("name"), f"{cpath}.name", optional=False)
        answers = [k for k in ANSWER_KEYS if k in cls]
        if len(answers) != 1:
            raise Problem(cpath, f"needs exactly one of: {', '.join(ANSWER_KEYS)}")
        answer = cls[answers[0]]
        if answers[0].endswith("checklist_answers"):
            for j, option in enumerate(_list(answer, f"{cpath}.{answers[0]}")):
                _option(option, f"{cpath}.{answers[0]}[{j}]")
        elif answers[0].endswith("radio_answer"):
            _option(answer, f"{cpath}.{answers[0]}")
        elif not isinstance(answer, dict) or not isinstance(answer.get("content"), str):
            raise Problem(f"{cpath}.{answers[0]}", "expected {content: string}")


def _option(option: Any, path: str) -> None:
    if not isinstance(option, dict):
        raise Problem(path, f"expected an object, got {_type(option)}")
    _str(option.get("name"), f"{path}.name", optional=False)
    _classifications(option.get("classifications", []), f"{path}.classifications")


# ---------------------------------------------------------------------------------------------
# rows


def _label(value: Any, path: str, *, in_run: bool) -> CheckedLabel:
    lab = _keys(value, path, RUN_LABEL_KEYS if in_run else LABEL_KEYS, ("id",))
    out = CheckedLabel(
        id=str(_id(lab["id"], f"{path}.id", optional=False)),
        label_kind=_str(lab.get("label_kind"), f"{path}.label_kind", limit=32) or "Default",
        version=_str(lab.get("version"), f"{path}.version", limit=16) or "1.0.0",
        annotations=check_annotations(lab.get("annotations", {}), f"{path}.annotations"),
    )
    if (details := lab.get("label_details")) is not None:
        dpath = f"{path}.label_details"
        _keys(details, dpath, LABEL_DETAILS_KEYS)
        out.created_at = _time(details.get("created_at"), f"{dpath}.created_at")
        out.updated_at = _time(details.get("updated_at"), f"{dpath}.updated_at")
        out.created_by = _email(details.get("created_by"), f"{dpath}.created_by")
        out.content_last_updated_at = _time(
            details.get("content_last_updated_at"), f"{dpath}.content_last_updated_at"
        )
        out.reviews = _list(details.get("reviews", []), f"{dpath}.reviews")
    if (perf := lab.get("performance_details")) is not None:
        ppath = f"{path}.performance_details"
        _keys(perf, ppath, PERFORMANCE_KEYS)
        for key in ("seconds_to_create", "seconds_to_review", "benchmark_score", "consensus_score"):
            _num(perf.get(key), f"{ppath}.{key}")
        _int(perf.get("consensus_label_count"), f"{ppath}.consensus_label_count")
        if perf.get("skipped") is not None and not isinstance(perf["skipped"], bool):
            raise Problem(
                f"{ppath}.skipped", f"expected true or false, got {_type(perf['skipped'])}"
            )
        _id(perf.get("benchmark_reference_label"), f"{ppath}.benchmark_reference_label")
        if perf.get("consensus_labels") is not None:
            _list(perf["consensus_labels"], f"{ppath}.consensus_labels")
        if (v2 := perf.get("performance_details_v2")) is not None:
            _keys(v2, f"{ppath}.performance_details_v2", PERFORMANCE_V2_KEYS)
            for key in PERFORMANCE_V2_KEYS:
                _num(v2.get(key), f"{ppath}.performance_details_v2.{key}")
        out.performance = perf
    return out


def _project(pid: str, value: Any, path: str) -> CheckedProject:
    entry = _keys(value, path, PROJECT_KEYS)
    name = _str(entry.get("name"), f"{path}.name", limit=500)
    labels = [
        _label(lab, f"{path}.labels[{i}]", in_run=False)
        for i, lab in enumerate(_list(entry.get("labels", []), f"{path}.labels"))
    ]
    details = entry.get("project_details")
    times: list[datetime | None] = []
    if details is not None:
        dpath = f"{path}.project_details"
        _keys(details, dpath, PROJECT_DETAILS_KEYS)
        status = details.get("workflow_status")
        if status is not None and status not in WORKFLOW_STATUSES:
            raise Problem(
                f"{dpath}.workflow_status",
                f"{status!r} is not one of {', '.join(WORKFLOW_STATUSES)}",
            )
        for key in ("ontology_id", "task_id", "batch_id", "selected_label_id"):
            _id(details.get(key), f"{dpath}.{key}")
        _str(details.get("task_name"), f"{dpath}.task_name", limit=500)
        _str(details.get("batch_name"), f"{dpath}.batch_name", limit=500)
        _int(details.get("priority"), f"{dpath}.priority")
        _int(
            details.get("consensus_expected_label_count"), f"{dpath}.consensus_expected_label_count"
        )
        if details.get("batch_name") is not None and details.get("batch_id") is None:
            raise Problem(f"{dpath}.batch_id", "is required when batch_name is given")
        history = _list(details.get("workflow_history") or [], f"{dpath}.workflow_history")
        for i, entry_ in enumerate(history):
            hpath = f"{dpath}.workflow_history[{i}]"
            if not isinstance(entry_, dict):
                raise Problem(hpath, f"expected an object, got {_type(entry_)}")
            times.append(_time(entry_.get("created_at"), f"{hpath}.created_at"))
    tags = entry.get("project_tags")
    if tags is not None:
        _list(tags, f"{path}.project_tags")
    if name is None:
        raise Problem(f"{path}.name", "is required")
    return CheckedProject(pid, name, labels, details, tags, times)


def _runs(mid: str, value: Any, path: str) -> list[CheckedRun]:
    entry = _keys(value, path, EXPERIMENT_KEYS, ("name", "runs"))
    model_name = str(_str(entry["name"], f"{path}.name", limit=500))
    runs = entry["runs"]
    if not isinstance(runs, dict):
        raise Problem(
            f"{path}.runs", f"expected an object keyed by model run id, got {_type(runs)}"
        )
    out = []
    for rid, run in runs.items():
        rpath = f"{path}.runs.{rid}"
        _id(rid, rpath, optional=False)
        _keys(run, rpath, RUN_KEYS, ("name",))
        split = run.get("split")
        if split is not None and split not in SPLITS:
            raise Problem(f"{rpath}.split", f"{split!r} is not one of {', '.join(SPLITS)}")
        labels = [
            _label(lab, f"{rpath}.labels[{i}]", in_run=True)
            for i, lab in enumerate(_list(run.get("labels", []), f"{rpath}.labels"))
        ]
        predictions = [
            _label(lab, f"{rpath}.predictions[{i}]", in_run=True)
            for i, lab in enumerate(_list(run.get("predictions", []), f"{rpath}.predictions"))
        ]
        out.append(
            CheckedRun(
                model_id=mid,
                model_name=model_name,
                id=rid,
                name=str(_str(run["name"], f"{rpath}.name", limit=500)),
                run_data_row_id=_id(run.get("run_data_row_id"), f"{rpath}.run_data_row_id"),
                split=split,
                labels=labels,
                predictions=predictions,
            )
        )
    return out


def _attachments(value: Any) -> list[JSON]:
    items = _list(value, "attachments")
    for i, item in enumerate(items):
        path = f"attachments[{i}]"
        _keys(item, path, ATTACHMENT_KEYS, ("type", "value"))
        if item["type"] not in ATTACHMENT_TYPES:
            raise Problem(
                f"{path}.type", f"{item['type']!r} is not one of {', '.join(ATTACHMENT_TYPES)}"
            )
        _str(item["value"], f"{path}.value")
        _id(item.get("id"), f"{path}.id")
        _str(item.get("name"), f"{path}.name")
    return items


def _metadata(value: Any) -> list[JSON]:
    items = _list(value, "metadata_fields")
    for i, item in enumerate(items):
        path = f"metadata_fields[{i}]"
        _keys(item, path, METADATA_KEYS)
        _id(item.get("schema_id"), f"{path}.schema_id")
        _str(item.get("schema_name"), f"{path}.schema_name", limit=500)
        if item.get("schema_id") is None and item.get("schema_name") is None:
            raise Problem(path, "needs schema_id or schema_name")
        if "value" not in item or item["value"] is None:
            raise Problem(f"{path}.value", "is required")
        val = item["value"]
        if isinstance(val, dict):
            _keys(val, f"{path}.value", frozenset({"schema_id", "schema_name"}))
            if val.get("schema_id") is None and val.get("schema_name") is None:
                raise Problem(f"{path}.value", "an enum value needs schema_id or schema_name")
        elif isinstance(val, list):
            for j, number in enumerate(val):
                _num(number, f"{path}.value[{j}]")
        elif isinstance(val, bool) or not isinstance(val, str | int | float):
            raise Problem(f"{path}.value", f"unsupported metadata value {_type(val)}")
    return items


def _embeddings(value: Any) -> list[JSON]:
    items = _list(value, "embeddings")
    for i, item in enumerate(items):
        path = f"embeddings[{i}]"
        _keys(item, path, EMBEDDING_KEYS, ("id", "name", "dimensions", "values"))
        _id(item["id"], f"{path}.id")
        dims = _int(item["dimensions"], f"{path}.dimensions")
        if not isinstance(item.get("is_custom", False), bool):
            raise Problem(f"{path}.is_custom", "expected true or false")
        for j, vec in enumerate(_list(item["values"], f"{path}.values")):
            vpath = f"{path}.values[{j}]"
            _keys(vec, vpath, frozenset({"value"}), ("value",))
            numbers = _list(vec["value"], f"{vpath}.value")
            if len(numbers) != dims:
                raise Problem(f"{vpath}.value", f"has {len(numbers)} numbers, dimensions is {dims}")
            for k, number in enumerate(numbers):
                _num(number, f"{vpath}.value[{k}]")
    return items


def check_row(row: JSON) -> CheckedRow:
    """Validate one canonical row; raise Problem on the first thing wrong."""
    _keys(row, "", ROW_KEYS, ("data_row",))
    dr = _keys(row["data_row"], "data_row", DATA_ROW_KEYS)
    row_data = dr.get("row_data")
    if not isinstance(row_data, str) or not row_data:
        raise Problem("data_row.row_data", "is required (a URL or the inline content as a string)")
    details = dr.get("details")
    if details is not None:
        _keys(details, "data_row.details", DETAILS_KEYS)
    else:
        details = {}
    media_type = row.get("media_type")
    if media_type is not None and media_type not in MEDIA_TYPES:
        raise Problem("media_type", f"{media_type!r} is not one of {', '.join(MEDIA_TYPES)}")
    media_attributes = row.get("media_attributes")
    if media_attributes is not None and not isinstance(media_attributes, dict):
        raise Problem("media_attributes", f"expected an object, got {_type(media_attributes)}")
    projects_in = row.get("projects") or {}
    if not isinstance(projects_in, dict):
        raise Problem(
            "projects", f"expected an object keyed by project id, got {_type(projects_in)}"
        )
    projects = []
    for pid, entry in projects_in.items():
        _id(pid, f"projects.{pid}", optional=False)
        projects.append(_project(pid, entry, f"projects.{pid}"))
    experiments = row.get("experiments") or {}
    if not isinstance(experiments, dict):
        raise Problem(
            "experiments", f"expected an object keyed by model id, got {_type(experiments)}"
        )
    runs: list[CheckedRun] = []
    for mid, entry in experiments.items():
        _id(mid, f"experiments.{mid}", optional=False)
        runs.extend(_runs(mid, entry, f"experiments.{mid}"))
    return CheckedRow(
        id=_id(dr.get("id"), "data_row.id"),
        global_key=_str(dr.get("global_key"), "data_row.global_key", limit=1024),
        external_id=_str(dr.get("external_id"), "data_row.external_id", limit=1024),
        row_data=row_data,
        media_type=media_type,
        media_attributes=media_attributes,
        attachments=_attachments(row["attachments"])
        if row.get("attachments") is not None
        else None,
        metadata=_metadata(row["metadata_fields"])
        if row.get("metadata_fields") is not None
        else None,
        embeddings=_embeddings(row["embeddings"]) if row.get("embeddings") is not None else None,
        dataset_id=_id(details.get("dataset_id"), "data_row.details.dataset_id"),
        dataset_name=_str(details.get("dataset_name"), "data_row.details.dataset_name", limit=500),
        created_at=_time(details.get("created_at"), "data_row.details.created_at"),
        updated_at=_time(details.get("updated_at"), "data_row.details.updated_at"),
        last_activity_at=_time(
            details.get("last_activity_at"), "data_row.details.last_activity_at"
        ),
        created_by=_email(details.get("created_by"), "data_row.details.created_by"),
        projects=projects,
        runs=runs,
    )


# ---------------------------------------------------------------------------------------------
# media type and ontology features

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
    for lab in (lab for p in row.projects for lab in p.labels):
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


@dataclass(frozen=True, slots=True)
class Feature:
    id: str | None  # the feature_schema_id, when the source names it
    parent: str | None  # parent's id or path
    path: str  # stable name path, used to derive ids when the source has none
    kind: str  # tool | classification | option
    type: str
    name: str
    value: str | None


def iter_features(annotations: JSON) -> Iterator[Feature]:
    """Ontology features named by an annotations document (tools, classifications, options)."""
    yield from _walk_objects(annotations)
    for frame in (annotations.get("frames") or {}).values():
        if isinstance(frame, dict):
            yield from _walk_objects(frame, objects_key_map=True)
    for group in (annotations.get("groups") or {}).values():
        if isinstance(group, dict):
            yield from _walk_classes(group.get("classifications", []), None, "")
            for frame in (group.get("frames") or {}).values():
                yield from _walk_objects(frame, objects_key_map=True)


def _walk_objects(doc: JSON, *, objects_key_map: bool = False) -> Iterator[Feature]:
    objects = doc.get("objects", {} if objects_key_map else [])
    items = objects.values() if isinstance(objects, dict) else objects
    for obj in list(items) + list(doc.get("timed_objects", [])):
        kind = str(obj["annotation_kind"])
        path = f"tool:{obj['name']}"
        fid = obj.get("feature_schema_id")
        yield Feature(fid, None, path, "tool", kind, str(obj["name"]), obj.get("value"))
        yield from _walk_classes(obj.get("classifications", []), fid or path, path)
    yield from _walk_classes(doc.get("classifications", []), None, "")


def _walk_classes(classes: list[JSON], parent: str | None, prefix: str) -> Iterator[Feature]:
    for cls in classes:
        key = next(k for k in ANSWER_KEYS if k in cls)
        kind = (
            "text"
            if key.endswith("text_answer")
            else ("checklist" if key.endswith("checklist_answers") else "radio")
        )
        path = f"{prefix}/class:{cls['name']}"
        fid = cls.get("feature_schema_id")
        yield Feature(fid, parent, path, "classification", kind, str(cls["name"]), cls.get("value"))
        answer = cls[key]
        options = answer if isinstance(answer, list) else ([answer] if kind == "radio" else [])
        for option in options:
            opath = f"{path}/option:{option['name']}"
            oid = option.get("feature_schema_id")
            yield Feature(
                oid,
                fid or path,
                opath,
                "option",
                "option",
                str(option["name"]),
                option.get("value"),
            )
            yield from _walk_classes(option.get("classifications", []), oid or opath, opath)
