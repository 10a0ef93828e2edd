"""Canonical rows as Vertex AI JSON Lines records: the export direction of
:mod:`labelport.imports.vertex` (its inverse, record by record), for annotations from any source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from labelport.errors import InvalidSpec
from labelport.vertex_vocab import ARL as _ARL
from labelport.vertex_vocab import (
    EXTRA,
    SEGMENTATION_EXTRA,
    SET_NAME_LABEL,
    media_kind,
)
from labelport.vertex_vocab import ITEM_LABELS as _ITEM_LABELS
from labelport.vertex_vocab import RGB as _RGB
from labelport.vertex_vocab import URI as _URI
from labelport.vertex_vocab import check_objective as _check_objective
from labelport.vertex_vocab import project_id as _project_id
from labelport.vertex_vocab import text_key as _text_key

JSON = dict[str, Any]

__all__ = ["to_vertex", "vertex_record"]


def to_vertex(
    row: dict[str, Any],
    objective: str,
    set_id: str,
    *,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Vertex record of a canonical row's label in annotation set ``set_id``.

    The label is the first of project ``derived_id("vertex-annotation-set", dataset_name,
    set_id)``; a row without one gives a record without annotations. ``settings`` are the
    annotation set's settings (``text_sentiment`` needs ``sentiment_max``).
    """
    data_row = row["data_row"]
    project_id = _project_id(data_row["details"]["dataset_name"], set_id)
    annotations = _label_annotations(row, project_id)
    return vertex_record(row, objective, set_id, annotations, settings=settings)


