"""Export destinations: file roots and escapes, atomic publication, gs:// and s3:// (emulators)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from labelport.errors import Conflict, InvalidSpec, PermissionDenied
from labelport.export import destinations
from labelport.export.destinations import STAGING_PREFIX, publish_folder, resolve
from labelport.settings import Settings, load_settings

from .gcs_emulator import BUCKET, free_port, gcs_files


def settings_for(tmp_path: Path, **overrides: str) -> Settings:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    values = {"home": str(tmp_path / "home"), "destination_roots": str(root), **overrides}
    return load_settings({}, **values)


def everything(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# ------------------------------------------------------------------------------------ file://


def test_file_destination_inside_a_root(tmp_path: Path) -> None:
    cfg = settings_for(tmp_path)
    dest = resolve(f"file://{tmp_path}/root/exports", cfg)
    assert dest.local == (tmp_path / "root" / "exports").resolve()
    assert dest.uri == f"file://{tmp_path}/root/exports/"
    with publish_folder(dest, "export-data-x-1") as folder:
        with folder.open("set/a.jsonl") as out:
            out.write(b"{}\n")
        with folder.open("b.yaml") as out:
            out.write(b"k: v\n")
    assert everything(tmp_path / "root") == [
        "exports",
        "exports/export-data-x-1",
        "exports/export-data-x-1/b.yaml",
        "exports/export-data-x-1/set",
        "exports/export-data-x-1/set/a.jsonl",
    ]
    assert folder.uris == [
        f"file://{tmp_path}/root/exports/export-data-x-1/set/a.jsonl",
        f"file://{tmp_path}/root/exports/export-data-x-1/b.yaml",
    ]


@pytest.mark.parametrize(
    "where",
    ["{tmp}/elsewhere", "{tmp}/root/../elsewhere", "{tmp}/root/link/inside", "/etc"],
)
def test_file_destinations_outside_the_roots_are_denied(tmp_path: Path, where: str) -> None:
    cfg = settings_for(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "elsewhere")
    path = where.format(tmp=tmp_path)
    with pytest.raises(PermissionDenied) as info:
        resolve(f"file://{path}", cfg)
    assert (
        path in info.value.message and "outside the allowed destination roots" in info.value.message
    )
    assert info.value.http_status == 403
    assert everything(tmp_path / "elsewhere") == []


def test_a_link_inside_the_root_is_fine(tmp_path: Path) -> None:
    cfg = settings_for(tmp_path)
    (tmp_path / "root" / "real").mkdir()
    (tmp_path / "root" / "alias").symlink_to(tmp_path / "root" / "real")
    dest = resolve(f"file://{tmp_path}/root/alias", cfg)
    assert dest.local == (tmp_path / "root" / "real").resolve()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "empty"),
        ("ftp://host/x", "unsupported scheme"),
        ("gs:///nobucket", "names no bucket"),
        ("file://otherhost/x", "must be local"),
        ("/plain/path", "unsupported scheme"),
    ],
)
def test_bad_destination_uris(tmp_path: Path, uri: str, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        resolve(uri, settings_for(tmp_path))


def test_nothing_is_visible_until_every_file_is_written(tmp_path: Path) -> None:
    cfg = settings_for(tmp_path)
    dest = resolve(f"file://{tmp_path}/root", cfg)
    final = tmp_path / "root" / "export-data-x-1"
    with publish_folder(dest, "export-data-x-1") as folder:
        with folder.open("a.jsonl") as out:
            out.write(b"1\n")
        assert not final.exists()
        with folder.open("b.jsonl") as out:
            out.write(b"2\n")
        assert not final.exists()
        staged = [p.name for p in (tmp_path / "root").iterdir()]
        assert len(staged) == 1 and staged[0].startswith(STAGING_PREFIX)
    assert sorted(p.name for p in final.iterdir()) == ["a.jsonl", "b.jsonl"]
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["export-data-x-1"]


def test_a_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    cfg = settings_for(tmp_path)
    dest = resolve(f"file://{tmp_path}/root", cfg)
    with pytest.raises(RuntimeError), publish_folder(dest, "export-data-x-1") as folder:
        with folder.open("a.jsonl") as out:
            out.write(b"1\n")
        raise RuntimeError("boom")
    assert everything(tmp_path / "root") == []


def test_an_existing_folder_is_a_conflict(tmp_path: Path) -> None:
    cfg = settings_for(tmp_path)
    (tmp_path / "root" / "export-data-x-1").mkdir()
    dest = resolve(f"file://{tmp_path}/root", cfg)
    with pytest.raises(Conflict, match="already exists"), publish_folder(dest, "export-data-x-1"):
        pass
    assert everything(tmp_path / "root") == ["export-data-x-1"]


@pytest.mark.parametrize("name", ["a/../../b", "/abs", "", "x//y"])
def test_file_names_cannot_leave_the_folder(tmp_path: Path, name: str) -> None:
    dest = resolve(f"file://{tmp_path}/root", settings_for(tmp_path))
    with pytest.raises(InvalidSpec), publish_folder(dest, "f") as folder:
        folder.open(name)
    assert everything(tmp_path / "root") == []


def test_a_link_planted_in_the_staging_path_is_caught(tmp_path: Path, monkeypatch) -> None:
    cfg = settings_for(tmp_path)
    dest = resolve(f"file://{tmp_path}/root/exports", cfg)
    (tmp_path / "elsewhere").mkdir()
    # the prefix does not exist yet when resolved; someone links it out before the export runs
    (tmp_path / "root" / "exports").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PermissionDenied), publish_folder(dest, "export-data-x-1"):
        pass
    assert everything(tmp_path / "elsewhere") == []


# ------------------------------------------------------------------------------------- gs://


def test_gcs_publication_is_atomic(gcs_emulator: str, tmp_path: Path) -> None:
    cfg = settings_for(tmp_path, gcs_endpoint=gcs_emulator)
    dest = resolve(f"gs://{BUCKET}/runs/one", cfg)
    with publish_folder(dest, "export-data-x-1") as folder:
        with folder.open("set/a.jsonl") as out:
            for i in range(1000):
                out.write(b'{"i":%d}\n' % i)
        with folder.open("schema.yaml") as out:
            out.write(b"title: x\n")
        during = gcs_files(gcs_emulator, "runs/one")
        assert during and all(f"/{STAGING_PREFIX}" in name for name in during)
        assert not any(name.startswith("runs/one/export-data-x-1/") for name in during)
    after = gcs_files(gcs_emulator, "runs/one")
    assert sorted(after) == [
        "runs/one/export-data-x-1/schema.yaml",
        "runs/one/export-data-x-1/set/a.jsonl",
    ]
    assert after["runs/one/export-data-x-1/set/a.jsonl"].count(b"\n") == 1000
    assert folder.uris == [
        f"gs://{BUCKET}/runs/one/export-data-x-1/set/a.jsonl",
        f"gs://{BUCKET}/runs/one/export-data-x-1/schema.yaml",
    ]


def test_gcs_failure_deletes_what_was_written(gcs_emulator: str, tmp_path: Path) -> None:
    cfg = settings_for(tmp_path, gcs_endpoint=gcs_emulator)
    dest = resolve(f"gs://{BUCKET}/runs/two", cfg)
    with pytest.raises(RuntimeError), publish_folder(dest, "export-data-x-1") as folder:
        with folder.open("a.jsonl") as out:
            out.write(b"1\n")
        raise RuntimeError("boom")
    assert gcs_files(gcs_emulator, "runs/two") == {}


def test_gcs_failure_while_copying_removes_the_copies(
    gcs_emulator: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = settings_for(tmp_path, gcs_endpoint=gcs_emulator)
    dest = resolve(f"gs://{BUCKET}/runs/three", cfg)
    assert dest.fs is not None
    real_copy = dest.fs.copy
    calls: list[str] = []

    def flaky_copy(path1: str, path2: str, **kwargs: object) -> object:
        calls.append(path2)
        if len(calls) == 2:
            raise OSError("copy failed")
        return real_copy(path1, path2, **kwargs)

    monkeypatch.setattr(dest.fs, "copy", flaky_copy)
    with pytest.raises(OSError, match="copy failed"), publish_folder(dest, "f") as folder:
        for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
            with folder.open(name) as out:
                out.write(b"x\n")
    assert len(calls) == 2
    assert gcs_files(gcs_emulator, "runs/three") == {}


def test_gcs_existing_folder_is_a_conflict(gcs_emulator: str, tmp_path: Path) -> None:
    cfg = settings_for(tmp_path, gcs_endpoint=gcs_emulator)
    dest = resolve(f"gs://{BUCKET}/runs/four", cfg)
    with publish_folder(dest, "f") as folder, folder.open("a.jsonl") as out:
        out.write(b"x\n")
    with pytest.raises(Conflict), publish_folder(dest, "f"):
        pass
    assert list(gcs_files(gcs_emulator, "runs/four")) == ["runs/four/f/a.jsonl"]


# ------------------------------------------------------------------------------------- s3://


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_s3_publication(moto_s3: str, tmp_path: Path) -> None:
    cfg = settings_for(tmp_path, s3_endpoint=moto_s3)
    dest = resolve("s3://exports-bucket/team", cfg)
    assert dest.fs is not None
    dest.fs.mkdir("exports-bucket")  # type: ignore[attr-defined]
    with publish_folder(dest, "export-data-x-1") as folder:
        with folder.open("a.jsonl") as out:
            out.write(b"1\n")
        assert not dest.fs.exists("exports-bucket/team/export-data-x-1/a.jsonl")
    dest.fs.invalidate_cache()  # type: ignore[attr-defined]
    assert sorted(dest.fs.find("exports-bucket")) == ["exports-bucket/team/export-data-x-1/a.jsonl"]
    assert folder.uris == ["s3://exports-bucket/team/export-data-x-1/a.jsonl"]


def test_gs_uses_gcsfs_core_file_system_and_leaves_the_environment_alone(tmp_path: Path) -> None:
    from gcsfs.core import GCSFileSystem

    before = dict(os.environ)
    dest = resolve("gs://b/x", settings_for(tmp_path, gcs_endpoint="http://127.0.0.1:9"))
    assert type(dest.fs) is GCSFileSystem  # not gcsfs' experimental subclass (hangs on emulators)
    assert dict(os.environ) == before
    assert destinations.BLOCK_SIZE <= 16 * 2**20
