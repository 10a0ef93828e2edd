"""Canonical rows -> Diffgram JSON: the import round-trip law, kept ids, failed files, streaming."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson  # type: ignore[import-untyped]
import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelport import services
from labelport.errors import InvalidSpec, RecordError
from labelport.export.artifacts import Artifacts
from labelport.export.assemble import Include, assemble
from labelport.export.formats import check_options
from labelport.export.formats.diffgram import (
    DERIVED_BASE,
    Header,
    header_from_options,
    stable_int,
    write_export,
)
from labelport.export.spec import Scope
from labelport.ids import derived_id
from labelport.imports.base import ParsedRow
from labelport.imports.diffgram import convert
from labelport.services import export_tasks
from labelport.settings import load_settings
from labelport.store import schema as s
from tests.imports.diffgram_samples import (
    EXPORT_INFO,
    PSID,
    export_bytes,
    image_packet,
    text_packet,
    video_packet,
)
from tests.imports.strategies import row as any_row

PROJECT_ID = derived_id("diffgram-project", PSID)
SAME_EXPORT = Header(
    id=77,
    created_time=EXPORT_INFO["created_time"],
    user_created_email=EXPORT_INFO["user_created_email"],
)


def original() -> bytes:
    return export_bytes([("501", image_packet()), ("502", video_packet()), ("503", text_packet())])


def imported(data: bytes) -> list[dict[str, Any]]:
    items = list(convert(io.BytesIO(data), file="in.json"))
    assert all(isinstance(i, ParsedRow) for i in items), items
    return [i.row for i in items]  # type: ignore[union-attr]


def as_exported(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Import rows as an export would give them back: with data row ids."""
    out = copy.deepcopy(rows)
    for n, row in enumerate(out):
        row["data_row"]["id"] = f"crow{n:021d}"
    return out


def write(rows: Any, header: Header = SAME_EXPORT, project_id: str | None = PROJECT_ID, **kw: Any):
    out = io.BytesIO()
    summary = write_export(rows, out, header=header, project_id=project_id, **kw)
    return out.getvalue(), summary


# ---------------------------------------------------------------------------- the law


def test_reimporting_our_export_of_a_diffgram_import_gives_the_same_rows():
    first = imported(original())
    data, summary = write(as_exported(first))
    assert imported(data) == first
    assert (summary.file_list_length, summary.files_exported, summary.failed_file_count) == (
        3,
        3,
        0,
    )


def test_the_law_holds_for_rows_read_back_from_the_catalog(store, org):
    """Through a real import and the export's row assembly (SQLite and PostgreSQL)."""
    first = imported(original())
    services.import_diffgram(store, org.id, io.BytesIO(original()), file="d.json")
    with store.read() as conn:
        ids = [r.id for r in conn.execute(sa.select(s.data_row.c.id).order_by(s.data_row.c.id))]
        include = Include(data_row_details=True, project_details=True, label_details=True)
        rows = assemble(conn, org.id, ids, include)
    project_id = derived_id("diffgram-project", org.id, PSID)  # ids are the organization's
    data, summary = write(rows, project_id=project_id, org_id=org.id)
    again = sorted(imported(data), key=lambda r: r["data_row"]["global_key"])
    assert again == sorted(first, key=lambda r: r["data_row"]["global_key"])
    assert summary.project_string_id == PSID


