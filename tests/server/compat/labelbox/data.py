"""Test data for the Labelbox surface: the twelve image rows of the export engine's scope tests
(two datasets, two projects with batches and every workflow status, two model runs, metadata,
attachments, embeddings) plus one row per other media type, each in a project of its own, with
non-ASCII text (Japanese, Chinese, accents, emoji) in row data, keys and annotations.

The media rows are written in full canonical form (every key an export writes), so that an
export with every param gives them back exactly (they are imported with an explicit
``media_type``, which an export does not write).
"""

from __future__ import annotations

import io
from typing import Any

import orjson

from labelport import services
from labelport.ids import derived_id
from labelport.store import Store
from tests.export import test_scopes_and_filters as base
from tests.factories import as_labelports_own


def cid(*parts: str) -> str:
    """A stable 25-character id (the SDK insists on cuids for metadata schema ids)."""
    return derived_id("labelbox-tests", *parts)


MEDIA_DATASET, MEDIA_DATASET_NAME = cid("dataset", "media"), "médias ☃"
TAG_FIELD, SCORE_FIELD, WHEN_FIELD, SPLIT_FIELD = (
    cid("field", n) for n in ["tag", "score", "when", "split"]
)
TRAIN, VALID = cid("option", "train"), cid("option", "valid")
CREATOR = "ann@acme.test"
STAMP = "2024-02-01T09:30:00.000+00:00"


def _classification(name: str, text: str) -> dict[str, Any]:
    return {
        "feature_id": cid("feature", name, text),
        "feature_schema_id": cid("schema", name),
        "name": name,
        "value": name,
        "text_answer": {"content": text},
    }


def _radio(name: str, answer: str) -> dict[str, Any]:
    return {
        "feature_id": cid("feature", name, answer),
        "feature_schema_id": cid("schema", name),
        "name": name,
        "value": name,
        "radio_answer": {
            "feature_id": cid("feature", name, answer, "option"),
            "feature_schema_id": cid("schema", name, answer),
            "name": answer,
            "value": answer,
            "classifications": [],
        },
    }


def _flat(objects: list[Any], classifications: list[Any]) -> dict[str, Any]:
    return {"objects": objects, "classifications": classifications, "relationships": []}


def _object(kind: str, name: str, **geometry: Any) -> dict[str, Any]:
    return {
        "feature_id": cid("object", kind, name),
        "feature_schema_id": cid("schema", name),
        "name": name,
        "value": name,
        "annotation_kind": kind,
        "classifications": [],
        **geometry,
    }


def _video() -> dict[str, Any]:
    box = cid("object", "video", "car")
    frames = {
        str(n): {
            "objects": {
                box: {
                    "feature_id": box,
                    "feature_schema_id": cid("schema", "car"),
                    "name": "car",
                    "value": "car",
                    "annotation_kind": "VideoBoundingBox",
                    "classifications": [],
                    "bounding_box": {"top": 10.0, "left": left, "height": 20.0, "width": 30.0},
                }
            },
            "classifications": [],
        }
        for n, left in ((13, 100.0), (18, 150.0), (19, 160.0))
    }
    return {
        "frames": frames,
        "segments": {box: [[13, 13], [18, 19]]},
        "key_frame_feature_map": {box: {"13": True, "18": False, "19": True}},
        "classifications": [_classification("notes", "voiture rouge 🚗")],
    }


def _dicom() -> dict[str, Any]:
    line = cid("object", "dicom", "polyline")
    groups = {
        p: {"name": p, "classifications": [], "frames": {}}
        for p in ("Axial", "Sagittal", "Coronal")
    }
    groups["Axial"]["frames"] = {
        "1": {
            "objects": {
                line: {
                    "feature_id": line,
                    "feature_schema_id": cid("schema", "polyline"),
                    "name": "polyline",
                    "value": "polyline",
                    "annotation_kind": "DICOMPolyline",
                    "classifications": [],
                    "line": [{"x": 1.5, "y": 2.5}, {"x": 3.5, "y": 4.5}],
                }
            },
            "classifications": [],
        }
    }
    return {
        "groups": groups,
        "segments": {"Axial": {line: [[1, 1]]}, "Sagittal": {}, "Coronal": {}},
        "classifications": [],
        "key_frame_feature_map": {line: {"Axial": {"1": True}, "Coronal": {}, "Sagittal": {}}},
    }


