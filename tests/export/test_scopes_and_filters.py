"""The export engine end to end: scopes, params and filters give exactly the rows and parts asked.

Every test imports a small catalog of canonical rows (two datasets, twelve data rows, two
projects with four workflow statuses and three batches, one model with two runs, metadata,
attachments, embeddings) into organization "acme" and a few rows into a second organization,
then exports through ``services.start_export`` + ``export_tasks.execute`` and reads the result
stream back. Expectations are computed from the input tables below, never from the catalog.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from labelport import services
from labelport.errors import InvalidSpec, NotFound
from labelport.export.artifacts import Artifacts
from labelport.export.manifest import read_manifest, stream_info, verify
from labelport.export.spec import Scope
from labelport.export.stream_reader import StreamReader
from labelport.imports.canonical import PERFORMANCE_KEYS
from labelport.services import activity, export_tasks
from labelport.store import Store, open_store
from labelport.times import format_timestamp, parse_timestamp, utcnow
from tests.conftest import Database
from tests.factories import as_labelports_own

# ------------------------------------------------------------------------------------ the data

DS_A, DS_B = "ds-street", "ds-fields"
DATASET_NAMES = {DS_A: "street", DS_B: "fields"}
P1, P2 = "proj-boxes", "proj-review"
PROJECT_NAMES = {P1: "boxes", P2: "review"}
ONTOLOGIES = {P1: "onto-boxes", P2: "onto-review"}
B1, B2, B3 = "batch-1", "batch-2", "batch-3"
BATCH_NAMES = {B1: "first", B2: "second", B3: "third"}
MODEL, MODEL_NAME = "mdl-detector", "detector"
RUN1, RUN2 = "run-baseline", "run-tuned"
RUN_NAMES = {RUN1: "baseline", RUN2: "tuned"}
CREATOR = "ann@acme.test"
LABELER = "bob@acme.test"

N = range(1, 13)
# A permutation: created-at order differs from import order and from id order.
CREATED_DAY = {1: 5, 2: 2, 3: 9, 4: 1, 5: 12, 6: 7, 7: 3, 8: 11, 9: 6, 10: 10, 11: 4, 12: 8}
# Rows 4 and 5 sit either side of midnight 2024-03-05 in Asia/Tokyo (15:00 UTC on the 4th).
ACTIVITY = {
    1: "2024-03-01T10:00:00",
    2: "2024-03-02T10:00:00",
    3: "2024-03-03T10:00:00",
    4: "2024-03-04T14:00:00",
    5: "2024-03-04T16:00:00",
    6: "2024-03-05T10:00:00",
    7: "2024-03-06T10:00:00",
    8: "2024-03-07T10:00:00",
    9: "2024-03-08T10:00:00",
    10: "2024-03-09T10:00:00",
    11: "2024-03-10T10:00:00",
    12: "2024-03-11T10:00:00",
}
# project -> row -> (workflow status, batch, label creation days in February)
MEMBERS: dict[str, dict[int, tuple[str, str, list[int]]]] = {
    P1: {
        1: ("TO_LABEL", B1, []),
        2: ("IN_REVIEW", B1, [2]),
        3: ("IN_REWORK", B1, [3]),
        4: ("DONE", B1, [4]),
        5: ("DONE", B2, [5]),
        6: ("TO_LABEL", B2, []),
        7: ("IN_REVIEW", B2, [7]),
        8: ("DONE", B2, [8, 18]),
    },
    P2: {
        6: ("DONE", B3, [16]),
        7: ("IN_REWORK", B3, [17]),
        8: ("TO_LABEL", B3, []),
        9: ("IN_REVIEW", B3, [19]),
        10: ("DONE", B3, [20]),
        11: ("TO_LABEL", B3, []),
    },
}
# run -> row -> (split, ground-truth labels, predictions)
RUNS: dict[str, dict[int, tuple[str | None, int, int]]] = {
    RUN1: {2: ("TRAINING", 1, 2), 3: ("VALIDATION", 1, 1), 9: ("TEST", 1, 1), 12: (None, 1, 0)},
    RUN2: {3: ("TRAINING", 1, 1), 4: ("TEST", 2, 1)},
}
METADATA = {
    1: [{"schema_id": "md-tod", "schema_name": "tod", "value": "noon"}],
    2: [{"schema_id": "md-tod", "schema_name": "tod", "value": "dusk"}],
    9: [
        {"schema_id": "md-score", "schema_name": "score", "value": 0.5},
        {"schema_id": "md-tod", "schema_name": "tod", "value": "night"},
    ],
}
ATTACHMENTS = {
    1: [{"id": "att-1", "type": "RAW_TEXT", "value": "look left", "name": "note"}],
    8: [
        {"id": "att-8", "type": "IMAGE_OVERLAY", "value": "https://media.test/o8.png", "name": "o"}
    ],
}
EMBEDDINGS = {
    n: [
        {
            "id": "emb-clip",
            "name": "clip",
            "dimensions": 3,
            "is_custom": True,
            "values": [{"value": [0.25, 0.5, float(n)]}],
        }
    ]
    for n in (2, 9)
}
EXTERNAL_IDS = {3: "ext-3", 10: "ext-10"}
PERFORMANCE = {"seconds_to_create": 12.5, "skipped": False, "consensus_score": 0.75}

OTHER_ROWS = ("o-dr-1", "o-dr-2")
OTHER_PROJECT, OTHER_DATASET, OTHER_BATCH = "o-proj", "o-ds", "o-batch"
OTHER_MODEL, OTHER_RUN = "o-model", "o-run"


def rid(n: int) -> str:
    return f"dr-{n:02d}"


def gk(n: int) -> str:
    return f"gk-{n:02d}"


def dataset_of(n: int) -> str:
    return DS_A if n <= 7 else DS_B


def created(n: int) -> datetime:
    return datetime(2024, 1, CREATED_DAY[n], 8, tzinfo=UTC)


def activity_at(n: int) -> datetime:
    return datetime.fromisoformat(ACTIVITY[n]).replace(tzinfo=UTC)


def ts(value: datetime) -> str:
    return str(format_timestamp(value))


def label_time(day: int) -> datetime:
    return datetime(2024, 2, day, 12, tzinfo=UTC)


def label_id(pid: str, n: int, i: int) -> str:
    return f"lb-{pid}-{n:02d}-{i}"


def box(name: str) -> dict[str, Any]:
    return {
        "feature_id": f"f-{name}",
        "name": name,
        "value": name,
        "annotation_kind": "ImageBoundingBox",
        "classifications": [],
        "bounding_box": {"top": 1, "left": 2, "height": 3, "width": 4},
    }


def point(name: str) -> dict[str, Any]:
    return {
        "feature_id": f"f-{name}",
        "name": name,
        "value": name,
        "annotation_kind": "ImagePoint",
        "classifications": [],
        "point": {"x": 5, "y": 6},
    }


def polygon(name: str) -> dict[str, Any]:
    return {
        "feature_id": f"f-{name}",
        "name": name,
        "value": name,
        "annotation_kind": "ImagePolygon",
        "classifications": [],
        "polygon": [{"x": 0, "y": 0}, {"x": 4, "y": 0}, {"x": 4, "y": 4}],
    }


def label_annotations(day: int) -> dict[str, Any]:
    objects = [box("car")] if day % 2 == 0 else [point("light")]
    if day % 3 == 0:
        objects.append(polygon("road"))
    return {"objects": objects, "classifications": [], "relationships": []}


def run_label(kind: str, run: str, n: int, i: int) -> dict[str, Any]:
    objects = [box("car")] if kind == "gt" else [point("light"), box("car")][: 1 + i % 2]
    return {
        "id": f"{kind}-{run}-{n:02d}-{i}",
        "label_kind": "Default",
        "version": "1.0.0",
        "annotations": {"objects": objects, "classifications": [], "relationships": []},
    }


def run_labels(run: str, n: int) -> list[dict[str, Any]]:
    return [run_label("gt", run, n, i) for i in range(RUNS[run][n][1])]


def run_predictions(run: str, n: int) -> list[dict[str, Any]]:
    return [run_label("pr", run, n, i) for i in range(RUNS[run][n][2])]


def canonical_row(n: int) -> dict[str, Any]:
    """The input row of data row ``n``: every section present."""
    data_row: dict[str, Any] = {"id": rid(n), "global_key": gk(n)}
    if n in EXTERNAL_IDS:
        data_row["external_id"] = EXTERNAL_IDS[n]
    data_row["row_data"] = f"https://media.test/{n:02d}.jpg"
    data_row["details"] = {
        "dataset_id": dataset_of(n),
        "dataset_name": DATASET_NAMES[dataset_of(n)],
        "created_at": ts(created(n)),
        "updated_at": ts(created(n)),
        "last_activity_at": ts(activity_at(n)),
        "created_by": CREATOR,
    }
    row: dict[str, Any] = {
        "data_row": data_row,
        "media_attributes": {"width": 64, "height": 48, "mime_type": "image/jpeg"},
        "attachments": ATTACHMENTS.get(n, []),
        "metadata_fields": METADATA.get(n, []),
        "embeddings": EMBEDDINGS.get(n, []),
    }
    projects = {}
    for pid, members in MEMBERS.items():
        if n not in members:
            continue
        status, batch, days = members[n]
        projects[pid] = {
            "name": PROJECT_NAMES[pid],
            "labels": [
                {
                    "id": label_id(pid, n, i),
                    "label_kind": "Default",
                    "version": "1.0.0",
                    "label_details": {
                        "created_at": ts(label_time(day)),
                        "updated_at": ts(label_time(day)),
                        "created_by": LABELER,
                        "reviews": [],
                    },
                    "performance_details": PERFORMANCE,
                    "annotations": label_annotations(day),
                }
                for i, day in enumerate(days)
            ],
            "project_details": {
                "ontology_id": ONTOLOGIES[pid],
                "batch_id": batch,
                "batch_name": BATCH_NAMES[batch],
                "workflow_status": status,
                "priority": n,
                "workflow_history": [],
            },
        }
    if projects:
        row["projects"] = projects
    runs = {}
    for run, members in RUNS.items():
        if n in members:
            runs[run] = {
                "name": RUN_NAMES[run],
                "run_data_row_id": f"rdr-{run}-{n:02d}",
                "labels": run_labels(run, n),
                "predictions": run_predictions(run, n),
                "split": members[n][0],
            }
    if runs:
        row["experiments"] = {MODEL: {"name": MODEL_NAME, "runs": runs}}
    return row


def other_org_rows() -> list[dict[str, Any]]:
    """Rows of a second organization; one shares a global key with acme's data row 1."""
    out = []
    for i, (key, key_gk) in enumerate(zip(OTHER_ROWS, (gk(1), "gk-other"), strict=True)):
        out.append(
            {
                "data_row": {
                    "id": key,
                    "global_key": key_gk,
                    "row_data": f"https://media.test/other-{i}.jpg",
                    "details": {
                        "dataset_id": OTHER_DATASET,
                        "dataset_name": "theirs",
                        "created_at": "2023-06-01T00:00:00.000+00:00",
                        "last_activity_at": "2024-03-05T00:00:00.000+00:00",
                    },
                },
                "projects": {
                    OTHER_PROJECT: {
                        "name": "theirs",
                        "labels": [
                            {
                                "id": f"o-lab-{i}",
                                "label_details": {"created_at": "2024-02-17T00:00:00+00:00"},
                                "annotations": label_annotations(2),
                            }
                        ],
                        "project_details": {
                            "workflow_status": "DONE",
                            "batch_id": OTHER_BATCH,
                            "batch_name": "theirs",
                        },
                    }
                },
                "experiments": {
                    OTHER_MODEL: {
                        "name": "theirs",
                        "runs": {OTHER_RUN: {"name": "theirs", "labels": [], "split": "TEST"}},
                    }
                },
            }
        )
    return out


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


