"""Vertex AI JSONL through the import service into both stores."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.export.assemble import assemble
from labelport.export.formats.vertex_records import to_vertex
from labelport.store import schema as s

SET = "aiplatform.googleapis.com/annotation_set_name"
LINES: list[dict[str, Any]] = [
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


def jsonl(lines: list[dict[str, Any]]) -> io.BytesIO:
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
    back = [to_vertex(r, "image_bounding_box", aset.id) for r in rows]
    assert back[0]["boundingBoxAnnotations"][0]["xMin"] == 0.3
    # each ml_use key comes back under the name it had
    assert back[0]["dataItemResourceLabels"] == {"aiplatform.googleapis.com/ml_use": "training"}
    assert back[1]["dataItemResourceLabels"] == {"ml_use": "test"}
    assert (result.objective, result.to_json()["objective"]) == ("image_bounding_box",) * 2
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


# ---------------------------------------------------------------------------------------------
# the objective: detected and reported, or refused when the file fits several

# Google's action-recognition example (bare ml_use; it has the shape of a video-classification
# line) and a line of its template, whose timeSegments only action recognition has
ACTION_LINES = [
    {
        "videoGcsUri": "gs://demo/video1.mp4",
        "timeSegmentAnnotations": [
            {"displayName": "cartwheel", "startTime": "1.0s", "endTime": "12.0s"}
        ],
        "dataItemResourceLabels": {"ml_use": "training"},
    },
    {
        "videoGcsUri": "gs://demo/video2.mp4",
        "timeSegmentAnnotations": [
            {"displayName": "swing", "startTime": "4.0s", "endTime": "9.0s"}
        ],
        "dataItemResourceLabels": {"ml_use": "test"},
    },
]
SPANS = {
    "videoGcsUri": "gs://demo/video3.mp4",
    "timeSegments": [{"startTime": "0s", "endTime": "20s"}],
    "timeSegmentAnnotations": [{"displayName": "swing", "startTime": "2.5s", "endTime": "7s"}],
    "dataItemResourceLabels": {"ml_use": "train"},
}


def counts(store: Any, org: Any) -> tuple[int, int, int]:
    found = services.stats(store, org.id)
    return (found["data rows"], found["annotation sets"], found["projects"])


def objectives(store: Any) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(sa.select(s.annotation_set.c.objective)).scalars())


def test_the_detected_objective_is_stored_and_reported(store, org):
    result = services.import_vertex(
        store, org.id, jsonl([*ACTION_LINES, SPANS]), file="a.jsonl", dataset="clips"
    )
    assert (result.rows, result.objective) == (3, "video_action_recognition")
    assert result.to_json()["objective"] == "video_action_recognition"
    assert objectives(store) == ["video_action_recognition"]


def test_a_file_that_fits_two_objectives_is_refused_naming_them(store, org):
    with pytest.raises(InvalidRecords) as info:
        services.import_vertex(store, org.id, jsonl(ACTION_LINES), file="a.jsonl", dataset="c")
    (error,) = info.value.errors
    assert (error.line, error.field) == (1, "")
    assert "video_action_recognition, video_classification" in error.reason
    assert "--objective" in error.reason
    assert counts(store, org) == (0, 0, 0)


@pytest.mark.parametrize("objective", ["video_classification", "video_action_recognition"])
def test_the_objective_option_imports_it_as_told(store, org, objective):
    result = services.import_vertex(
        store, org.id, jsonl(ACTION_LINES), file="a.jsonl", dataset="c", objective=objective
    )
    assert (result.rows, result.objective) == (2, objective)
    assert objectives(store) == [objective]


# ---------------------------------------------------------------------------------------------
# unknown fields: counted as warnings, kept in the catalog, exported back; --strict refuses

UNKNOWN_LINES = [
    {**LINES[0], "source": {"tool": "labelit", "version": 3}},
    {
        **LINES[1],
        "boundingBoxAnnotations": [
            {**box, "confidence": 0.5, "annotationSpecId": "9"}
            for box in LINES[1]["boundingBoxAnnotations"] * 2
        ],
    },
]


def test_unknown_fields_are_warnings_and_come_back_from_the_catalog(store, org):
    result = services.import_vertex(
        store, org.id, jsonl(UNKNOWN_LINES), file="u.jsonl", dataset="produce"
    )
    assert result.rows == 2
    found = {w.field: (w.count, w.lines) for w in result.warnings}
    assert found == {
        "source": (1, [1]),
        "boundingBoxAnnotations[].confidence": (2, [2]),
        "boundingBoxAnnotations[].annotationSpecId": (2, [2]),
    }
    assert {w["field"] for w in result.to_json()["warnings"]} == set(found)
    with store.read() as conn:
        set_id = conn.execute(sa.select(s.annotation_set.c.id)).scalar_one()
        ids = (
            conn.execute(sa.select(s.data_row.c.id).order_by(s.data_row.c.global_key))
            .scalars()
            .all()
        )
        rows = assemble(conn, org.id, ids)
    back = [to_vertex(r, "image_bounding_box", set_id) for r in rows]
    assert back[0]["source"] == {"tool": "labelit", "version": 3}
    assert [
        (b["confidence"], b["annotationSpecId"]) for b in back[1]["boundingBoxAnnotations"]
    ] == [
        (0.5, "9"),
        (0.5, "9"),
    ]


def test_strict_turns_unknown_fields_into_errors(store, org):
    with pytest.raises(InvalidRecords) as info:
        services.import_vertex(
            store, org.id, jsonl(UNKNOWN_LINES), file="u.jsonl", dataset="produce", strict=True
        )
    assert [(e.line, e.field) for e in info.value.errors] == [
        (1, "source"),
        (2, "boundingBoxAnnotations[].confidence"),
        (2, "boundingBoxAnnotations[].annotationSpecId"),
        (2, "boundingBoxAnnotations[].confidence"),
        (2, "boundingBoxAnnotations[].annotationSpecId"),
    ]
    assert counts(store, org) == (0, 0, 0)


# ---------------------------------------------------------------------------------------------
# the CLI summary


def test_cli_summary_names_the_objective(run_cli, tmp_path):
    run_cli("init")
    path = tmp_path / "clips.jsonl"
    path.write_bytes(jsonl([*ACTION_LINES, SPANS]).getvalue())
    result = run_cli("import", "vertex", str(path), "--dataset", "clips")
    assert result.exit_code == 0, result.output
    assert "imported 3 rows, 3 labels" in result.output
    assert "(objective video_action_recognition)" in result.output


def test_cli_refuses_an_ambiguous_file_and_the_option_settles_it(run_cli, tmp_path):
    run_cli("init")
    path = tmp_path / "clips.jsonl"
    path.write_bytes(jsonl(ACTION_LINES).getvalue())
    refused = run_cli("import", "vertex", str(path), "--dataset", "clips")
    assert refused.exit_code == 65
    assert f"{path}:1: cannot tell the objective" in refused.output
    assert "--objective" in refused.output and "nothing was imported" in refused.output
    told = run_cli(
        "import", "vertex", str(path), "--dataset", "clips", "--objective", "video_classification"
    )
    assert told.exit_code == 0, told.output
    assert "(objective video_classification)" in told.output


# ---------------------------------------------------------------------------------------------
# the REST import task (the task runner, as POST /api/v1/imports queues it)


def run_task(
    store: Any, org: Any, tmp_path: Any, lines: list[dict[str, Any]], **options: Any
) -> Any:
    from labelport.services import import_tasks

    body = jsonl(lines).getvalue()
    path = tmp_path / f"upload-{len(list(tmp_path.iterdir()))}"
    path.write_bytes(body)
    task = import_tasks.create(
        store,
        org.id,
        None,
        "vertex",
        {"dataset": "clips", **options},
        "a.jsonl",
        str(path),
        len(body),
    )
    return import_tasks.execute(store, None, task.id)


def test_the_import_task_summary_names_the_objective(store, org, tmp_path):
    done = run_task(store, org, tmp_path, [*ACTION_LINES, SPANS])
    assert done.status == "COMPLETE", done.error_message
    assert done.summary["objective"] == "video_action_recognition"
    told = run_task(store, org, tmp_path, ACTION_LINES, objective="video_classification")
    assert (told.status, told.summary["objective"]) == ("COMPLETE", "video_classification")


def test_the_import_task_of_an_ambiguous_file_fails_naming_the_objectives(store, org, tmp_path):
    failed = run_task(store, org, tmp_path, ACTION_LINES)
    assert failed.status == "FAILED"
    (error,) = failed.errors
    assert (error["line"], error["field"]) == (1, "")
    assert "video_action_recognition, video_classification" in error["reason"]
    assert "--objective" in error["reason"]
