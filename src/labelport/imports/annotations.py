"""Label ``annotations`` documents: structural checks and the ontology features they name. Pure.

Documents are stored as given; the checks only make sure that what labelport interprets (an
object's kind and geometry, a classification's answer, video frames) has the shape it needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from labelport.imports.base import JSON, Problem
from labelport.imports.checks import Notes, listed, number, string, type_name

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


def check_annotations(value: Any, path: str, notes: Notes | None = None) -> JSON:
    """Structural checks of a label's ``annotations`` document (kept as given). With ``notes``,
    an unknown annotation kind or a classification with no known answer is noted and kept;
    without, it is refused (labelport's own writers)."""
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {type_name(value)}")
    if "frames" in value and "groups" not in value:  # video
        frames = value["frames"]
        if not isinstance(frames, dict):
            raise Problem(f"{path}.frames", f"expected an object, got {type_name(frames)}")
        for frame_key, frame in frames.items():
            fpath = f"{path}.frames.{frame_key}"
            if not (frame_key.isdigit() and int(frame_key) >= 1):
                raise Problem(fpath, "frame keys are 1-based frame numbers")
            _frame(frame, fpath, notes)
        _segments(value.get("segments", {}), f"{path}.segments")
    elif "groups" in value:  # DICOM
        groups = value["groups"]
        if not isinstance(groups, dict):
            raise Problem(f"{path}.groups", f"expected an object, got {type_name(groups)}")
        for plane, group in groups.items():
            gpath = f"{path}.groups.{plane}"
            if not isinstance(group, dict):
                raise Problem(gpath, f"expected an object, got {type_name(group)}")
            for frame_key, frame in (group.get("frames") or {}).items():
                _frame(frame, f"{gpath}.frames.{frame_key}", notes)
            _classifications(group.get("classifications", []), f"{gpath}.classifications", notes)
    else:
        for i, obj in enumerate(listed(value.get("objects", []), f"{path}.objects")):
            _object(obj, f"{path}.objects[{i}]", notes)
        for i, rel in enumerate(listed(value.get("relationships", []), f"{path}.relationships")):
            _relationship(rel, f"{path}.relationships[{i}]")
    for i, obj in enumerate(listed(value.get("timed_objects", []), f"{path}.timed_objects")):
        _object(obj, f"{path}.timed_objects[{i}]", notes)
    _classifications(value.get("classifications", []), f"{path}.classifications", notes)
    return value


def _frame(frame: Any, path: str, notes: Notes | None) -> None:
    if not isinstance(frame, dict):
        raise Problem(path, f"expected an object, got {type_name(frame)}")
    objects = frame.get("objects", {})
    if not isinstance(objects, dict):
        raise Problem(f"{path}.objects", "expected an object keyed by feature_id")
    for fid, obj in objects.items():
        _object(obj, f"{path}.objects.{fid}", notes)
    _classifications(frame.get("classifications", []), f"{path}.classifications", notes)


def _segments(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {type_name(value)}")
    for fid, runs in value.items():
        if isinstance(runs, dict):  # DICOM: plane -> runs
            continue
        for i, run in enumerate(listed(runs, f"{path}.{fid}")):
            ok = isinstance(run, list) and len(run) == 2 and all(isinstance(n, int) for n in run)
            if not ok or run[0] > run[1]:
                raise Problem(f"{path}.{fid}[{i}]", "expected [start, end] frame numbers")


def _object(obj: Any, path: str, notes: Notes | None) -> None:
    if not isinstance(obj, dict):
        raise Problem(path, f"expected an object, got {type_name(obj)}")
    kind = obj.get("annotation_kind")
    if not isinstance(kind, str):
        raise Problem(f"{path}.annotation_kind", "is required")
    geometry = GEOMETRY.get(kind)
    if geometry is None:
        if notes is None:
            raise Problem(f"{path}.annotation_kind", f"unknown annotation kind {kind!r}")
        notes.unknown_value(f"{path}.annotation_kind", kind, ())
        return
    if not any(key in obj for key in geometry):
        raise Problem(path, f"{kind} needs one of: {', '.join(geometry)}")
    string(obj.get("name"), f"{path}.name", optional=False)
    box = obj.get("bounding_box")
    if box is not None:
        if not isinstance(box, dict):
            raise Problem(f"{path}.bounding_box", f"expected an object, got {type_name(box)}")
        for key in ("top", "left", "height", "width"):
            if number(box.get(key), f"{path}.bounding_box.{key}") is None:
                raise Problem(f"{path}.bounding_box.{key}", "is required")
    for key in ("polygon", "line"):
        if key in obj:
            _points(obj[key], f"{path}.{key}")
    if "point" in obj:
        _points([obj["point"]], f"{path}.point")
    _classifications(obj.get("classifications", []), f"{path}.classifications", notes)


def _points(points: Any, path: str) -> None:
    for i, p in enumerate(listed(points, path)):
        if not isinstance(p, dict) or number(p.get("x"), f"{path}[{i}].x") is None:
            raise Problem(f"{path}[{i}]", "expected {x, y}")
        if number(p.get("y"), f"{path}[{i}].y") is None:
            raise Problem(f"{path}[{i}].y", "is required")


def _relationship(rel: Any, path: str) -> None:
    if not isinstance(rel, dict):
        raise Problem(path, f"expected an object, got {type_name(rel)}")
    kind = rel.get("annotation_kind")
    if kind is not None and not (isinstance(kind, str) and kind.endswith("Relationship")):
        raise Problem(f"{path}.annotation_kind", f"not a relationship kind: {kind!r}")


def _classifications(value: Any, path: str, notes: Notes | None) -> None:
    for i, cls in enumerate(listed(value, path)):
        cpath = f"{path}[{i}]"
        if not isinstance(cls, dict):
            raise Problem(cpath, f"expected an object, got {type_name(cls)}")
        string(cls.get("name"), f"{cpath}.name", optional=False)
        answers = [k for k in ANSWER_KEYS if k in cls]
        if not answers and notes is not None:
            notes.note(cpath, "a classification with no known answer, kept as given")
            continue
        if len(answers) != 1:
            raise Problem(cpath, f"needs exactly one of: {', '.join(ANSWER_KEYS)}")
        answer = cls[answers[0]]
        if answers[0].endswith("checklist_answers"):
            for j, option in enumerate(listed(answer, f"{cpath}.{answers[0]}")):
                _option(option, f"{cpath}.{answers[0]}[{j}]", notes)
        elif answers[0].endswith("radio_answer"):
            _option(answer, f"{cpath}.{answers[0]}", notes)
        elif not isinstance(answer, dict) or not isinstance(answer.get("content"), str):
            raise Problem(f"{cpath}.{answers[0]}", "expected {content: string}")


def _option(option: Any, path: str, notes: Notes | None) -> None:
    if not isinstance(option, dict):
        raise Problem(path, f"expected an object, got {type_name(option)}")
    string(option.get("name"), f"{path}.name", optional=False)
    _classifications(option.get("classifications", []), f"{path}.classifications", notes)


# ---------------------------------------------------------------------------------------------
# ontology features


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
        if obj.get("annotation_kind") not in GEOMETRY:  # an unknown kind: kept, no feature
            continue
        kind = str(obj["annotation_kind"])
        path = f"tool:{obj['name']}"
        fid = obj.get("feature_schema_id")
        yield Feature(fid, None, path, "tool", kind, str(obj["name"]), obj.get("value"))
        yield from _walk_classes(obj.get("classifications", []), fid or path, path)
    yield from _walk_classes(doc.get("classifications", []), None, "")


def _walk_classes(classes: list[JSON], parent: str | None, prefix: str) -> Iterator[Feature]:
    for cls in classes:
        key = next((k for k in ANSWER_KEYS if k in cls), None)
        if key is None:  # kept as given, named by no known answer
            continue
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
