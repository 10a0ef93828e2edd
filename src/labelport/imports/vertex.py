"""Vertex AI JSON Lines ⇄ canonical rows.

A Vertex import/export file (one per annotation set) holds one JSON object per line: one data item
(``imageGcsUri``, ``textGcsUri`` or inline ``textContent``, ``videoGcsUri``), its
``dataItemResourceLabels`` and its annotations for one of the eleven :data:`OBJECTIVES`.
:func:`convert` turns such a file into canonical rows (``docs/row-format.md``);
:func:`~labelport.export.formats.vertex_records.to_vertex` is its inverse, record by record, and
:func:`~labelport.export.formats.vertex_records.vertex_record` the same for annotations from any
source (a project's label, a model run's prediction; ``labelport.export.formats.vertex``).
Which objective a file holds is told by :mod:`labelport.imports.vertex_objectives` (or given).

Parts: this module holds the file-level state (the objective, the annotation set, agreement
between records); one record becomes one row in :mod:`~labelport.imports.vertex_rows`, its
annotations are read by the parsers of :mod:`~labelport.imports.vertex_annotations`, and the
keys and values of its objects by :mod:`~labelport.imports.vertex_fields`.

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
:data:`~labelport.vertex_vocab.SEGMENTATION_EXTRA` for the ``segmentationAnnotation`` wrapper),
reported as a :class:`~labelport.imports.base.SourceWarning` and written back in place.
:func:`~labelport.export.formats.vertex_records.to_vertex` writes camelCase, numbers as numbers,
explicit time-segment defaults, and the annotation set name on every annotation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import IO

import orjson

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
    OBJECTIVES,
    WINDOW_BYTES,
    WINDOW_RECORDS,
    Detector,
    detect_objective,
    fit,
    listing,
)
from labelport.imports.vertex_rows import Parsed, parse_record, record_row
from labelport.vertex_vocab import (
    EXTRA,
    ML_USE_KEYS,
    ML_USE_LABEL,
    SET_NAME_LABEL,
    ml_use_split,
)
from labelport.vertex_vocab import check_objective as _check_objective
from labelport.vertex_vocab import project_id as _project_id

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

    def _convert(self, record: JSON) -> tuple[AnnotationSetSpec, Parsed, JSON]:
        objective = self.spec.objective if self.spec is not None else self.objective
        assert objective is not None  # given, or detected before any record is converted
        parsed = parse_record(record, objective)
        spec = self.spec or self._new_spec(parsed, objective)
        _check_agreement(parsed, spec)
        return spec, parsed, record_row(parsed, spec, self.dataset)

    def _new_spec(self, parsed: Parsed, objective: str) -> AnnotationSetSpec:
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


def _check_agreement(parsed: Parsed, spec: AnnotationSetSpec) -> None:
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
