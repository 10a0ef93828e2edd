"""Vertex AI JSONL through the import service into both stores."""

from __future__ import annotations

import io

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.export.assemble import assemble
from labelport.imports import vertex
from labelport.store import schema as s

SET = "aiplatform.googleapis.com/annotation_set_name"
LINES = [
    {
        "imageGcsUri": "gs://b/1.jpg",
        "boundingBoxAnnotations": [
            {
                "displayName": "Tomato",
                "xMin": "0.3",
                "yMin": 0.3,
                "xMax": 0.7,
                "yMax": 0.6,
                "annotationResourceLabels": {SET: "8066716590760001536"},
            }
        ],
        "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"},
    },
    {
        "imageGcsUri": "gs://b/2.jpg",
        "boundingBoxAnnotations": [
            {
                "displayName": "Leaf",
                "xMin": 0.1,
                "yMin": 0.2,
                "xMax": 0.4,
                "yMax": 0.9,
                "annotationResourceLabels": {SET: "8066716590760001536"},
            }
        ],
        "dataItemResourceLabels": {"ml_use": "test"},
    },
]


def jsonl(lines):
    return io.BytesIO(b"".join(orjson.dumps(x) + b"\n" for x in lines))


def test_vertex_file_becomes_rows_labels_and_an_annotation_set(store, org):
    result = services.import_vertex(
        store,
        org.id,
        jsonl(LINES),
        file="v.jsonl",
        dataset="produce",
        annotation_set="produce boxes",
    )
    assert (result.rows, result.labels) == (2, 2)
    again = services.import_vertex(
        store,
        org.id,
        jsonl(LINES),
        file="v.jsonl",
        dataset="produce",
        annotation_set="produce boxes",
    )
    assert again.rows == 2
    counts = services.stats(store, org.id)
    assert (
        counts["data rows"],
        counts["labels"],
        counts["annotation sets"],
        counts["datasets"],
    ) == (2, 2, 1, 1)
    with store.read() as conn:
        aset = conn.execute(sa.select(s.annotation_set)).one()
        ids = (
            conn.execute(sa.select(s.data_row.c.id).order_by(s.data_row.c.global_key))
            .scalars()
            .all()
        )
        rows = assemble(conn, org.id, ids)
    assert (aset.id, aset.display_name, aset.objective) == (
        "8066716590760001536",
        "produce boxes",
        "image_bounding_box",
    )
    assert aset.project_id in rows[0]["projects"]
    # the same lines come back out of the catalog
    back = [vertex.to_vertex(r, "image_bounding_box", aset.id) for r in rows]
    assert back[0]["boundingBoxAnnotations"][0]["xMin"] == 0.3
    assert back[1]["dataItemResourceLabels"] == {"aiplatform.googleapis.com/ml_use": "test"}
    assert [b["imageGcsUri"] for b in back] == ["gs://b/1.jpg", "gs://b/2.jpg"]


def test_bad_vertex_line_leaves_no_trace(store, org):
    bad = {
        **LINES[1],
        "boundingBoxAnnotations": [
            {"displayName": "x", "xMin": 2, "yMin": 0, "xMax": 0.5, "yMax": 1}
        ],
    }
    with pytest.raises(InvalidRecords) as info:
        services.import_vertex(
            store, org.id, jsonl([LINES[0], bad]), file="v.jsonl", dataset="produce"
        )
    assert (info.value.errors[0].line, info.value.errors[0].field) == (
        2,
        "boundingBoxAnnotations[0].xMin",
    )
    counts = services.stats(store, org.id)
    assert counts["data rows"] == counts["annotation sets"] == counts["projects"] == 0
