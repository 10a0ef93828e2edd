"""Vertex AI JSON Lines ⇄ canonical rows.

A Vertex import/export file (one per annotation set) holds one JSON object per line: one data item
(``imageGcsUri``, ``textGcsUri`` or inline ``textContent``, ``videoGcsUri``), its
``dataItemResourceLabels`` and its annotations for one of the eleven :data:`OBJECTIVES`.
:func:`convert` turns such a file into canonical rows (``docs/row-format.md``); :func:`to_vertex`
is its inverse, record by record, and :func:`vertex_record` the same for annotations from any
source (a project's label, a model run's prediction; ``labelport.export.formats.vertex``).
Which objective a file holds is told by :mod:`labelport.imports.vertex_objectives` (or given).

Mapping (one record → one row):

* item: ``media_type`` IMAGE/TEXT/VIDEO; ``data_row.global_key`` and ``row_data`` are the GCS URI,
  or for inline text ``"vertex-text:"`` + 40 hex of sha256(text) and the text itself;
  ``data_row.details.dataset_name`` is the target dataset.
* ``dataItemResourceLabels`` → ``metadata_fields`` ``{schema_name, value}``, each label under the
  key and with the value it had: ``ml_use`` and ``aiplatform.googleapis.com/ml_use`` are both
  kept as given (one per record); splits read either (:func:`ml_use_split`). An ``ml_use`` value
  that is no split is kept and warned about.
* annotation set → project ``derived_id("vertex-annotation-set", dataset, set_id)`` holding one
  label; ``set_id`` is ``annotationResourceLabels["aiplatform.googleapis.com/annotation_set_name"]``
  or, when no record names one, 19 digits derived from (dataset, display name). Other resource
  labels go to ``resource_labels`` on the object/answer made from that annotation.
* single / multi label: classification ``class`` with ``radio_answer`` / ``checklist_answers``.
* ``boundingBoxAnnotations``: ``ImageBoundingBox`` objects with ``normalized_bounding_box``.
* segmentation: ``ImageSegmentationMask`` per ``annotationSpecColors`` entry (``composite_mask``
  plus ``vertex_color``, the exact 0–1 floats), or one ``ImagePolygon``/``ImagePolyline`` with
  ``normalized_polygon``/``normalized_line``.
* ``textSegmentAnnotations``: ``TextEntity`` objects; Vertex ``endOffset`` is exclusive, the
  canonical ``location.end`` inclusive; ``token`` is the covered text when the text is inline.
* ``sentimentAnnotation``: classification ``sentiment`` whose answer is ``str(sentiment)``;
  ``sentimentMax`` is a setting of the annotation set (``sentiment_max``).
* ``timeSegmentAnnotations``: ``class`` radio classifications with ``time_segment``;
  ``timeSegments`` (action recognition): annotations-level ``time_segments``.
* ``temporalBoundingBoxAnnotations``: annotations-level ``timed_objects`` (``VideoBoundingBox``
  with ``normalized_bounding_box``, ``time_offset``, ``instance_id``).

Keys may be camelCase or snake_case (``x_min``, ``display_name``), and the object-tracking list
may also be spelled ``TemporalBoundingBoxAnnotations``. Coordinates may be JSON strings. A key
labelport does not know is kept verbatim under :data:`EXTRA` (``vertex_extra``) of the canonical
object made from the Vertex object that held it (the label's annotations for a top-level key;
:data:`SEGMENTATION_EXTRA` for the ``segmentationAnnotation`` wrapper), reported as a
:class:`~labelport.imports.base.SourceWarning` and written back in place. :func:`to_vertex` writes
camelCase, numbers as numbers, explicit time-segment defaults, and the annotation set name on
every annotation.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from labelport import ids
from labelport.errors import RecordError
from labelport.imports.base import (
    JSON,
    AnnotationSetSpec,
    Item,
    ParsedRow,
    Problem,
    SourceWarning,
    iter_json_lines,
)
from labelport.imports.vertex_objectives import (
    ANNOTATION_KEYS,
    MEDIA_KEYS,
    OBJECTIVES,
    WINDOW_BYTES,
    WINDOW_RECORDS,
    Detector,
    canon,
    detect_objective,
    fit,
    listing,
    media_kind,
    objective_keys,
)
from labelport.vertex_vocab import ARL as _ARL
from labelport.vertex_vocab import (
    EXTRA,
    ML_USE_KEYS,
    ML_USE_LABEL,
    SEGMENTATION_EXTRA,
    SET_NAME_LABEL,
    ml_use_split,
)
from labelport.vertex_vocab import ITEM_LABELS as _ITEM_LABELS
from labelport.vertex_vocab import RGB as _RGB
from labelport.vertex_vocab import check_objective as _check_objective
from labelport.vertex_vocab import project_id as _project_id
from labelport.vertex_vocab import text_key as _text_key

__all__ = [
    "EXTRA",
    "ML_USE_KEYS",
    "ML_USE_LABEL",
    "OBJECTIVES",
    "SET_NAME_LABEL",
    "convert",
    "detect_objective",
    "ml_use_split",
]


_DURATION = re.compile(r"^\d+(\.\d+)?s$")
_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_POSITION = re.compile(r"\[\d+\]")
_KEPT = "unknown field; kept as given and exported back in place"

_ALL_TOP_KEYS = frozenset(MEDIA_KEYS) | ANNOTATION_KEYS | {_ITEM_LABELS}

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


# ---------------------------------------------------------------------------------------------
# public API


def convert(
    stream: IO[bytes],
    *,
    file: str,
    dataset: str,
    annotation_set: str | None = None,
    objective: str | None = None,
) -> Iterator[Item]:
    """Vertex JSON Lines → one AnnotationSetSpec, then per record a ParsedRow (after the
    SourceWarnings of its unknown fields and values) or a RecordError.

    Without ``objective`` it is detected (:mod:`~labelport.imports.vertex_objectives`); a file
    that fits several objectives gives one RecordError naming them and ``--objective``."""
    if objective is not None:
        _check_objective(objective)
    return _Converter(file, dataset, annotation_set, objective).items(stream)


# ---------------------------------------------------------------------------------------------
# the file-level state: objective, annotation set, agreement between records


class _Converter:
    def __init__(
        self, file: str, dataset: str, annotation_set: str | None, objective: str | None
    ) -> None:
        self.file = file
        self.dataset = dataset
        self.display_name = annotation_set
        self.objective = objective
        self.spec: AnnotationSetSpec | None = None

    def items(self, stream: IO[bytes]) -> Iterator[Item]:
        """Records are converted as they come once the objective is known; until then (no
        ``objective`` given and the records so far fit several) they wait, in a bounded
        window."""
        detector = Detector()
        waiting: list[tuple[int, JSON]] = []
        waiting_bytes = 0
        for entry in iter_json_lines(stream, self.file):
            if isinstance(entry, RecordError):
                yield entry
                continue
            if self.objective is not None:
                yield from self._record(*entry)
                continue
            detector.add(entry[1])
            waiting.append(entry)
            if detector.objective is not None:
                self.objective = detector.objective
                for line, record in waiting:
                    yield from self._record(line, record)
                waiting.clear()
                continue
            waiting_bytes += len(orjson.dumps(entry[1]))
            if len(waiting) >= WINDOW_RECORDS or waiting_bytes >= WINDOW_BYTES:
                reason = detector.refusal(len(waiting), window_full=True)
                yield RecordError(self.file, waiting[0][0], "", reason)
                return
        if waiting:
            yield from self._undecided(detector, waiting)

    def _undecided(self, detector: Detector, waiting: list[tuple[int, JSON]]) -> Iterator[Item]:
        """The end of a file whose objective is still open: refused, and each record that fits
        no objective, or none the others fit, says why."""
        if detector.candidates is not None:
            reason = detector.refusal(len(waiting), window_full=False)
            yield RecordError(self.file, waiting[0][0], "", reason)
        for line, record in waiting:
            found = fit(record)
            if not found.objectives:
                yield RecordError(self.file, line, "", found.reason)
            elif detector.candidates is not None and not found.objectives & detector.candidates:
                reason = f"fits {listing(found.objectives)}, none of what the other records fit"
                yield RecordError(self.file, line, "", reason)

    def _record(self, line: int, record: JSON) -> Iterator[Item]:
        try:
            spec, parsed, row = self._convert(record)
        except Problem as problem:
            yield RecordError(self.file, line, problem.field, problem.reason)
            return
        if self.spec is None:
            self.spec = spec
            yield spec
        for path, reason in parsed.warnings:
            yield SourceWarning(line, path, reason)
        yield ParsedRow(line, row)

    def _convert(self, record: JSON) -> tuple[AnnotationSetSpec, _Parsed, JSON]:
        objective = self.spec.objective if self.spec is not None else self.objective
        assert objective is not None  # given, or detected before any record is converted
        parsed = _parse(record, objective)
        spec = self.spec or self._new_spec(parsed, objective)
        _check_agreement(parsed, spec)
        return spec, parsed, _row(parsed, spec, self.dataset)

    def _new_spec(self, parsed: _Parsed, objective: str) -> AnnotationSetSpec:
        display_name = self.display_name or f"{self.dataset}_{objective}"
        if parsed.set_names:
            set_id = parsed.set_names[0][1]
        else:
            set_id = _derived_set_id(self.dataset, display_name)
        settings: JSON = {}
        if objective == "text_sentiment":
            if parsed.sentiment_max is None:
                raise Problem(
                    "sentimentAnnotation",
                    "missing; the first text_sentiment record must have one (its sentimentMax "
                    "sets the scale of the annotation set)",
                )
            settings["sentiment_max"] = parsed.sentiment_max[1]
        project_id = _project_id(self.dataset, set_id)
        return AnnotationSetSpec(set_id, display_name, objective, project_id, settings)


def _check_agreement(parsed: _Parsed, spec: AnnotationSetSpec) -> None:
    for path, name in parsed.set_names:
        if name != spec.id:
            raise Problem(
                path, f"names annotation set {name!r}, but this file's set is {spec.id!r}"
            )
    if parsed.sentiment_max is not None:
        path, value = parsed.sentiment_max
        expected = spec.settings.get("sentiment_max")
        if value != expected:
            raise Problem(path, f"is {value}, but the file's sentiment scale is 0..{expected}")


def _derived_set_id(dataset: str, display_name: str) -> str:
    """A 19-digit positive int64, like Vertex's numeric annotation set ids."""
    digest = hashlib.sha256(f"{dataset}\x1f{display_name}".encode()).digest()
    return str(10**18 + int.from_bytes(digest[:8], "big") % (2**63 - 10**18))


