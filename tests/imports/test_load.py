"""The loader on both stores: counts, idempotency, all-or-nothing, errors, merge rules."""

from __future__ import annotations

import io
import time
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.export import cache
from labelport.export.assemble import Include, assemble
from labelport.imports import load
from labelport.imports.base import ParsedRow
from labelport.store import Store
from labelport.store import schema as s

DS = "cds1aaaaaaaaaaaaaaaaaaaaa"
PROJECT = "cprojaaaaaaaaaaaaaaaaaaaa"


def make_row(n: int, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "data_row": {
            "id": f"crow{n:021d}",
            "global_key": f"img-{n}.jpg",
            "row_data": f"https://media.test/img-{n}.jpg",
            "details": {
                "dataset_id": DS,
                "dataset_name": "street",
                "created_at": "2024-01-01T00:00:00.000+00:00",
                "updated_at": "2024-01-01T00:00:00.000+00:00",
                "created_by": "ann@acme.test",
            },
        },
        "media_attributes": {"width": 640, "height": 480, "mime_type": "image/jpeg"},
        "projects": {
            PROJECT: {
                "name": "boxes",
                "labels": [
                    {
                        "id": f"clab{n:021d}",
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "label_details": {
                            "created_at": "2024-02-01T10:00:00.000+00:00",
                            "updated_at": "2024-02-01T10:00:00.000+00:00",
                            "created_by": "bob@acme.test",
                            "content_last_updated_at": None,
                            "reviews": [
                                {"score": 1, "created_at": "2024-02-03T00:00:00.000+00:00"}
                            ],
                        },
                        "annotations": {
                            "objects": [
                                {
                                    "name": "car",
                                    "value": "car",
                                    "annotation_kind": "ImageBoundingBox",
                                    "classifications": [],
                                    "bounding_box": {"top": 1, "left": 2, "height": 3, "width": 4},
                                }
                            ],
                            "classifications": [],
                            "relationships": [],
                        },
                    }
                ],
                "project_details": {
                    "workflow_status": "IN_REVIEW",
                    "batch_id": "cbatchaaaaaaaaaaaaaaaaaaa",
                    "batch_name": "first",
                },
            }
        },
    }
    row.update(extra)
    return row


def ndjson(rows: list[Any]) -> io.BytesIO:
    return io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def count(store: Store, table: sa.Table) -> int:
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


CATALOG_VIEW = Include(source_shapes=False)  # what the catalog keeps, derived values included


def imp(store: Store, org: services.Organization, rows: list[Any], **kw: Any):
    return services.import_labelbox(store, org.id, ndjson(rows), file="in.ndjson", **kw)


def test_import_creates_entities(store, org):
    result = imp(store, org, [make_row(i) for i in range(1200)])  # more than two batches
    assert (result.rows, result.labels) == (1200, 1200)
    counts = services.stats(store, org.id)
    assert counts["data rows"] == 1200
    assert counts["labels"] == 1200
    assert (
        counts["datasets"] == counts["projects"] == counts["batches"] == counts["ontologies"] == 1
    )
    assert counts["users"] == 2  # ann (row creator) and bob (labeler)
    with store.read() as conn:
        features = conn.execute(
            sa.select(s.feature.c.name, s.feature.c.kind, s.feature.c.type)
        ).all()
    assert [tuple(f) for f in features] == [("car", "tool", "ImageBoundingBox")]


def test_reimport_is_idempotent_and_updates(store, org):
    imp(store, org, [make_row(i) for i in range(10)])
    changed = make_row(3)
    changed["projects"][PROJECT]["labels"][0]["annotations"]["objects"][0]["name"] = "truck"
    imp(store, org, [make_row(i) for i in range(10) if i != 3] + [changed])
    assert count(store, s.data_row) == 10
    assert count(store, s.label) == 10
    assert count(store, s.project_data_row) == 10
    with store.read() as conn:
        [back] = assemble(conn, org.id, ["crow" + "3".zfill(21)])
    assert back["projects"][PROJECT]["labels"][0]["annotations"]["objects"][0]["name"] == "truck"


def test_reimport_by_global_key_without_ids(store, org):
    row = make_row(1)
    del row["data_row"]["id"]
    imp(store, org, [row])
    imp(store, org, [row])
    assert count(store, s.data_row) == 1


