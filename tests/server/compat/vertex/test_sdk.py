"""The real google-cloud-aiplatform SDK (2.7.0, REST transport) against a live labelport serve.

Exports go to gcp-storage-emulator; the files are read back with gcsfs and compared with the
Vertex JSONL that was imported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from labelport.server.compat.vertex import routes
from tests.export.formats.vertex_samples import ML_USE, by_media
from tests.export.gcs_emulator import BUCKET, gcs_files

from .helpers import dataset_id, import_set, set_dataset

aiplatform = pytest.importorskip("google.cloud.aiplatform")
credentials_module = pytest.importorskip("google.oauth2.credentials")
exceptions = pytest.importorskip("google.api_core.exceptions")

ANNOTATION = "gs://google-cloud-aiplatform/schema/dataset/annotation"
FILTERS = {
    "training_filter": f"labels.{ML_USE}=training",
    "validation_filter": f'labels.{ML_USE}="validation"',
    "test_filter": f"labels.{ML_USE}=test",
}


@pytest.fixture
def vertex(make_server: Any, gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A server writing gs:// to the emulator, and the SDK pointed at it with an editor key."""
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    live = make_server(gcs_endpoint=gcs_emulator)
    aiplatform.init(
        project="p",
        location="us-central1",
        api_endpoint=f"{live.url}/vertex",
        api_transport="rest",
        credentials=credentials_module.Credentials(token=live.keys["editor"]),
    )
    live.gcs = gcs_emulator
    yield live
    aiplatform.initializer.global_config._api_endpoint = None


def read_back(live: Any, uris: list[str]) -> list[dict[str, Any]]:
    files = gcs_files(live.gcs)
    lines: list[dict[str, Any]] = []
    for uri in uris:
        name = uri.removeprefix(f"gs://{BUCKET}/")
        if name.endswith("*"):
            matched = [n for n in files if n.startswith(name[:-1])]
            assert matched, f"nothing matches {uri}"
        else:
            matched = [name]
        for found in matched:
            lines += [orjson.loads(x) for x in files[found].splitlines()]
    return lines


def test_image_dataset_export_data(vertex: Any) -> None:
    records = import_set(
        vertex, "flowers", "image_classification_single_label", "8066716590760001536"
    )
    dataset = aiplatform.ImageDataset(dataset_id(vertex, "flowers"))
    assert dataset.display_name == "flowers"
    exported = dataset.export_data(f"gs://{BUCKET}/exports/flowers")
    (file,) = exported
    assert file.startswith(f"gs://{BUCKET}/exports/flowers/export-data-flowers-")
    assert file.endswith("/image_classification_single_label-00000.jsonl")
    assert by_media(read_back(vertex, exported)) == by_media(records)
    folder = file.rsplit("/", 1)[0].removeprefix(f"gs://{BUCKET}/")
    assert f"{folder}/schema.yaml" in gcs_files(vertex.gcs, "exports/flowers")
    assert not [n for n in gcs_files(vertex.gcs) if ".labelport-staging-" in n]


def test_image_dataset_export_for_custom_training(vertex: Any) -> None:
    records = import_set(vertex, "produce", "image_bounding_box", "42")
    dataset = aiplatform.ImageDataset(
        f"projects/p/locations/us-central1/datasets/{dataset_id(vertex, 'produce')}"
    )
    result = dataset.export_data_for_custom_training(
        f"gs://{BUCKET}/training/produce",
        annotation_schema_uri=f"{ANNOTATION}/image_bounding_box_1.0.0.yaml",
        split=FILTERS,
    )
    files = result["exportedFiles"]
    assert [f.rsplit("/", 1)[1] for f in files] == ["training-*", "validation-*", "test-*"]
    # the SDK turns the response into a dict with MessageToDict, which leaves out zeros
    assert result["dataStats"] == {
        "trainingDataItemsCount": "1",
        "testDataItemsCount": "1",
        "trainingAnnotationsCount": "2",
        "testAnnotationsCount": "1",
    }
    assert read_back(vertex, [files[0]]) == [records[0]]
    assert read_back(vertex, [files[1]]) == []
    assert read_back(vertex, [files[2]]) == [records[1]]