# ---------------------------------------------------------------------------------------------
# one record


@dataclass(frozen=True, slots=True)
class _Fields:
    """A JSON object's keys by canonical (camelCase) name, remembering the spelling given;
    ``extra`` holds the keys labelport does not know, verbatim."""

    path: str
    given: dict[str, tuple[str, Any]]
    extra: JSON

    def at(self, name: str) -> str:
        return _join(self.path, self.given[name][0] if name in self.given else name)

    def has(self, name: str) -> bool:
        return name in self.given

    def get(self, name: str) -> Any:
        return self.given[name][1] if name in self.given else None

    def need(self, name: str, reason: str = "missing") -> Any:
        if name not in self.given:
            raise Problem(self.at(name), reason)
        return self.given[name][1]


@dataclass(frozen=True, slots=True)
class _Media:
    media_type: str
    global_key: str
    row_data: str
    text: str | None  # inline text, for entity tokens


@dataclass(slots=True)
class _Context:
    """What parsers collect besides the annotations themselves."""

    text: str | None = None
    set_names: list[tuple[str, str]] = field(default_factory=list)  # (path, set id)
    sentiment_max: tuple[str, int] | None = None  # (path, value)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (generalized path, reason)

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append((_POSITION.sub("[]", path), reason))


@dataclass(frozen=True, slots=True)
class _Parsed:
    media: _Media
    metadata: list[JSON]
    annotations: JSON
    set_names: list[tuple[str, str]]
    sentiment_max: tuple[str, int] | None
    warnings: list[tuple[str, str]]