def test_absent_sections_keep_what_is_there(store, org):
    full = make_row(
        1,
        attachments=[{"type": "RAW_TEXT", "value": "note", "name": "n"}],
        metadata_fields=[{"schema_name": "tag", "value": "night"}],
    )
    imp(store, org, [full])
    bare = make_row(1)
    del bare["projects"]
    imp(store, org, [bare])
    with store.read() as conn:
        [back] = assemble(conn, org.id, [full["data_row"]["id"]])
    assert back["attachments"] == [{"type": "RAW_TEXT", "value": "note", "name": "n"}]
    assert [m["value"] for m in back["metadata_fields"]] == ["night"]
    assert len(back["projects"][PROJECT]["labels"]) == 1


def test_labels_present_replace_the_set(store, org):
    imp(store, org, [make_row(1)])
    row = make_row(1)
    row["projects"][PROJECT]["labels"] = []
    imp(store, org, [row])
    assert count(store, s.label) == 0


def test_bad_file_leaves_no_trace(store, org):
    rows = [make_row(i) for i in range(1500)]
    rows[1400]["projects"][PROJECT]["project_details"]["priority"] = "high"
    with pytest.raises(InvalidRecords) as info:
        imp(store, org, rows)
    err = info.value
    assert err.total == 1
    assert (err.errors[0].file, err.errors[0].line) == ("in.ndjson", 1401)
    assert err.errors[0].field == f"projects.{PROJECT}.project_details.priority"
    assert "expected an integer" in err.errors[0].reason
    for table in (s.data_row, s.label, s.dataset, s.project, s.user):
        assert count(store, table) == 0


def test_errors_are_capped_and_counted(store, org):
    rows: list[Any] = [{"data_row": {"row_data": ""}} for _ in range(150)]
    with pytest.raises(InvalidRecords) as info:
        imp(store, org, rows)
    assert info.value.total == 150
    assert len(info.value.errors) == 100
    assert "and 50 more" in str(info.value)
    assert info.value.errors[0].field == "data_row.row_data"


def test_not_json_and_not_object_lines(store, org):
    stream = io.BytesIO(b'{"data_row": {"row_data": "x", "id": "c1"}\n[1, 2]\n')
    with pytest.raises(InvalidRecords) as info:
        services.import_labelbox(store, org.id, stream, file="f.ndjson", dataset="d")
    lines = [(e.line, e.reason.split(" (")[0]) for e in info.value.errors]
    assert lines == [(1, "not valid JSON"), (2, "expected a JSON object, got an array")]


def test_global_key_taken_by_another_row(store, org):
    imp(store, org, [make_row(1)])
    other = make_row(2)
    other["data_row"]["global_key"] = "img-1.jpg"
    with pytest.raises(InvalidRecords) as info:
        imp(store, org, [other])
    assert info.value.errors[0].field == "data_row.global_key"
    assert "already belongs to data row" in info.value.errors[0].reason


def test_same_global_key_twice_in_a_file(store, org):
    a, b = make_row(1), make_row(2)
    b["data_row"]["global_key"] = a["data_row"]["global_key"]
    with pytest.raises(InvalidRecords) as info:
        imp(store, org, [a, b])
    assert (info.value.errors[0].line, info.value.errors[0].field) == (2, "data_row.global_key")


def test_rows_of_another_organization_are_refused(store, org):
    imp(store, org, [make_row(1)])
    other = services.create_organization(store, "rival")
    with pytest.raises(InvalidRecords) as info:
        services.import_labelbox(store, other.id, ndjson([make_row(1)]), file="x")
    assert "belongs to another organization" in info.value.errors[0].reason
    assert services.stats(store, other.id)["data rows"] == 0


def test_rows_without_details_go_to_the_given_dataset(store, org):
    row = make_row(1)
    del row["data_row"]["details"]
    result = imp(store, org, [row], dataset="fallback")
    assert result.dataset == "fallback"
    with store.read() as conn:
        assert conn.execute(sa.select(s.dataset.c.name)).scalar_one() == "fallback"


def test_rows_without_details_and_no_default_dataset_are_refused(store, org):
    row = make_row(1)
    del row["data_row"]["details"]
    with pytest.raises(InvalidRecords) as info:
        load.import_items(store, org.id, [ParsedRow(1, row)], file="in.ndjson", ready=cache)
    assert "--dataset" in info.value.errors[0].reason


def test_last_activity_is_computed_when_not_given(store, org):
    imp(store, org, [make_row(1)])
    with store.read() as conn:
        [back] = assemble(conn, org.id, [make_row(1)["data_row"]["id"]], CATALOG_VIEW)
    # latest of row times, label times and review times: the review on 2024-02-03
    assert back["data_row"]["details"]["last_activity_at"] == "2024-02-03T00:00:00.000+00:00"