# ------------------------------------------------------------------------------ expectations

ALL = frozenset(
    {
        "attachments",
        "metadata_fields",
        "embeddings",
        "data_row_details",
        "project_details",
        "label_details",
        "performance_details",
        "predictions",
        "model_run_details",
    }
)


def sorted_numbers(rows: Any) -> list[int]:
    """Data row numbers in export order: created_at, then id."""
    return sorted(rows, key=lambda n: (created(n), rid(n)))


def ordered(rows: Any) -> list[str]:
    """Data row ids of ``rows`` (numbers) in export order."""
    return [rid(n) for n in sorted_numbers(rows)]


def expected_label(pid: str, n: int, i: int, day: int, on: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": label_id(pid, n, i), "label_kind": "Default", "version": "1.0.0"}
    if "label_details" in on:
        out["label_details"] = {
            "created_at": ts(label_time(day)),
            "updated_at": ts(label_time(day)),
            "created_by": LABELER,
            "content_last_updated_at": None,
            "reviews": [],
        }
    if "performance_details" in on:
        out["performance_details"] = {k: PERFORMANCE.get(k) for k in PERFORMANCE_KEYS}
    out["annotations"] = label_annotations(day)
    return out


def expected_row(
    n: int,
    on: frozenset[str] = frozenset(),
    *,
    projects: tuple[str, ...] | None = None,
    runs: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The exported row of data row ``n`` with params ``on``; ``projects`` / ``runs`` None means
    the key is absent, a tuple means the entries of those projects / runs."""
    source = canonical_row(n)
    data_row = {k: v for k, v in source["data_row"].items() if k != "details"}
    if "data_row_details" in on:
        data_row["details"] = {
            **source["data_row"]["details"],
            "created_at": ts(created(n)),
            "updated_at": ts(created(n)),
            "last_activity_at": ts(activity_at(n)),
        }
    out: dict[str, Any] = {"data_row": data_row, "media_attributes": source["media_attributes"]}
    for param in ("attachments", "metadata_fields", "embeddings"):
        if param in on:
            out[param] = source[param]
    if projects is not None:
        out["projects"] = {}
        for pid in projects:
            if n not in MEMBERS[pid]:
                continue
            status, batch, days = MEMBERS[pid][n]
            entry: dict[str, Any] = {
                "name": PROJECT_NAMES[pid],
                "labels": [expected_label(pid, n, i, day, on) for i, day in enumerate(days)],
            }
            if "project_details" in on:
                entry["project_details"] = {
                    "ontology_id": ONTOLOGIES[pid],
                    "task_id": None,
                    "task_name": None,
                    "batch_id": batch,
                    "batch_name": BATCH_NAMES[batch],
                    "workflow_status": status,
                    "priority": n,
                    "selected_label_id": None,
                    "consensus_expected_label_count": None,
                    "workflow_history": [],
                }
            out["projects"][pid] = entry
    if runs is not None:
        experiments: dict[str, Any] = {}
        for run in runs:
            if n not in RUNS[run]:
                continue
            entry = {
                "name": RUN_NAMES[run],
                "run_data_row_id": f"rdr-{run}-{n:02d}",
                "labels": run_labels(run, n),
            }
            if "predictions" in on:
                entry["predictions"] = run_predictions(run, n)
            if "model_run_details" in on:
                entry["split"] = RUNS[run][n][0]
            model = experiments.setdefault(MODEL, {"name": MODEL_NAME, "runs": {}})
            model["runs"][run] = entry
        out["experiments"] = experiments
    return out


# ----------------------------------------------------------------------------------- harness


@dataclass
class Export:
    task: export_tasks.TaskInfo
    directory: Path
    manifest: dict[str, Any]
    lines: list[bytes]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]

    @property
    def ids(self) -> list[str]:
        return [r["data_row"]["id"] for r in self.rows]

    def result_bytes(self) -> list[bytes]:
        files = self.manifest["streams"]["result"]["files"]
        return [(self.directory / f["name"]).read_bytes() for f in files]


@dataclass
class Catalog:
    store: Store
    org: services.Organization
    other: services.Organization
    root: Path

    def export(
        self,
        scope: Scope,
        params: dict[str, Any] | None = None,
        filters: dict[str, Any] | None = None,
    ) -> Export:
        task = services.start_export(self.store, self.org.id, scope, params, filters)
        done = export_tasks.execute(self.store, Artifacts.local(self.root), task.id)
        assert done.status == "COMPLETE", done.error_message
        directory = Path(str(done.location))
        manifest = read_manifest(directory)
        info = stream_info(manifest, "result")
        lines = list(StreamReader(directory, info).iter_lines())
        assert done.result_lines == len(lines) == manifest["counts"]["data_rows"]
        assert manifest["counts"]["errors"] == 0
        assert manifest["rows_planned"] == len(lines)  # counted apart from the rows read
        for line in lines:
            row = orjson.loads(line)
            assert "media_attributes" in row  # always, whatever the params
        return Export(done, directory, manifest, lines)

    def ids(self, scope: Scope, params=None, filters=None) -> list[str]:
        return self.export(scope, params, filters).ids

    def tasks(self) -> list[str]:
        return [
            t.id for t in export_tasks.list_tasks(self.store, self.org.id, include_archived=True)
        ]

    def fails(self, error: type[Exception], scope: Scope, params=None, filters=None) -> Exception:
        """start_export raises ``error`` and creates no task."""
        before = self.tasks()
        with pytest.raises(error) as caught:
            services.start_export(self.store, self.org.id, scope, params, filters)
        assert self.tasks() == before
        return caught.value


def build_catalog(store: Store, org: services.Organization, root: Path) -> Catalog:
    rows = ndjson([canonical_row(n) for n in N])
    services.import_labelbox(store, org.id, io.BytesIO(rows), file="t.ndjson")
    other = services.create_organization(store, "other")
    services.import_labelbox(store, other.id, io.BytesIO(ndjson(other_org_rows())), file="o.ndjson")
    as_labelports_own(store)  # these tests are about scopes, params and filters
    return Catalog(store, org, other, root)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def cat(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Catalog]:
    """One catalog per database for the tests that only read it (exports, slices and tasks they
    add change no other test's rows)."""
    tmp = tmp_path_factory.mktemp(f"catalog-{request.param}")
    db = Database(request.param, tmp)
    store = open_store(db.url)
    try:
        org = services.create_organization(store, "acme")
        yield build_catalog(store, org, tmp / "exports")
    finally:
        store.dispose()
        db.drop()


@pytest.fixture
def fresh(store, org, tmp_path) -> Catalog:
    """A catalog of its own, for tests that change it (timezone, activity, rows, no tasks yet)."""
    return build_catalog(store, org, tmp_path / "exports")


def project(pid: str = P1) -> Scope:
    return Scope("project", id=pid)


def dataset(did: str = DS_A) -> Scope:
    return Scope("dataset", id=did)


def model_run(run: str = RUN1) -> Scope:
    return Scope("model_run", id=run)


CATALOG = Scope("catalog")


# -------------------------------------------------------------------------------------- scopes


def test_project_scope_has_its_rows_and_only_its_project(cat):
    for pid in (P1, P2):
        got = cat.export(project(pid))
        assert got.ids == ordered(MEMBERS[pid])
        assert got.rows == [expected_row(n, projects=(pid,)) for n in sorted_numbers(MEMBERS[pid])]
        for row in got.rows:
            assert list(row["projects"]) == [pid]
            assert "experiments" not in row
        assert got.manifest["scope"] == {"kind": "project", "id": pid, "name": PROJECT_NAMES[pid]}


def test_a_project_scope_narrowed_to_a_dataset_and_statuses(cat):
    """What the Diffgram surface asks for a directory: one dataset's rows of a project, all,
    complete only, or incomplete only."""
    for did in (DS_A, DS_B):
        mine = {n: m for n, m in MEMBERS[P1].items() if dataset_of(n) == did}
        got = cat.export(Scope("project", P1, dataset_id=did))
        assert got.ids == ordered(mine)
        assert got.manifest["scope"]["dataset_id"] == did
        for statuses in (("DONE",), ("TO_LABEL", "IN_REVIEW", "IN_REWORK")):
            narrowed = Scope("project", P1, dataset_id=did, workflow_statuses=statuses)
            expected = [n for n, m in mine.items() if m[0] in statuses]
            assert cat.ids(narrowed) == ordered(expected)
    cat.fails(NotFound, Scope("project", P1, dataset_id="ds-nope"))
    with pytest.raises(InvalidSpec, match="only a project scope"):
        Scope("dataset", DS_A, workflow_statuses=("DONE",))
    with pytest.raises(InvalidSpec, match="unknown workflow statuses"):
        Scope("project", P1, workflow_statuses=("Done",))


def test_dataset_scope_has_its_rows_and_no_projects_unless_asked(cat):
    for did in (DS_A, DS_B):
        mine = [n for n in N if dataset_of(n) == did]
        got = cat.export(dataset(did))
        assert got.ids == ordered(mine)
        assert got.rows == [expected_row(n) for n in sorted_numbers(mine)]
        assert all("projects" not in r and "experiments" not in r for r in got.rows)
    got = cat.export(dataset(DS_A), {"project_ids": [P2]})
    mine = [n for n in N if dataset_of(n) == DS_A]
    assert got.rows == [expected_row(n, projects=(P2,)) for n in sorted_numbers(mine)]
    got = cat.export(dataset(DS_B), {"all_projects": True})
    mine = [n for n in N if dataset_of(n) == DS_B]
    assert got.rows == [expected_row(n, projects=(P1, P2)) for n in sorted_numbers(mine)]


def test_catalog_scope_has_every_row_of_the_org_and_none_of_another(cat):
    got = cat.export(CATALOG)
    assert got.ids == ordered(N)
    assert got.rows == [expected_row(n) for n in sorted_numbers(N)]
    assert not set(got.ids) & set(OTHER_ROWS)
    theirs = services.start_export(cat.store, cat.other.id, CATALOG)
    done = export_tasks.execute(cat.store, Artifacts.local(cat.root), theirs.id)
    assert done.status == "COMPLETE" and done.result_lines == len(OTHER_ROWS)


SLICES = [
    ({"global_keys": [gk(11), gk(2), gk(7), "gk-other"]}, [2, 7, 11]),
    ({"data_row_ids": [rid(5), rid(12), OTHER_ROWS[0]]}, [5, 12]),
    ({"dataset_ids": [DS_B]}, [8, 9, 10, 11, 12]),
    ({"last_activity_at": ["2024-03-04 16:00:00", "2024-03-07 10:00:00"]}, [5, 6, 7, 8]),
    ({"label_created_at": ["2024-02-16", "2024-02-18"]}, [6, 7]),
    (
        {"dataset_ids": [DS_A], "last_activity_at": ["2024-03-03 00:00:00", None]},
        [3, 4, 5, 6, 7],
    ),
    ({"media_type": ["IMAGE"], "global_keys": [gk(1), gk(3)]}, [1, 3]),
    ({"media_type": ["VIDEO"]}, []),
    ({"dataset_ids": [OTHER_DATASET]}, []),
    ({"dataset_ids": [OTHER_DATASET, DS_B], "global_keys": [gk(1), gk(9)]}, [9]),
]


def test_slice_scope_gives_exactly_the_matching_rows(cat):
    for i, (filters, expected) in enumerate(SLICES):
        slice_id = services.save_slice(cat.store, cat.org.id, f"slice {i}", filters)
        got = cat.export(Scope("slice", id=slice_id))
        assert got.ids == ordered(expected), filters
    slice_id = services.save_slice(cat.store, cat.org.id, "both", {"dataset_ids": [DS_A]})
    got = cat.export(Scope("slice", id=slice_id), {"project_ids": [P1], "model_run_ids": [RUN2]})
    mine = [n for n in N if dataset_of(n) == DS_A]
    assert got.rows == [expected_row(n, projects=(P1,), runs=(RUN2,)) for n in sorted_numbers(mine)]


def test_model_run_scope(cat):
    for run in (RUN1, RUN2):
        got = cat.export(model_run(run))
        assert got.ids == ordered(RUNS[run])
        assert got.rows == [expected_row(n, runs=(run,)) for n in sorted_numbers(RUNS[run])]
        for row in got.rows:
            assert "projects" not in row
            entry = row["experiments"][MODEL]["runs"][run]
            assert "predictions" not in entry and "split" not in entry
    got = cat.export(model_run(RUN1), {"predictions": True})
    on = frozenset({"predictions"})
    assert got.rows == [expected_row(n, on, runs=(RUN1,)) for n in sorted_numbers(RUNS[RUN1])]
    got = cat.export(model_run(RUN1), {"model_run_details": True})
    splits = [r["experiments"][MODEL]["runs"][RUN1]["split"] for r in got.rows]
    assert splits == [RUNS[RUN1][n][0] for n in sorted_numbers(RUNS[RUN1])]
    assert all("predictions" not in r["experiments"][MODEL]["runs"][RUN1] for r in got.rows)


def test_data_rows_scope_by_ids_and_by_global_keys(cat):
    by_ids = Scope("data_rows", data_row_ids=(rid(9), rid(1), OTHER_ROWS[1], "dr-missing"))
    assert cat.ids(by_ids) == ordered([1, 9])
    # acme's data row 1 and the other org's first row share the global key gk-01
    by_keys = Scope("data_rows", global_keys=(gk(5), gk(1), "gk-other"))
    got = cat.export(by_keys)
    assert got.rows == [expected_row(n) for n in sorted_numbers([1, 5])]
    assert cat.ids(Scope("data_rows", data_row_ids=OTHER_ROWS)) == []
    got = cat.export(by_ids, {"all_projects": True, "all_model_runs": True})
    assert got.rows == [
        expected_row(n, projects=(P1, P2), runs=(RUN1, RUN2)) for n in sorted_numbers([1, 9])
    ]


# ------------------------------------------------------------------------- catalog-side params


def test_catalog_selection_params(cat):
    cases: list[tuple[dict[str, Any], tuple[str, ...] | None, tuple[str, ...] | None]] = [
        ({"project_ids": [P1]}, (P1,), None),
        ({"project_ids": [P2, P1]}, (P1, P2), None),
        ({"all_projects": True}, (P1, P2), None),
        ({"model_run_ids": [RUN2]}, None, (RUN2,)),
        ({"all_model_runs": True}, None, (RUN1, RUN2)),
        ({"project_ids": [P2], "model_run_ids": [RUN1]}, (P2,), (RUN1,)),
    ]
    for params, projects, runs in cases:
        got = cat.export(CATALOG, params)
        expected = [expected_row(n, projects=projects, runs=runs) for n in sorted_numbers(N)]
        assert got.rows == expected, params
    for params, kind in [
        ({"project_ids": ["proj-missing"]}, "project"),
        ({"project_ids": [P1, OTHER_PROJECT]}, "project"),
        ({"model_run_ids": ["run-missing"]}, "model run"),
        ({"model_run_ids": [OTHER_RUN]}, "model run"),
    ]:
        for scope in (CATALOG, dataset(DS_A)):
            error = cat.fails(NotFound, scope, params)
            assert isinstance(error, NotFound) and error.kind == kind


# ------------------------------------------------------------------------------ params on/off

PARAMS_BY_SCOPE = {
    "project": ALL - {"predictions", "model_run_details"},
    "model_run": ALL - {"project_details", "label_details", "performance_details"},
    "catalog": ALL,
}


@pytest.mark.parametrize("kind", sorted(PARAMS_BY_SCOPE))
def test_each_param_changes_exactly_its_part(cat, kind):
    if kind == "project":
        scope, base, numbers = project(P1), {}, sorted_numbers(MEMBERS[P1])
        where: dict[str, Any] = {"projects": (P1,)}
    elif kind == "model_run":
        scope, base, numbers = model_run(RUN1), {}, sorted_numbers(RUNS[RUN1])
        where = {"runs": (RUN1,)}
    else:
        scope, base = CATALOG, {"all_projects": True, "all_model_runs": True}
        numbers = sorted_numbers(N)
        where = {"projects": (P1, P2), "runs": (RUN1, RUN2)}
    off = cat.export(scope, base).rows
    assert off == [expected_row(n, **where) for n in numbers]
    for param in sorted(PARAMS_BY_SCOPE[kind]):
        on = cat.export(scope, {**base, param: True}).rows
        assert on == [expected_row(n, frozenset({param}), **where) for n in numbers], param
        assert on != off, f"{param} changed nothing"
    every = {**base, **dict.fromkeys(PARAMS_BY_SCOPE[kind], True)}
    assert cat.export(scope, every).rows == [
        expected_row(n, PARAMS_BY_SCOPE[kind], **where) for n in numbers
    ]


# ------------------------------------------------------------------------------------- filters

LAST_ACTIVITY = [
    # (org timezone, [start, end], rows)
    ("UTC", ["2024-03-02 10:00:00", "2024-03-05 10:00:00"], [2, 3, 4, 5, 6]),  # inclusive
    ("UTC", ["2024-03-02 10:00:01", "2024-03-05 09:59:59"], [3, 4, 5]),
    ("UTC", [None, "2024-03-03 10:00:00"], [1, 2, 3]),
    ("UTC", ["2024-03-08 10:00:00", None], [9, 10, 11, 12]),
    ("UTC", ["2024-03-05", None], [6, 7, 8, 9, 10, 11, 12]),
    ("UTC", [None, "2024-03-05"], [1, 2, 3, 4, 5]),  # the date is its midnight
    ("Asia/Tokyo", ["2024-03-05", None], [5, 6, 7, 8, 9, 10, 11, 12]),
    ("Asia/Tokyo", [None, "2024-03-05"], [1, 2, 3, 4]),
    ("Asia/Tokyo", ["2024-03-04 23:00:00", "2024-03-05 01:00:00"], [4, 5]),
    ("America/New_York", ["2024-03-04 11:00:00", "2024-03-05"], [5]),
    ("UTC", ["2024-03-05T01:00:00+0900", "2024-03-05T19:00:00+09:00"], [5, 6]),
    ("America/New_York", ["2024-03-05T01:00:00+0900", "2024-03-05T10:00:00Z"], [5, 6]),
    ("Asia/Tokyo", ["2024-03-04T09:00:00-0500", None], [4, 5, 6, 7, 8, 9, 10, 11, 12]),
]


def test_last_activity_at_filter(fresh):
    for i, (timezone, bounds, expected) in enumerate(LAST_ACTIVITY):
        services.set_timezone(fresh.store, fresh.org.id, timezone)
        filters = {"last_activity_at": bounds}
        assert fresh.ids(CATALOG, None, filters) == ordered(expected), (timezone, bounds)
        if i % 3 == 0:  # the filter means the same for a dataset and a project
            mine = [n for n in expected if dataset_of(n) == DS_A]
            assert fresh.ids(dataset(DS_A), None, filters) == ordered(mine), (timezone, bounds)
            mine = [n for n in expected if n in MEMBERS[P2]]
            assert fresh.ids(project(P2), None, filters) == ordered(mine), (timezone, bounds)
    # a saved slice's local dates are read in the organization's timezone at export time
    services.set_timezone(fresh.store, fresh.org.id, "UTC")
    tokyo_day = {"last_activity_at": ["2024-03-05", "2024-03-05 23:59:59"]}
    slice_id = services.save_slice(fresh.store, fresh.org.id, "tokyo day", tokyo_day)
    assert fresh.ids(Scope("slice", id=slice_id)) == ordered([6])
    services.set_timezone(fresh.store, fresh.org.id, "Asia/Tokyo")
    assert fresh.ids(Scope("slice", id=slice_id)) == ordered([5, 6])
    some = Scope("data_rows", data_row_ids=(rid(4), rid(5), rid(7)))
    assert fresh.ids(some, None, tokyo_day) == ordered([5])
    task = services.start_export(
        fresh.store, fresh.org.id, CATALOG, None, {"last_activity_at": ["2024-03-05", None]}
    )
    assert task.filters == {"last_activity_at": ["2024-03-04T15:00:00.000+00:00", None]}
    # the task keeps the UTC instant: a timezone change before it runs changes nothing
    services.set_timezone(fresh.store, fresh.org.id, "UTC")
    done = export_tasks.execute(fresh.store, Artifacts.local(fresh.root), task.id)
    assert done.status == "COMPLETE" and done.result_lines == 8


def test_label_created_at_filter_counts_the_exported_projects_labels(cat):
    feb = ["2024-02-16 00:00:00", "2024-02-18 23:59:59"]  # labels of P2 on 6, 7; of P1 on 8
    assert cat.ids(project(P1), None, {"label_created_at": feb}) == ordered([8])
    assert cat.ids(project(P2), None, {"label_created_at": feb}) == ordered([6, 7])
    assert cat.ids(dataset(DS_A), None, {"label_created_at": feb}) == ordered([6, 7])
    assert cat.ids(CATALOG, None, {"label_created_at": feb}) == ordered([6, 7, 8])
    exact = [ts(label_time(5)), ts(label_time(7))]  # inclusive at both ends
    assert cat.ids(project(P1), None, {"label_created_at": exact}) == ordered([5, 7])
    assert cat.ids(CATALOG, None, {"label_created_at": [None, "2024-02-03"]}) == ordered([2])
    assert cat.ids(CATALOG, None, {"label_created_at": ["2024-02-19 12:00:00", None]}) == ordered(
        [9, 10]
    )
    # a row with no label never matches, even with an open range
    assert cat.ids(project(P2), None, {"label_created_at": ["2000-01-01", None]}) == ordered(
        [6, 7, 9, 10]
    )


STATUSES = {"ToLabel": "TO_LABEL", "InReview": "IN_REVIEW", "InRework": "IN_REWORK", "Done": "DONE"}


def test_workflow_status_filter(cat):
    for pid in (P1, P2):
        seen: list[str] = []
        for name, stored in STATUSES.items():
            mine = [n for n, (status, _, _) in MEMBERS[pid].items() if status == stored]
            got = cat.export(project(pid), {"project_details": True}, {"workflow_status": name})
            assert got.ids == ordered(mine), (pid, name)
            assert {r["projects"][pid]["project_details"]["workflow_status"] for r in got.rows} <= {
                stored
            }
            seen += got.ids
        assert sorted(seen) == sorted(ordered(MEMBERS[pid]))


def test_batch_ids_filter(cat):
    def in_batches(pid: str, batches: set[str]) -> list[str]:
        return ordered(n for n, (_, b, _) in MEMBERS[pid].items() if b in batches)

    assert cat.ids(project(P1), None, {"batch_ids": [B1]}) == in_batches(P1, {B1})
    assert cat.ids(project(P1), None, {"batch_ids": [B2]}) == in_batches(P1, {B2})
    assert cat.ids(project(P1), None, {"batch_ids": [B2, B1]}) == ordered(MEMBERS[P1])
    assert cat.ids(project(P2), None, {"batch_ids": [B3]}) == ordered(MEMBERS[P2])
    for batches in ([B3], [B1, B3], ["batch-missing"], [OTHER_BATCH]):
        error = cat.fails(NotFound, project(P1), None, {"batch_ids": batches})
        assert isinstance(error, NotFound) and error.kind == "batch"


def test_global_keys_and_data_row_ids_filters(cat):
    keys = {"global_keys": [gk(9), gk(1), gk(4), "gk-other", "gk-missing"]}
    assert cat.ids(project(P1), None, keys) == ordered([1, 4])  # 9 is not in P1
    assert cat.ids(project(P2), None, keys) == ordered([9])
    assert cat.ids(dataset(DS_A), None, keys) == ordered([1, 4])
    assert cat.ids(CATALOG, None, keys) == ordered([1, 4, 9])
    ids = {"data_row_ids": [rid(8), rid(2), rid(11), OTHER_ROWS[0]]}
    assert cat.ids(project(P1), None, ids) == ordered([2, 8])
    assert cat.ids(project(P2), None, ids) == ordered([8, 11])
    assert cat.ids(dataset(DS_B), None, ids) == ordered([8, 11])
    assert cat.ids(CATALOG, None, ids) == ordered([2, 8, 11])


def test_filters_combine_with_and(cat):
    cases: list[tuple[Scope, dict[str, Any], list[int]]] = [
        (project(P1), {"workflow_status": "Done", "batch_ids": [B2]}, [5, 8]),
        (project(P1), {"workflow_status": "DONE", "batch_ids": [B2]}, [5, 8]),  # any spelling
        (project(P1), {"workflow_status": "done", "batch_ids": [B2]}, [5, 8]),
        (
            project(P1),
            {"workflow_status": "Done", "last_activity_at": [None, "2024-03-04 15:00:00"]},
            [4],
        ),
        (project(P1), {"batch_ids": [B1], "label_created_at": ["2024-02-03", None]}, [3, 4]),
        (
            project(P1),
            {
                "workflow_status": "InReview",
                "batch_ids": [B2],
                "global_keys": [gk(2), gk(7)],
                "last_activity_at": ["2024-03-06", "2024-03-06 23:59:59"],
                "label_created_at": ["2024-02-07", "2024-02-07 12:00:00"],
            },
            [7],
        ),
        (project(P2), {"workflow_status": "ToLabel", "data_row_ids": [rid(8), rid(9)]}, [8]),
        (
            CATALOG,
            {"last_activity_at": ["2024-03-03", None], "label_created_at": [None, "2024-02-10"]},
            [3, 4, 5, 7, 8],
        ),
        (
            dataset(DS_B),
            {"global_keys": [gk(8), gk(9), gk(12)], "label_created_at": [None, None]},
            [
                8,
                9,
                12,
            ],
        ),
        (
            dataset(DS_A),
            {"data_row_ids": [rid(1), rid(6)], "last_activity_at": ["2024-03-05", None]},
            [6],
        ),
    ]
    for scope, filters, expected in cases:
        assert cat.ids(scope, None, filters) == ordered(expected), filters


def test_activity_brings_a_row_into_the_last_activity_window(fresh):
    since = {"last_activity_at": [ts(utcnow()), None]}
    assert fresh.ids(CATALOG, None, since) == []
    at = activity.set_workflow_status(fresh.store, fresh.org.id, P1, rid(1), "IN_REVIEW")
    assert fresh.ids(CATALOG, None, since) == [rid(1)]
    assert fresh.ids(project(P1), None, {**since, "workflow_status": "InReview"}) == [rid(1)]
    assert fresh.ids(project(P2), None, since) == []  # 1 is not in P2
    _, at2 = activity.save_label(
        fresh.store, fresh.org.id, P2, rid(11), {"objects": [point("x")], "classifications": []}
    )
    assert at2 >= at
    assert fresh.ids(CATALOG, None, since) == ordered([1, 11])
    assert fresh.ids(project(P2), None, since) == [rid(11)]
    assert fresh.ids(project(P2), None, {"label_created_at": [ts(at2), None]}) == [rid(11)]
    # the new activity time is what data_row_details reports
    got = fresh.export(Scope("data_rows", data_row_ids=(rid(11),)), {"data_row_details": True})
    assert parse_timestamp(got.rows[0]["data_row"]["details"]["last_activity_at"]) == at2
    # an end bound before the activity leaves the row out again
    before = {"last_activity_at": [None, ts(at - timedelta(milliseconds=1))]}
    assert rid(1) not in fresh.ids(CATALOG, None, before)
    # the other changes the seeds count: metadata, reviews and comments, row data and keys
    activity.set_metadata(fresh.store, fresh.org.id, rid(12), "md-tod", "dawn")
    activity.add_review(fresh.store, fresh.org.id, label_id(P1, 3, 0), comment="wheel")
    activity.update_data_row(fresh.store, fresh.org.id, rid(5), external_id="ext-5")
    assert fresh.ids(CATALOG, None, since) == ordered([1, 3, 5, 11, 12])
    assert fresh.ids(dataset(DS_B), None, since) == ordered([11, 12])


# ------------------------------------------------------------------------- errors before work


def test_mistakes_are_raised_by_start_export_and_create_no_task(fresh):
    """InvalidSpec for what the scope does not take, NotFound for what does not exist (or is
    another organization's); both before any task is created."""
    slice_id = services.save_slice(fresh.store, fresh.org.id, "s", {"dataset_ids": [DS_A]})
    week = ["2024-03-01", "2024-03-07"]
    cases: list[tuple[Scope, dict[str, Any] | None, dict[str, Any] | None]] = [
        (model_run(), None, {"last_activity_at": week}),
        (model_run(), None, {"global_keys": [gk(2)]}),
        (Scope("slice", id=slice_id), None, {"global_keys": [gk(2)]}),
        (Scope("slice", id=slice_id), None, {"last_activity_at": week}),
        (dataset(), None, {"workflow_status": "Done"}),
        (dataset(), None, {"batch_ids": [B1]}),
        (CATALOG, None, {"workflow_status": "InReview"}),
        (CATALOG, None, {"batch_ids": [B1]}),
        (Scope("data_rows", data_row_ids=(rid(1),)), None, {"global_keys": [gk(1)]}),
        (project(), None, {"dataset_ids": [DS_A]}),
        (project(), {"predictions": True}, None),
        (project(), {"project_ids": [P1]}, None),
        (model_run(), {"project_details": True}, None),
        (model_run(), {"all_model_runs": True}, None),
        (CATALOG, {"project_ids": [P1], "all_projects": True}, None),
        (project(), None, {"workflow_status": "FINISHED"}),
        (project(), None, {"last_activity_at": ["2024-03-07", "2024-03-01"]}),
    ]
    for scope, params, filters in cases:
        fresh.fails(InvalidSpec, scope, params, filters)
    theirs = services.save_slice(
        fresh.store, fresh.other.id, "theirs", {"dataset_ids": [OTHER_DATASET]}
    )
    missing = [
        (project("proj-missing"), "project"),
        (project(OTHER_PROJECT), "project"),
        (dataset("ds-missing"), "dataset"),
        (dataset(OTHER_DATASET), "dataset"),
        (Scope("slice", id="slice-missing"), "catalog slice"),
        (Scope("slice", id=theirs), "catalog slice"),
        (model_run("run-missing"), "model run"),
        (model_run(OTHER_RUN), "model run"),
    ]
    for scope, kind in missing:
        error = fresh.fails(NotFound, scope)
        assert isinstance(error, NotFound) and error.kind == kind, scope
    assert fresh.tasks() == []


# --------------------------------------------------------------------- order and determinism


def test_order_is_created_at_then_id_and_exports_are_byte_identical(fresh):
    # Three more rows created at the same instant as row 6: the id breaks the tie.
    tie = created(6)
    extra = []
    for key in ("dr-06b", "dr-06a", "dr-05z"):
        row = {
            "data_row": {
                "id": key,
                "row_data": f"https://media.test/{key}.jpg",
                "details": {"dataset_id": DS_A, "created_at": ts(tie)},
            }
        }
        extra.append(row)
    services.import_labelbox(
        fresh.store, fresh.org.id, io.BytesIO(ndjson(extra)), file="tie.ndjson"
    )
    as_labelports_own(fresh.store)
    expected = sorted(
        [(created(n), rid(n)) for n in N] + [(tie, "dr-05z"), (tie, "dr-06a"), (tie, "dr-06b")]
    )
    every = {"all_projects": True, "all_model_runs": True, **dict.fromkeys(ALL, True)}
    first = fresh.export(CATALOG, every)
    assert first.ids == [key for _, key in expected]
    second = fresh.export(CATALOG, every)
    assert first.task.id != second.task.id
    assert first.result_bytes() == second.result_bytes()
    assert first.lines == second.lines
    a, b = first.manifest["streams"]["result"], second.manifest["streams"]["result"]
    assert a["sha256"] == b["sha256"]
    assert [f["sha256"] for f in a["files"]] == [f["sha256"] for f in b["files"]]
    assert first.manifest["counts"] == second.manifest["counts"]
    # a small page size changes nothing in the bytes
    task = services.start_export(fresh.store, fresh.org.id, CATALOG, every)
    done = export_tasks.execute(fresh.store, Artifacts.local(fresh.root), task.id, page_size=2)
    assert done.status == "COMPLETE"
    third = read_manifest(Path(str(done.location)))
    assert third["streams"]["result"]["sha256"] == a["sha256"]


# ------------------------------------------------------------------------------ manifest counts


def expected_counts(
    rows: list[int], projects: tuple[str, ...], runs: tuple[str, ...], predictions: bool
) -> dict[str, Any]:
    labels: Counter[str] = Counter()
    run_labels_count: Counter[str] = Counter()
    predictions_count: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    statuses: dict[str, Counter[str]] = {}

    def add_kinds(annotations: dict[str, Any]) -> None:
        kinds.update(o["annotation_kind"] for o in annotations["objects"])

    for n in rows:
        for pid in projects:
            if n in MEMBERS[pid]:
                status, _, days = MEMBERS[pid][n]
                labels[pid] += len(days)
                statuses.setdefault(pid, Counter())[status] += 1
                for day in days:
                    add_kinds(label_annotations(day))
        for run in runs:
            if n in RUNS[run]:
                run_labels_count[run] += len(run_labels(run, n))
                for x in run_labels(run, n):
                    add_kinds(x["annotations"])
                predictions_count[run] += len(run_predictions(run, n)) if predictions else 0
                if predictions:
                    for x in run_predictions(run, n):
                        add_kinds(x["annotations"])
    return {
        "data_rows": len(rows),
        "errors": 0,
        "labels": dict(labels),
        "model_run_labels": dict(run_labels_count),
        "predictions": dict(predictions_count),
        "annotations": dict(kinds),
        "workflow_status": {pid: dict(c) for pid, c in statuses.items()},
    }


def test_manifest_counts_match_the_input_and_verify(cat):
    every = {"all_projects": True, "all_model_runs": True, **dict.fromkeys(ALL, True)}
    cases: list[tuple[Scope, dict[str, Any], dict[str, Any] | None, dict[str, Any]]] = [
        (CATALOG, every, None, expected_counts(list(N), (P1, P2), (RUN1, RUN2), True)),
        (
            project(P1),
            {"project_details": True},
            None,
            expected_counts(list(MEMBERS[P1]), (P1,), (), False),
        ),
        (
            project(P2),
            {"project_details": True},
            {"workflow_status": "Done"},
            expected_counts([6, 10], (P2,), (), False),
        ),
        (
            model_run(RUN1),
            {"predictions": True},
            None,
            expected_counts(list(RUNS[RUN1]), (), (RUN1,), True),
        ),
        (model_run(RUN2), {}, None, expected_counts(list(RUNS[RUN2]), (), (RUN2,), False)),
        (
            dataset(DS_B),
            {"project_ids": [P2], "project_details": True},
            None,
            expected_counts([8, 9, 10, 11, 12], (P2,), (), False),
        ),
    ]
    for scope, params, filters, counts in cases:
        got = cat.export(scope, params, filters)
        assert got.manifest["counts"] == counts, (scope, params)
        assert got.manifest["rows_planned"] == counts["data_rows"]
        check = verify(got.directory)
        assert check.ok, check.problems
    # one flipped byte in the result file is found, and the file is named
    got = cat.export(CATALOG, every)
    name = got.manifest["streams"]["result"]["files"][0]["name"]
    path = got.directory / name
    data = bytearray(path.read_bytes())
    at = data.index(b'"row_data"') + 2
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    check = verify(got.directory)
    assert not check.ok
    assert any(name in problem for problem in check.problems), check.problems


# ---------------------------------------------------------------------------------- empty export


def test_an_export_matching_nothing_is_complete_and_empty(cat):
    cases: list[tuple[Scope, dict[str, Any] | None, dict[str, Any]]] = [
        (CATALOG, None, {"last_activity_at": ["2030-01-01", None]}),
        (project(P1), {"project_details": True}, {"global_keys": ["gk-missing"]}),
        (
            project(P2),
            None,
            {"workflow_status": "InReview", "batch_ids": [B3], "data_row_ids": [rid(1)]},
        ),
        (dataset(DS_B), None, {"label_created_at": [None, "2024-01-01"]}),
    ]
    for scope, params, filters in cases:
        got = cat.export(scope, params, filters)
        assert got.task.status == "COMPLETE"
        assert got.task.result_lines == 0 and got.task.result_bytes == 0
        assert got.manifest["streams"]["result"]["files"] == []
        assert got.manifest["streams"]["result"]["index"] is None
        assert got.manifest["streams"]["result"]["lines"] == 0
        assert got.manifest["counts"]["data_rows"] == 0
        assert [p.name for p in got.directory.glob("result*")] == []
        assert got.lines == []
        assert verify(got.directory).ok


def test_a_project_or_model_run_counts_its_rows_from_memberships_when_only_they_narrow(cat):
    from labelport.export import plan as planning

    cases = [
        (project(P1), None, True),
        (project(P2), {"workflow_status": "Done"}, True),
        (project(P1), {"last_activity_at": ["2000-01-01", None]}, False),
        (project(P1), {"global_keys": ["nope"]}, False),
        (model_run(RUN1), None, True),
    ]
    for scope, filters, from_memberships in cases:
        spec = services.export_spec(cat.store, cat.org.id, scope, None, filters)
        with cat.store.read() as conn:
            plan = planning.resolve(conn, cat.org.id, spec)
            counted = planning.count(conn, plan)
        assert (plan.counted is not None) == from_memberships, (scope, filters)
        assert counted == len(cat.ids(scope, None, filters)), (scope, filters)