def test_ids_labels_and_attribute_groups_come_back_as_diffgram_had_them():
    data, summary = write(as_exported(imported(original())))
    doc = json.loads(data)
    assert [k for k in doc][:5] == [
        "readme",
        "label_map",
        "label_colour_map",
        "export_info",
        "attribute_groups_reference",
    ]
    assert [k for k in doc][5:] == ["501", "502", "503"]
    assert doc["label_map"] == {
        "11": "car",
        "13": "road",
        "12": "person",
        "22": "PERSON",
        "21": "ORG",
        "23": "works_for",
    }
    assert set(doc["label_colour_map"]) == set(doc["label_map"])
    image = doc["501"]
    assert [i.get("id") for i in image["instance_list"]] == [9001, 9002, 9003, 9004, 9005]
    box = image["instance_list"][0]
    assert {k: box[k] for k in ("type", "label_file_id", "x_min", "y_min", "x_max", "y_max")} == {
        "type": "box",
        "label_file_id": 11,
        "x_min": 100,
        "y_min": 200,
        "x_max": 400,
        "y_max": 350,
    }
    assert box["attribute_groups"]["105"] == 7  # a slider value, kept raw
    assert image["file"] == {
        "id": 501,
        "original_filename": "street.jpg",
        "blob_url": image_packet()["file"]["blob_url"],
        "created_time": "2024-02-28 17:05:09.654000",
        "ann_is_complete": True,
        "type": "image",
    }
    video = doc["502"]
    assert [(q["id"], q["label_file_id"], q["keyframe_list"]) for q in video["sequence_list"]] == [
        (301, 11, [0, 2]),
        (302, 12, [9, 10, 20]),
    ]
    assert [i["frame_number"] for i in video["sequence_list"][1]["instance_list"]] == [
        9,
        10,
        11,
        20,
    ]
    assert video["parent_instance_list"][0]["id"] == 9300
    text = doc["503"]["instance_list"]
    assert (text[0]["start_char"], text[0]["end_char"]) == (0, 12)
    assert text[2] == {
        "type": "relation",
        "label_file_id": 23,
        "attribute_groups": None,
        "from_instance_id": 9401,
        "to_instance_id": 9402,
    }
    groups = {g["id"]: g for g in doc["attribute_groups_reference"]}
    assert (groups[101]["kind"], groups[101]["prompt"], groups[101]["name"]) == (
        "radio",
        "Occluded?",
        "occlusion",
    )
    assert groups[105]["kind"] == "slider" and groups[106]["kind"] == "date"
    assert groups[107]["is_global"] is True
    info = doc["export_info"]
    assert info["project"] == {"name": "Acme Vision", "project_string_id": PSID}
    assert info["directory"] == {"id": None, "nickname": "Luckfrill"}
    assert info["file_list_length"] == 3
    assert info["failed_files"] == []
    assert info["check_values"]["instances"] == {
        "box": 6,
        "global": 2,
        "line": 1,
        "point": 5,
        "polygon": 1,
        "relation": 1,
        "text_token": 2,
    }
    assert info["check_values"]["instances_by_label"]["11"] == 6
    assert summary.sha256 == hashlib.sha256(data).hexdigest() and summary.bytes == len(data)


def test_the_same_rows_give_the_same_bytes():
    rows = as_exported(imported(original()))
    assert write(rows)[0] == write(copy.deepcopy(rows))[0]


# ---------------------------------------------------------------------------- failed files


def labelbox_image(n: int, objects: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "data_row": {
            "id": f"cimg{n:021d}",
            "external_id": f"img{n}.png",
            "row_data": f"https://x.test/img{n}.png",
            "details": {"dataset_id": "cds", "dataset_name": "shots"},
        },
        "media_attributes": {"mime_type": "image/png", "width": 64, "height": 48},
        "projects": {
            "cproj": {
                "name": "Shots",
                "labels": [
                    {
                        "id": f"clab{n}",
                        "label_kind": "Default",
                        "annotations": {"objects": objects, "classifications": [], **extra},
                    }
                ],
                "project_details": {"workflow_status": "DONE"},
            }
        },
    }


BOX = {
    "feature_id": "cfeat1",
    "feature_schema_id": "cschema-box",
    "name": "Car",
    "value": "car",
    "annotation_kind": "ImageBoundingBox",
    "bounding_box": {"top": 1, "left": 2, "height": 3, "width": 4},
    "classifications": [],
}


def test_a_file_that_cannot_be_written_is_reported_never_dropped():
    mask = {
        **BOX,
        "feature_id": "cfeat2",
        "annotation_kind": "ImageSegmentationMask",
        "mask": {"url": "https://x.test/m.png"},
    }
    pdf = labelbox_image(3, [])
    pdf["media_attributes"] = {"mime_type": "application/pdf"}
    rows = [labelbox_image(1, [BOX]), labelbox_image(2, [BOX, mask]), pdf]
    data, summary = write(rows, project_id="cproj")
    doc = json.loads(data)
    info = doc["export_info"]
    failed = {f["data_row_id"]: f for f in info["failed_files"]}
    assert set(failed) == {"cimg000000000000000000002", "cimg000000000000000000003"}
    mask_failure = failed["cimg000000000000000000002"]
    assert (
        mask_failure["field"] == "projects.cproj.labels[0].annotations.objects[1].annotation_kind"
    )
    assert "ImageSegmentationMask" in mask_failure["reason"]
    assert "application/pdf" in failed["cimg000000000000000000003"]["reason"]
    assert str(mask_failure["file_id"]) not in doc  # not half-written either
    assert info["file_list_length"] == 3
    assert (info["check_values"]["files_exported"], info["check_values"]["files_failed"]) == (1, 2)
    assert summary.failed_file_count == 2 and len(summary.failed_files) == 2
    # The good file is a real Diffgram packet.
    [good] = imported(data)
    assert good["data_row"]["external_id"] == "img1.png"


