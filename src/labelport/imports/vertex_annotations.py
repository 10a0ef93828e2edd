"""The annotations of one Vertex AI record -> canonical annotations, one parser per objective.

:data:`PARSERS` maps each of the eleven objectives to its parser: (the record's fields, its
context) -> the label's canonical annotations (classifications, boxes, segmentation masks,
polygons and polylines, text entities, sentiment, video classes, actions and object tracks). The
mapping is in the docstring of :mod:`labelport.imports.vertex`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from labelport.imports.base import JSON, Problem
from labelport.imports.vertex_fields import (
    Context,
    Fields,
    as_duration,
    as_int,
    as_integer_text,
    as_list,
    as_string,
    as_unit,
    keep_extra,
    labelled,
    read_fields,
    resource_labels_of,
    seconds_of,
    with_labels,
)
from labelport.vertex_vocab import ARL as _ARL
from labelport.vertex_vocab import RGB as _RGB
from labelport.vertex_vocab import SEGMENTATION_EXTRA

_CLASS_KEYS = frozenset({"displayName", _ARL})
_BOX_KEYS = frozenset({"displayName", "xMin", "xMax", "yMin", "yMax", _ARL})
_TRACK_KEYS = _BOX_KEYS | {"timeOffset", "instanceId"}
_ENTITY_KEYS = frozenset({"startOffset", "endOffset", "displayName", _ARL})
_SENTIMENT_KEYS = frozenset({"sentiment", "sentimentMax", _ARL})
_SEGMENT_KEYS = frozenset({"startTime", "endTime"})
_TIMED_CLASS_KEYS = _SEGMENT_KEYS | _CLASS_KEYS
_SHAPES = ("maskAnnotation", "polygonAnnotation", "polylineAnnotation")
_SHAPE_KEYS = {
    "maskAnnotation": frozenset({"maskGcsUri", "annotationSpecColors"}),
    "polygonAnnotation": frozenset({"vertexes", "displayName"}),
    "polylineAnnotation": frozenset({"vertexes", "displayName"}),
}
_COLOR_KEYS = frozenset({"color", "displayName", "id"})


def _flat(objects: Iterable[JSON] = (), classifications: Iterable[JSON] = ()) -> JSON:
    return {"objects": list(objects), "classifications": list(classifications), "relationships": []}


def _video(classifications: Iterable[JSON] = (), **extensions: Any) -> JSON:
    annotations: JSON = {"frames": {}, "segments": {}, "key_frame_feature_map": {}}
    return {**annotations, "classifications": list(classifications), **extensions}


def _items(top: Fields, key: str, allowed: frozenset[str], context: Context) -> list[Fields]:
    if not top.has(key):
        return []
    path = top.at(key)
    items = as_list(top.get(key), path)
    return [read_fields(item, f"{path}[{i}]", allowed, context) for i, item in enumerate(items)]


def _named(kind: str, name: str) -> JSON:
    return {"name": name, "value": name, "annotation_kind": kind, "classifications": []}


def _display_name(fields: Fields) -> str:
    return as_string(fields.need("displayName"), fields.at("displayName"))


def _answer(fields: Fields, context: Context) -> JSON:
    name = _display_name(fields)
    return labelled({"name": name, "value": name, "classifications": []}, fields, context)


def _radio(name: str, answer: JSON) -> JSON:
    return {"name": name, "value": name, "radio_answer": answer}


def _parse_single(top: Fields, context: Context) -> JSON:
    if not top.has("classificationAnnotation"):
        return _flat()
    key = "classificationAnnotation"
    fields = read_fields(top.get(key), top.at(key), _CLASS_KEYS, context)
    return _flat(classifications=[_radio("class", _answer(fields, context))])


def _parse_multi(top: Fields, context: Context) -> JSON:
    items = _items(top, "classificationAnnotations", _CLASS_KEYS, context)
    answers = [_answer(fields, context) for fields in items]
    checklist = {"name": "class", "value": "class", "checklist_answers": answers}
    return _flat(classifications=[checklist] if answers else [])


def _parse_boxes(top: Fields, context: Context) -> JSON:
    items = _items(top, "boundingBoxAnnotations", _BOX_KEYS, context)
    return _flat(objects=[_box_object(fields, context, "ImageBoundingBox") for fields in items])


def _box_object(fields: Fields, context: Context, kind: str, **more: str) -> JSON:
    target = _named(kind, _display_name(fields))
    target["normalized_bounding_box"] = _box(fields)
    target.update(more)
    return labelled(target, fields, context)


def _box(fields: Fields) -> JSON:
    x_min, x_max = _span(fields, "xMin", "xMax")
    y_min, y_max = _span(fields, "yMin", "yMax")
    return {"x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max}


def _span(fields: Fields, low_key: str, high_key: str) -> tuple[float, float]:
    low = as_unit(fields.need(low_key), fields.at(low_key))
    high = as_unit(fields.need(high_key), fields.at(high_key))
    if low > high:
        raise Problem(fields.at(high_key), f"{high:g} is less than {low_key} {low:g}")
    return low, high


def _parse_segmentation(top: Fields, context: Context) -> JSON:
    present = [key for key in ("segmentationAnnotation", *_SHAPES) if top.has(key)]
    if not present:
        return _flat()
    if len(present) > 1:
        raise Problem(top.at(present[1]), f"only one segmentation per record; {present[0]} given")
    if present[0] == "segmentationAnnotation":
        shape, payload, outer = _unwrap_segmentation(top, context)
    else:
        shape = present[0]
        allowed = _SHAPE_KEYS[shape] | {_ARL}
        payload = outer = read_fields(top.get(shape), top.at(shape), allowed, context)
    objects = _SHAPE_READERS[shape](payload, context)
    labels = resource_labels_of(outer, context)
    # Unknown keys of a polygon or polyline stay on its object; those of the mask and of the
    # segmentationAnnotation wrapper (one level, as exported) on every object, like the labels.
    wrapper = {} if outer is payload else dict(outer.extra)
    if shape == "maskAnnotation":
        wrapper = {**payload.extra, **wrapper}
    for target in objects:
        with_labels(target, labels)
        if wrapper:
            target[SEGMENTATION_EXTRA] = dict(wrapper)
    return _flat(objects=objects)


def _unwrap_segmentation(top: Fields, context: Context) -> tuple[str, Fields, Fields]:
    """(shape, payload, object holding the resource labels) of ``segmentationAnnotation``.

    Either the mask fields sit in it directly, or it wraps one of ``maskAnnotation``,
    ``polygonAnnotation``, ``polylineAnnotation``.
    """
    key = "segmentationAnnotation"
    allowed = _SHAPE_KEYS["maskAnnotation"] | {*_SHAPES, _ARL}
    outer = read_fields(top.get(key), top.at(key), allowed, context)
    wrapped = [shape for shape in _SHAPES if outer.has(shape)]
    if not wrapped:
        return "maskAnnotation", outer, outer
    extra = [name for name in _SHAPE_KEYS["maskAnnotation"] | set(wrapped[1:]) if outer.has(name)]
    if extra:
        raise Problem(outer.at(sorted(extra)[0]), f"not allowed together with {wrapped[0]}")
    shape = wrapped[0]
    payload = read_fields(outer.get(shape), outer.at(shape), _SHAPE_KEYS[shape], context)
    return shape, payload, outer


def _masks(fields: Fields, context: Context) -> list[JSON]:
    url = as_string(fields.need("maskGcsUri"), fields.at("maskGcsUri"))
    path = fields.at("annotationSpecColors")
    colors = as_list(fields.need("annotationSpecColors"), path)
    if not colors:
        raise Problem(path, "lists no colors; a mask needs at least one")
    return [
        _mask(url, read_fields(c, f"{path}[{i}]", _COLOR_KEYS, context), context)
        for i, c in enumerate(colors)
    ]


def _mask(url: str, fields: Fields, context: Context) -> JSON:
    target = _named("ImageSegmentationMask", _display_name(fields))
    color = _vertex_color(fields, context)
    rgb = [round(color[channel] * 255) for channel in _RGB]
    target["composite_mask"] = {"url": url, "color_rgb": rgb}
    target["vertex_color"] = color
    return keep_extra(target, fields)


def _vertex_color(fields: Fields, context: Context) -> JSON:
    rgb = read_fields(fields.need("color"), fields.at("color"), frozenset(_RGB), context)
    color: JSON = {c: as_unit(rgb.get(c), rgb.at(c)) if rgb.has(c) else 0.0 for c in _RGB}
    if fields.has("id"):
        color["annotation_spec_id"] = as_integer_text(fields.get("id"), fields.at("id"))
    return keep_extra(color, rgb)


def _polygon(fields: Fields, context: Context) -> list[JSON]:
    return [_shape(fields, context, "ImagePolygon", "normalized_polygon", 3)]


def _polyline(fields: Fields, context: Context) -> list[JSON]:
    return [_shape(fields, context, "ImagePolyline", "normalized_line", 2)]


def _shape(fields: Fields, context: Context, kind: str, geometry: str, minimum: int) -> JSON:
    target = _named(kind, _display_name(fields))
    path = fields.at("vertexes")
    vertexes = as_list(fields.need("vertexes"), path)
    if len(vertexes) < minimum:
        raise Problem(path, f"needs at least {minimum} vertexes, got {len(vertexes)}")
    target[geometry] = [_vertex(v, f"{path}[{i}]", context) for i, v in enumerate(vertexes)]
    return keep_extra(target, fields)


def _vertex(value: Any, path: str, context: Context) -> JSON:
    point = read_fields(value, path, frozenset({"x", "y"}), context)
    return keep_extra(
        {axis: as_unit(point.need(axis), point.at(axis)) for axis in ("x", "y")}, point
    )


_SHAPE_READERS: dict[str, Callable[[Fields, Context], list[JSON]]] = {
    "maskAnnotation": _masks,
    "polygonAnnotation": _polygon,
    "polylineAnnotation": _polyline,
}


def _parse_entities(top: Fields, context: Context) -> JSON:
    items = _items(top, "textSegmentAnnotations", _ENTITY_KEYS, context)
    return _flat(objects=[_entity(fields, context) for fields in items])


def _entity(fields: Fields, context: Context) -> JSON:
    target = _named("TextEntity", _display_name(fields))
    start = as_int(fields.need("startOffset"), fields.at("startOffset"), 0)
    end = as_int(fields.need("endOffset"), fields.at("endOffset"), 0)
    if end <= start:
        raise Problem(fields.at("endOffset"), f"must be greater than startOffset ({start})")
    location: JSON = {"start": start, "end": end - 1}
    if context.text is not None:
        if end > len(context.text):
            reason = f"{end} is past the end of textContent ({len(context.text)} characters)"
            raise Problem(fields.at("endOffset"), reason)
        location["token"] = context.text[start:end]
    target["location"] = location
    return labelled(target, fields, context)


def _parse_sentiment(top: Fields, context: Context) -> JSON:
    if not top.has("sentimentAnnotation"):
        return _flat()
    key = "sentimentAnnotation"
    fields = read_fields(top.get(key), top.at(key), _SENTIMENT_KEYS, context)
    maximum = as_int(fields.need("sentimentMax"), fields.at("sentimentMax"), 1, 10)
    value = str(as_int(fields.need("sentiment"), fields.at("sentiment"), 0, maximum))
    context.sentiment_max = (fields.at("sentimentMax"), maximum)
    answer = labelled({"name": value, "value": value, "classifications": []}, fields, context)
    return _flat(classifications=[_radio("sentiment", answer)])


def _parse_video_classes(top: Fields, context: Context) -> JSON:
    return _video(_timed_classes(top, context))


def _parse_actions(top: Fields, context: Context) -> JSON:
    spans = _items(top, "timeSegments", _SEGMENT_KEYS, context)
    segments = [keep_extra(_time_segment(fields), fields) for fields in spans]
    return _video(_timed_classes(top, context), time_segments=segments)


def _timed_classes(top: Fields, context: Context) -> list[JSON]:
    items = _items(top, "timeSegmentAnnotations", _TIMED_CLASS_KEYS, context)
    return [
        {**_radio("class", _answer(fields, context)), "time_segment": _time_segment(fields)}
        for fields in items
    ]


def _time_segment(fields: Fields) -> JSON:
    start, end = "0s", "Infinity"
    if fields.has("startTime"):
        start = as_duration(fields.get("startTime"), fields.at("startTime"))
    if fields.has("endTime"):
        end = as_duration(fields.get("endTime"), fields.at("endTime"))
    if seconds_of(start) > seconds_of(end):
        raise Problem(fields.at("endTime"), f"{end} is before startTime {start}")
    return {"start_time": start, "end_time": end}


def _parse_tracks(top: Fields, context: Context) -> JSON:
    items = _items(top, "temporalBoundingBoxAnnotations", _TRACK_KEYS, context)
    return _video(timed_objects=[_track(fields, context) for fields in items])


def _track(fields: Fields, context: Context) -> JSON:
    extra = {"time_offset": as_duration(fields.need("timeOffset"), fields.at("timeOffset"), False)}
    if fields.has("instanceId"):
        extra["instance_id"] = as_integer_text(fields.get("instanceId"), fields.at("instanceId"))
    return _box_object(fields, context, "VideoBoundingBox", **extra)


_Parser = Callable[[Fields, Context], JSON]
PARSERS: dict[str, _Parser] = {
    "image_classification_single_label": _parse_single,
    "image_classification_multi_label": _parse_multi,
    "image_bounding_box": _parse_boxes,
    "image_segmentation": _parse_segmentation,
    "text_classification_single_label": _parse_single,
    "text_classification_multi_label": _parse_multi,
    "text_extraction": _parse_entities,
    "text_sentiment": _parse_sentiment,
    "video_classification": _parse_video_classes,
    "video_action_recognition": _parse_actions,
    "video_object_tracking": _parse_tracks,
}
