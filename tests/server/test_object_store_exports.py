"""A server whose export artifacts live in an object store (``LABELPORT_BLOB_URL`` s3:// on moto
in server mode, gs:// on the GCS emulator): every way of reading an export answers as for a
local one — REST streams by line, offset and Range, signed links, Labelbox GraphQL chunks and
the Diffgram surface's file."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.export.object_stores import BlobStore
from tests.server.compat.diffgram.helpers import PROJECT_ID, load
from tests.server.compat.labelbox.test_graphql import FROM_LINE, FROM_OFFSET, where
from tests.server.test_downloads import API, anonymous, finished_export

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_every_reader_of_a_published_export(make_server: Any, blob_store: BlobStore) -> None:
    server = make_server(**blob_store.overrides)
    task = finished_export(server, rows=30)
    assert "location" not in task
    prefix = f"exports/{task['id']}/"
    published = blob_store.files(prefix)
    names = sorted(name.removeprefix(prefix) for name in published)
    assert "manifest.json" in names and "result.idx" in names
    stream = b"".join(published[prefix + name] for name in names if name.startswith("result-"))
    lines = stream.splitlines(keepends=True)
    assert len(lines) == 30
    assert list(server.settings.home.joinpath("spool", "exports").iterdir()) == []

    with server.client("viewer") as http:
        base = f"{API}/{task['id']}"
        assert http.get(f"{base}/streams/result").content == stream
        window = http.get(f"{base}/streams/result", params={"line": 7, "limit": 3})
        assert window.content == b"".join(lines[7:10])
        assert window.headers["x-next-line"] == "10"
        middle = len(lines[0]) + 5
        assert (
            http.get(f"{base}/streams/result", params={"offset": middle}).content
            == (stream[middle:])
        )
        tail = http.get(f"{base}/streams/result", headers={"Range": "bytes=-100"})
        assert tail.status_code == 206 and tail.content == stream[-100:]
        assert http.get(f"{base}/streams/errors").content == b""
        assert http.get(f"{base}/manifest").json() == orjson.loads(
            published[prefix + "manifest.json"]
        )
        links = http.get(f"{base}/links").json()
    assert sorted(links["files"]) == names

    with anonymous(server) as http:  # signed links: no key
        whole = http.get(links["result"])
        assert whole.status_code == 200 and whole.content == stream
        part = http.get(links["result"], headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == stream[10:20]
        assert http.get(links["manifest"]).content == published[prefix + "manifest.json"]
        shard = "result-00000.ndjson"
        one = http.get(links["files"][shard])
        assert one.status_code == 200 and one.content == published[prefix + shard]
        piece = http.get(links["files"][shard], headers={"Range": "bytes=3-8"})
        assert piece.status_code == 206 and piece.content == published[prefix + shard][3:9]
        assert http.get(links["errors"]).content == b""

    # the Labelbox surface: chunks found through the index, served through range links
    key = server.keys["editor"]
    for query, variables, n in (
        (FROM_LINE, where(task["id"], line=12), 12),
        (FROM_OFFSET, where(task["id"], offset=str(sum(map(len, lines[:20])) + 3)), 20),
    ):
        answer = httpx.post(
            f"{server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).json()
        info = next(iter(answer["data"]["task"].values()))
        assert info["lines"]["start"] == n
        start, end = info["offsets"]["start"], info["offsets"]["end"]
        assert start == sum(map(len, lines[:n]))
        body = httpx.get(info["file"], timeout=30)
        assert body.status_code == 200 and body.content == stream[start : end + 1]


@SQLITE_ONLY
def test_files_gone_from_the_bucket_answer_410(make_server: Any, blob_store: BlobStore) -> None:
    server = make_server(**blob_store.overrides)
    task = finished_export(server, rows=3)
    blob_store.fs.rm(f"{blob_store.root}/exports/{task['id']}", recursive=True)
    with server.client("viewer") as http:
        gone = http.get(f"{API}/{task['id']}/streams/result")
    assert gone.status_code == 410, gone.text


@SQLITE_ONLY
def test_the_diffgram_file_of_a_published_export(make_server: Any, blob_store: BlobStore) -> None:
    server = make_server(**blob_store.overrides)
    load(server)
    walrus = f"/diffgram/api/walrus/project/{PROJECT_ID}/export"
    with httpx.Client(base_url=server.url, auth=server.key_pairs["editor"], timeout=30) as http:
        # synchronous: the file itself, read back from the bucket by the server
        data = http.post(
            f"{walrus}/to_file", json={"kind": "Annotations", "wait_for_export_generation": True}
        )
        assert data.status_code == 200, data.text
        doc = data.json()
        [listed] = http.get(f"{walrus}/working_dir/list").json()["export_list"]
        assert listed["status"] == "complete"
        url = http.post(f"{walrus}/link", json={"id": listed["id"], "return_type": "url"})
        again = http.post(f"{walrus}/link", json={"id": listed["id"], "return_type": "data"})
    assert again.status_code == 200 and again.json() == doc
    assert again.headers["content-type"] == "application/json"
    downloaded = httpx.get(url.json(), timeout=30)  # a signed link: no credentials
    assert downloaded.status_code == 200 and downloaded.json() == doc
    published = blob_store.files(f"exports/{listed['id']}")
    assert orjson.loads(published[f"exports/{listed['id']}/diffgram.json"]) == doc