def test_text_dataset_exports(vertex: Any) -> None:
    records = import_set(vertex, "news", "text_extraction", "77")
    dataset = aiplatform.TextDataset(dataset_id(vertex, "news"))
    exported = dataset.export_data(f"gs://{BUCKET}/exports/news")
    assert by_media(read_back(vertex, exported)) == by_media(records)
    result = dataset.export_data_for_custom_training(
        f"gs://{BUCKET}/training/news",
        annotation_schema_uri=f"{ANNOTATION}/text_extraction_1.0.0.yaml",
        split={"training_fraction": 0.5, "validation_fraction": 0.25, "test_fraction": 0.25},
        saved_query_id="77",
    )
    stats = result["dataStats"]
    assert (
        sum(int(stats.get(f"{s}DataItemsCount", 0)) for s in ("training", "validation", "test"))
        == 3
    )
    assert (
        sum(int(stats.get(f"{s}AnnotationsCount", 0)) for s in ("training", "validation", "test"))
        == 3
    )
    assert by_media(read_back(vertex, result["exportedFiles"])) == by_media(records)


def test_video_dataset_exports_polled(vertex: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # no waiting inside the POST: the SDK gets a pending operation and polls /ui/… until done
    monkeypatch.setattr(routes, "INLINE_ITEMS", -1)
    answers: list[dict[str, Any]] = []
    real = routes._operation

    def recording(*args: Any) -> dict[str, Any]:
        answers.append(real(*args))
        return answers[-1]

    monkeypatch.setattr(routes, "_operation", recording)
    records = import_set(vertex, "clips", "video_action_recognition", "88")
    dataset = aiplatform.VideoDataset(dataset_id(vertex, "clips"))
    exported = dataset.export_data(f"gs://{BUCKET}/exports/clips")
    assert by_media(read_back(vertex, exported)) == by_media(records)
    result = dataset.export_data_for_custom_training(
        f"gs://{BUCKET}/training/clips",
        annotation_schema_uri=f"{ANNOTATION}/video_action_recognition_1.0.0.yaml",
        split={
            "training_filter": "-",
            "validation_filter": f"labels.{ML_USE}=test",
            "test_filter": "",
        },
    )
    assert result["dataStats"]["validationDataItemsCount"] == "1"
    assert result["dataStats"]["testDataItemsCount"] == "2"
    assert read_back(vertex, [result["exportedFiles"][0]]) == []
    last = {a["name"]: a for a in answers}  # the SDK polled each export until it was done
    assert len(last) == 2 and all(a["done"] for a in last.values())


def test_listing_and_the_wrong_class(vertex: Any) -> None:
    import_set(vertex, "flowers", "image_classification_multi_label", "1")
    import_set(vertex, "news", "text_classification_single_label", "2")
    (found,) = aiplatform.ImageDataset.list(filter='display_name="flowers"')
    assert found.name == dataset_id(vertex, "flowers")
    assert [d.display_name for d in aiplatform.TextDataset.list()] == ["news"]
    with pytest.raises(ValueError, match="dataset type"):
        aiplatform.TextDataset(dataset_id(vertex, "flowers"))


def test_tabular_export_raises_failed_precondition(vertex: Any) -> None:
    import_set(vertex, "table", "text_classification_multi_label", "3")
    table = dataset_id(vertex, "table")
    set_dataset(vertex, table, kind="tabular")
    dataset = aiplatform.TabularDataset(table)
    with pytest.raises(exceptions.FailedPrecondition, match="tabular"):
        dataset.export_data(f"gs://{BUCKET}/exports/table")
    assert gcs_files(vertex.gcs, "exports/table") == {}


def test_other_organizations_datasets_are_not_found(vertex: Any) -> None:
    import_set(vertex, "flowers", "image_classification_single_label", "4")
    aiplatform.init(credentials=credentials_module.Credentials(token=vertex.other_org_key))
    with pytest.raises(exceptions.NotFound):
        aiplatform.ImageDataset(dataset_id(vertex, "flowers"))
