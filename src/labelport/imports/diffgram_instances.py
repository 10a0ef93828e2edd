"""One Diffgram instance -> one canonical object: its label, geometry and text location.

:func:`canonical_object` turns an instance of an image, text or video packet (``box``,
``polygon``, ``line``, ``point``, ``text_token``) into a canonical object, keeping what has no
canonical place under its ``diffgram`` extension; its attributes come from
:mod:`labelport.imports.diffgram_attributes`. The mapping is in the docstring of
:mod:`labelport.imports.diffgram`.
"""

from __future__ import annotations

from labelport import ids
from labelport.imports.base import JSON, Problem
from labelport.imports.diffgram_attributes import attribute_classifications
from labelport.imports.diffgram_metadata import Export
from labelport.imports.diffgram_values import as_list, as_number, as_object, schema_id

IMAGE_KINDS = {
    "box": "ImageBoundingBox",
    "polygon": "ImagePolygon",
    "line": "ImagePolyline",
    "point": "ImagePoint",
}
VIDEO_KINDS = {"box": "VideoBoundingBox", "line": "VideoPolyline", "point": "VideoPoint"}

_BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


def canonical_object(
    ctx: Export, key: str, inst: JSON, path: str, itype: str, *, video: bool
) -> JSON:
    label_id, name = label_of(ctx, inst, path)
    inst_id = inst.get("id")
    if inst_id is not None:
        feature_id = ids.derived_id("diffgram-instance", ctx.psid, str(inst_id))
        owner = str(inst_id)
    else:  # older exporters (build_instance without base_instance_packet) wrote no id
        feature_id = ids.derived_id("diffgram-instance-at", ctx.psid, path)
        owner = f"@{path}"
    obj: JSON = {
        "feature_id": feature_id,
        "feature_schema_id": schema_id("diffgram-label-file", ctx.psid, label_id),
        "name": name,
        "value": name,
    }
    consumed = {"attribute_groups", "frame_number"} if video else {"attribute_groups"}
    if itype == "text_token":
        obj["annotation_kind"] = "TextEntity"
        obj["location"] = _location(inst, path)
        consumed |= {"start_char", "end_char"}
    else:
        obj["annotation_kind"] = (VIDEO_KINDS if video else IMAGE_KINDS)[itype]
        obj.update(_geometry(inst, path, itype, consumed))
    classifications, unresolved = attribute_classifications(
        ctx, inst.get("attribute_groups"), path, owner
    )
    obj["classifications"] = classifications
    extension: JSON = {"id": inst_id, "type": itype, "label_file_id": inst.get("label_file_id")}
    for name_, value in inst.items():
        if name_ not in consumed and name_ not in extension and value is not None:
            extension[name_] = value
    if unresolved:
        extension["attribute_groups"] = unresolved
    obj["diffgram"] = {k: v for k, v in extension.items() if v is not None}
    return obj


def label_of(ctx: Export, inst: JSON, path: str) -> tuple[str, str]:
    label_id = inst.get("label_file_id")
    if label_id is None:
        raise Problem(f"{path}.label_file_id", "is required")
    name = ctx.labels.get(str(label_id))
    if name is None:
        raise Problem(f"{path}.label_file_id", f"label file {label_id} is not in label_map")
    return str(label_id), name


def _geometry(inst: JSON, path: str, itype: str, consumed: set[str]) -> JSON:
    if itype == "box":
        x_min, y_min, x_max, y_max = (as_number(inst.get(k), f"{path}.{k}") for k in _BOX_FIELDS)
        if x_max < x_min:
            raise Problem(f"{path}.x_max", f"smaller than x_min ({x_max} < {x_min})")
        if y_max < y_min:
            raise Problem(f"{path}.y_max", f"smaller than y_min ({y_max} < {y_min})")
        consumed.update(_BOX_FIELDS)
        return {
            "bounding_box": {
                "top": y_min,
                "left": x_min,
                "height": y_max - y_min,
                "width": x_max - x_min,
            }
        }
    points = inst.get("points")
    if itype == "point" and not points and "x" in inst and "y" in inst:
        consumed.update(("x", "y"))
        return {
            "point": {
                "x": as_number(inst["x"], f"{path}.x"),
                "y": as_number(inst["y"], f"{path}.y"),
            }
        }
    plist = as_list(points, f"{path}.points")
    vertexes = []
    figures = set()
    exact = True
    for i, raw in enumerate(plist):
        point = as_object(raw, f"{path}.points[{i}]")
        vertexes.append(
            {
                "x": as_number(point.get("x"), f"{path}.points[{i}].x"),
                "y": as_number(point.get("y"), f"{path}.points[{i}].y"),
            }
        )
        exact = exact and set(point) <= {"x", "y"}
        if point.get("figure_id") is not None:
            figures.add(str(point["figure_id"]))
    if len(figures) > 1:
        raise Problem(f"{path}.points", "polygons of several figures are not supported yet")
    if exact:
        consumed.add("points")  # else the raw points stay under the extension
    if itype == "point":
        if not vertexes:
            raise Problem(f"{path}.points", "a point needs one vertex")
        return {"point": vertexes[0]}
    least = 3 if itype == "polygon" else 2
    if len(vertexes) < least:
        raise Problem(f"{path}.points", f"a {itype} needs at least {least} vertexes")
    return {"polygon" if itype == "polygon" else "line": vertexes}


def _location(inst: JSON, path: str) -> JSON:
    start, end = inst.get("start_char"), inst.get("end_char")
    if start is None or end is None:
        field_ = f"{path}.start_char" if start is None else f"{path}.end_char"
        raise Problem(
            field_,
            "a text_token without character offsets (start_char/end_char) is not supported: "
            "Diffgram's UI records only token indices, and the export does not carry the text",
        )
    for name, value in (("start_char", start), ("end_char", end)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Problem(f"{path}.{name}", f"expected a character offset, got {value!r}")
    if end <= start:
        raise Problem(f"{path}.end_char", f"must be greater than start_char ({end} <= {start})")
    return {"start": start, "end": end - 1}