def test_metadata_kinds_are_enforced(store, org):
    imp(store, org, [make_row(1, metadata_fields=[{"schema_name": "score", "value": 0.5}])])
    with pytest.raises(InvalidRecords) as info:
        imp(store, org, [make_row(2, metadata_fields=[{"schema_name": "score", "value": "high"}])])
    assert info.value.errors[0].field == "metadata_fields[0].value"
    assert "holds number values" in info.value.errors[0].reason


def test_enum_metadata_by_name_gets_ids(store, org):
    imp(
        store,
        org,
        [
            make_row(
                1, metadata_fields=[{"schema_name": "split", "value": {"schema_name": "train"}}]
            )
        ],
    )
    imp(
        store,
        org,
        [
            make_row(
                2, metadata_fields=[{"schema_name": "split", "value": {"schema_name": "train"}}]
            )
        ],
    )
    with store.read() as conn:
        rows = assemble(
            conn,
            org.id,
            [make_row(1)["data_row"]["id"], make_row(2)["data_row"]["id"]],
            CATALOG_VIEW,
        )
    values = [r["metadata_fields"][0]["value"] for r in rows]
    assert values[0] == values[1]
    assert values[0]["schema_name"] == "train" and len(values[0]["schema_id"]) == 25


def test_media_type_is_inferred_or_forced(store, org):
    video = make_row(1, media_attributes={"mime_type": "video/mp4"})
    imp(store, org, [video, make_row(2)])
    imp(store, org, [make_row(3)], media_type="DICOM")
    with store.read() as conn:
        kinds = dict(
            conn.execute(sa.select(s.data_row.c.global_key, s.data_row.c.media_type)).all()
        )
    assert kinds == {"img-1.jpg": "VIDEO", "img-2.jpg": "IMAGE", "img-3.jpg": "DICOM"}


def test_model_runs_and_predictions(store, org):
    run = {
        "name": "run A",
        "labels": [],
        "split": "TRAINING",
        "predictions": [
            {
                "id": "cpred0000000000000000000a",
                "annotations": {"objects": [], "classifications": []},
            }
        ],
    }
    row = make_row(
        1,
        experiments={
            "cmodel000000000000000000a": {"name": "det", "runs": {"crun00000000000000000000a": run}}
        },
    )
    imp(store, org, [row])
    imp(store, org, [row])
    counts = services.stats(store, org.id)
    assert (
        counts["models"],
        counts["model runs"],
        counts["predictions"],
        counts["model run data rows"],
    ) == (1, 1, 1, 1)
    with store.read() as conn:
        [back] = assemble(conn, org.id, [row["data_row"]["id"]], CATALOG_VIEW)
        [exported] = assemble(conn, org.id, [row["data_row"]["id"]])
    entry = back["experiments"]["cmodel000000000000000000a"]["runs"]["crun00000000000000000000a"]
    assert entry["split"] == "TRAINING"
    assert entry["predictions"][0]["id"] == "cpred0000000000000000000a"
    assert len(entry["run_data_row_id"]) == 25  # derived, kept in the catalog...
    assert exported["experiments"] == row["experiments"]  # ...not shown: the source had none


def test_one_row_twice_in_a_file_the_later_wins(store, org):
    first, second = make_row(1), make_row(1)
    del first["data_row"]["id"], second["data_row"]["id"]
    second["data_row"]["external_id"] = "second"
    filler = [make_row(i) for i in range(10, 700)]  # puts the copies in different batches too
    imp(store, org, [first, second, first, *filler, second])
    with store.read() as conn:
        rows = conn.execute(
            sa.select(s.data_row.c.external_id).where(s.data_row.c.global_key == "img-1.jpg")
        ).all()
    assert rows == [("second",)]


def test_one_label_id_on_two_rows_of_a_batch_the_later_wins(store, org):
    first, second = make_row(1), make_row(2)
    label_id = first["projects"][PROJECT]["labels"][0]["id"]
    second["projects"][PROJECT]["labels"][0]["id"] = label_id
    imp(store, org, [first, second])
    with store.read() as conn:
        owners = conn.execute(sa.select(s.label.c.id, s.label.c.data_row_id)).all()
    assert owners == [(label_id, second["data_row"]["id"])]


