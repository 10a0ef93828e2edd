"""Hostile Diffgram exports through the import service and the CLI, on both stores: deep nesting,
NUL characters, integers beyond 64 bits. Each is one error naming the file, the packet, the
field and the reason - never a traceback - and nothing is stored."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.imports.diffgram_checks import MAX_NESTING
from labelport.store import schema as s
from tests.imports.diffgram_samples import (
    ATTRIBUTE_GROUPS,
    export_bytes,
    image_packet,
    text_packet,
    video_packet,
)

RAW = "__RAW__"  # replaced by raw JSON text that Python's json module could not write


def deep(levels: int) -> bytes:
    return b"[" * levels + b"1" + b"]" * levels


def hostile(raw: bytes, *, where: str = "slider") -> bytes:
    """The fixture's export with ``raw`` in the third packet (the first two are fine)."""
    bad = image_packet()
    if where == "slider":  # a slider attribute's value, kept raw under the diffgram extension
        bad["instance_list"][0]["attribute_groups"]["105"] = RAW
    elif where == "box":
        bad["instance_list"][0]["x_max"] = RAW
    else:
        bad["file"]["original_filename"] = RAW
    data = export_bytes([("502", video_packet()), ("503", text_packet()), ("501", bad)])
    return data.replace(json.dumps(RAW).encode(), raw)


# (id, the file, line, field, words of the reason)
CASES = [
    (
        f"nested-{levels}",
        hostile(deep(levels)),
        3,
        "501.instance_list[0].attribute_groups.105[0][0]",
        f"nested more than {MAX_NESTING} levels deep",
    )
    for levels in (255, 1024)
] + [
    ("nested-50000", hostile(deep(50_000)), 3, "", "nested more than 2048 levels deep"),
    (
        "escaped-nul",
        hostile(b'"street\\u0000.jpg"', where="name"),
        3,
        "501.file.original_filename",
        "contains a NUL character, which the catalog cannot store",
    ),
    (
        "raw-nul",
        hostile(b'"street\x00.jpg"', where="name"),
        3,
        "",
        "contains a NUL character, which the catalog cannot store (a raw NUL byte) (byte ",
    ),
    (
        "lone-surrogate",
        hostile(b'"street\\udc00.jpg"', where="name"),
        3,
        "",
        "a string is not valid Unicode",
    ),
    (
        "nul-in-metadata",
        export_bytes(
            [("501", image_packet())],
            metadata={"label_map": {"11": "car\u0000", "12": "person"}},
        ),
        0,
        "label_map.11",
        "contains a NUL character",
    ),
    (
        "big-int",
        hostile(b"1234567890123456789012345", where="box"),
        3,
        "x_max",
        "an integer beyond 64 bits (1234567890123456789012345): labelport keeps numbers "
        "exact and cannot store it",
    ),
    (
        "big-int-in-attribute",
        hostile(b"9223372036854775808"),  # 2**63
        3,
        "105",
        "an integer beyond 64 bits (9223372036854775808)",
    ),
]


def nothing_stored(store: Any, org_id: str) -> None:
    counts = services.stats(store, org_id)
    assert (counts["data rows"], counts["projects"], counts["labels"]) == (0, 0, 0), counts
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.external_alias)).scalar() == 0


@pytest.mark.parametrize("name, data, line, field, words", CASES, ids=[c[0] for c in CASES])
def test_a_hostile_export_is_one_error_and_stores_nothing(
    store: Any, org: Any, name: str, data: bytes, line: int, field: str, words: str
):
    with pytest.raises(InvalidRecords) as caught:
        services.import_diffgram(store, org.id, io.BytesIO(data), file="hostile.json")
    [error] = caught.value.errors
    assert (error.file, error.line) == ("hostile.json", line), error
    assert error.field.startswith(field) if field else error.field == "", error
    assert words in error.reason, error
    nothing_stored(store, org.id)


def test_the_cli_prints_the_error_and_no_traceback(run_cli: Any, tmp_path: Path):
    run_cli("init")
    path = tmp_path / "deep.json"
    path.write_bytes(hostile(deep(1024)))
    result = run_cli("import", "diffgram", str(path))
    assert result.exit_code == 65, result.output
    assert f"{path}:3: 501.instance_list[0].attribute_groups.105[0][0]" in result.output, (
        result.output
    )
    assert f"nested more than {MAX_NESTING} levels deep" in result.output
    assert "nothing was imported" in result.output
    assert "Traceback" not in result.output
    path.write_bytes(hostile(b"1234567890123456789012345", where="box"))
    result = run_cli("import", "diffgram", str(path))
    assert result.exit_code == 65, result.output
    assert f"{path}:3: x_max: an integer beyond 64 bits" in result.output
    stats = json.loads(run_cli("stats", "--json").output)["counts"]
    assert stats["data rows"] == 0


def test_values_at_the_limits_are_kept_exactly(store: Any, org: Any):
    """128 levels, signed 64-bit integers and a backslash before "u0000" are not refused."""
    kept = image_packet()
    # the packet, instance_list, [0] and attribute_groups are four levels: the value may have
    # 124 more, and nothing deeper
    at_limit = deep(MAX_NESTING - 4)
    kept["instance_list"][0]["attribute_groups"]["105"] = RAW
    kept["instance_list"][0]["number"] = 2**63 - 1
    kept["file"]["original_filename"] = "back\\u0000slash.jpg"  # a backslash, not a NUL
    data = export_bytes([("501", kept)]).replace(json.dumps(RAW).encode(), at_limit)
    result = services.import_diffgram(store, org.id, io.BytesIO(data), file="edge.json")
    assert result.rows == 1
    with store.read() as conn:
        assert conn.execute(sa.select(s.data_row.c.external_id)).scalar_one() == (
            "back\\u0000slash.jpg"
        )
        [doc] = conn.execute(sa.select(s.label.c.annotations)).scalars()
    [obj] = [o for o in doc["objects"] if o["diffgram"].get("number") is not None]
    assert obj["diffgram"]["number"] == 2**63 - 1
    raw = obj["diffgram"]["attribute_groups"]["105"]
    depth = 0
    while isinstance(raw, list):
        raw, depth = raw[0], depth + 1
    assert (raw, depth) == (1, MAX_NESTING - 4)
    assert ATTRIBUTE_GROUPS[4]["kind"] == "slider"  # why 105 is kept raw


def test_over_rest_the_task_fails_with_the_error_and_no_sql(server: Any):
    """An upload with a NUL (PostgreSQL refuses it in text) and one nested 1,024 deep."""
    for data, field, words in (
        (hostile(b'"street\\u0000.jpg"', where="name"), "501.file.original_filename", "NUL"),
        (hostile(deep(1024)), "501.instance_list[0].attribute_groups.105", "nested more than"),
    ):
        with server.client("editor") as http:
            answer = http.post("/api/v1/imports", params={"source": "diffgram"}, content=data)
            assert answer.status_code == 202, answer.text
            task_id = answer.json()["id"]
            deadline = time.monotonic() + 30
            while (task := http.get(f"/api/v1/imports/{task_id}").json())["status"] not in (
                "COMPLETE",
                "FAILED",
            ):
                assert time.monotonic() < deadline, task
                time.sleep(0.05)
        assert task["status"] == "FAILED", task
        [error] = task["errors"]
        assert error["line"] == 3 and error["field"].startswith(field), error
        assert words in error["reason"]
        assert "SQL" not in task["error_message"] and "INSERT" not in task["error_message"]
    nothing_stored(server.store, server.org.id)
