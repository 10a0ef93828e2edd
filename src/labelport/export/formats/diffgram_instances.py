"""One canonical object -> one Diffgram instance: its type, label, attributes and geometry.

:func:`build_instance` makes the instance of an object of an image, video or text file (``box``,
``polygon``, ``line``, ``point``, ``text_token``), writing back the fields the importer kept under
the object's ``diffgram`` extension. The mapping is in the docstring of
:mod:`labelport.export.formats.diffgram`.
"""

from __future__ import annotations

import re
from typing import Any

from labelport.export.formats.diffgram_attributes import add_attribute, use_label
from labelport.export.formats.diffgram_ids import stable_int
from labelport.export.formats.diffgram_values import (
    JSON,
    Unbuildable,
    as_list,
    as_number,
    as_object,
)
from labelport.export.formats.diffgram_vocabulary import Packet

OBJECT_TYPES = {
    "ImageBoundingBox": ("image", "box"),
    "ImagePolygon": ("image", "polygon"),
    "ImagePolyline": ("image", "line"),
    "ImagePoint": ("image", "point"),
    "VideoBoundingBox": ("video", "box"),
    "VideoPolyline": ("video", "line"),
    "VideoPoint": ("video", "point"),
    "TextEntity": ("text", "text_token"),
}

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")


# Internal keys of the object extension that are not instance fields.
EXTENSION_ONLY = frozenset({"sequence", "attribute_groups"})


def build_instance(packet: Packet, obj: JSON, path: str, kind: str, *, frame: int | None) -> JSON:
    annotation_kind = obj.get("annotation_kind")
    target = OBJECT_TYPES.get(annotation_kind) if isinstance(annotation_kind, str) else None
    if target is None or target[0] != kind:
        raise Unbuildable(
            f"{path}.annotation_kind",
            f"{annotation_kind} has no Diffgram instance type in a {kind} file",
        )
    itype = target[1]
    extension = obj.get("diffgram") if isinstance(obj.get("diffgram"), dict) else None
    instance: JSON = {}
    if extension is not None:
        instance.update({k: v for k, v in extension.items() if k not in EXTENSION_ONLY})
    elif frame is None:
        instance["id"] = stable_int("instance", packet.row_id, str(obj.get("feature_id") or path))
    else:
        feature = str(obj.get("feature_id") or path)
        instance["id"] = stable_int("instance", packet.row_id, feature, str(frame))
    instance["type"] = itype
    instance["label_file_id"] = packet.vocab.label(obj, path)
    attribute_groups: JSON = {}
    for i, cls in enumerate(as_list(obj.get("classifications") or [], f"{path}.classifications")):
        cpath = f"{path}.classifications[{i}]"
        add_attribute(
            packet, attribute_groups, as_object(cls, cpath), cpath, instance["label_file_id"]
        )
    raw = extension.get("attribute_groups") if extension is not None else None
    if isinstance(raw, dict):
        for gid, value in raw.items():
            if gid in attribute_groups:
                raise Unbuildable(f"{path}.diffgram.attribute_groups.{gid}", "given twice")
            attribute_groups[gid] = value
            group = packet.vocab.group(_group_id(gid), _raw_kind(value), f"group_{gid}", "")
            use_label(packet, group, instance["label_file_id"])
    instance["attribute_groups"] = attribute_groups or None
    if frame is not None:
        instance["frame_number"] = frame - 1
        if extension is None:
            instance["global_frame_number"] = frame - 1
    instance.update(_geometry(obj, path, itype, extension))
    return instance


def _group_id(gid: str) -> Any:
    return int(gid) if gid.isdigit() else gid


def _raw_kind(value: Any) -> str:
    """A kind Diffgram readers leave raw, for a group known only from a raw value."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "slider"
    if isinstance(value, str) and _DATE.fullmatch(value):
        return "date"
    if isinstance(value, str) and _TIME.fullmatch(value):
        return "time"
    return "tree"


def _geometry(obj: JSON, path: str, itype: str, extension: JSON | None) -> JSON:
    if itype == "box":
        box = as_object(obj.get("bounding_box"), f"{path}.bounding_box")
        top, left, height, width = (
            as_number(box.get(k), f"{path}.bounding_box.{k}")
            for k in ("top", "left", "height", "width")
        )
        for name, size in (("height", height), ("width", width)):
            if size < 0:
                raise Unbuildable(f"{path}.bounding_box.{name}", f"is negative ({size})")
        return {"x_min": left, "y_min": top, "x_max": left + width, "y_max": top + height}
    if itype == "text_token":
        location = as_object(obj.get("location"), f"{path}.location")
        start = _offset(location.get("start"), f"{path}.location.start")
        end = _offset(location.get("end"), f"{path}.location.end")
        return {"start_char": start, "end_char": end + 1}
    if itype == "point":
        point = as_object(obj.get("point"), f"{path}.point")
        vertexes = [_vertex(point, f"{path}.point")]
    else:
        key = "polygon" if itype == "polygon" else "line"
        points = as_list(obj.get(key), f"{path}.{key}")
        vertexes = [
            _vertex(as_object(p, f"{path}.{key}[{i}]"), f"{path}.{key}[{i}]")
            for i, p in enumerate(points)
        ]
        least = 3 if itype == "polygon" else 2
        if len(vertexes) < least:
            raise Unbuildable(f"{path}.{key}", f"a Diffgram {itype} needs {least} points or more")
    kept = extension.get("points") if extension is not None else None
    if itype == "point" and kept == []:  # Diffgram gave the point as top-level x and y
        return {"points": [], "x": vertexes[0]["x"], "y": vertexes[0]["y"]}
    if (
        isinstance(kept, list)
        and len(kept) == len(vertexes)
        and all(
            isinstance(p, dict) and p.get("x") == v["x"] and p.get("y") == v["y"]
            for p, v in zip(kept, vertexes, strict=True)
        )
    ):
        return {"points": kept}
    return {"points": vertexes}


def _offset(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unbuildable(path, f"expected a character offset, got {value!r}")
    return value


def _vertex(point: JSON, path: str) -> JSON:
    return {
        "x": as_number(point.get("x"), f"{path}.x"),
        "y": as_number(point.get("y"), f"{path}.y"),
    }
