"""Hypothesis strategies for canonical (Labelbox export-v2) rows of every media type.

Entities shared between rows (datasets, projects, metadata fields, embeddings, models, batches)
come from fixed pools, so their names are consistent across rows, as in a real export.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from labelport.ids import derived_id
from labelport.times import format_timestamp

ID = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=24, max_size=24).map(
    lambda s: "c" + s
)
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
NUM = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e9, max_value=1e9)
POS = st.floats(min_value=0, max_value=5000, allow_nan=False)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
TIME = st.integers(0, 5 * 365 * 24 * 3600 * 1000).map(
    lambda ms: format_timestamp(EPOCH + timedelta(milliseconds=ms))
)
EMAIL = st.sampled_from(["ann@acme.test", "bob@acme.test", "chen@acme.test"])
JSON_LEAF = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | NUM | TEXT
JSON = st.recursive(
    JSON_LEAF,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3),
    max_leaves=8,
)


def _pid(prefix: str, n: int) -> str:
    return derived_id("pool", prefix, str(n))


DATASETS = [(_pid("ds", i), f"dataset {i}") for i in range(3)]
PROJECTS = [
    (
        _pid("project", i),
        f"project {i}",
        _pid("ontology", i),
        [{"name": "gold"}] if i == 0 else None,
    )
    for i in range(3)
]
BATCHES = {p[0]: [(_pid("batch" + p[0], j), f"batch {j}") for j in range(2)] for p in PROJECTS}
MODELS = [
    (_pid("model", i), f"model {i}", [(_pid("run" + str(i), j), f"run {j}") for j in range(2)])
    for i in range(2)
]
FIELDS = [
    (_pid("field", 0), "tag", "string"),
    (_pid("field", 1), "score", "number"),
    (_pid("field", 2), "captured", "datetime"),
    (_pid("field", 3), "split", "enum"),
]
OPTIONS = [(_pid("option", i), name) for i, name in enumerate(["train", "valid", "test"])]
EMBEDDINGS = [(_pid("embedding", 0), "CLIP", 3, False), (_pid("embedding", 1), "custom", 2, True)]


@st.composite
def classification(draw: st.DrawFn, depth: int = 0, conversational: bool = False) -> dict[str, Any]:
    name = draw(st.sampled_from(["color", "quality", "notes"]))
    out: dict[str, Any] = {
        "feature_id": draw(ID),
        "feature_schema_id": _pid("cls", hash(name) % 7),
        "name": name,
        "value": name,
    }
    if conversational:
        out["message_id"] = draw(st.sampled_from(["0", "1"]))
    kind = draw(st.sampled_from(["radio", "checklist", "text"]))
    prefix = "conversational_" if conversational else ""

    def option() -> dict[str, Any]:
        nested = draw(st.lists(classification(depth + 1), max_size=1)) if depth < 1 else []
        answer = draw(st.sampled_from(["red", "green", "good", "bad"]))
        return {
            "feature_id": draw(ID),
            "feature_schema_id": _pid("opt", hash(answer) % 5),
            "name": answer,
            "value": answer,
            "classifications": nested,
        }

    if kind == "radio":
        out[prefix + "radio_answer"] = option()
    elif kind == "checklist":
        out[prefix + "checklist_answers"] = [option() for _ in range(draw(st.integers(1, 2)))]
    else:
        out[prefix + "text_answer"] = {"content": draw(TEXT)}
    return out


def _box(draw: st.DrawFn) -> dict[str, float]:
    return {k: draw(POS) for k in ("top", "left", "height", "width")}


def _pts(draw: st.DrawFn, n: int = 3) -> list[dict[str, float]]:
    return [{"x": draw(POS), "y": draw(POS)} for _ in range(n)]


@st.composite
def image_object(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "ImageBoundingBox",
                "ImagePolygon",
                "ImagePolyline",
                "ImagePoint",
                "ImageSegmentationMask",
            ]
        )
    )
    obj: dict[str, Any] = {
        "feature_id": draw(ID),
        "feature_schema_id": _pid("tool", hash(kind) % 9),
        "name": kind.lower(),
        "value": kind.lower(),
        "annotation_kind": kind,
        "classifications": draw(st.lists(classification(), max_size=2)),
    }
    if kind == "ImageBoundingBox":
        obj["bounding_box"] = _box(draw)
    elif kind == "ImagePolygon":
        obj["polygon"] = _pts(draw, 4)
    elif kind == "ImagePolyline":
        obj["line"] = _pts(draw, 2)
    elif kind == "ImagePoint":
        obj["point"] = {"x": draw(POS), "y": draw(POS)}
    else:
        obj["composite_mask"] = {"url": "https://masks.test/" + draw(ID), "color_rgb": [255, 0, 0]}
    return obj


def _flat(objects: list[Any], classes: list[Any], rels: list[Any] | None = None) -> dict[str, Any]:
    return {"objects": objects, "classifications": classes, "relationships": rels or []}


@st.composite
def annotations(draw: st.DrawFn, media: str) -> dict[str, Any]:
    classes = draw(st.lists(classification(), max_size=2))
    if media == "IMAGE":
        objects = draw(st.lists(image_object(), max_size=3))
        rels = []
        if len(objects) >= 2:
            rels = [
                {
                    "name": "rel",
                    "value": "rel",
                    "feature_id": draw(ID),
                    "annotation_kind": "ImageUnidirectionalRelationship",
                    "relationship": {
                        "source": objects[0]["feature_id"],
                        "target": objects[1]["feature_id"],
                        "type": "unidirectional",
                    },
                }
            ]
        return _flat(objects, classes, rels)
    if media in ("TEXT", "HTML", "LLM"):
        objects = (
            []
            if media != "TEXT"
            else [
                {
                    "feature_id": draw(ID),
                    "name": "entity",
                    "value": "entity",
                    "annotation_kind": "TextEntity",
                    "classifications": [],
                    "location": {"start": 0, "end": draw(st.integers(0, 50)), "token": draw(TEXT)},
                }
            ]
        )
        return _flat(objects, classes)
    if media == "CONVERSATIONAL":
        objects = [
            {
                "feature_id": draw(ID),
                "name": "ner",
                "value": "ner",
                "annotation_kind": "ConversationalTextEntity",
                "classifications": [],
                "conversational_location": {"message_id": "0", "location": {"start": 0, "end": 4}},
            }
        ]
        return _flat(objects, draw(st.lists(classification(conversational=True), max_size=2)))
    if media == "PDF":
        objects = [
            {
                "feature_id": draw(ID),
                "name": "box",
                "value": "box",
                "annotation_kind": "DocumentBoundingBox",
                "classifications": [],
                "page_number": 1,
                "bounding_box": _box(draw),
                "page_dimensions": {"height": 792.0, "width": 612.0},
            },
            {
                "feature_id": draw(ID),
                "name": "tokens",
                "value": "tokens",
                "annotation_kind": "DocumentEntityToken",
                "classifications": [],
                "location": {
                    "groups": [
                        {"id": draw(ID), "page_number": 1, "tokens": [draw(ID)], "text": draw(TEXT)}
                    ]
                },
            },
        ]
        return _flat(objects, classes)
    if media == "TMS_GEO":
        lng, lat = draw(st.floats(-180, 180)), draw(st.floats(-85, 85))
        objects = [
            {
                "feature_id": draw(ID),
                "name": "geo",
                "value": "geo",
                "annotation_kind": "GeoPoint",
                "classifications": [],
                "geojson": {"type": "Point", "coordinates": [lng, lat]},
            }
        ]
        return _flat(objects, classes)
    if media == "AUDIO":
        return {"classifications": classes, "segments": {}, "timestamp": {}}
    if media == "DICOM":
        fid = draw(ID)
        obj = {
            "feature_id": fid,
            "name": "polyline",
            "value": "polyline",
            "annotation_kind": "DICOMPolyline",
            "classifications": [],
            "line": _pts(draw, 2),
        }
        groups = {
            plane: {"name": plane, "classifications": [], "frames": {}}
            for plane in ("Axial", "Sagittal", "Coronal")
        }
        groups["Axial"]["frames"] = {"1": {"objects": {fid: obj}, "classifications": []}}
        return {
            "groups": groups,
            "segments": {"Axial": {fid: [[1, 1]]}, "Sagittal": {}, "Coronal": {}},
            "classifications": [],
            "key_frame_feature_map": {fid: {"Axial": {"1": True}, "Coronal": {}, "Sagittal": {}}},
        }
    # VIDEO
    fid = draw(ID)
    first = draw(st.integers(1, 20))
    last = first + draw(st.integers(0, 10))
    frames = {
        str(n): {
            "objects": {
                fid: {
                    "feature_id": fid,
                    "name": "car",
                    "value": "car",
                    "annotation_kind": "VideoBoundingBox",
                    "classifications": [],
                    "bounding_box": _box(draw),
                }
            },
            "classifications": [],
        }
        for n in sorted({first, last})
    }
    return {
        "frames": frames,
        "segments": {fid: [[first, last]]},
        "key_frame_feature_map": {fid: {str(first): True, str(last): True}},
        "classifications": classes,
    }


@st.composite
def label(draw: st.DrawFn, media: str) -> dict[str, Any]:
    created = draw(TIME)
    return {
        "id": draw(ID),
        "label_kind": "Video" if media == "VIDEO" else "Default",
        "version": "1.0.0",
        "label_details": {
            "created_at": created,
            "updated_at": draw(TIME),
            "created_by": draw(EMAIL),
            "content_last_updated_at": draw(st.none() | TIME),
            "reviews": draw(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "id": ID,
                            "score": st.sampled_from([1, -1]),
                            "created_at": TIME,
                            "created_by": EMAIL,
                        }
                    ),
                    max_size=2,
                )
            ),
        },
        "performance_details": {
            "seconds_to_create": draw(st.none() | POS),
            "seconds_to_review": draw(st.none() | POS),
            "skipped": draw(st.none() | st.booleans()),
            "benchmark_reference_label": draw(st.none() | ID),
            "benchmark_score": draw(st.none() | POS),
            "consensus_score": draw(st.none() | POS),
            "consensus_label_count": draw(st.none() | st.integers(0, 9)),
            "consensus_labels": draw(st.none() | st.lists(ID, max_size=2)),
            "performance_details_v2": draw(
                st.none()
                | st.fixed_dictionaries(
                    {
                        k: POS
                        for k in (
                            "seconds_to_create",
                            "seconds_to_review",
                            "seconds_to_rework",
                            "seconds_total",
                        )
                    }
                )
            ),
        },
        "annotations": draw(annotations(media)),
    }


@st.composite
def run_label(draw: st.DrawFn, media: str) -> dict[str, Any]:
    return {
        "id": draw(ID),
        "label_kind": "Default",
        "version": "1.0.0",
        "annotations": draw(annotations(media)),
    }


MEDIA = {
    "IMAGE": {"height": 100, "width": 200, "mime_type": "image/jpeg"},
    "VIDEO": {
        "mime_type": "video/mp4",
        "frame_rate": 30,
        "frame_count": 300,
        "width": 640,
        "height": 360,
    },
    "TEXT": {"mime_type": "text/plain"},
    "PDF": {"mime_type": "application/pdf", "text_layer_url": "https://x.test/layer.json"},
    "TMS_GEO": {"mime_type": "application/json"},
    "AUDIO": {"mime_type": "audio/mpeg"},
    "DICOM": {"mime_type": "application/dicom"},
    "HTML": {"mime_type": "text/html"},
    "CONVERSATIONAL": {
        "asset_type": "conversational",
        "mime_type": "application/vnd.labelbox.conversational",
        "labelable_ids": ["0", "1"],
        "message_count": 2,
    },
    "LLM": {"mime_type": "application/vnd.labelbox.llm"},
}


@st.composite
def row(draw: st.DrawFn) -> dict[str, Any]:
    media = draw(st.sampled_from(sorted(MEDIA)))
    dataset = draw(st.sampled_from(DATASETS))
    data_row: dict[str, Any] = {"id": draw(ID)}
    if draw(st.booleans()):
        data_row["global_key"] = draw(ID) + draw(TEXT)
    if draw(st.booleans()):
        data_row["external_id"] = draw(TEXT)
    data_row["row_data"] = "https://media.test/" + draw(ID)
    created = draw(TIME)
    data_row["details"] = {
        "dataset_id": dataset[0],
        "dataset_name": dataset[1],
        "created_at": created,
        "updated_at": draw(TIME),
        "last_activity_at": draw(TIME),
        "created_by": draw(EMAIL),
    }
    projects = {}
    for pid, pname, ontology, tags in draw(
        st.lists(st.sampled_from(PROJECTS), max_size=2, unique_by=lambda p: p[0])
    ):
        batch = draw(st.none() | st.sampled_from(BATCHES[pid]))
        entry: dict[str, Any] = {
            "name": pname,
            "labels": draw(st.lists(label(media), max_size=2)),
            "project_details": {
                "ontology_id": ontology,
                "task_id": draw(st.none() | ID),
                "task_name": draw(st.none() | TEXT),
                "batch_id": batch[0] if batch else None,
                "batch_name": batch[1] if batch else None,
                "workflow_status": draw(
                    st.sampled_from(["TO_LABEL", "IN_REVIEW", "IN_REWORK", "DONE"])
                ),
                "priority": draw(st.none() | st.integers(1, 10)),
                "selected_label_id": draw(st.none() | ID),
                "consensus_expected_label_count": draw(st.none() | st.integers(1, 3)),
                "workflow_history": draw(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "action": st.sampled_from(["Approve", "Reject"]),
                                "created_at": TIME,
                                "created_by": EMAIL,
                            }
                        ),
                        max_size=2,
                    )
                ),
            },
        }
        if tags is not None:
            entry["project_tags"] = tags
        projects[pid] = entry
    experiments: dict[str, Any] = {}
    for mid, mname, runs in draw(
        st.lists(st.sampled_from(MODELS), max_size=1, unique_by=lambda m: m[0])
    ):
        chosen = draw(st.lists(st.sampled_from(runs), min_size=1, max_size=2, unique=True))
        experiments[mid] = {
            "name": mname,
            "runs": {
                rid: {
                    "name": rname,
                    "run_data_row_id": draw(ID),
                    "labels": draw(st.lists(run_label(media), max_size=1)),
                    "predictions": draw(st.lists(run_label(media), max_size=2)),
                    "split": draw(st.none() | st.sampled_from(["TRAINING", "VALIDATION", "TEST"])),
                }
                for rid, rname in chosen
            },
        }
    metadata = []
    for sid, name, kind in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        value: Any = {
            "string": TEXT.filter(lambda t: not t[:4].isdigit()),
            "number": NUM,
            "datetime": TIME,
            "enum": st.sampled_from(OPTIONS).map(
                lambda o: {"schema_id": o[0], "schema_name": o[1]}
            ),
        }[kind]
        metadata.append({"schema_id": sid, "schema_name": name, "value": draw(value)})
    embeddings = [
        {
            "id": eid,
            "name": name,
            "dimensions": dims,
            "is_custom": custom,
            "values": [{"value": draw(st.lists(NUM, min_size=dims, max_size=dims))}],
        }
        for eid, name, dims, custom in draw(
            st.lists(st.sampled_from(EMBEDDINGS), max_size=2, unique=True)
        )
    ]
    return {
        "data_row": data_row,
        "media_attributes": MEDIA[media],
        "attachments": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "id": ID,
                        "type": st.sampled_from(["IMAGE_OVERLAY", "RAW_TEXT", "TEXT_URL"]),
                        "value": TEXT,
                        "name": TEXT,
                    }
                ),
                max_size=2,
            )
        ),
        "metadata_fields": metadata,
        "embeddings": embeddings,
        "projects": projects,
        "experiments": experiments,
    }