def _parse(record: JSON, objective: str) -> _Parsed:
    context = _Context()
    top = _top_fields(record, objective, context)
    media = _media(top, objective)
    context.text = media.text
    metadata = _metadata(top, context)
    annotations = _keep(_PARSERS[objective](top, context), top)
    return _Parsed(
        media, metadata, annotations, context.set_names, context.sentiment_max, context.warnings
    )


def _row(parsed: _Parsed, spec: AnnotationSetSpec, dataset: str) -> JSON:
    media = parsed.media
    label = {
        "id": ids.derived_id("vertex-label", spec.project_id, media.global_key),
        "label_kind": "Video" if media.media_type == "VIDEO" else "Default",
        "version": "1.0.0",
        "annotations": parsed.annotations,
    }
    return {
        "media_type": media.media_type,
        "data_row": {
            "global_key": media.global_key,
            "row_data": media.row_data,
            "details": {"dataset_name": dataset},
        },
        "metadata_fields": parsed.metadata,
        "projects": {spec.project_id: {"name": spec.display_name, "labels": [label]}},
    }


def _top_fields(record: JSON, objective: str, context: _Context) -> _Fields:
    media = media_kind(objective)
    allowed = {key for key, of in MEDIA_KEYS.items() if of == media}
    allowed |= objective_keys(objective) | {_ITEM_LABELS}
    for key in record:
        if canon(key) in _ALL_TOP_KEYS - allowed:
            raise Problem(key, f"does not belong in {objective} records")
    return _fields(record, "", allowed, context)


