"""Sharded exports from one PostgreSQL snapshot: byte-identical to the single-process export.

Shards run on threads; each imports the coordinator's snapshot, so rows committed while they run
are in neither export. On SQLite the sharded entry point is the single-process export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labelport import services
from labelport.export import sharded
from labelport.export.engine import run_export
from labelport.export.manifest import read_manifest, verify
from labelport.export.spec import Scope
from labelport.store import Store
from tests.factories import PROJECT, import_rows, simple_row

VOLATILE = ("snapshot_at", "finished_at")


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "manifest.json"}


def stable(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in VOLATILE}


def spec_of(store: Store, org_id: str) -> Any:
    return services.export_spec(
        store, org_id, Scope("project", PROJECT), {"label_details": True}, None
    )


@pytest.mark.parametrize("shards", [2, 3, 7])
def test_a_sharded_export_is_byte_identical_to_the_single_process_one(
    store: Store,
    org: services.Organization,
    tmp_path: Path,
    shards: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[Any] = []
    real = sharded.export_range
    monkeypatch.setattr(sharded, "export_range", lambda *a, **k: ran.append(a[4]) or real(*a, **k))
    rows = [simple_row(n, project=PROJECT) for n in range(250)]
    rows[17]["data_row"]["global_key"] = "odd-one"
    import_rows(store, org.id, rows)
    spec = spec_of(store, org.id)
    single = run_export(store, org.id, spec, tmp_path / "single", shard_bytes=9000, page_size=40)
    split = sharded.run_sharded_export(
        store, org.id, spec, tmp_path / "split", shards=shards, shard_bytes=9000, page_size=40
    )
    assert len(single.result.files) > 3  # output files and the line index cross shard edges
    assert files(tmp_path / "split") == files(tmp_path / "single")
    assert stable(split.manifest) == stable(single.manifest)
    assert stable(read_manifest(tmp_path / "split")) == stable(single.manifest)
    assert split.manifest["counts"]["data_rows"] == 250
    assert verify(tmp_path / "split").ok
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())
    assert len(ran) == (0 if store.is_sqlite else shards)  # SQLite: one process, no snapshot


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_every_shard_reads_the_coordinators_snapshot(
    store: Store, org: services.Organization, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(120)])
    spec = spec_of(store, org.id)
    before = run_export(store, org.id, spec, tmp_path / "before", shard_bytes=5000)

    real = sharded.export_range
    late = {"done": False}

    def shard_after_a_commit(*args: Any, **kwargs: Any) -> Any:
        if not late["done"]:  # rows committed after the snapshot, before the shards read
            late["done"] = True
            import_rows(
                store, org.id, [simple_row(n, project=PROJECT) for n in range(120, 160)], "late"
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(sharded, "export_range", shard_after_a_commit)
    split = sharded.run_sharded_export(
        store, org.id, spec, tmp_path / "split", shards=3, shard_bytes=5000
    )
    assert late["done"]
    assert files(tmp_path / "split") == files(tmp_path / "before")
    assert split.manifest["counts"] == before.manifest["counts"]
    after = run_export(store, org.id, spec, tmp_path / "after", shard_bytes=5000)
    assert after.result.lines == 160  # the late rows are there for the next export
