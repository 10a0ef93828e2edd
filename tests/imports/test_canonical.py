"""check_row: every kind of mistake names its field; media types are inferred sensibly."""

from __future__ import annotations

from typing import Any

import pytest

from labelport.imports.annotations import iter_features
from labelport.imports.base import Problem
from labelport.imports.canonical import check_row, infer_media_type
from labelport.imports.checks import general

OK = {"data_row": {"id": "c1", "row_data": "https://x/a.jpg"}}


def with_(path: str, value: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"data_row": {"id": "c1", "row_data": "https://x/a.jpg"}}
    node = row
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return row


LABEL = {"id": "l1", "annotations": {}}


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({"data_row": {"id": "c1", "row_data": "x"}, "extra": 1}, "extra", "unknown field"),
        (with_("data_row.colour", "red"), "data_row.colour", "unknown field"),
        (with_("media_type", "HOLOGRAM"), "media_type", "unknown value"),
        (
            with_("attachments", [{"type": "SMELL", "value": "x"}]),
            "attachments[0].type",
            "unknown value",
        ),
        (
            with_(
                "projects", {"p1": {"name": "p", "project_details": {"workflow_status": "Paused"}}}
            ),
            "projects.*.project_details.workflow_status",
            "unknown value",
        ),
        (
            with_(
                "projects",
                {
                    "p1": {
                        "name": "p",
                        "labels": [
                            {
                                **LABEL,
                                "annotations": {
                                    "objects": [{"name": "b", "annotation_kind": "Blob"}]
                                },
                            }
                        ],
                    }
                },
            ),
            "projects.*.labels[0].annotations.objects[0].annotation_kind",
            "unknown value",
        ),
        (
            with_(
                "experiments",
                {"m1": {"name": "m", "runs": {"r1": {"name": "r", "split": "train"}}}},
            ),
            "experiments.*.runs.*.split",
            "unknown value",
        ),
        (
            with_(
                "experiments",
                {
                    "m1": {
                        "name": "m",
                        "runs": {
                            "r1": {"name": "r", "predictions": [{**LABEL, "label_details": {}}]}
                        },
                    }
                },
            ),
            "experiments.*.runs.*.predictions[0].label_details",
            "unknown field",
        ),
        (
            with_(
                "projects",
                {
                    "p1": {
                        "name": "p",
                        "labels": [{**LABEL, "annotations": {"classifications": [{"name": "c"}]}}],
                    }
                },
            ),
            "projects.*.labels[0].annotations.classifications[0]",
            "no known answer",
        ),
    ],
)
def test_what_labelport_does_not_know_is_noted_and_kept(
    row: dict[str, Any], field: str, reason: str
) -> None:
    checked = check_row(row)
    noted = [(f, r) for f, r in checked.notes.items if f == general(field)]
    assert noted, checked.notes.items
    assert reason in noted[0][1]
    assert checked.source is row  # kept as given, for its shape


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({}, "data_row", "is required"),
        (with_("data_row.row_data", 5), "data_row.row_data", "is required"),
        (with_("data_row.id", "bad id!"), "data_row.id", "not a valid id"),
        (with_("data_row.global_key", 7), "data_row.global_key", "expected a string"),
        (
            with_("data_row.details", {"created_at": "yesterday"}),
            "data_row.details.created_at",
            "not an ISO 8601",
        ),
        (
            with_("data_row.details", {"created_by": "ann"}),
            "data_row.details.created_by",
            "not an email",
        ),
        (
            with_("metadata_fields", [{"value": 1}]),
            "metadata_fields[0]",
            "needs schema_id or schema_name",
        ),
        (
            with_("metadata_fields", [{"schema_name": "a", "value": True}]),
            "metadata_fields[0].value",
            "unsupported",
        ),
        (
            with_(
                "embeddings",
                [{"id": "e1", "name": "n", "dimensions": 3, "values": [{"value": [1, 2]}]}],
            ),
            "embeddings[0].values[0].value",
            "has 2 numbers, dimensions is 3",
        ),
        (with_("projects", {"p1": {"labels": []}}), "projects.p1.name", "is required"),
        (
            with_("projects", {"p1": {"name": "p", "project_details": {"priority": "high"}}}),
            "projects.p1.project_details.priority",
            "expected an integer",
        ),
        (
            with_("projects", {"p1": {"name": "p", "project_details": {"batch_name": "b"}}}),
            "projects.p1.project_details.batch_id",
            "required when batch_name",
        ),
        (
            with_("projects", {"p1": {"name": "p", "labels": [{"annotations": {}}]}}),
            "projects.p1.labels[0].id",
            "is required",
        ),
        (
            with_(
                "projects",
                {
                    "p1": {
                        "name": "p",
                        "labels": [{**LABEL, "performance_details": {"skipped": "no"}}],
                    }
                },
            ),
            "projects.p1.labels[0].performance_details.skipped",
            "expected true or false",
        ),
        (
            with_(
                "projects",
                {
                    "p1": {
                        "name": "p",
                        "labels": [
                            {
                                **LABEL,
                                "annotations": {
                                    "objects": [
                                        {"name": "b", "annotation_kind": "ImageBoundingBox"}
                                    ]
                                },
                            }
                        ],
                    }
                },
            ),
            "projects.p1.labels[0].annotations.objects[0]",
            "needs one of: bounding_box",
        ),
        (
            with_(
                "projects",
                {
                    "p1": {
                        "name": "p",
                        "labels": [
                            {
                                **LABEL,
                                "annotations": {
                                    "objects": [
                                        {
                                            "name": "b",
                                            "annotation_kind": "ImageBoundingBox",
                                            "bounding_box": {
                                                "top": 1,
                                                "left": 1,
                                                "height": "2",
                                                "width": 1,
                                            },
                                        }
                                    ]
                                },
                            }
                        ],
                    }
                },
            ),
            "projects.p1.labels[0].annotations.objects[0].bounding_box.height",
            "expected a number",
        ),
        (
            with_(
                "projects",
                {"p1": {"name": "p", "labels": [{**LABEL, "annotations": {"frames": {"0": {}}}}]}},
            ),
            "projects.p1.labels[0].annotations.frames.0",
            "1-based",
        ),
    ],
)
def test_problems_name_the_field(row: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(Problem) as info:
        check_row(row)
    assert info.value.field == field
    assert reason in info.value.reason


def test_good_row_passes() -> None:
    checked = check_row(OK)
    assert (checked.id, checked.row_data, checked.projects, checked.runs) == (
        "c1",
        "https://x/a.jpg",
        [],
        [],
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"media_attributes": {"mime_type": "image/png"}}, "IMAGE"),
        ({"media_attributes": {"mime_type": "application/pdf"}}, "PDF"),
        ({"media_attributes": {"asset_type": "conversational"}}, "CONVERSATIONAL"),
        ({"media_type": "LLM"}, "LLM"),
        ({"data_row": {"id": "c", "row_data": "https://x/clip.MP4?sig=1"}}, "VIDEO"),
        ({"data_row": {"id": "c", "row_data": "s3://b/scan.dcm"}}, "DICOM"),
        ({"data_row": {"id": "c", "row_data": "Some inline text"}}, "TEXT"),
        (
            {
                "projects": {
                    "p": {"name": "p", "labels": [{"id": "l", "annotations": {"frames": {}}}]}
                }
            },
            "VIDEO",
        ),
        (
            {
                "projects": {
                    "p": {
                        "name": "p",
                        "labels": [
                            {
                                "id": "l",
                                "annotations": {
                                    "objects": [
                                        {"name": "g", "annotation_kind": "GeoPoint", "geojson": {}}
                                    ]
                                },
                            }
                        ],
                    }
                }
            },
            "TMS_GEO",
        ),
    ],
)
def test_media_type_inference(extra: dict[str, Any], expected: str) -> None:
    assert infer_media_type(check_row({**OK, **extra})) == expected


def test_features_nest() -> None:
    doc = {
        "objects": [
            {
                "name": "car",
                "annotation_kind": "ImagePoint",
                "point": {"x": 1, "y": 2},
                "classifications": [
                    {
                        "name": "color",
                        "radio_answer": {
                            "name": "red",
                            "classifications": [
                                {"name": "shade", "text_answer": {"content": "dark"}}
                            ],
                        },
                    }
                ],
            }
        ]
    }
    found = [(f.kind, f.type, f.name, f.path) for f in iter_features(doc)]
    assert found == [
        ("tool", "ImagePoint", "car", "tool:car"),
        ("classification", "radio", "color", "tool:car/class:color"),
        ("option", "option", "red", "tool:car/class:color/option:red"),
        ("classification", "text", "shade", "tool:car/class:color/option:red/class:shade"),
    ]
