"""The metadata of a Diffgram export (:mod:`labelport.imports.diffgram_metadata`): dataset
names, ids derived from it, a broken metadata value."""

from __future__ import annotations

from tests.imports.diffgram_samples import (
    EXPORT_INFO,
    PROJECT_ID,
    errors,
    export_bytes,
    image_packet,
    only_row,
    run,
)


def test_ids_are_stable_across_imports_and_dataset_can_be_overridden():
    data = export_bytes([("501", image_packet())])
    first, second = run(data), run(data, dataset="street-scenes")
    assert first[0].row["projects"] == second[0].row["projects"]
    assert second[0].row["data_row"]["details"]["dataset_name"] == "street-scenes"


def test_dataset_name_falls_back_to_the_project_name_without_a_directory():
    info = {**EXPORT_INFO, "directory": None, "source": "job", "user_created_email": None}
    row = only_row(run(export_bytes([("501", image_packet())], metadata={"export_info": info})))
    assert row["data_row"]["details"]["dataset_name"] == "Acme Vision"
    assert row["projects"][PROJECT_ID]["labels"][0]["label_details"]["created_by"] is None


def test_broken_metadata_is_reported_once_and_reading_stops():
    info = {**EXPORT_INFO, "project": [None]}  # Diffgram's `project = None,` tuple bug
    items = run(export_bytes([("501", image_packet())], metadata={"export_info": info}))
    assert errors(items) == [(0, "export_info.project", "expected an object, got list")]
    assert len(items) == 1
