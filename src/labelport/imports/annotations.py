"""Label ``annotations`` documents: structural checks and the ontology features they name. Pure.

Documents are stored as given; the checks only make sure that what labelport interprets (an
object's kind and geometry, a classification's answer, video frames) has the shape it needs.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
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
        objects = value.get("objects", [])
        if objects.__class__ is not list:
            objects = listed(objects, f"{path}.objects")
        for i, obj in enumerate(objects):
            if not _plain_object(obj):
                _object(obj, f"{path}.objects[{i}]", notes)
        for i, rel in enumerate(listed(value.get("relationships", []), f"{path}.relationships")):
            _relationship(rel, f"{path}.relationships[{i}]")
    for i, obj in enumerate(listed(value.get("timed_objects", []), f"{path}.timed_objects")):
        if not _plain_object(obj):
            _object(obj, f"{path}.timed_objects[{i}]", notes)
    classes = value.get("classifications", [])
    if not _plain_classifications(classes):
        _classifications(classes, f"{path}.classifications", notes)
    return value


# What most objects look like, checked without making a path or noting anything. An object these
# do not pass goes to the full checks (:func:`_object`), which raise or note what it is.

_NUMBER = frozenset({int, float})  # (bool is not a number here)
_BOX = ("top", "left", "height", "width")


def _plain_object(obj: Any) -> bool:
    """Would :func:`_object` take ``obj`` without a problem or a note?"""
    if obj.__class__ is not dict:
        return False
    kind = obj.get("annotation_kind")
    geometry = GEOMETRY.get(kind) if kind.__class__ is str else None
    if geometry is None or obj.get("name").__class__ is not str:
        return False
    for key in geometry:
        if key in obj:
            break
    else:
        return False
    box = obj.get("bounding_box")
    if box is not None:
        if box.__class__ is not dict:
            return False
        for key in _BOX:
            if box.get(key).__class__ not in _NUMBER:
                return False
    for key in ("polygon", "line"):
        if key in obj and not _plain_points(obj[key]):
            return False
    if "point" in obj and not _plain_points([obj["point"]]):
        return False
    return _plain_classifications(obj.get("classifications", []))


def _plain_points(points: Any) -> bool:
    if points.__class__ is not list:
        return False
    for p in points:
        if p.__class__ is not dict or p.get("x").__class__ not in _NUMBER:
            return False
        if p.get("y").__class__ not in _NUMBER:
            return False
    return True


def _plain_classifications(value: Any) -> bool:
    """Would :func:`_classifications` take ``value`` without a problem or a note?"""
    if value.__class__ is not list:
        return False
    for cls in value:
        if cls.__class__ is not dict or cls.get("name").__class__ is not str:
            return False
        answer_key = None
        for key in ANSWER_KEYS:
            if key in cls:
                if answer_key is not None:
                    return False
                answer_key = key
        if answer_key is None:
            return False
        answer = cls[answer_key]
        if answer_key.endswith("checklist_answers"):
            if answer.__class__ is not list:
                return False
            for option in answer:
                if not _plain_option(option):
                    return False
        elif answer_key.endswith("radio_answer"):
            if not _plain_option(answer):
                return False
        elif answer.__class__ is not dict or answer.get("content").__class__ is not str:
            return False
    return True


def _plain_option(option: Any) -> bool:
    return (
        option.__class__ is dict
        and option.get("name").__class__ is str
        and _plain_classifications(option.get("classifications", []))
    )


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


def iter_features(annotations: JSON, seen: Container[str] = frozenset()) -> Iterator[Feature]:
    """Ontology features named by an annotations document (tools, classifications, options).

    A feature whose ``feature_schema_id`` is in ``seen`` (an ontology's known ids) is left out,
    though not the features it holds: a re-import names few new ones."""
    yield from _walk_objects(annotations, seen)
    for frame in (annotations.get("frames") or {}).values():
        if isinstance(frame, dict):
            yield from _walk_objects(frame, seen, objects_key_map=True)
    for group in (annotations.get("groups") or {}).values():
        if isinstance(group, dict):
            yield from _walk_classes(group.get("classifications", []), None, "", seen)
            for frame in (group.get("frames") or {}).values():
                yield from _walk_objects(frame, seen, objects_key_map=True)


def _known(fid: Any, seen: Container[str]) -> bool:
    return isinstance(fid, str) and bool(fid) and fid[:64] in seen


def _walk_objects(
    doc: JSON, seen: Container[str], *, objects_key_map: bool = False
) -> Iterator[Feature]:
    objects = doc.get("objects", {} if objects_key_map else [])
    items = objects.values() if isinstance(objects, dict) else objects
    for obj in [*items, *doc.get("timed_objects", [])]:
        kind = obj.get("annotation_kind")
        if kind not in GEOMETRY:  # an unknown kind: kept, no feature
            continue
        fid = obj.get("feature_schema_id")
        classes = obj.get("classifications")
        if not classes and _known(fid, seen):
            continue
        name = obj["name"]
        path = f"tool:{name}"
        if not _known(fid, seen):
            yield Feature(fid, None, path, "tool", str(kind), str(name), obj.get("value"))
        if classes:
            yield from _walk_classes(classes, fid or path, path, seen)
    classes = doc.get("classifications")
    if classes:
        yield from _walk_classes(classes, None, "", seen)


_ANSWER_KIND = {
    key: "text"
    if key.endswith("text_answer")
    else ("checklist" if key.endswith("checklist_answers") else "radio")
    for key in ANSWER_KEYS
}


def _walk_classes(
    classes: list[JSON], parent: str | None, prefix: str, seen: Container[str]
) -> Iterator[Feature]:
    for cls in classes:
        for key in ANSWER_KEYS:
            if key in cls:
                break
        else:  # kept as given, named by no known answer
            continue
        kind = _ANSWER_KIND[key]
        name = cls["name"]
        path = f"{prefix}/class:{name}"
        fid = cls.get("feature_schema_id")
        if not _known(fid, seen):
            yield Feature(fid, parent, path, "classification", kind, str(name), cls.get("value"))
        answer = cls[key]
        options = answer if isinstance(answer, list) else ([answer] if kind == "radio" else [])
        for option in options:
            oname = option["name"]
            opath = f"{path}/option:{oname}"
            oid = option.get("feature_schema_id")
            if not _known(oid, seen):
                yield Feature(
                    oid,
                    fid or path,
                    opath,
                    "option",
                    "option",
                    str(oname),
                    option.get("value"),
                )
            inner = option.get("classifications")
            if inner:
                yield from _walk_classes(inner, oid or opath, opath, seen)
