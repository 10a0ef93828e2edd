"""The /vertex surface over HTTP: datasets, listing, export operations, errors, auth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport.server.compat.vertex import routes
from labelport.store import schema as s
from tests.export.formats.vertex_samples import ML_USE, by_media, samples
from tests.imports.test_vertex_import import ACTION_LINES

from .helpers import V1, dataset_id, import_set, set_dataset

SET_ID = "8066716590760001536"
OPERATION_KEYS = {"name", "metadata", "done", "error", "response"}
METADATA_TYPE = "type.googleapis.com/google.cloud.aiplatform.v1.ExportDataOperationMetadata"
RESPONSE_TYPE = "type.googleapis.com/google.cloud.aiplatform.v1.ExportDataResponse"


@pytest.fixture
def flowers(server: Any) -> str:
    import_set(server, "flowers", "image_classification_single_label", SET_ID)
    return dataset_id(server, "flowers")


def destination(server: Any, name: str = "out") -> tuple[str, Path]:
    root = server.settings.destination_roots[0] / name
    return f"file://{root}", root


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def check_google_error(response: Any, code: int, status: str, text: str) -> None:
    assert response.status_code == code, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["status"] == status
    assert text in body["error"]["message"]


# ------------------------------------------------------------------------------------ datasets


def test_get_dataset(server: Any, flowers: str) -> None:
    with server.client("viewer") as http:
        body = http.get(
            f"{V1}/datasets/{flowers}", params={"$alt": "json;enum-encoding=int"}
        ).json()
    assert body["name"] == f"projects/p/locations/us-central1/datasets/{flowers}"
    assert body["displayName"] == "flowers"
    assert body["metadataSchemaUri"] == (
        "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml"
    )
    assert body["dataItemCount"] == "3"
    assert body["createTime"].endswith("Z") and body["labels"] == {}
    (query,) = body["savedQueries"]
    assert query["name"].endswith(f"/datasets/{flowers}/savedQueries/{SET_ID}")
    assert query["problemType"] == "IMAGE_CLASSIFICATION_SINGLE_LABEL"
    assert query["annotationFilter"] == (
        f"labels.aiplatform.googleapis.com/annotation_set_name={SET_ID}"
    )
    with server.client("viewer") as http:
        listed = http.get(f"{V1}/datasets/{flowers}/savedQueries").json()
    assert listed["savedQueries"] == body["savedQueries"]


def test_dataset_kind_comes_from_the_rows_or_the_column(server: Any) -> None:
    import_set(server, "clips", "video_classification", "5")
    import_set(server, "docs", "text_extraction", "6")
    clips, docs = dataset_id(server, "clips"), dataset_id(server, "docs")
    with server.client("viewer") as http:
        video = http.get(f"{V1}/datasets/{clips}").json()["metadataSchemaUri"]
        text = http.get(f"{V1}/datasets/{docs}").json()["metadataSchemaUri"]
        set_dataset(server, docs, kind="tabular")
        tabular = http.get(f"{V1}/datasets/{docs}").json()
    assert video.endswith("/metadata/video_1.0.0.yaml")
    assert text.endswith("/metadata/text_1.0.0.yaml")
    assert tabular["metadataSchemaUri"].endswith("/metadata/tabular_1.0.0.yaml")
    assert tabular["metadata"] == {}


def test_list_datasets_filters_orders_and_pages(server: Any) -> None:
    import_set(server, "flowers", "image_classification_single_label", "1")
    import_set(server, "boxes", "image_bounding_box", "2")
    import_set(server, "clips", "video_classification", "3")
    set_dataset(server, dataset_id(server, "boxes"), labels={"team": "cv"})
    set_dataset(server, dataset_id(server, "clips"), labels={"team": "media"})

    def names(**params: Any) -> list[str]:
        with server.client("viewer") as http:
            response = http.get(f"{V1}/datasets", params=params)
        assert response.status_code == 200, response.text
        return [d["displayName"] for d in response.json()["datasets"]]

    assert names() == ["flowers", "boxes", "clips"]
    assert names(filter="displayName=boxes") == ["boxes"]
    assert names(filter='displayName="boxes"') == ["boxes"]
    assert names(filter="display_name='clips'") == ["clips"]
    assert names(filter="displayName!=boxes") == ["flowers", "clips"]
    assert names(filter='labels.team="cv"') == ["boxes"]
    assert names(filter="labels.team!=cv") == ["flowers", "clips"]
    assert names(filter="labels.team:*") == ["boxes", "clips"]
    assert names(filter="labels.team=media AND displayName=clips") == ["clips"]
    video = "gs://google-cloud-aiplatform/schema/dataset/metadata/video_1.0.0.yaml"
    assert names(filter=f"metadata_schema_uri={video}") == ["clips"]
    assert names(orderBy="display_name desc") == ["flowers", "clips", "boxes"]
    assert names(orderBy="displayName") == ["boxes", "clips", "flowers"]
    with server.client("viewer") as http:
        first = http.get(f"{V1}/datasets", params={"pageSize": 2, "orderBy": "display_name"}).json()
        token = first["nextPageToken"]
        second = http.get(
            f"{V1}/datasets", params={"pageSize": 2, "orderBy": "display_name", "pageToken": token}
        ).json()
        bad = http.get(f"{V1}/datasets", params={"filter": "color=red"})
        bad_token = http.get(f"{V1}/datasets", params={"pageToken": "nope"})
    assert [d["displayName"] for d in first["datasets"]] == ["boxes", "clips"]
    assert [d["displayName"] for d in second["datasets"]] == ["flowers"]
    assert "nextPageToken" not in second
    check_google_error(bad, 400, "INVALID_ARGUMENT", "unknown field 'color'")
    check_google_error(bad_token, 400, "INVALID_ARGUMENT", "pageToken")


def test_auth_and_organizations(server: Any, flowers: str) -> None:
    with server.client(role="") as http:
        check_google_error(http.get(f"{V1}/datasets/{flowers}"), 401, "UNAUTHENTICATED", "API key")
        other = http.get(
            f"{V1}/datasets/{flowers}",
            headers={"Authorization": f"Bearer {server.other_org_key}"},
        )
        listed = http.get(
            f"{V1}/datasets", headers={"Authorization": f"Bearer {server.other_org_key}"}
        )
    check_google_error(other, 404, "NOT_FOUND", flowers)
    assert listed.json() == {"datasets": []}
    uri, _ = destination(server)
    with server.client("viewer") as http:
        denied = http.post(
            f"{V1}/datasets/{flowers}:export",
            json={"exportConfig": {"gcsDestination": {"outputUriPrefix": uri}}},
        )
    check_google_error(denied, 403, "PERMISSION_DENIED", "editor")


# ------------------------------------------------------------------------------------- export


def export(server: Any, dataset: str, config: dict[str, Any], role: str = "editor") -> Any:
    with server.client(role) as http:
        return http.post(
            f"{V1}/datasets/{dataset}:export",
            params={"$alt": "json;enum-encoding=int"},
            json={"exportConfig": config},
        )


def poll(server: Any, name: str, path: str = "ui") -> dict[str, Any]:
    with server.client("viewer") as http:
        response = http.get(f"/vertex/{path}/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_small_export_is_done_in_the_post(server: Any, flowers: str) -> None:
    uri, root = destination(server)
    response = export(server, flowers, {"gcsDestination": {"outputUriPrefix": uri}})
    assert response.status_code == 200, response.text
    op = response.json()
    assert set(op) <= OPERATION_KEYS
    assert op["done"] is True, op
    assert op["name"].startswith(f"projects/p/locations/us-central1/datasets/{flowers}/operations/")
    assert op["metadata"]["@type"] == METADATA_TYPE
    directory = op["metadata"]["gcsOutputDirectory"]
    assert directory.startswith(f"{uri}/export-data-flowers-") and directory.endswith("Z/")
    assert op["response"]["@type"] == RESPONSE_TYPE
    (exported,) = op["response"]["exportedFiles"]
    assert exported == (
        f"{directory}flowers_image_classification_single_label_{SET_ID}/"
        "image_classification_single_label-00000.jsonl"
    )
    local = Path(exported.removeprefix("file://"))
    assert by_media(read_jsonl(local)) == by_media(
        samples("image_classification_single_label", SET_ID)
    )
    assert (local.parent / "schema.yaml").exists()
    assert [p.name for p in root.iterdir()] == [directory.rstrip("/").rsplit("/", 1)[1]]
    # polls answer the same, on both paths
    assert poll(server, op["name"]) == op
    assert poll(server, op["name"], "v1") == op


def test_a_big_export_is_polled(server: Any, flowers: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "INLINE_ITEMS", -1)
    uri, _ = destination(server)
    op = export(server, flowers, {"gcsDestination": {"outputUriPrefix": uri}}).json()
    assert op["done"] is False and "response" not in op
    assert op["metadata"]["gcsOutputDirectory"].startswith(uri)
    deadline = time.monotonic() + 20
    while not op["done"] and time.monotonic() < deadline:
        time.sleep(0.1)
        op = poll(server, op["name"])
    assert set(op) <= OPERATION_KEYS and op["done"] is True, op
    assert len(op["response"]["exportedFiles"]) == 1


def test_custom_training_export(server: Any, flowers: str) -> None:
    uri, _ = destination(server)
    config = {
        "gcsDestination": {"outputUriPrefix": uri},
        "exportUse": 6,
        "filterSplit": {
            "trainingFilter": f"labels.{ML_USE}=training",
            "validationFilter": f"labels.{ML_USE}=validation",
            "testFilter": f"labels.{ML_USE}=test",
        },
        "savedQueryId": SET_ID,
    }
    op = export(server, flowers, config).json()
    assert op["done"] is True, op
    directory = op["metadata"]["gcsOutputDirectory"]
    assert op["response"] == {
        "@type": RESPONSE_TYPE,
        "exportedFiles": [
            f"{directory}training-*",
            f"{directory}validation-*",
            f"{directory}test-*",
        ],
        "dataStats": {
            "trainingDataItemsCount": "1",
            "validationDataItemsCount": "1",
            "testDataItemsCount": "0",
            "trainingAnnotationsCount": "1",
            "validationAnnotationsCount": "1",
            "testAnnotationsCount": "0",
        },
    }
    folder = Path(directory.removeprefix("file://"))
    expected = samples("image_classification_single_label", SET_ID)
    assert read_jsonl(folder / "training-00000.jsonl") == [expected[0]]
    assert read_jsonl(folder / "validation-00000.jsonl") == [expected[1]]
    assert read_jsonl(folder / "test-00000.jsonl") == []


def test_annotation_filter_exports_one_set(server: Any) -> None:
    import_set(server, "produce", "image_bounding_box", "111")
    import_set(
        server,
        "produce",
        "image_classification_multi_label",
        "222",
        records=[
            {**r, "imageGcsUri": r["imageGcsUri"].replace("/2.", "/m.")}
            for r in samples("image_classification_multi_label", "222")
        ],
    )
    produce = dataset_id(server, "produce")
    uri, _ = destination(server)
    base = {"gcsDestination": {"outputUriPrefix": uri}}
    every = export(server, produce, base).json()
    assert len(every["response"]["exportedFiles"]) == 2
    one = export(
        server,
        produce,
        {**base, "annotationsFilter": "labels.aiplatform.googleapis.com/annotation_set_name=222"},
    ).json()
    (only,) = one["response"]["exportedFiles"]
    assert only.endswith("_222/image_classification_multi_label-00000.jsonl")
    records = read_jsonl(Path(only.removeprefix("file://")))
    assert by_media(records) == by_media(samples("image_classification_multi_label", "222"))


BAD_REQUESTS: list[tuple[dict[str, Any], int, str, str]] = [
    (
        {"gcsDestination": {"outputUriPrefix": "gs://b/o"}, "colour": 1},
        400,
        "INVALID_ARGUMENT",
        "exportConfig.colour: unknown field",
    ),
    ({}, 400, "INVALID_ARGUMENT", "exportConfig.gcsDestination: missing"),
    (
        {"gcsDestination": {"outputUriPrefix": "ftp://x/y"}},
        400,
        "INVALID_ARGUMENT",
        "unsupported scheme",
    ),
    ({"gcsDestination": {"outputUriPrefix": "file:///etc"}}, 403, "PERMISSION_DENIED", "/etc"),
    (
        {
            "gcsDestination": {"outputUriPrefix": "gs://b/o"},
            "annotationsFilter": "labels.aiplatform.googleapis.com/annotation_set_name=999",
        },
        404,
        "NOT_FOUND",
        "999",
    ),
    (
        {
            "gcsDestination": {"outputUriPrefix": "gs://b/o"},
            "exportUse": 6,
            "fractionSplit": {"trainingFraction": 2},
        },
        400,
        "INVALID_ARGUMENT",
        "exportConfig.fractionSplit.trainingFraction: 2 is outside 0..1",
    ),
]


def test_bad_requests_are_refused_before_any_task(server: Any, flowers: str) -> None:
    for config, code, status, text in BAD_REQUESTS:
        check_google_error(export(server, flowers, config), code, status, text)
    with server.client("editor") as http:
        extra = http.post(f"{V1}/datasets/{flowers}:export", json={"exportConfig": {}, "x": 1})
        broken = http.post(
            f"{V1}/datasets/{flowers}:export",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    check_google_error(extra, 400, "INVALID_ARGUMENT", "x: unknown field")
    check_google_error(broken, 400, "INVALID_ARGUMENT", "")
    with server.store.read() as conn:
        tasks = conn.execute(sa.select(sa.func.count()).select_from(s.export_task)).scalar_one()
    assert tasks == 0


def test_tabular_export_fails_with_failed_precondition(server: Any, flowers: str) -> None:
    set_dataset(server, flowers, kind="tabular")
    op = export(server, flowers, {"gcsDestination": {"outputUriPrefix": "gs://b/o"}}).json()
    assert set(op) == {"name", "metadata", "done", "error"}
    assert op["done"] is True
    assert op["error"]["code"] == 9
    assert "tabular" in op["error"]["message"]
    assert poll(server, op["name"]) == op


def test_operations_of_other_organizations_and_datasets_are_not_found(
    server: Any, flowers: str
) -> None:
    uri, _ = destination(server)
    op = export(server, flowers, {"gcsDestination": {"outputUriPrefix": uri}}).json()
    with server.client(role="") as http:
        foreign = http.get(
            f"/vertex/ui/{op['name']}", headers={"Authorization": f"Bearer {server.other_org_key}"}
        )
    check_google_error(foreign, 404, "NOT_FOUND", "operation")
    wrong = op["name"].replace(f"/datasets/{flowers}/", "/datasets/other/")
    with server.client("viewer") as http:
        check_google_error(http.get(f"/vertex/v1/{wrong}"), 404, "NOT_FOUND", "operation")


def test_a_failing_destination_fails_the_operation(server: Any, flowers: str) -> None:
    uri, root = destination(server)
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text("a file where the folder should be")
    op = export(server, flowers, {"gcsDestination": {"outputUriPrefix": uri}}).json()
    assert op["done"] is True and "error" in op, op
    assert op["error"]["code"] == 9
    assert root.read_text() == "a file where the folder should be"


# ------------------------------------------------------------------ sets from other sources

MODEL, RUN = "c" + "m" * 24, "c" + "r" * 24


def labelbox_rows() -> list[dict[str, Any]]:
    """Two image rows made in labelport/Labelbox: pixel boxes, a model run with predictions."""
    box = {
        "feature_id": "c" + "f" * 24,
        "name": "car",
        "value": "car",
        "annotation_kind": "ImageBoundingBox",
        "bounding_box": {"top": 10, "left": 20, "height": 40, "width": 80},
        "classifications": [],
    }
    rows = []
    for i, split in enumerate(("TRAINING", "TEST")):
        rows.append(
            {
                "data_row": {
                    "id": f"c{i:024d}",
                    "global_key": f"lb-{i}",
                    "row_data": f"https://example.test/{i}.jpg",
                },
                "media_attributes": {"width": 200, "height": 100, "mime_type": "image/jpeg"},
                "experiments": {
                    MODEL: {
                        "name": "detector",
                        "runs": {
                            RUN: {
                                "name": "run 1",
                                "run_data_row_id": f"c{i:024d}"[::-1],
                                "labels": [],
                                "predictions": [
                                    {
                                        "id": f"p{i:024d}",
                                        "label_kind": "Default",
                                        "version": "1.0.0",
                                        "annotations": {
                                            "objects": [box],
                                            "classifications": [],
                                            "relationships": [],
                                        },
                                    }
                                ],
                                "split": split,
                            }
                        },
                    }
                },
            }
        )
    return rows


def test_a_model_run_set_exports_its_predictions(server: Any) -> None:
    from labelport import services

    services.import_labelbox(
        server.store,
        server.org.id,
        jsonl_bytes(labelbox_rows()),
        file="rows.ndjson",
        dataset="street",
    )
    street = dataset_id(server, "street")
    services.save_annotation_set(
        server.store,
        server.org.id,
        display_name="detector boxes",
        objective="image_bounding_box",
        set_id="555",
        model_run_id=RUN,
    )
    uri, _ = destination(server)
    op = export(server, street, {"gcsDestination": {"outputUriPrefix": uri}}).json()
    assert op["done"] is True and "response" in op, op
    (file,) = op["response"]["exportedFiles"]
    assert "/detector_boxes_555/" in file
    records = read_jsonl(Path(file.removeprefix("file://")))
    box = {
        "displayName": "car",
        "xMin": 0.1,
        "xMax": 0.5,
        "yMin": 0.1,
        "yMax": 0.5,
        "annotationResourceLabels": {"aiplatform.googleapis.com/annotation_set_name": "555"},
    }
    assert sorted(records, key=lambda r: r["imageGcsUri"]) == [
        {
            "imageGcsUri": "https://example.test/0.jpg",
            "boundingBoxAnnotations": [box],
            "dataItemResourceLabels": {ML_USE: "training"},
        },
        {
            "imageGcsUri": "https://example.test/1.jpg",
            "boundingBoxAnnotations": [box],
            "dataItemResourceLabels": {ML_USE: "test"},
        },
    ]
    # the run's split drives a custom-training filter split too
    training = export(
        server,
        street,
        {
            "gcsDestination": {"outputUriPrefix": uri},
            "exportUse": "CUSTOM_CODE_TRAINING",
            "filterSplit": {"trainingFilter": f"labels.{ML_USE}=training", "testFilter": "-"},
        },
    ).json()
    stats = training["response"]["dataStats"]
    assert (stats["trainingDataItemsCount"], stats["validationDataItemsCount"]) == ("1", "1")


def test_an_empty_dataset_exports_an_empty_file(server: Any) -> None:
    from datetime import UTC, datetime

    from labelport.store import schema as s

    now = datetime.now(UTC)
    with server.store.write() as conn:
        conn.execute(
            s.dataset.insert(),
            {
                "id": "c" + "e" * 24,
                "org_id": server.org.id,
                "name": "empty",
                "created_at": now,
                "updated_at": now,
            },
        )
    uri, _ = destination(server)
    op = export(server, "c" + "e" * 24, {"gcsDestination": {"outputUriPrefix": uri}}).json()
    assert op["done"] is True and "response" in op, op
    (file,) = op["response"]["exportedFiles"]
    assert file.endswith("/data_items/image_classification_multi_label-00000.jsonl")
    assert Path(file.removeprefix("file://")).read_bytes() == b""


def jsonl_bytes(rows: list[dict[str, Any]]) -> Any:
    import io

    return io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in rows))


# ------------------------------------------------------------------------ a detected Vertex file

# Google's action-recognition example lines (bare ml_use) and one with timeSegments, which only
# action recognition has and which tells the file's objective
GOOGLE_ACTIONS = [
    *ACTION_LINES,
    {
        "videoGcsUri": "gs://demo/video3.mp4",
        "timeSegments": [{"startTime": "0s", "endTime": "20s"}],
        "timeSegmentAnnotations": [],
        "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "Validation"},
    },
]


def test_a_detected_action_recognition_file_exports_with_its_ml_use_keys(server: Any) -> None:
    from labelport import services

    result = services.import_vertex(
        server.store, server.org.id, jsonl_bytes(GOOGLE_ACTIONS), file="a.jsonl", dataset="acts"
    )
    assert result.objective == "video_action_recognition"
    (set_id,) = result.annotation_sets
    acts = dataset_id(server, "acts")
    uri, _ = destination(server, "acts")
    op = export(server, acts, {"gcsDestination": {"outputUriPrefix": uri}}).json()
    (file,) = op["response"]["exportedFiles"]
    assert file.endswith(
        f"/acts_video_action_recognition_{set_id}/video_action_recognition-00000.jsonl"
    )
    written = Path(file.removeprefix("file://")).read_bytes().splitlines()

    def exported(record: dict[str, Any]) -> dict[str, Any]:
        labels = {"aiplatform.googleapis.com/annotation_set_name": set_id}
        segments = [
            {**a, "annotationResourceLabels": labels} for a in record["timeSegmentAnnotations"]
        ]
        return {
            "videoGcsUri": record["videoGcsUri"],
            "timeSegments": record.get("timeSegments", []),
            "timeSegmentAnnotations": segments,
            "dataItemResourceLabels": record["dataItemResourceLabels"],
        }

    expected = [orjson.dumps(exported(r)) for r in GOOGLE_ACTIONS]
    assert sorted(written) == sorted(expected)  # byte for byte, each ml_use key as it came
    # custom training reads either key, in any case
    training = export(
        server,
        acts,
        {
            "gcsDestination": {"outputUriPrefix": uri},
            "exportUse": 6,
            "filterSplit": {
                "trainingFilter": f"labels.{ML_USE}=training",
                "validationFilter": f"labels.{ML_USE}=validation",
                "testFilter": "labels.ml_use=test",
            },
        },
    ).json()
    stats = training["response"]["dataStats"]
    counts = [stats[f"{split}DataItemsCount"] for split in ("training", "validation", "test")]
    assert counts == ["1", "1", "1"]