def _media(top: _Fields, objective: str) -> _Media:
    media = media_kind(objective)
    if media == "text":
        return _text_media(top)
    key = f"{media}GcsUri"
    uri = _string(top.need(key, f"missing; {objective} records need it"), top.at(key))
    return _Media(media.upper(), uri, uri, None)


def _text_media(top: _Fields) -> _Media:
    if top.has("textContent") and top.has("textGcsUri"):
        raise Problem(top.at("textContent"), "not allowed together with textGcsUri")
    if top.has("textContent"):
        text = _string(top.get("textContent"), top.at("textContent"))
        return _Media("TEXT", _text_key(text), text, text)
    uri = _string(
        top.need("textGcsUri", "missing; text records need textGcsUri or textContent"),
        top.at("textGcsUri"),
    )
    return _Media("TEXT", uri, uri, None)


def _metadata(top: _Fields, context: _Context) -> list[JSON]:
    """Item labels as metadata fields, each under its own key with its own value."""
    if not top.has(_ITEM_LABELS):
        return []
    path = top.at(_ITEM_LABELS)
    fields: list[JSON] = []
    ml_use: str | None = None
    for key, value in _labels(top.get(_ITEM_LABELS), path).items():
        if key in ML_USE_KEYS:
            if ml_use is not None:
                raise Problem(_key_path(path, key), f"ml_use given twice (also as {ml_use})")
            ml_use = key
            if ml_use_split(value) is None:
                context.warn(
                    _key_path(path, key),
                    f"unknown ml_use {value!r}, kept as given; the item is in no split "
                    "(expected training, validation or test)",
                )
        fields.append({"schema_name": key, "value": value})
    return fields


def _resource_labels(fields: _Fields, context: _Context) -> dict[str, str]:
    """An annotation's resource labels without the set name, which goes to the context."""
    if not fields.has(_ARL):
        return {}
    path = fields.at(_ARL)
    labels = _labels(fields.get(_ARL), path)
    set_name = labels.pop(SET_NAME_LABEL, None)
    if set_name is not None:
        set_path = _key_path(path, SET_NAME_LABEL)
        context.set_names.append((set_path, _string(set_name, set_path)))
    return labels


def _labelled(target: JSON, fields: _Fields, context: _Context) -> JSON:
    """``target`` (made from the Vertex object ``fields``) with its resource labels and the
    keys labelport does not know."""
    return _keep(_with_labels(target, _resource_labels(fields, context)), fields)


def _keep(target: JSON, fields: _Fields, key: str = EXTRA) -> JSON:
    if fields.extra:
        target[key] = dict(fields.extra)
    return target


def _with_labels(target: JSON, labels: dict[str, str]) -> JSON:
    if labels:
        target["resource_labels"] = dict(labels)
    return target


# ---------------------------------------------------------------------------------------------
# annotation parsers: (record fields, context) -> canonical annotations


def _flat(objects: Iterable[JSON] = (), classifications: Iterable[JSON] = ()) -> JSON:
    return {"objects": list(objects), "classifications": list(classifications), "relationships": []}


def _video(classifications: Iterable[JSON] = (), **extensions: Any) -> JSON:
    annotations: JSON = {"frames": {}, "segments": {}, "key_frame_feature_map": {}}
    return {**annotations, "classifications": list(classifications), **extensions}


def _items(top: _Fields, key: str, allowed: frozenset[str], context: _Context) -> list[_Fields]:
    if not top.has(key):
        return []
    path = top.at(key)
    items = _list(top.get(key), path)
    return [_fields(item, f"{path}[{i}]", allowed, context) for i, item in enumerate(items)]