def vertex_record(
    row: dict[str, Any],
    objective: str,
    set_id: str,
    annotations: Mapping[str, Any],
    *,
    settings: Mapping[str, Any] | None = None,
    item_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Vertex record of a canonical row with ``annotations`` (canonical annotations, from
    whatever source: a project label, a model-run prediction, or ``{}`` for none) in set
    ``set_id``. ``item_labels`` are added to the row's own ``dataItemResourceLabels``."""
    _check_objective(objective)
    record = _vertex_media(row["data_row"], objective)
    record.update(_WRITERS[objective](dict(annotations), set_id, settings or {}))
    record[_ITEM_LABELS] = {**(item_labels or {}), **_vertex_item_labels(row)}
    record.update(_extra(annotations))
    return record


# ---------------------------------------------------------------------------------------------
# canonical row -> Vertex record


def _vertex_media(data_row: JSON, objective: str) -> JSON:
    kind = media_kind(objective)
    row_data = data_row["row_data"]
    if kind == "text" and (
        data_row.get("global_key") == _text_key(row_data) or not _URI.match(row_data)
    ):
        return {"textContent": row_data}
    return {f"{kind}GcsUri": row_data}


def _label_annotations(row: JSON, project_id: str) -> JSON:
    project = row.get("projects", {}).get(project_id)
    labels = project.get("labels", []) if project else []
    return labels[0]["annotations"] if labels else {}


def _vertex_item_labels(row: JSON) -> dict[str, str]:
    return {
        item["schema_name"]: item["value"]
        for item in row.get("metadata_fields", [])
        if "schema_name" in item and isinstance(item.get("value"), str)
    }


def _arl(source: JSON, set_id: str) -> dict[str, str]:
    return {**source.get("resource_labels", {}), SET_NAME_LABEL: set_id}


def _extra(source: Any, key: str = EXTRA) -> JSON:
    """The Vertex keys labelport did not know, kept on a canonical object (or none)."""
    found = source.get(key) if isinstance(source, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def _classes(annotations: JSON, name: str, answer: str) -> list[JSON]:
    found = annotations.get("classifications", [])
    return [c for c in found if c.get("name") == name and answer in c]


def _objects(annotations: JSON, kind: str, geometry: str, key: str = "objects") -> list[JSON]:
    found = annotations.get(key, [])
    return [o for o in found if o.get("annotation_kind") == kind and geometry in o]


def _v_class(answer: JSON, set_id: str) -> JSON:
    return {"displayName": answer["name"], _ARL: _arl(answer, set_id), **_extra(answer)}


def _v_box(target: JSON, set_id: str) -> JSON:
    box = target["normalized_bounding_box"]
    corners = {
        "xMin": box["x_min"],
        "xMax": box["x_max"],
        "yMin": box["y_min"],
        "yMax": box["y_max"],
    }
    return {"displayName": target["name"], **corners, _ARL: _arl(target, set_id)}


def _w_single(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    for classification in _classes(annotations, "class", "radio_answer"):
        return {"classificationAnnotation": _v_class(classification["radio_answer"], set_id)}
    return {}


def _w_multi(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    checklists = _classes(annotations, "class", "checklist_answers")
    answers = [answer for c in checklists for answer in c["checklist_answers"]]
    return {"classificationAnnotations": [_v_class(answer, set_id) for answer in answers]}


def _w_boxes(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    boxes = _objects(annotations, "ImageBoundingBox", "normalized_bounding_box")
    return {"boundingBoxAnnotations": [_v_box(box, set_id) | _extra(box) for box in boxes]}


def _w_segmentation(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    masks = _objects(annotations, "ImageSegmentationMask", "composite_mask")
    if masks:
        return {"segmentationAnnotation": _v_mask(masks, set_id)}
    for kind, geometry, key in (
        ("ImagePolygon", "normalized_polygon", "polygonAnnotation"),
        ("ImagePolyline", "normalized_line", "polylineAnnotation"),
    ):
        for shape in _objects(annotations, kind, geometry):
            vertexes = [_v_point(point) for point in shape[geometry]]
            payload = {"vertexes": vertexes, "displayName": shape["name"], **_extra(shape)}
            wrapper = {key: payload, _ARL: _arl(shape, set_id)}
            return {"segmentationAnnotation": wrapper | _extra(shape, SEGMENTATION_EXTRA)}
    return {}


def _v_point(point: JSON) -> JSON:
    return {"x": point["x"], "y": point["y"], **_extra(point)}


def _v_mask(masks: list[JSON], set_id: str) -> JSON:
    return {
        "maskGcsUri": masks[0]["composite_mask"]["url"],
        "annotationSpecColors": [_v_color(mask) for mask in masks],
        _ARL: _arl(masks[0], set_id),
        **_extra(masks[0], SEGMENTATION_EXTRA),
    }


def _v_color(mask: JSON) -> JSON:
    color = mask.get("vertex_color") or {
        channel: value / 255
        for channel, value in zip(_RGB, mask["composite_mask"]["color_rgb"], strict=True)
    }
    spec = {"color": {c: color[c] for c in _RGB} | _extra(color), "displayName": mask["name"]}
    if "annotation_spec_id" in color:
        spec["id"] = color["annotation_spec_id"]
    return spec | _extra(mask)


def _w_entities(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    entities = _objects(annotations, "TextEntity", "location")
    return {"textSegmentAnnotations": [_v_entity(entity, set_id) for entity in entities]}


def _v_entity(entity: JSON, set_id: str) -> JSON:
    location = entity["location"]
    return {
        "startOffset": location["start"],
        "endOffset": location["end"] + 1,
        "displayName": entity["name"],
        _ARL: _arl(entity, set_id),
        **_extra(entity),
    }


def _w_sentiment(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    for classification in _classes(annotations, "sentiment", "radio_answer"):
        answer = classification["radio_answer"]
        maximum = settings.get("sentiment_max")
        if not isinstance(maximum, int):
            raise InvalidSpec("text_sentiment export needs the set's settings['sentiment_max']")
        payload = {"sentiment": int(answer["name"]), "sentimentMax": maximum}
        return {"sentimentAnnotation": {**payload, _ARL: _arl(answer, set_id), **_extra(answer)}}
    return {}


def _w_video_classes(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    classes = _classes(annotations, "class", "radio_answer")
    return {"timeSegmentAnnotations": [_v_timed_class(c, set_id) for c in classes]}


def _v_timed_class(classification: JSON, set_id: str) -> JSON:
    answer = classification["radio_answer"]
    segment = _v_segment(classification.get("time_segment", {}))
    named = {"displayName": answer["name"], **segment, _ARL: _arl(answer, set_id)}
    return named | _extra(answer)


def _v_segment(segment: JSON) -> JSON:
    return {
        "startTime": segment.get("start_time", "0s"),
        "endTime": segment.get("end_time", "Infinity"),
        **_extra(segment),
    }


def _w_actions(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    segments = [_v_segment(segment) for segment in annotations.get("time_segments", [])]
    return {"timeSegments": segments, **_w_video_classes(annotations, set_id, settings)}


def _w_tracks(annotations: JSON, set_id: str, settings: Mapping[str, Any]) -> JSON:
    tracks = _objects(annotations, "VideoBoundingBox", "normalized_bounding_box", "timed_objects")
    return {"temporalBoundingBoxAnnotations": [_v_track(track, set_id) for track in tracks]}


def _v_track(track: JSON, set_id: str) -> JSON:
    record = _v_box(track, set_id)
    record["timeOffset"] = track["time_offset"]
    if "instance_id" in track:
        record["instanceId"] = track["instance_id"]
    return record | _extra(track)


_Writer = Callable[[JSON, str, Mapping[str, Any]], JSON]
_WRITERS: dict[str, _Writer] = {
    "image_classification_single_label": _w_single,
    "image_classification_multi_label": _w_multi,
    "image_bounding_box": _w_boxes,
    "image_segmentation": _w_segmentation,
    "text_classification_single_label": _w_single,
    "text_classification_multi_label": _w_multi,
    "text_extraction": _w_entities,
    "text_sentiment": _w_sentiment,
    "video_classification": _w_video_classes,
    "video_action_recognition": _w_actions,
    "video_object_tracking": _w_tracks,
}
