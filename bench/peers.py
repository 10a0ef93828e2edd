"""The peers' benchmark rows: Labelbox export-v2 image rows with 1-10 boxes, one radio, three
metadata fields (the shape Label Studio, CVAT and FiftyOne were measured on). Deterministic."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import orjson

PROJECT = "cpeerproject0000000000001"
DATASET = "cpeerdataset0000000000001"
ONTOLOGY = "cpeerontology000000000001"
CLASSES = ("car", "person", "bicycle", "truck", "dog")
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def _ts(seconds: float) -> str:
    value = EPOCH + timedelta(seconds=seconds)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def _cid(kind: str, n: int) -> str:
    return f"c{kind}{n:0{24 - len(kind)}d}"


def row(n: int, rnd: random.Random) -> dict[str, Any]:
    width, height = 1920, 1080
    objects = []
    for k in range(rnd.randint(1, 10)):
        name = rnd.choice(CLASSES)
        w, h = rnd.uniform(10, 400), rnd.uniform(10, 300)
        objects.append(
            {
                "feature_id": _cid("f", n * 16 + k),
                "feature_schema_id": _cid("schema", CLASSES.index(name)),
                "name": name,
                "value": name,
                "annotation_kind": "ImageBoundingBox",
                "classifications": [],
                "bounding_box": {
                    "top": round(rnd.uniform(0, height - h), 1),
                    "left": round(rnd.uniform(0, width - w), 1),
                    "height": round(h, 1),
                    "width": round(w, 1),
                },
            }
        )
    weather = rnd.choice(("sunny", "rainy", "foggy"))
    created = n * 7.0
    return {
        "data_row": {
            "id": _cid("row", n),
            "global_key": f"peers/{n:08d}.jpg",
            "row_data": f"https://media.test/peers/{n:08d}.jpg",
            "details": {
                "dataset_id": DATASET,
                "dataset_name": "peers",
                "created_at": _ts(created),
                "updated_at": _ts(created),
                "last_activity_at": _ts(created + 60),
                "created_by": "bench@labelport.test",
            },
        },
        "media_attributes": {"height": height, "width": width, "mime_type": "image/jpeg"},
        "attachments": [],
        "metadata_fields": [
            {"schema_id": _cid("mdcamera", 0), "schema_name": "camera", "value": f"cam-{n % 8}"},
            {"schema_id": _cid("mdscore", 0), "schema_name": "score", "value": n % 100},
            {
                "schema_id": _cid("mdcaptured", 0),
                "schema_name": "captured_at",
                "value": _ts(created - 3600),
            },
        ],
        "embeddings": [],
        "projects": {
            PROJECT: {
                "name": "peers benchmark",
                "labels": [
                    {
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "id": _cid("label", n),
                        "label_details": {
                            "created_at": _ts(created + 30),
                            "updated_at": _ts(created + 60),
                            "created_by": "labeler@labelport.test",
                            "content_last_updated_at": _ts(created + 60),
                            "reviews": [],
                        },
                        "performance_details": {
                            "seconds_to_create": rnd.randint(5, 500),
                            "seconds_to_review": 0,
                            "skipped": False,
                        },
                        "annotations": {
                            "objects": objects,
                            "classifications": [
                                {
                                    "feature_id": _cid("fc", n),
                                    "feature_schema_id": _cid("schemaweather", 0),
                                    "name": "weather",
                                    "value": "weather",
                                    "radio_answer": {
                                        "feature_id": _cid("fa", n),
                                        "feature_schema_id": _cid("schema" + weather, 0),
                                        "name": weather,
                                        "value": weather,
                                        "classifications": [],
                                    },
                                }
                            ],
                            "relationships": [],
                        },
                    }
                ],
                "project_details": {
                    "ontology_id": ONTOLOGY,
                    "task_id": None,
                    "task_name": None,
                    "batch_id": _cid("batch", n // 10_000),
                    "batch_name": f"batch {n // 10_000}",
                    "workflow_status": "DONE",
                    "priority": 5,
                    "selected_label_id": _cid("label", n),
                    "consensus_expected_label_count": 1,
                    "workflow_history": [],
                },
            }
        },
    }


def rows(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    for n in range(count):
        yield row(n, rnd)


def write(out: IO[bytes], count: int, seed: int = 7) -> int:
    """Write ``count`` rows as NDJSON; returns the count."""
    for item in rows(count, seed):
        out.write(orjson.dumps(item) + b"\n")
    return count
