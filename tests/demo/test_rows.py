"""The demo rows (:mod:`labelport.demo.rows`): deterministic, every media type and the main
annotation kinds."""

from __future__ import annotations

import io

from labelport.demo.rows import annotation_kinds, iter_rows, write_labelbox
from labelport.imports.annotations import GEOMETRY
from labelport.vocab import MEDIA_TYPES


def test_same_seed_same_bytes():
    a, b = io.BytesIO(), io.BytesIO()
    write_labelbox(a, 6, seed=3)
    write_labelbox(b, 6, seed=3)
    assert a.getvalue() == b.getvalue()
    c = io.BytesIO()
    write_labelbox(c, 6, seed=4)
    assert c.getvalue() != a.getvalue()


def test_covers_every_media_type_and_the_main_annotation_kinds():
    rows = list(iter_rows(6, seed=1))
    assert {r["media_type"] for r in rows} == set(MEDIA_TYPES)
    kinds = annotation_kinds(iter(rows))
    wanted = {
        "ImageBoundingBox",
        "ImagePolygon",
        "ImagePolyline",
        "ImagePoint",
        "ImageSegmentationMask",
        "TextEntity",
        "ConversationalTextEntity",
        "DocumentBoundingBox",
        "DocumentEntityToken",
        "VideoBoundingBox",
        "DICOMPolyline",
        "GeoBoundingBox",
        "GeoPoint",
        "GeoPolyline",
        "ImageUnidirectionalRelationship",
    }
    assert wanted <= set(kinds) and wanted - {"ImageUnidirectionalRelationship"} <= set(GEOMETRY)
    assert {"classification: radio", "classification: checklist", "classification: text"} <= set(
        kinds
    )
    statuses = {
        p["project_details"]["workflow_status"] for r in rows for p in r["projects"].values()
    }
    assert statuses == {"TO_LABEL", "IN_REVIEW", "IN_REWORK", "DONE"}