def _named(kind: str, name: str) -> JSON:
    return {"name": name, "value": name, "annotation_kind": kind, "classifications": []}


def _display_name(fields: _Fields) -> str:
    return _string(fields.need("displayName"), fields.at("displayName"))


def _answer(fields: _Fields, context: _Context) -> JSON:
    name = _display_name(fields)
    return _labelled({"name": name, "value": name, "classifications": []}, fields, context)


def _radio(name: str, answer: JSON) -> JSON:
    return {"name": name, "value": name, "radio_answer": answer}


def _parse_single(top: _Fields, context: _Context) -> JSON:
    if not top.has("classificationAnnotation"):
        return _flat()
    key = "classificationAnnotation"
    fields = _fields(top.get(key), top.at(key), _CLASS_KEYS, context)
    return _flat(classifications=[_radio("class", _answer(fields, context))])


def _parse_multi(top: _Fields, context: _Context) -> JSON:
    items = _items(top, "classificationAnnotations", _CLASS_KEYS, context)
    answers = [_answer(fields, context) for fields in items]
    checklist = {"name": "class", "value": "class", "checklist_answers": answers}
    return _flat(classifications=[checklist] if answers else [])


def _parse_boxes(top: _Fields, context: _Context) -> JSON:
    items = _items(top, "boundingBoxAnnotations", _BOX_KEYS, context)
    return _flat(objects=[_box_object(fields, context, "ImageBoundingBox") for fields in items])


def _box_object(fields: _Fields, context: _Context, kind: str, **more: str) -> JSON:
    target = _named(kind, _display_name(fields))
    target["normalized_bounding_box"] = _box(fields)
    target.update(more)
    return _labelled(target, fields, context)


