"""The vertex format: canonical rows → Vertex records, files, splits and data stats (pure)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import IO, Any

import orjson
import pytest
import yaml

from labelport.errors import InvalidSpec
from labelport.export.formats import PUBLISHERS
from labelport.export.formats import vertex as fmt
from labelport.export.formats.vertex_config import (
    AnnotationSetRef,
    VertexJob,
    folder_name,
    parse_export_config,
)
from labelport.export.formats.vertex_split import FilterSplit, FractionSplit, parse_split
from labelport.imports.vertex import OBJECTIVES, detect_objective

from .vertex_samples import ML_USE, SET, canonical, samples

SET_ID = "8066716590760001536"
WHEN = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


class MemoryFolder:
    """A writer object for write_export: files kept in memory, closed state checked."""

    def __init__(self) -> None:
        self.files: dict[str, io.BytesIO] = {}
        self.closed: set[str] = set()

    def open(self, relative: str) -> IO[bytes]:
        assert relative not in self.files
        folder = self

        class File(io.BytesIO):
            def close(self) -> None:
                folder.closed.add(relative)
                folder.files[relative] = io.BytesIO(self.getvalue())
                super().close()

        handle = File()
        self.files[relative] = handle
        return handle

    def lines(self, relative: str) -> list[dict[str, Any]]:
        assert relative in self.closed, f"{relative} was not closed"
        return [orjson.loads(x) for x in self.files[relative].getvalue().splitlines()]


def set_of(spec: Any) -> AnnotationSetRef:
    return AnnotationSetRef(
        spec.id,
        spec.display_name,
        spec.objective,
        project_id=spec.project_id,
        settings=spec.settings,
    )


def job(*sets: AnnotationSetRef, **config: Any) -> VertexJob:
    body = {"gcsDestination": {"outputUriPrefix": "gs://bkt/out"}, **config}
    parsed = parse_export_config(body)
    return VertexJob(
        "gs://bkt/out",
        folder_name("flowers", WHEN),
        tuple(sets),
        parsed.custom_training,
        parsed.split,
    )


# ------------------------------------------------------------------------------ records


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_records_of_an_imported_set_are_the_imported_lines(objective: str) -> None:
    records = samples(objective, SET_ID)
    spec, rows = canonical(records, objective=objective)
    aset = set_of(spec)
    assert [fmt.record_of(row, aset) for row in rows] == records
    assert all(detect_objective(r) in (objective, None) for r in records)


def test_a_row_outside_the_source_gives_no_record() -> None:
    _, rows = canonical(samples("image_bounding_box", SET_ID))
    other = AnnotationSetRef("1", "other", "image_bounding_box", project_id="elsewhere")
    assert fmt.record_of(rows[0], other) is None
    run = AnnotationSetRef("2", "run", "image_bounding_box", model_run_id="run-1")
    assert fmt.record_of(rows[0], run) is None


def test_model_run_sets_write_the_first_prediction_and_the_run_split() -> None:
    spec, rows = canonical(samples("image_bounding_box", SET_ID))
    row = rows[2]  # no ml_use of its own
    annotations = rows[0]["projects"][spec.project_id]["labels"][0]["annotations"]
    row["experiments"] = {
        "model-1": {
            "name": "m",
            "runs": {
                "run-1": {
                    "name": "r",
                    "run_data_row_id": "x",
                    "labels": [],
                    "predictions": [{"annotations": annotations}, {"annotations": {}}],
                    "split": "VALIDATION",
                }
            },
        }
    }
    aset = AnnotationSetRef("42", "preds", "image_bounding_box", model_run_id="run-1")
    record = fmt.record_of(row, aset)
    assert record is not None
    assert [b["displayName"] for b in record["boundingBoxAnnotations"]] == ["Tomato", "Leaf"]
    assert {b["annotationResourceLabels"][SET] for b in record["boundingBoxAnnotations"]} == {"42"}
    assert record["dataItemResourceLabels"] == {ML_USE: "validation"}
    # an item's own ml_use wins over the run's split
    rows[0]["experiments"] = row["experiments"]
    assert fmt.record_of(rows[0], aset)["dataItemResourceLabels"] == {ML_USE: "training"}  # type: ignore[index]


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("ml_use", [ML_USE, "ml_use"])
def test_an_imported_set_is_written_back_byte_for_byte(objective: str, ml_use: str) -> None:
    records = samples(objective, SET_ID)
    records[0]["dataItemResourceLabels"] = {ml_use: "Test"}  # either key, any case
    spec, rows = canonical(records, objective=objective)
    folder = MemoryFolder()
    written = fmt.write_export(rows, job(set_of(spec)), folder)
    (name,) = written.files
    assert folder.files[name].getvalue() == b"".join(orjson.dumps(r) + b"\n" for r in records)


@pytest.mark.parametrize("key", [ML_USE, "ml_use"])
def test_an_items_ml_use_comes_back_under_its_own_key(key: str) -> None:
    records = samples("image_bounding_box", SET_ID)
    records[0]["dataItemResourceLabels"] = {key: "Training", "team": "cv"}
    spec, rows = canonical(records)
    assert fmt.record_of(rows[0], set_of(spec)) == records[0]
    # a model run's split is no second ml_use beside the item's own, under either key
    rows[0]["experiments"] = {
        "m": {"runs": {"run-1": {"predictions": [], "split": "test"}}},
    }
    aset = AnnotationSetRef("42", "preds", "image_bounding_box", model_run_id="run-1")
    record = fmt.record_of(rows[0], aset)
    assert record is not None
    assert record["dataItemResourceLabels"] == {key: "Training", "team": "cv"}


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ("TRAINING", "training"),
        ("validation", "validation"),
        ("Test", "test"),
        ("UNASSIGNED", None),
    ],
)
def test_a_run_split_in_any_case_becomes_ml_use(split: str, expected: str | None) -> None:
    _, rows = canonical(samples("image_bounding_box", SET_ID))
    row = rows[2]  # no ml_use of its own
    row["experiments"] = {"m": {"runs": {"run-1": {"predictions": [], "split": split}}}}
    aset = AnnotationSetRef("42", "preds", "image_bounding_box", model_run_id="run-1")
    record = fmt.record_of(row, aset)
    assert record is not None
    assert record["dataItemResourceLabels"] == ({ML_USE: expected} if expected else {})


def test_custom_training_splits_by_either_ml_use_key_in_any_case() -> None:
    records = samples("image_classification_single_label", SET_ID)
    records[0]["dataItemResourceLabels"] = {"ml_use": "TRAIN"}
    records[1]["dataItemResourceLabels"] = {ML_USE: "Validation"}
    records[2]["dataItemResourceLabels"] = {"ml_use": "test"}
    spec, rows = canonical(records)
    the_job = job(
        set_of(spec),
        exportUse=6,
        filterSplit={
            "trainingFilter": f"labels.{ML_USE}=training",
            "validationFilter": "labels.ml_use=validation",
            "testFilter": f"labels.{ML_USE}=TEST",
        },
    )
    folder = MemoryFolder()
    fmt.write_export(rows, the_job, folder)
    assert folder.lines("training-00000.jsonl") == [records[0]]
    assert folder.lines("validation-00000.jsonl") == [records[1]]
    assert folder.lines("test-00000.jsonl") == [records[2]]


def test_unknown_keys_kept_from_an_import_are_not_counted_as_annotations() -> None:
    records = samples("image_bounding_box", SET_ID)
    records[0] = {**records[0], "source": ["a", "b", "c"]}
    spec, rows = canonical(records)
    record = fmt.record_of(rows[0], set_of(spec))
    assert record == records[0]
    assert fmt.annotation_count(record) == 2


def test_labels_made_elsewhere_are_written_too() -> None:
    row = {
        "data_row": {"id": "r1", "row_data": "https://x/1.jpg", "global_key": "k"},
        "media_attributes": {"width": 200, "height": 100},
        "metadata_fields": [{"schema_name": "split", "value": "a"}],
        "projects": {
            "p": {
                "labels": [
                    {
                        "annotations": {
                            "objects": [
                                {
                                    "name": "car",
                                    "annotation_kind": "ImageBoundingBox",
                                    "bounding_box": {
                                        "top": 10,
                                        "left": 20,
                                        "height": 50,
                                        "width": 300,
                                    },
                                }
                            ],
                            "classifications": [
                                {"name": "animal", "radio_answer": {"name": "cat"}},
                            ],
                            "relationships": [],
                        }
                    }
                ]
            }
        },
    }
    boxes = fmt.record_of(row, AnnotationSetRef("1", "b", "image_bounding_box", project_id="p"))
    assert boxes is not None
    assert boxes["boundingBoxAnnotations"] == [
        {
            "displayName": "car",
            "xMin": 0.1,
            "xMax": 1.0,  # clipped to the image
            "yMin": 0.1,
            "yMax": 0.6,
            "annotationResourceLabels": {SET: "1"},
        }
    ]
    assert boxes["dataItemResourceLabels"] == {"split": "a"}
    single = AnnotationSetRef("2", "c", "image_classification_single_label", project_id="p")
    assert fmt.record_of(row, single)["classificationAnnotation"]["displayName"] == "cat"  # type: ignore[index]
    multi = AnnotationSetRef("3", "c", "image_classification_multi_label", project_id="p")
    record = fmt.record_of(row, multi)
    assert [c["displayName"] for c in record["classificationAnnotations"]] == ["cat"]  # type: ignore[index]


def test_inline_text_rows_are_written_as_text_content() -> None:
    row = {"data_row": {"id": "r", "row_data": "hello world", "global_key": "g"}, "projects": {}}
    plain = AnnotationSetRef("", "data items", "text_classification_multi_label")
    assert fmt.record_of(row, plain) == {
        "textContent": "hello world",
        "classificationAnnotations": [],
        "dataItemResourceLabels": {},
    }


def test_annotation_count() -> None:
    spec, rows = canonical(samples("video_action_recognition", SET_ID))
    counts = [fmt.annotation_count(fmt.record_of(r, set_of(spec))) for r in rows]  # type: ignore[arg-type]
    assert counts == [1, 2, 0]  # timeSegments are spans, not annotations
    spec, rows = canonical(samples("image_segmentation", SET_ID))
    counts = [fmt.annotation_count(fmt.record_of(r, set_of(spec))) for r in rows]  # type: ignore[arg-type]
    assert counts == [1, 1, 0]


# ------------------------------------------------------------------------------ writing


def test_regular_export_writes_one_folder_per_set_with_schema() -> None:
    box_spec, box_rows = canonical(samples("image_bounding_box", SET_ID))
    cls_spec, cls_rows = canonical(samples("image_classification_single_label", "77"))
    boxes, classes = set_of(box_spec), set_of(cls_spec)
    folder = MemoryFolder()
    the_job = job(boxes, classes)
    written = fmt.write_export(box_rows + cls_rows, the_job, folder)
    box_dir = f"{box_spec.display_name}_{SET_ID}"
    cls_dir = f"{cls_spec.display_name}_77"
    assert written.files == [
        f"{box_dir}/image_bounding_box-00000.jsonl",
        f"{cls_dir}/image_classification_single_label-00000.jsonl",
    ]
    assert sorted(folder.files) == sorted(
        [*written.files, f"{box_dir}/schema.yaml", f"{cls_dir}/schema.yaml"]
    )
    assert folder.lines(written.files[0]) == samples("image_bounding_box", SET_ID)
    assert folder.lines(written.files[1]) == samples("image_classification_single_label", "77")
    schema = yaml.safe_load(folder.files[f"{box_dir}/schema.yaml"].getvalue())
    assert schema["title"] == "image_bounding_box"
    assert "boundingBoxAnnotations" in schema["properties"]
    output = fmt.output_of(the_job, written)
    assert output == {
        "gcsOutputDirectory": "gs://bkt/out/export-data-flowers-2024-01-02T03:04:05.678Z/",
        "exportedFiles": [
            f"gs://bkt/out/export-data-flowers-2024-01-02T03:04:05.678Z/{f}" for f in written.files
        ],
    }


def test_big_sets_are_cut_into_shards_on_line_ends() -> None:
    spec, rows = canonical(samples("image_bounding_box", SET_ID))
    folder = MemoryFolder()
    written = fmt.write_export(rows * 3, job(set_of(spec)), folder, shard_bytes=400)
    assert len(written.files) > 1
    assert written.files[1].endswith("image_bounding_box-00001.jsonl")
    back = [line for name in written.files for line in folder.lines(name)]
    assert back == samples("image_bounding_box", SET_ID) * 3
    assert all(
        len(folder.files[n].getvalue()) <= 400 or len(folder.lines(n)) == 1 for n in written.files
    )


def test_custom_training_follows_the_ml_use_filter_split() -> None:
    spec, rows = canonical(samples("image_classification_single_label", SET_ID))
    the_job = job(
        set_of(spec),
        exportUse=6,
        filterSplit={
            "trainingFilter": f"labels.{ML_USE}=training",
            "validationFilter": f'labels.{ML_USE}="validation"',
            "testFilter": "",
        },
    )
    folder = MemoryFolder()
    written = fmt.write_export(rows, the_job, folder)
    assert written.files == ["training-00000.jsonl", "validation-00000.jsonl", "test-00000.jsonl"]
    expected = samples("image_classification_single_label", SET_ID)
    assert folder.lines("training-00000.jsonl") == [expected[0]]
    assert folder.lines("validation-00000.jsonl") == [expected[1]]
    assert folder.lines("test-00000.jsonl") == [expected[2]]
    output = fmt.output_of(the_job, written)
    directory = "gs://bkt/out/export-data-flowers-2024-01-02T03:04:05.678Z/"
    assert output == {
        "gcsOutputDirectory": directory,
        "exportedFiles": [
            f"{directory}training-*",
            f"{directory}validation-*",
            f"{directory}test-*",
        ],
        "dataStats": {
            "trainingDataItemsCount": "1",
            "validationDataItemsCount": "1",
            "testDataItemsCount": "1",
            "trainingAnnotationsCount": "1",
            "validationAnnotationsCount": "1",
            "testAnnotationsCount": "0",
        },
    }


def test_custom_training_drops_what_no_filter_takes() -> None:
    spec, rows = canonical(samples("image_bounding_box", SET_ID))
    the_job = job(
        set_of(spec),
        exportUse="CUSTOM_CODE_TRAINING",
        filterSplit={
            "trainingFilter": "-",
            "validationFilter": f"labels.{ML_USE}=training",
            "testFilter": "-",
        },
    )
    folder = MemoryFolder()
    written = fmt.write_export(rows, the_job, folder)
    assert folder.lines("training-00000.jsonl") == []
    assert len(folder.lines("validation-00000.jsonl")) == 1
    assert folder.lines("test-00000.jsonl") == []
    assert written.data_stats()["validationAnnotationsCount"] == "2"
    assert written.data_stats()["testDataItemsCount"] == "0"


def test_fraction_split_is_deterministic_and_close_to_the_fractions() -> None:
    rows = [
        {"data_row": {"id": f"row-{i}", "row_data": f"gs://b/{i}.jpg", "global_key": f"{i}"}}
        for i in range(2000)
    ]
    plain = AnnotationSetRef("", "data items", "image_classification_multi_label")
    the_job = job(
        plain,
        exportUse=6,
        fractionSplit={"trainingFraction": 0.5, "validationFraction": 0.2, "testFraction": 0.1},
    )
    first, second = MemoryFolder(), MemoryFolder()
    stats = fmt.write_export(rows, the_job, first).data_stats()
    fmt.write_export(reversed(rows), the_job, second)
    for split in ("training", "validation", "test"):
        name = f"{split}-00000.jsonl"
        assert sorted(orjson.dumps(x) for x in first.lines(name)) == sorted(
            orjson.dumps(x) for x in second.lines(name)
        )
    counts = [int(stats[f"{s}DataItemsCount"]) for s in ("training", "validation", "test")]
    assert 900 < counts[0] < 1100 and 320 < counts[1] < 480 and 140 < counts[2] < 260
    assert sum(counts) < 2000  # 20% dropped
    assert stats["trainingAnnotationsCount"] == "0"


def test_default_split_is_80_10_10() -> None:
    config = parse_export_config(
        {"gcsDestination": {"outputUriPrefix": "gs://b/o"}, "exportUse": 6}
    )
    assert config.split == FractionSplit(0.8, 0.1, 0.1)
    assert parse_split({"fractionSplit": {}}) == FractionSplit(0.8, 0.1, 0.1)
    assert isinstance(parse_split({"filterSplit": {"trainingFilter": "-"}}), FilterSplit)


def test_plain_set_exports_every_row_without_annotations() -> None:
    rows = [
        {"data_row": {"id": "a", "row_data": "gs://b/v.mp4"}},
        {"data_row": {"id": "b", "row_data": "gs://b/w.mp4"}, "projects": {"p": {"labels": []}}},
    ]
    folder = MemoryFolder()
    written = fmt.write_export(
        rows, job(AnnotationSetRef("", "data items", "video_classification")), folder
    )
    assert written.files == ["data_items/video_classification-00000.jsonl"]
    assert folder.lines(written.files[0]) == [
        {"videoGcsUri": "gs://b/v.mp4", "timeSegmentAnnotations": [], "dataItemResourceLabels": {}},
        {"videoGcsUri": "gs://b/w.mp4", "timeSegmentAnnotations": [], "dataItemResourceLabels": {}},
    ]


def test_files_are_closed_when_a_row_cannot_be_written() -> None:
    spec, rows = canonical(samples("text_sentiment", SET_ID))
    broken = AnnotationSetRef(
        spec.id, spec.display_name, "text_sentiment", project_id=spec.project_id
    )
    folder = MemoryFolder()
    with pytest.raises(InvalidSpec, match="sentiment_max"):
        fmt.write_export(rows, job(broken), folder)
    assert set(folder.files) == folder.closed


def test_the_publisher_is_registered() -> None:
    assert PUBLISHERS["vertex"] is fmt.publish


def test_options_need_the_plan_of_the_vertex_surface() -> None:
    from labelport.export.formats import OPTION_CHECKS

    spec, _ = canonical(samples("image_bounding_box", SET_ID))
    good = {"exportConfig": {}, "plan": job(set_of(spec)).to_json()}
    assert OPTION_CHECKS["vertex"](good) == good
    for bad in ({}, {"plan": {"folder": "x"}}, {"plan": "x"}):
        with pytest.raises(InvalidSpec, match=r"POST /vertex/v1/.*:export"):
            OPTION_CHECKS["vertex"](bad)