@pytest.mark.parametrize(
    "label, field, words",
    [
        (
            {"relationships": [{"annotation_kind": "ImageUnidirectionalRelationship"}]},
            "relationships[0]",
            "only between text tokens",
        ),
        ({"timed_objects": [{"x": 1}]}, "annotations.timed_objects", "no Diffgram form"),
    ],
)
def test_parts_of_a_label_with_no_diffgram_form_fail_the_file(label, field, words):
    _, summary = write([labelbox_image(1, [BOX], **label)], project_id="cproj")
    [failure] = summary.failed_files
    assert field in failure["field"] and words in failure["reason"]


def test_frame_classifications_fail_a_video_file():
    video = {
        "data_row": {"id": "cvid", "row_data": "https://x.test/v.mp4"},
        "media_attributes": {"mime_type": "video/mp4"},
        "projects": {
            "p": {
                "name": "P",
                "labels": [
                    {
                        "id": "l",
                        "label_kind": "Video",
                        "annotations": {
                            "frames": {
                                "3": {
                                    "objects": {},
                                    "classifications": [
                                        {"name": "q", "text_answer": {"content": "x"}}
                                    ],
                                }
                            },
                            "segments": {},
                            "key_frame_feature_map": {},
                            "classifications": [],
                        },
                    }
                ],
            }
        },
    }
    _, summary = write([video], project_id="p")
    [failure] = summary.failed_files
    assert failure["field"] == "projects.p.labels[0].annotations.frames.3.classifications"


# ---------------------------------------------------------------------------- rows from elsewhere


def test_rows_from_elsewhere_get_stable_ids_and_a_valid_diffgram_file():
    radio = {
        "feature_id": "ccls",
        "feature_schema_id": "cschema-occluded",
        "name": "Occluded?",
        "value": "occluded",
        "radio_answer": {
            "feature_id": "cans",
            "feature_schema_id": "cschema-yes",
            "name": "yes",
            "value": "yes",
            "classifications": [
                {
                    "feature_id": "cnested",
                    "feature_schema_id": "cschema-how",
                    "name": "How much?",
                    "value": "how_much",
                    "text_answer": {"content": "half"},
                }
            ],
        },
    }
    box = {**BOX, "classifications": [radio]}
    rows = [labelbox_image(1, [box]), labelbox_image(2, [{**BOX, "feature_id": "cfeat9"}])]
    data, _ = write(rows, project_id="cproj", header=Header(project_string_id="cproj"))
    doc = json.loads(data)
    file_ids = [int(k) for k in doc if k.isdigit()]
    assert len(file_ids) == 2
    assert all(DERIVED_BASE <= i < 2 * DERIVED_BASE for i in file_ids)
    assert file_ids[0] == stable_int("file", "cimg000000000000000000001")
    [label_id] = doc["label_map"]
    assert doc["label_map"][label_id] == "Car"
    instance = doc[str(file_ids[0])]["instance_list"][0]
    groups = instance["attribute_groups"]
    assert len(groups) == 2  # the nested classification became a group of its own
    assert "half" in groups.values()
    assert doc["export_info"]["project"]["project_string_id"] == "cproj"
    assert (
        write(copy.deepcopy(rows), project_id="cproj", header=Header(project_string_id="cproj"))[0]
        == data
    )
    again = imported(data)
    [cls] = again[0]["projects"][derived_id("diffgram-project", "cproj")]["labels"][0][
        "annotations"
    ]["objects"][0]["classifications"][:1]
    assert (cls["name"], cls["value"], cls["radio_answer"]["name"]) == (
        "Occluded?",
        "occluded",
        "yes",
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_row(), min_size=1, max_size=2))
def test_any_canonical_row_is_written_or_reported(rows):
    """Every row ends up a packet our Diffgram reader accepts, or a failed file with a reason."""
    project_id = next((pid for r in rows for pid in r.get("projects", {})), None)
    data, summary = write(rows, project_id=project_id, header=Header(project_string_id="p"))
    assert summary.files_exported + summary.failed_file_count == len(rows)
    items = list(convert(io.BytesIO(data), file="x.json"))
    problems = [i for i in items if isinstance(i, RecordError)]
    assert problems == []
    assert len(items) == summary.files_exported
    assert all(f["reason"] and f["field"] for f in summary.failed_files)


# ---------------------------------------------------------------------------- streaming


