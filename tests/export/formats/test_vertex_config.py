"""ExportDataConfig validation, annotation-set selection, job JSON, schema.yaml texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from labelport.errors import InvalidSpec, NotFound
from labelport.export.formats import vertex_schemas as schemas
from labelport.export.formats.vertex_config import (
    AnnotationSetRef,
    VertexJob,
    folder_name,
    make_job,
    parse_export_config,
    safe_name,
    select_sets,
)
from labelport.export.formats.vertex_split import FilterSplit, FractionSplit
from labelport.imports.vertex import OBJECTIVES

DEST = {"gcsDestination": {"outputUriPrefix": "gs://bkt/out"}}
SET_FILTER = "labels.aiplatform.googleapis.com/annotation_set_name"


def config(**fields: Any) -> Any:
    return parse_export_config({**DEST, **fields})


def test_the_sdk_bodies_parse() -> None:
    plain = config()
    assert (plain.output_uri_prefix, plain.export_use, plain.split) == ("gs://bkt/out", 0, None)
    custom = config(
        exportUse=6,
        fractionSplit={"trainingFraction": 0.8, "validationFraction": 0.1, "testFraction": 0.1},
        annotationSchemaUri=schemas.annotation_schema_uri("image_classification_single_label"),
    )
    assert custom.custom_training and custom.split == FractionSplit(0.8, 0.1, 0.1)
    filtered = config(
        exportUse=6,
        filterSplit={
            "trainingFilter": "labels.aiplatform.googleapis.com/ml_use=training",
            "validationFilter": "labels.aiplatform.googleapis.com/ml_use=validation",
            "testFilter": "labels.aiplatform.googleapis.com/ml_use=test",
        },
        savedQueryId="789",
    )
    assert isinstance(filtered.split, FilterSplit) and filtered.saved_query_id == "789"
    assert config(annotationsFilter=f"{SET_FILTER}=123").annotation_set_id == "123"
    assert config(annotationsFilter=f'{SET_FILTER}="123"').annotation_set_id == "123"
    assert config(annotationsFilter="").annotation_set_id is None


def test_snake_case_and_enum_names_are_accepted() -> None:
    parsed = parse_export_config(
        {
            "gcs_destination": {"output_uri_prefix": "gs://b/o"},
            "export_use": "CUSTOM_CODE_TRAINING",
            "fraction_split": {"training_fraction": 1.0},
        }
    )
    assert parsed.custom_training and parsed.split == FractionSplit(1.0, 0.0, 0.0)
    assert config(exportUse="EXPORT_USE_UNSPECIFIED").export_use == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**DEST, "foo": 1}, r"exportConfig\.foo: unknown field"),
        ({}, r"exportConfig\.gcsDestination: missing"),
        ({"gcsDestination": {"outputUriPrefix": ""}}, r"outputUriPrefix: expected a gs:// URI"),
        ({"gcsDestination": {"uri": "gs://b"}}, r"gcsDestination\.uri: unknown field"),
        ({**DEST, "exportUse": 3}, r"exportConfig\.exportUse: unknown export use 3"),
        ({**DEST, "exportUse": "TRAINING"}, r"exportUse: unknown export use"),
        ({**DEST, "annotationsFilter": "labels.x=1"}, r"annotationsFilter: unsupported filter"),
        ({**DEST, "fractionSplit": {"trainingFraction": 1}}, r"fractionSplit: only used when"),
        ({**DEST, "savedQueryId": "1"}, r"savedQueryId: only used when"),
        (
            {**DEST, "exportUse": 6, "annotationSchemaUri": "gs://x/y.yaml"},
            r"annotationSchemaUri: unknown annotation schema",
        ),
        (
            {**DEST, "exportUse": 6, "filterSplit": {"trainingFilter": "ml_use=training"}},
            r"exportConfig\.filterSplit\.trainingFilter: unsupported filter",
        ),
        ([], r"exportConfig: expected an object"),
    ],
)
def test_bad_configs_name_the_field(body: Any, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        parse_export_config(body)


BOXES = AnnotationSetRef("1", "boxes", "image_bounding_box", project_id="p1")
SINGLE = AnnotationSetRef("2", "single", "image_classification_single_label", project_id="p2")
MULTI = AnnotationSetRef("3", "multi", "image_classification_multi_label", model_run_id="r1")
SETS = [BOXES, SINGLE, MULTI]
CLASSIFICATION = schemas.annotation_schema_uri("image_classification_single_label")


def test_regular_exports_take_every_set_or_the_filtered_one() -> None:
    assert select_sets(config(), SETS, "image") == SETS
    assert select_sets(config(annotationsFilter=f"{SET_FILTER}=2"), SETS, "image") == [SINGLE]
    with pytest.raises(NotFound, match="annotation set not found: 9"):
        select_sets(config(annotationsFilter=f"{SET_FILTER}=9"), SETS, "image")


def test_a_dataset_without_sets_exports_its_plain_items() -> None:
    (plain,) = select_sets(config(), [], "video")
    assert (plain.objective, plain.folder, plain.project_id) == (
        "video_classification",
        "data_items",
        None,
    )


def test_custom_training_needs_exactly_one_set() -> None:
    assert select_sets(config(exportUse=6, savedQueryId="3"), SETS, "image") == [MULTI]
    picked = select_sets(
        config(
            exportUse=6, annotationSchemaUri=schemas.annotation_schema_uri("image_bounding_box")
        ),
        SETS,
        "image",
    )
    assert picked == [BOXES]
    with pytest.raises(InvalidSpec, match="2 annotation sets match"):
        select_sets(config(exportUse=6, annotationSchemaUri=CLASSIFICATION), SETS, "image")
    with pytest.raises(InvalidSpec, match="none matches"):
        select_sets(
            config(exportUse=6, savedQueryId="1", annotationSchemaUri=CLASSIFICATION), SETS, "image"
        )
    with pytest.raises(InvalidSpec, match="does not fit a text dataset"):
        select_sets(config(exportUse=6, annotationSchemaUri=CLASSIFICATION), SETS, "text")


def test_tabular_and_unset_sentiment_scales_are_refused() -> None:
    with pytest.raises(InvalidSpec, match="tabular datasets cannot be exported"):
        select_sets(config(), [], "tabular")
    sentiment = AnnotationSetRef("5", "s", "text_sentiment", project_id="p")
    with pytest.raises(InvalidSpec, match="sentiment_max"):
        select_sets(config(), [sentiment], "text")


def test_folder_names() -> None:
    when = datetime(2021, 2, 17, 0, 54, 58, 734772, tzinfo=UTC)
    assert folder_name("flowers", when) == "export-data-flowers-2021-02-17T00:54:58.734Z"
    later = when.astimezone(timezone(timedelta(hours=2)))
    assert folder_name("a/b c", later) == "export-data-a_b_c-2021-02-17T00:54:58.734Z"
    assert safe_name("..") == "_" and safe_name("ü ber") == "ü_ber"


def test_job_round_trips_through_json() -> None:
    job = make_job(
        config(exportUse=6, filterSplit={"trainingFilter": "labels.a=b"}, savedQueryId="1"),
        SETS,
        kind="image",
        display_name="flowers",
        when=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert VertexJob.from_json(job.to_json()) == job
    assert job.output_directory == "gs://bkt/out/export-data-flowers-2024-01-01T00:00:00.000Z/"
    plain = make_job(config(), [], kind="text", display_name="t", when=datetime.now(UTC))
    assert VertexJob.from_json(plain.to_json()) == plain


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_schema_yaml_describes_the_record_fields(objective: str) -> None:
    document = yaml.safe_load(schemas.schema_yaml(objective))
    assert document["title"] == objective
    assert "dataItemResourceLabels" in document["properties"]
    media = {"image": "imageGcsUri", "text": "textContent", "video": "videoGcsUri"}
    assert media[objective.split("_")[0]] in document["properties"]
    assert schemas.ioformat_uri(objective) in document["description"]


def test_schema_uris() -> None:
    assert schemas.metadata_schema_uri("image") == (
        "gs://google-cloud-aiplatform/schema/dataset/metadata/image_1.0.0.yaml"
    )
    assert schemas.objectives_of_annotation_schema(CLASSIFICATION) == (
        "image_classification_single_label",
        "image_classification_multi_label",
    )