# media type -> (row data, media attributes, annotations)
MEDIA: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "TEXT": (
        "研究によると、東京の café は静かです。你好，世界！",
        {"mime_type": "text/plain"},
        _flat(
            [_object("TextEntity", "place", location={"start": 7, "end": 9, "token": "東京"})],
            [_classification("notes", "日本語のメモ — ñandú ✓")],
        ),
    ),
    "VIDEO": (
        "https://media.test/ビデオ.mp4",
        {
            "mime_type": "video/mp4",
            "frame_rate": 30,
            "frame_count": 300,
            "width": 640,
            "height": 360,
        },
        _video(),
    ),
    "CONVERSATIONAL": (
        "https://media.test/chat.json",
        {
            "asset_type": "conversational",
            "mime_type": "application/vnd.labelbox.conversational",
            "labelable_ids": ["0", "1"],
            "message_count": 2,
        },
        _flat(
            [
                _object(
                    "ConversationalTextEntity",
                    "ner",
                    conversational_location={"message_id": "0", "location": {"start": 0, "end": 4}},
                )
            ],
            [
                {
                    **{k: v for k, v in _radio("tone", "gentil").items() if k != "radio_answer"},
                    "message_id": "1",
                    "conversational_radio_answer": _radio("tone", "gentil")["radio_answer"],
                }
            ],
        ),
    ),
    "PDF": (
        "https://media.test/paper.pdf",
        {"mime_type": "application/pdf", "text_layer_url": "https://media.test/layer.json"},
        _flat(
            [
                _object(
                    "DocumentBoundingBox",
                    "figure",
                    page_number=1,
                    bounding_box={"top": 48.0, "left": 58.0, "height": 65.0, "width": 12.0},
                    page_dimensions={"height": 792.0, "width": 612.0},
                ),
                _object(
                    "DocumentEntityToken",
                    "phrase",
                    location={
                        "groups": [
                            {
                                "id": cid("group", "pdf"),
                                "page_number": 1,
                                "tokens": [cid("token", "pdf")],
                                "text": "Métal-isolant à Zürich",
                            }
                        ]
                    },
                ),
            ],
            [],
        ),
    ),
    "AUDIO": (
        "https://media.test/voix.mp3",
        {"mime_type": "audio/mpeg"},
        {
            "classifications": [_classification("transcript", "Grüß Gott, 世界")],
            "segments": {},
            "timestamp": {},
        },
    ),
    "DICOM": ("https://media.test/scan.dcm", {"mime_type": "application/dicom"}, _dicom()),
    "HTML": (
        "https://media.test/page.html",
        {"mime_type": "text/html"},
        _flat([], [_radio("quality", "très bien")]),
    ),
    "TMS_GEO": (
        "https://media.test/tiles/{z}/{x}/{y}.png",
        {"mime_type": "application/json"},
        _flat(
            [_object("GeoPoint", "well", geojson={"type": "Point", "coordinates": [7.5, 47.5]})], []
        ),
    ),
    "LLM": (
        "https://media.test/prompt.json",
        {"mime_type": "application/vnd.labelbox.llm"},
        _flat([], [_classification("prompt-text", "Écris un haïku sur 富士山")]),
    ),
}


def media_project(media: str) -> str:
    return cid("project", media)


def media_row_id(media: str) -> str:
    return cid("row", media)


def media_row(n: int, media: str) -> dict[str, Any]:
    row_data, attributes, annotations = MEDIA[media]
    created = f"2024-01-{20 + n:02d}T08:00:00.000+00:00"
    metadata: list[dict[str, Any]] = [
        {"schema_id": TAG_FIELD, "schema_name": "tag", "value": f"étiquette {media.lower()} ✓"},
        {"schema_id": SCORE_FIELD, "schema_name": "score", "value": 0.5 + n},
        {"schema_id": WHEN_FIELD, "schema_name": "when", "value": "2024-01-02T03:04:05.000+00:00"},
        {
            "schema_id": SPLIT_FIELD,
            "schema_name": "split",
            "value": {
                "schema_id": TRAIN if n % 2 else VALID,
                "schema_name": "train" if n % 2 else "valid",
            },
        },
    ]
    label = {
        "id": cid("label", media),
        "label_kind": "Video" if media == "VIDEO" else "Default",
        "version": "1.0.0",
        "label_details": {
            "created_at": STAMP,
            "updated_at": STAMP,
            "created_by": "bob@acme.test",
            "content_last_updated_at": None,
            "reviews": [],
        },
        "performance_details": {
            "seconds_to_create": 12.5,
            "seconds_to_review": None,
            "skipped": False,
            "benchmark_reference_label": None,
            "benchmark_score": None,
            "consensus_score": None,
            "consensus_label_count": None,
            "consensus_labels": None,
            "performance_details_v2": None,
        },
        "annotations": annotations,
    }
    project = media_project(media)
    return {
        "data_row": {
            "id": media_row_id(media),
            "global_key": f"clé-{media.lower()}-日本",
            "external_id": f"外部-{n}",
            "row_data": row_data,
            "details": {
                "dataset_id": MEDIA_DATASET,
                "dataset_name": MEDIA_DATASET_NAME,
                "created_at": created,
                "updated_at": created,
                "last_activity_at": created,
                "created_by": CREATOR,
            },
        },
        "media_attributes": attributes,
        "attachments": [
            {
                "id": cid("attachment", media),
                "type": "RAW_TEXT",
                "value": "à lire — 読む",
                "name": "note",
            }
        ],
        "metadata_fields": metadata,
        "embeddings": [],
        "projects": {
            project: {
                "name": f"{media.lower()} project ✎",
                "labels": [label],
                "project_details": {
                    "ontology_id": cid("ontology", media),
                    "task_id": None,
                    "task_name": None,
                    "batch_id": cid("batch", media),
                    "batch_name": f"lot {media.lower()}",
                    "workflow_status": "DONE",
                    "priority": n,
                    "selected_label_id": None,
                    "consensus_expected_label_count": None,
                    "workflow_history": [],
                },
            }
        },
        "experiments": {},
    }


MEDIA_ROWS = [media_row(n, media) for n, media in enumerate(MEDIA)]


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def import_all(store: Store, org_id: str) -> None:
    """The twelve image rows of the scope tests and the media rows, into one organization."""
    image_rows = [base.canonical_row(n) for n in base.N]
    services.import_labelbox(store, org_id, io.BytesIO(ndjson(image_rows)), file="images.ndjson")
    # the scope tests' rows are about scopes, params and filters: labelport's own rendering
    as_labelports_own(store, [r["data_row"]["id"] for r in image_rows])
    typed = [{**row, "media_type": media} for row, media in zip(MEDIA_ROWS, MEDIA, strict=True)]
    services.import_labelbox(store, org_id, io.BytesIO(ndjson(typed)), file="media.ndjson")