def _box(fields: _Fields) -> JSON:
    x_min, x_max = _span(fields, "xMin", "xMax")
    y_min, y_max = _span(fields, "yMin", "yMax")
    return {"x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max}


def _span(fields: _Fields, low_key: str, high_key: str) -> tuple[float, float]:
    low = _unit(fields.need(low_key), fields.at(low_key))
    high = _unit(fields.need(high_key), fields.at(high_key))
    if low > high:
        raise Problem(fields.at(high_key), f"{high:g} is less than {low_key} {low:g}")
    return low, high


def _parse_segmentation(top: _Fields, context: _Context) -> JSON:
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
        payload = outer = _fields(top.get(shape), top.at(shape), allowed, context)
    objects = _SHAPE_READERS[shape](payload, context)
    labels = _resource_labels(outer, context)
    # Unknown keys of a polygon or polyline stay on its object; those of the mask and of the
    # segmentationAnnotation wrapper (one level, as exported) on every object, like the labels.
    wrapper = {} if outer is payload else dict(outer.extra)
    if shape == "maskAnnotation":
        wrapper = {**payload.extra, **wrapper}
    for target in objects:
        _with_labels(target, labels)
        if wrapper:
            target[SEGMENTATION_EXTRA] = dict(wrapper)
    return _flat(objects=objects)


def _unwrap_segmentation(top: _Fields, context: _Context) -> tuple[str, _Fields, _Fields]:
    """(shape, payload, object holding the resource labels) of ``segmentationAnnotation``.

    Either the mask fields sit in it directly, or it wraps one of ``maskAnnotation``,
    ``polygonAnnotation``, ``polylineAnnotation``.
    """
    key = "segmentationAnnotation"
    allowed = _SHAPE_KEYS["maskAnnotation"] | {*_SHAPES, _ARL}
    outer = _fields(top.get(key), top.at(key), allowed, context)
    wrapped = [shape for shape in _SHAPES if outer.has(shape)]
    if not wrapped:
        return "maskAnnotation", outer, outer
    extra = [name for name in _SHAPE_KEYS["maskAnnotation"] | set(wrapped[1:]) if outer.has(name)]
    if extra:
        raise Problem(outer.at(sorted(extra)[0]), f"not allowed together with {wrapped[0]}")
    shape = wrapped[0]
    payload = _fields(outer.get(shape), outer.at(shape), _SHAPE_KEYS[shape], context)
    return shape, payload, outer


def _masks(fields: _Fields, context: _Context) -> list[JSON]:
    url = _string(fields.need("maskGcsUri"), fields.at("maskGcsUri"))
    path = fields.at("annotationSpecColors")
    colors = _list(fields.need("annotationSpecColors"), path)
    if not colors:
        raise Problem(path, "lists no colors; a mask needs at least one")
    return [
        _mask(url, _fields(c, f"{path}[{i}]", _COLOR_KEYS, context), context)
        for i, c in enumerate(colors)
    ]


def _mask(url: str, fields: _Fields, context: _Context) -> JSON:
    target = _named("ImageSegmentationMask", _display_name(fields))
    color = _vertex_color(fields, context)
    rgb = [round(color[channel] * 255) for channel in _RGB]
    target["composite_mask"] = {"url": url, "color_rgb": rgb}
    target["vertex_color"] = color
    return _keep(target, fields)


def _vertex_color(fields: _Fields, context: _Context) -> JSON:
    rgb = _fields(fields.need("color"), fields.at("color"), frozenset(_RGB), context)
    color: JSON = {c: _unit(rgb.get(c), rgb.at(c)) if rgb.has(c) else 0.0 for c in _RGB}
    if fields.has("id"):
        color["annotation_spec_id"] = _integer_text(fields.get("id"), fields.at("id"))
    return _keep(color, rgb)


def _polygon(fields: _Fields, context: _Context) -> list[JSON]:
    return [_shape(fields, context, "ImagePolygon", "normalized_polygon", 3)]


def _polyline(fields: _Fields, context: _Context) -> list[JSON]:
    return [_shape(fields, context, "ImagePolyline", "normalized_line", 2)]


def _shape(fields: _Fields, context: _Context, kind: str, geometry: str, minimum: int) -> JSON:
    target = _named(kind, _display_name(fields))
    path = fields.at("vertexes")
    vertexes = _list(fields.need("vertexes"), path)
    if len(vertexes) < minimum:
        raise Problem(path, f"needs at least {minimum} vertexes, got {len(vertexes)}")
    target[geometry] = [_vertex(v, f"{path}[{i}]", context) for i, v in enumerate(vertexes)]
    return _keep(target, fields)


def _vertex(value: Any, path: str, context: _Context) -> JSON:
    point = _fields(value, path, frozenset({"x", "y"}), context)
    return _keep({axis: _unit(point.need(axis), point.at(axis)) for axis in ("x", "y")}, point)


_SHAPE_READERS: dict[str, Callable[[_Fields, _Context], list[JSON]]] = {
    "maskAnnotation": _masks,
    "polygonAnnotation": _polygon,
    "polylineAnnotation": _polyline,
}


def _parse_entities(top: _Fields, context: _Context) -> JSON:
    items = _items(top, "textSegmentAnnotations", _ENTITY_KEYS, context)
    return _flat(objects=[_entity(fields, context) for fields in items])


def _entity(fields: _Fields, context: _Context) -> JSON:
    target = _named("TextEntity", _display_name(fields))
    start = _int(fields.need("startOffset"), fields.at("startOffset"), 0)
    end = _int(fields.need("endOffset"), fields.at("endOffset"), 0)
    if end <= start:
        raise Problem(fields.at("endOffset"), f"must be greater than startOffset ({start})")
    location: JSON = {"start": start, "end": end - 1}
    if context.text is not None:
        if end > len(context.text):
            reason = f"{end} is past the end of textContent ({len(context.text)} characters)"
            raise Problem(fields.at("endOffset"), reason)
        location["token"] = context.text[start:end]
    target["location"] = location
    return _labelled(target, fields, context)


def _parse_sentiment(top: _Fields, context: _Context) -> JSON:
    if not top.has("sentimentAnnotation"):
        return _flat()
    key = "sentimentAnnotation"
    fields = _fields(top.get(key), top.at(key), _SENTIMENT_KEYS, context)
    maximum = _int(fields.need("sentimentMax"), fields.at("sentimentMax"), 1, 10)
    value = str(_int(fields.need("sentiment"), fields.at("sentiment"), 0, maximum))
    context.sentiment_max = (fields.at("sentimentMax"), maximum)
    answer = _labelled({"name": value, "value": value, "classifications": []}, fields, context)
    return _flat(classifications=[_radio("sentiment", answer)])


def _parse_video_classes(top: _Fields, context: _Context) -> JSON:
    return _video(_timed_classes(top, context))


def _parse_actions(top: _Fields, context: _Context) -> JSON:
    spans = _items(top, "timeSegments", _SEGMENT_KEYS, context)
    segments = [_keep(_time_segment(fields), fields) for fields in spans]
    return _video(_timed_classes(top, context), time_segments=segments)


def _timed_classes(top: _Fields, context: _Context) -> list[JSON]:
    items = _items(top, "timeSegmentAnnotations", _TIMED_CLASS_KEYS, context)
    return [
        {**_radio("class", _answer(fields, context)), "time_segment": _time_segment(fields)}
        for fields in items
    ]


def _time_segment(fields: _Fields) -> JSON:
    start, end = "0s", "Infinity"
    if fields.has("startTime"):
        start = _duration(fields.get("startTime"), fields.at("startTime"))
    if fields.has("endTime"):
        end = _duration(fields.get("endTime"), fields.at("endTime"))
    if _seconds(start) > _seconds(end):
        raise Problem(fields.at("endTime"), f"{end} is before startTime {start}")
    return {"start_time": start, "end_time": end}


def _parse_tracks(top: _Fields, context: _Context) -> JSON:
    items = _items(top, "temporalBoundingBoxAnnotations", _TRACK_KEYS, context)
    return _video(timed_objects=[_track(fields, context) for fields in items])


def _track(fields: _Fields, context: _Context) -> JSON:
    extra = {"time_offset": _duration(fields.need("timeOffset"), fields.at("timeOffset"), False)}
    if fields.has("instanceId"):
        extra["instance_id"] = _integer_text(fields.get("instanceId"), fields.at("instanceId"))
    return _box_object(fields, context, "VideoBoundingBox", **extra)


_Parser = Callable[[_Fields, _Context], JSON]
_PARSERS: dict[str, _Parser] = {
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


# ---------------------------------------------------------------------------------------------
# validators: each returns the clean value or raises Problem(path, reason)


def _fields(value: Any, path: str, allowed: Iterable[str], context: _Context) -> _Fields:
    """The keys of a Vertex object; a key labelport does not know goes to ``extra`` (its
    reader keeps it) with a warning."""
    allowed = frozenset(allowed)
    given: dict[str, tuple[str, Any]] = {}
    extra: JSON = {}
    for key, item in _object(value, path).items():
        name = canon(key)
        if name not in allowed:
            extra[key] = item
            context.warn(_join(path, key), _KEPT)
            continue
        if name in given:
            raise Problem(_join(path, key), f"given twice (also as {given[name][0]})")
        given[name] = (key, item)
    return _Fields(path, given, extra)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key_path(path: str, key: str) -> str:
    return f'{path}["{key}"]'


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _object(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {_describe(value)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Problem(path, f"expected a list, got {_describe(value)}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise Problem(path, f"expected a non-empty string, got {_describe(value)}")
    return value


def _labels(value: Any, path: str) -> dict[str, str]:
    labels = _object(value, path)
    for key, item in labels.items():
        if not isinstance(item, str):
            raise Problem(_key_path(path, key), f"expected a string, got {_describe(item)}")
    return dict(labels)


def _unit(value: Any, path: str) -> float:
    """A normalized coordinate: a number, or a string holding one, in 0..1."""
    if isinstance(value, str) and _DECIMAL.match(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path, f"expected a number, got {_describe(value)}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise Problem(path, f"{number:g} is outside 0..1 (coordinates are normalized)")
    return number


def _int(value: Any, path: str, low: int, high: int | None = None) -> int:
    if isinstance(value, str) and _INTEGER.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(path, f"expected an integer, got {_describe(value)}")
    if value < low:
        raise Problem(path, f"{value} is less than {low}")
    if high is not None and value > high:
        raise Problem(path, f"{value} is greater than {high}")
    return value


def _integer_text(value: Any, path: str) -> str:
    """An int64 id, given as a number or a string, kept as a string."""
    if isinstance(value, str) and _INTEGER.match(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise Problem(path, f"expected an integer id, got {_describe(value)}")


def _duration(value: Any, path: str, infinity: bool = True) -> str:
    if isinstance(value, str) and (_DURATION.match(value) or (infinity and value == "Infinity")):
        return value
    form = '"1.5s"' + (' or "Infinity"' if infinity else "")
    raise Problem(path, f"expected a duration such as {form}, got {_describe(value)}")


def _seconds(duration: str) -> float:
    return math.inf if duration == "Infinity" else float(duration[:-1])
