"""The loader's shortcuts give what the long way gives.

* Export-ready entries of rows new to the catalog are built from what the loader wrote
  (:func:`labelport.export.cache.build`), not read back: for every such row of rich random
  files, and of files that share labels and model runs between rows, the entry is byte for
  byte the one built from the rows read back (:func:`labelport.export.assemble.fetch`).
* Batches are an implementation detail: a file imported a row at a time and in one batch gives
  the same catalog and the same summary.
* Validation takes the common shapes on a fast path: whatever it takes, it takes as the full
  checks do (same result, same notes), and what it does not take the full checks refuse with
  the same problem.
"""

from __future__ import annotations

import copy
import io
import marshal
import os
import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelport import services
from labelport.errors import InvalidRecords
from labelport.export import cache
from labelport.export.assemble import fetch
from labelport.imports import annotations, canonical, checks, entities
from labelport.imports import load as loader
from labelport.imports.base import Problem
from labelport.store import Store
from labelport.store import schema as s
from tests.factories import wipe
from tests.imports.strategies import row

EXAMPLES = int(os.environ.get("LABELPORT_TEST_EXAMPLES", "30"))


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every entry built from written rows is checked against the one read back."""
    real = cache.fill
    seen: list[str] = []

    def fill(conn: sa.Connection, org_id: str, *args: Any, **kwargs: Any) -> int:
        built = kwargs.get("built", args[2] if len(args) > 2 else None)
        done = real(conn, org_id, *args, **kwargs)
        for rid, entry in (built or {}).items():
            back = fetch(conn, org_id, [rid], cache.EVERYTHING)
            assert _decoded(entry) == _entry(back, rid), rid
            stored = conn.execute(
                sa.select(s.export_cache.c.line).where(s.export_cache.c.data_row_id == rid)
            ).scalar_one()
            assert stored == entry[2]
            seen.append(rid)
        return done

    monkeypatch.setattr(cache, "fill", fill)
    return seen


def _decoded(entry: tuple[bytes, bytes, bytes]) -> tuple[Any, Any, bytes]:
    return marshal.loads(entry[0]), marshal.loads(entry[1]), entry[2]


def _entry(page: Any, rid: str) -> tuple[Any, Any, bytes] | str:
    """A row's entry, tally and layout decoded (marshal spells an interned string its own way),
    or the name of the exception that leaves the row without one."""
    try:
        tally, layout, line = cache.encode(page, rid)
    except Exception as exc:
        return type(exc).__name__
    return marshal.loads(tally), marshal.loads(layout), line


def load(store: Store, org_id: str, rows: list[dict[str, Any]]) -> None:
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    services.import_labelbox(store, org_id, io.BytesIO(body), file="rows.ndjson", dataset="d")


# keys a row keeps whatever happens (left out, the row is refused)
_NEEDED = {"data_row", "row_data", "name", "id", "runs", "annotation_kind", "value", "type"}
_NEEDED |= {"dimensions", "values", "schema_id"}
_KEYED = ("projects", "experiments", "runs")  # objects keyed by id: their entries are kept


def _thin(rnd: random.Random, value: Any, depth: int = 0, keyed: bool = False) -> None:
    """Leave keys out, null them and add unknown ones, at random, down to the labels."""
    if isinstance(value, list):
        for item in value:
            _thin(rnd, item, depth + 1)
        return
    if not isinstance(value, dict) or depth > 8:
        return
    for key in list(value):
        if keyed or key in _NEEDED or value[key] is None:
            pass
        elif rnd.random() < 0.1:
            del value[key]
            continue
        elif rnd.random() < 0.05 and key not in ("annotations", *_KEYED):
            value[key] = None
            continue
        if key != "annotations":
            _thin(rnd, value[key], depth + 1, keyed=key in _KEYED and not keyed)
    if not keyed and rnd.random() < 0.05:
        value["x_future"] = rnd.choice([1, 2.5, "new", None, [1, {"a": True}]])


@st.composite
def thinned_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = draw(st.lists(row(), min_size=1, max_size=4, unique_by=lambda r: r["data_row"]["id"]))
    rnd = draw(st.randoms(use_true_random=False))
    out = []
    for r in rows:
        r = copy.deepcopy(r)
        _thin(rnd, r)
        out.append(r)
    return out


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(rows=thinned_rows())
def test_entries_built_from_written_rows_are_the_entries_read_back(
    store: Store, org: services.Organization, compared: list[str], rows: list[dict[str, Any]]
) -> None:
    keys = [r["data_row"].get("global_key") for r in rows if r["data_row"].get("global_key")]
    if len(keys) != len(set(keys)):
        return
    wipe(store)
    try:
        load(store, org.id, rows)
    except InvalidRecords:
        return  # a row left without something it needs: nothing written, nothing to compare


def _row(n: int, label: str, run_label: str) -> dict[str, Any]:
    return {
        "data_row": {
            "id": f"crow{n:021d}",
            "row_data": f"https://media.test/{n}.jpg",
            "details": {"dataset_name": "street", "created_by": f"u{n % 2}@acme.test"},
        },
        "metadata_fields": [{"schema_name": "tod", "value": f"t{n}"}],
        "projects": {
            "cprojaaaaaaaaaaaaaaaaaaaa": {
                "name": f"boxes {n}",  # the first name stays the project's
                "labels": [{"id": label, "annotations": {"objects": []}}],
            },
        },
        "experiments": {
            "cmodelaaaaaaaaaaaaaaaaaaa": {
                "name": "m",
                "runs": {
                    "crunaaaaaaaaaaaaaaaaaaaaa": {
                        "name": "r",
                        "labels": [{"id": run_label, "annotations": {"objects": []}}],
                        "split": "training",
                    }
                },
            }
        },
    }


def test_rows_sharing_a_label_are_read_back_and_the_rest_built(
    store: Store, org: services.Organization, compared: list[str]
) -> None:
    rows = [
        _row(1, "clab000000000000000000001", "crl0000000000000000000001"),
        _row(2, "clab000000000000000000001", "crl0000000000000000000002"),  # the same label
        _row(3, "clab000000000000000000003", "crl0000000000000000000002"),  # a run label too
        _row(4, "clab000000000000000000004", "crl0000000000000000000004"),
    ]
    load(store, org.id, rows)
    assert compared == ["crow000000000000000000004"]  # rows 1-3 share a label or a run label
    with store.read() as conn:
        query = sa.select(s.export_cache.c.data_row_id, s.export_cache.c.line)
        lines = {rid: line for rid, line in conn.execute(query)}
    assert len(lines) == 4  # the other rows' entries were read back
    assert b"boxes 1" in lines["crow000000000000000000004"]
    assert b"clab000000000000000000001" not in lines["crow000000000000000000001"]


@pytest.fixture
def deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """New user ids and the import's "now" made the same from run to run."""
    counter = iter(range(10**9))
    monkeypatch.setattr(loader, "utcnow", lambda: NOW)
    monkeypatch.setattr(entities, "new_id", lambda: f"cuser{next(counter):020d}")


NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def catalog(store: Store) -> dict[str, list[str]]:
    """Every row of every table, sorted. Entries are decoded (marshal spells interned strings
    its own way) and without the import record they remember (an entry forgotten by a later
    batch, a project's tags changed, is built again at the end without one)."""
    out: dict[str, list[str]] = {}
    with store.read() as conn:
        for table in s.metadata.sorted_tables:
            if table.name in ("schema_version", "import_task", "export_task"):
                continue
            rows = conn.execute(sa.select(table)).all()
            if table.name == "export_cache":
                rows = [(r[0], r[1], marshal.loads(r[2]), marshal.loads(r[3]), r[4]) for r in rows]
            out[table.name] = sorted(repr(tuple(r)) for r in rows)
    return out


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(rows=thinned_rows(), repeat=st.booleans(), copies=st.integers(1, 3))
def test_a_file_gives_the_same_catalog_a_row_at_a_time_and_in_one_batch(
    store: Store,
    org: services.Organization,
    deterministic: None,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[dict[str, Any]],
    repeat: bool,
    copies: int,
) -> None:
    # other rows naming the same entities
    rows = rows + [_copy(r, n) for n in range(copies) for r in rows]
    if repeat:  # a file naming its rows twice, the second time changed
        rows = rows + [_renamed(r) for r in rows]
    outcomes = []
    for size in (1, 10_000):
        wipe(store)
        monkeypatch.setattr(loader, "BATCH_SIZE", size)
        try:
            result = load_result(store, org.id, rows)
        except InvalidRecords as exc:
            outcome: Any = ("refused", [(e.line, e.field, e.reason) for e in exc.errors])
        else:
            outcome = (result.to_json(), catalog(store))
        outcomes.append(outcome)
    one_by_one, together = outcomes
    if one_by_one[0] == "refused" or together[0] == "refused":
        assert one_by_one == together
        return
    assert one_by_one[0] == together[0]  # the summary
    for table, rows_ in together[1].items():  # the catalog
        assert one_by_one[1][table] == rows_, table


def _copy(row: dict[str, Any], n: int) -> dict[str, Any]:
    """Another row like ``row``: its ids (and labels' ids) another, its entities the same."""
    out = copy.deepcopy(row)

    def other(value: Any) -> Any:
        return f"x{n}{value}"[:25] if isinstance(value, str) else value

    dr = out["data_row"]
    for key in ("id", "global_key"):
        if key in dr:
            dr[key] = other(dr[key])
    labels = [lab for p in (out.get("projects") or {}).values() for lab in p.get("labels") or ()]
    for model in (out.get("experiments") or {}).values():
        for run in model["runs"].values():
            labels += [*(run.get("labels") or ()), *(run.get("predictions") or ())]
    for lab in labels:
        if isinstance(lab, dict) and "id" in lab:
            lab["id"] = other(lab["id"])
    return out