def many_rows(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        objects = [
            {
                **BOX,
                "feature_id": f"c{i}-{j}",
                "bounding_box": {"top": j, "left": i, "height": 5, "width": 5},
            }
            for j in range(20)
        ]
        yield labelbox_image(i, objects)


def peak_memory(n: int, directory: Path) -> tuple[int, Path]:
    out_path = directory / f"out-{n}.json"
    tracemalloc.start()
    try:
        with open(out_path, "wb") as out:
            summary = write_export(
                many_rows(n), out, header=Header(), project_id="cproj", spool_dir=directory
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.files_exported == n and summary.bytes == out_path.stat().st_size
    return peak, out_path


def test_memory_stays_flat_whatever_the_size(tmp_path: Path):
    """Packets go to a spool file one by one; the document is never held in memory."""
    small, _ = peak_memory(300, tmp_path)
    large, out_path = peak_memory(1200, tmp_path)
    size = out_path.stat().st_size
    assert size > 3_500_000
    assert large < small * 1.3 + 65_536, (small, large)  # 4x the rows, not 4x the memory
    assert large < size / 4, (large, size)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-1200.json", "out-300.json"]
    with open(out_path, "rb") as f:  # metadata first, then the packets
        keys = [k for k, _ in ijson.kvitems(f, "")]
    assert keys[:5] == [
        "readme",
        "label_map",
        "label_colour_map",
        "export_info",
        "attribute_groups_reference",
    ]
    assert len(keys) == 1205


# ---------------------------------------------------------------------------- options


def test_options_are_checked_and_name_the_bad_one():
    assert header_from_options({"kind": "Annotations", "ann_is_complete": None}) == {
        "kind": "Annotations"
    }
    with pytest.raises(InvalidSpec, match=r"options\.kind: TF Records exports are not supported"):
        header_from_options({"kind": "TF Records"})
    with pytest.raises(InvalidSpec, match=r"options\.colour: unknown Diffgram export option"):
        header_from_options({"colour": "red"})
    with pytest.raises(InvalidSpec, match=r"options\.ann_is_complete"):
        header_from_options({"ann_is_complete": "yes"})


def test_canonical_check_values_are_carried_into_export_info():
    canonical = {"task_id": "t", "bytes": 10, "lines": 1, "sha256": "ab" * 32}
    data, _ = write(
        [labelbox_image(1, [BOX])], project_id="cproj", header=Header(canonical=canonical)
    )
    assert orjson.loads(data)["export_info"]["check_values"]["canonical"] == canonical


# ---------------------------------------------------------------------------- the publisher


@pytest.mark.parametrize("status, files", [(None, 3), ("InReview", 0)])
def test_an_export_task_of_format_diffgram_publishes_diffgram_json(
    store, org, database, tmp_path: Path, status, files
):
    services.import_diffgram(store, org.id, io.BytesIO(original()), file="d.json")
    settings = load_settings({}, home=str(tmp_path / "home"), database_url=database.url)
    spec = services.export_spec(
        store,
        org.id,
        Scope("project", derived_id("diffgram-project", org.id, PSID)),
        {"data_row_details": True, "project_details": True},
        {"workflow_status": status} if status else None,
        format="diffgram",
    )
    options = {"kind": "Annotations", "source": "project", "project_string_id": "mine"}
    task = export_tasks.create(store, org.id, spec, options=options)
    done = export_tasks.execute(
        store, Artifacts.local(tmp_path / "exports", settings), task.id, settings=settings
    )
    assert done.status == "COMPLETE", done.error_message
    path = Path(str(done.location)) / "diffgram.json"
    data = path.read_bytes()
    assert done.output is not None
    assert {k: done.output[k] for k in ("file", "bytes", "sha256", "file_list_length")} == {
        "file": "diffgram.json",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "file_list_length": files,
    }
    assert done.output["failed_files"] == [] and done.output["failed_file_count"] == 0
    info = orjson.loads(data)["export_info"]
    assert info["id"] == task.id and info["file_list_length"] == files
    manifest = export_tasks.manifest_of(store, org.id, task.id)
    result = manifest["streams"].get("result") or {}
    assert info["check_values"]["canonical"] == {
        "task_id": task.id,
        "bytes": result.get("bytes", 0),
        "lines": result.get("lines", 0),
        "sha256": result.get("sha256"),
    }
    if files:
        assert info["project"] == {"name": "Acme Vision", "project_string_id": PSID}
        assert result["lines"] == files
        assert len(imported(data)) == files
    else:  # an empty Diffgram file, still with its metadata
        assert info["project"]["project_string_id"] == "mine"
        assert [k for k in orjson.loads(data) if k.isdigit()] == []
    assert not any(p.name.endswith(".partial") for p in path.parent.iterdir())


def test_a_bad_option_fails_before_any_task_exists(store, org):
    with pytest.raises(InvalidSpec, match=r"options\.kind"):
        check_options("diffgram", {"kind": "TF Records"})
