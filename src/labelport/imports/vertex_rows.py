"""One Vertex AI record -> one canonical row: its data item, its labels and its annotations.

:func:`parse_record` reads a record of a given objective (the item, ``dataItemResourceLabels`` as
metadata fields, the annotations by :data:`~labelport.imports.vertex_annotations.PARSERS`) into
:class:`Parsed`; :func:`record_row` makes the canonical row of it in an annotation set. The
mapping is in the docstring of :mod:`labelport.imports.vertex`.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelport import ids
from labelport.imports.base import JSON, AnnotationSetSpec, Problem
from labelport.imports.vertex_annotations import PARSERS
from labelport.imports.vertex_fields import (
    Context,
    Fields,
    as_labels,
    as_string,
    keep_extra,
    key_path,
    read_fields,
)
from labelport.imports.vertex_objectives import (
    ANNOTATION_KEYS,
    MEDIA_KEYS,
    canon,
    media_kind,
    objective_keys,
)
from labelport.vertex_vocab import ITEM_LABELS as _ITEM_LABELS
from labelport.vertex_vocab import ML_USE_KEYS, ml_use_split
from labelport.vertex_vocab import text_key as _text_key

_ALL_TOP_KEYS = frozenset(MEDIA_KEYS) | ANNOTATION_KEYS | {_ITEM_LABELS}


@dataclass(frozen=True, slots=True)
class Media:
    media_type: str
    global_key: str
    row_data: str
    text: str | None  # inline text, for entity tokens


@dataclass(frozen=True, slots=True)
class Parsed:
    media: Media
    metadata: list[JSON]
    annotations: JSON
    set_names: list[tuple[str, str]]
    sentiment_max: tuple[str, int] | None
    warnings: list[tuple[str, str]]


def parse_record(record: JSON, objective: str) -> Parsed:
    context = Context()
    top = _top_fields(record, objective, context)
    media = _media(top, objective)
    context.text = media.text
    metadata = _metadata(top, context)
    annotations = keep_extra(PARSERS[objective](top, context), top)
    return Parsed(
        media, metadata, annotations, context.set_names, context.sentiment_max, context.warnings
    )


def record_row(parsed: Parsed, spec: AnnotationSetSpec, dataset: str) -> JSON:
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


def _top_fields(record: JSON, objective: str, context: Context) -> Fields:
    media = media_kind(objective)
    allowed = {key for key, of in MEDIA_KEYS.items() if of == media}
    allowed |= objective_keys(objective) | {_ITEM_LABELS}
    for key in record:
        if canon(key) in _ALL_TOP_KEYS - allowed:
            raise Problem(key, f"does not belong in {objective} records")
    return read_fields(record, "", allowed, context)


def _media(top: Fields, objective: str) -> Media:
    media = media_kind(objective)
    if media == "text":
        return _text_media(top)
    key = f"{media}GcsUri"
    uri = as_string(top.need(key, f"missing; {objective} records need it"), top.at(key))
    return Media(media.upper(), uri, uri, None)


def _text_media(top: Fields) -> Media:
    if top.has("textContent") and top.has("textGcsUri"):
        raise Problem(top.at("textContent"), "not allowed together with textGcsUri")
    if top.has("textContent"):
        text = as_string(top.get("textContent"), top.at("textContent"))
        return Media("TEXT", _text_key(text), text, text)
    uri = as_string(
        top.need("textGcsUri", "missing; text records need textGcsUri or textContent"),
        top.at("textGcsUri"),
    )
    return Media("TEXT", uri, uri, None)


def _metadata(top: Fields, context: Context) -> list[JSON]:
    """Item labels as metadata fields, each under its own key with its own value."""
    if not top.has(_ITEM_LABELS):
        return []
    path = top.at(_ITEM_LABELS)
    fields: list[JSON] = []
    ml_use: str | None = None
    for key, value in as_labels(top.get(_ITEM_LABELS), path).items():
        if key in ML_USE_KEYS:
            if ml_use is not None:
                raise Problem(key_path(path, key), f"ml_use given twice (also as {ml_use})")
            ml_use = key
            if ml_use_split(value) is None:
                context.warn(
                    key_path(path, key),
                    f"unknown ml_use {value!r}, kept as given; the item is in no split "
                    "(expected training, validation or test)",
                )
        fields.append({"schema_name": key, "value": value})
    return fields
