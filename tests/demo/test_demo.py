"""The demo catalog (:mod:`labelport.demo`): built through the real import path, idempotent,
every export verified."""

from __future__ import annotations

from pathlib import Path

from labelport import demo, services
from labelport.settings import load_settings
from labelport.vocab import MEDIA_TYPES


def test_run_builds_the_catalog_and_is_idempotent(store, tmp_path):
    report = demo.run(store, load_settings({}, home=str(tmp_path)), rows_per_type=6, seed=2)
    assert any("admin API key" in line for line in report)
    org = services.find_organization(store, "demo")
    first = services.stats(store, org.id)
    again = demo.run(store, load_settings({}, home=str(tmp_path)), rows_per_type=6, seed=2)
    assert not any("admin API key" in line for line in again)
    second = services.stats(store, org.id)
    assert second.pop("export tasks") == 2 * first.pop("export tasks")  # each run exports anew
    assert second == first
    assert first["data rows"] == 6 * len(MEDIA_TYPES) + 6  # + the Vertex flowers
    assert first["catalog slices"] == 2 and first["annotation sets"] == 2
    assert (
        first["predictions"] > 0
        and first["model runs"] == 1
        and first["batches"] == 2 * len(MEDIA_TYPES)
    )
    assert (tmp_path / "demo" / "labelbox-export.ndjson").stat().st_size > 0
    exported = [line for line in report if "rows," in line and "verify" in line]
    assert len(exported) == 6 and all(line.endswith("verify ok") for line in exported)
    files = [Path(line.strip()) for line in report if line.startswith("    /")]
    assert files and all(f.is_file() for f in files)
