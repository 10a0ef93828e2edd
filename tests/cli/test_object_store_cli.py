"""`labelport export`, `exports read` and `verify` with artifacts in an object store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_export_cli import _catalog
from tests.conftest import Cli, Database
from tests.export.object_stores import BlobStore


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_export_read_and_verify_from_a_bucket(
    database: Database, tmp_path: Path, blob_store: BlobStore
) -> None:
    run_cli = Cli(database, tmp_path / "home")
    run_cli.env["LABELPORT_BLOB_URL"] = blob_store.url
    endpoint = "S3_ENDPOINT" if blob_store.kind == "s3" else "GCS_ENDPOINT"
    run_cli.env[f"LABELPORT_{endpoint}"] = blob_store.endpoint
    _catalog(run_cli, tmp_path, rows=6)
    result = run_cli("export", "catalog")
    assert result.exit_code == 0, result.output
    task_id = result.output.split()[1]
    manifest = f"{blob_store.url}/exports/{task_id}/manifest.json"
    assert f"manifest  {manifest}" in result.output
    published = blob_store.files(f"exports/{task_id}")
    stream = published[f"exports/{task_id}/result-00000.ndjson"]
    lines = stream.splitlines(keepends=True)
    assert len(lines) == 6

    assert run_cli("exports", "read", task_id).stdout_bytes == stream
    got = run_cli("exports", "read", task_id, "--line", "2", "--limit", "3").stdout_bytes
    assert got == b"".join(lines[2:5])
    assert run_cli("exports", "read", task_id, "--offset", "7").stdout_bytes == stream[7:]

    verified = run_cli("verify", task_id)
    assert verified.exit_code == 0, verified.output
    assert f"verified {blob_store.url}/exports/{task_id}: everything matches" in verified.output

    # a changed object in the bucket is found
    blob_store.fs.pipe(
        f"{blob_store.root}/exports/{task_id}/result-00000.ndjson",
        stream.replace(b"row", b"rOw", 1),
    )
    broken = run_cli("verify", task_id)
    assert broken.exit_code == 1
    assert "DIFFERS" in broken.output and "result-00000.ndjson" in broken.output