def _renamed(row: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(row)
    out.setdefault("media_attributes", {})
    if isinstance(out["media_attributes"], dict):
        out["media_attributes"]["again"] = True
    return out


def load_result(store: Store, org_id: str, rows: list[dict[str, Any]]) -> Any:
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    return services.import_labelbox(
        store, org_id, io.BytesIO(body), file="rows.ndjson", dataset="d"
    )


# --------------------------------------------------------------------------- validation


def _outcome(check: Any, value: Any) -> Any:
    try:
        return ("ok", check(value))
    except Problem as problem:
        return ("problem", problem.field, problem.reason)


def _slow_object(obj: Any) -> Any:
    notes = checks.Notes()
    got = _outcome(lambda o: annotations._object(o, "a", notes), obj)
    return got, notes.items


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(
    obj=st.fixed_dictionaries(
        {},
        optional={
            "annotation_kind": st.sampled_from(["ImageBoundingBox", "ImagePolygon", "Odd", 3]),
            "name": st.sampled_from(["car", None, 1]),
            "bounding_box": st.sampled_from(
                [None, {}, {"top": 1, "left": 2.5, "height": 3, "width": 4}, {"top": True}, []]
            ),
            "polygon": st.sampled_from([[], [{"x": 1, "y": 2}], [{"x": 1}], [{"x": "1", "y": 2}]]),
            "point": st.sampled_from([{"x": 1, "y": 2}, {"y": 2}, 5]),
            "classifications": st.sampled_from(
                [
                    [],
                    None,
                    [{"name": "c", "radio_answer": {"name": "a"}}],
                    [{"name": "c"}],
                    [{"name": "c", "radio_answer": {"name": "a"}, "text_answer": {}}],
                    [{"name": "c", "checklist_answers": [{"name": "a", "classifications": []}]}],
                    [{"name": "c", "text_answer": {"content": 1}}],
                    [{"name": "c", "text_answer": {"content": "x"}}],
                ]
            ),
        },
    )
)
def test_the_plain_object_path_takes_only_what_the_full_checks_take(obj: dict[str, Any]) -> None:
    if annotations._plain_object(obj):
        assert _slow_object(obj) == (("ok", None), [])


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(
    item=st.fixed_dictionaries(
        {},
        optional={
            "schema_id": st.sampled_from(["cfield00000000000000000001", "bad id", None, 3]),
            "schema_name": st.sampled_from(["tod", None, "x" * 501, 4]),
            "value": st.sampled_from(["a", 1, 2.5, True, None, [1], {"schema_name": "x"}]),
            "other": st.just(1),
        },
    )
)
def test_the_plain_metadata_path_takes_only_what_the_full_checks_take(
    item: dict[str, Any],
) -> None:
    if canonical._plain_metadata(item):
        notes = checks.Notes()
        assert _outcome(lambda v: canonical._metadata(v, notes), [item]) == ("ok", [item])
        assert notes.items == []


@settings(max_examples=EXAMPLES, deadline=None)
@given(rows=thinned_rows())
def test_checks_give_the_same_on_the_fast_and_the_full_path(rows: list[dict[str, Any]]) -> None:
    """Rows checked with the fast paths switched off give the same results and notes."""
    for one in rows:
        fast = _outcome(canonical.check_row, copy.deepcopy(one))
        with _full_checks():
            full = _outcome(canonical.check_row, copy.deepcopy(one))
        assert _comparable(fast) == _comparable(full)


class _full_checks:
    """The fast predicates answer no: every value takes the full checks."""

    def __enter__(self) -> None:
        self.saved = (annotations._plain_object, annotations._plain_classifications)
        self.saved_metadata = canonical._plain_metadata
        annotations._plain_object = lambda obj: False  # type: ignore[assignment]
        annotations._plain_classifications = lambda value: False  # type: ignore[assignment]
        canonical._plain_metadata = lambda item: False  # type: ignore[assignment]

    def __exit__(self, *exc: object) -> None:
        annotations._plain_object, annotations._plain_classifications = self.saved
        canonical._plain_metadata = self.saved_metadata


def _comparable(outcome: Any) -> Any:
    if outcome[0] != "ok":
        return outcome
    row = outcome[1]
    return (
        row.id,
        row.global_key,
        row.created_at,
        row.updated_at,
        row.last_activity_at,
        [(p.id, p.name, p.workflow_status, p.history_times) for p in row.projects],
        [
            (lab.id, lab.label_kind, lab.version, lab.created_at, lab.created_by)
            for p in row.projects
            for lab in p.labels or ()
        ],
        [(r.id, r.split) for r in row.runs],
        row.notes.items,
    )