def test_a_row_repeated_in_a_file_counts_once(store, org):
    rows = [make_row(1), make_row(2), make_row(1), *[make_row(i) for i in range(10, 600)]]
    rows.append(make_row(2))  # in another batch
    result = imp(store, org, rows)
    assert result.rows == 592 == count(store, s.data_row)
    again = imp(store, org, rows)  # a re-import counts the rows it wrote, once each
    assert again.rows == 592


def test_the_summary_counts_model_runs_and_their_labels_of_rows_in_no_project(store, org):
    label = {"id": "cgt00000000000000000000001", "annotations": {}}
    prediction = {"id": "cpred0000000000000000000b", "annotations": {}}
    row = {
        "data_row": {"id": "crunonly00000000000000001", "row_data": "https://m.test/1.jpg"},
        "experiments": {
            "cmodel000000000000000000a": {
                "name": "det",
                "runs": {
                    "crun00000000000000000000a": {
                        "name": "a",
                        "labels": [label],
                        "predictions": [prediction],
                    },
                    "crun00000000000000000000b": {"name": "b", "labels": [], "predictions": []},
                },
            }
        },
    }
    result = imp(store, org, [row], dataset="runs")
    assert (result.rows, result.labels, result.model_run_labels) == (1, 0, 1)
    assert (result.predictions, result.model_runs) == (1, 2)


def membership_times(store: Store) -> dict[str, Any]:
    """When each row's project membership was last written (the import's own time)."""
    pdr = s.project_data_row
    with store.read() as conn:
        return dict(conn.execute(sa.select(pdr.c.data_row_id, pdr.c.updated_at)).all())


def test_a_reimport_leaves_rows_that_are_unchanged_since_as_they_are(store, org):
    rows = [make_row(i) for i in range(700)]  # two batches
    first = imp(store, org, rows)
    before = membership_times(store)
    time.sleep(0.01)  # a rewrite would stamp a later time
    again = imp(store, org, rows)
    assert membership_times(store) == before  # nothing was written again
    # the summary is the same as if it had been
    assert (again.rows, again.labels) == (first.rows, first.labels) == (700, 700)
    with store.read() as conn:
        entries = conn.execute(sa.select(sa.func.count()).select_from(s.export_cache)).scalar()
    assert entries == 700


def test_a_reimport_writes_again_rows_changed_since_and_records_that_changed(store, org):
    rows = [make_row(i) for i in range(5)]
    imp(store, org, rows)
    edited = rows[1]["data_row"]["id"]
    with store.write() as conn:  # a change made outside the import (REST, the web, SQL)
        conn.execute(
            s.data_row.update().where(s.data_row.c.id == edited).values(row_data="https://e.test")
        )
    changed = make_row(3)
    changed["projects"][PROJECT]["project_details"]["workflow_status"] = "DONE"
    before = membership_times(store)
    time.sleep(0.01)
    imp(store, org, [rows[0], rows[1], rows[2], changed, rows[4]])
    after = membership_times(store)
    rewritten = {rid for rid in before if after[rid] != before[rid]}
    assert rewritten == {edited, changed["data_row"]["id"]}
    with store.read() as conn:
        [back] = assemble(conn, org.id, [edited])
        [done] = assemble(conn, org.id, [changed["data_row"]["id"]])
    assert back["data_row"]["row_data"] == rows[1]["data_row"]["row_data"]  # the source's again
    assert done["projects"][PROJECT]["project_details"]["workflow_status"] == "DONE"


def test_a_reimport_in_another_context_writes_the_rows_again(store, org):
    row = make_row(1)
    del row["data_row"]["details"]
    imp(store, org, [row], dataset="first")
    before = membership_times(store)
    time.sleep(0.01)
    imp(store, org, [row], dataset="first", media_type="VIDEO")  # a forced media type
    assert membership_times(store) != before
    with store.read() as conn:
        kind = conn.execute(sa.select(s.data_row.c.media_type)).scalar_one()
    assert kind == "VIDEO"


def test_a_skipped_row_changed_by_a_later_line_of_its_batch_keeps_the_file_order(store, org):
    """Line 2 (by id) is unchanged since the last import, but line 1 names the same row by its
    global key and changes it: the later line still wins, as if nothing had been skipped."""
    by_id = make_row(1)
    imp(store, org, [by_id])
    by_key = make_row(1)
    del by_key["data_row"]["id"]
    by_key["data_row"]["row_data"] = "https://media.test/from-the-earlier-line.jpg"
    imp(store, org, [by_key, by_id])
    with store.read() as conn:
        [back] = assemble(conn, org.id, [by_id["data_row"]["id"]])
    assert back["data_row"]["row_data"] == by_id["data_row"]["row_data"]
