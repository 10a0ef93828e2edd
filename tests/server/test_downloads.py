"""Signed downloads: links work without a key, changed links are refused, old ones expire.

Against a live server (``server`` / ``make_server`` fixtures) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from labelport.server.context import Context
from labelport.server.signing import LinkExpired
from tests.factories import import_rows, simple_row

API = "/api/v1/exports"


def ctx_of(server: Any) -> Context:
    ctx: Context = server._server.config.app.state.ctx
    return ctx


def finished_export(server: Any, rows: int = 12) -> dict[str, Any]:
    """A COMPLETE catalog export of ``rows`` rows, as the API shows it."""
    import_rows(server.store, server.org.id, [simple_row(i) for i in range(rows)])
    with server.client("editor") as http:
        task_id = http.post(API, json={"scope": {"kind": "catalog"}}).json()["id"]
        deadline = time.monotonic() + 60
        while (task := http.get(f"{API}/{task_id}").json())["status"] != "COMPLETE":
            assert task["status"] in ("QUEUED", "IN_PROGRESS"), task
            assert time.monotonic() < deadline
            time.sleep(0.05)
    result: dict[str, Any] = task
    return result


def anonymous(server: Any) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def test_signed_links_download_streams_manifest_and_files_without_a_key(server: Any) -> None:
    task = finished_export(server)
    directory = ctx_of(server).exports_root / task["id"]
    (directory / "extra").mkdir()
    artifact = b'{"export": "made by a format publisher"}'
    (directory / "extra" / "diffgram.json").write_bytes(artifact)

    with server.client("viewer") as http:
        stream = http.get(f"{API}/{task['id']}/streams/result").content
        manifest = http.get(f"{API}/{task['id']}/manifest").json()
        before = time.time()
        links = http.get(f"{API}/{task['id']}/links", params={"ttl": 120}).json()
        default = http.get(f"{API}/{task['id']}/links").json()
        for ttl in (0, 10**9, "soon"):
            bad = http.get(f"{API}/{task['id']}/links", params={"ttl": ttl})
            assert bad.status_code == 400 and bad.json()["error"]["field"] == "query:ttl"
    assert links["ttl"] == 120 and default["ttl"] == 3600
    expires = int(parse_qs(urlsplit(links["result"]).query)["expires"][0])
    assert before + 119 <= expires <= time.time() + 121
    assert "extra/diffgram.json" in links["files"] and "manifest.json" in links["files"]

    with anonymous(server) as http:
        got = http.get(links["result"])
        assert got.status_code == 200 and got.content == stream
        assert got.headers["x-total-lines"] == "12"
        assert got.headers["content-disposition"] == (
            f'attachment; filename="{task["id"]}-result.ndjson"'
        )
        part = http.get(links["result"], headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == stream[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(stream)}"
        assert http.get(links["result"], headers={"Range": "bytes=99999-"}).status_code == 416
        errors = http.get(links["errors"])
        assert errors.status_code == 200 and errors.content == b""
        assert http.get(links["manifest"]).json() == manifest
        file = http.get(links["files"]["extra/diffgram.json"])
        assert file.content == artifact
        assert file.headers["content-type"].startswith("application/json")
        tail = http.get(links["files"]["extra/diffgram.json"], headers={"Range": "bytes=-5"})
        assert tail.status_code == 206 and tail.content == artifact[-5:]
        head = http.head(links["result"])
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(stream))


def test_a_changed_link_is_refused_and_an_expired_one_is_gone(server: Any) -> None:
    task = finished_export(server, rows=2)
    with server.client("viewer") as http:
        links = http.get(f"{API}/{task['id']}/links").json()
    good = links["result"]
    url, _, query = good.partition("?")
    params = parse_qs(query)
    signature, expires = params["signature"][0], params["expires"][0]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    changed = [
        f"{url}?expires={expires}&signature={flipped}",  # another signature
        f"{url}?expires={int(expires) + 1}&signature={signature}",  # a longer life
        f"{url.replace('/result', '/errors')}?{query}",  # another file
        f"{url.replace(task['id'], 'c' + task['id'][1:][::-1])}?{query}",  # another export
        url,  # not signed at all
    ]
    with anonymous(server) as http:
        assert http.get(good).status_code == 200
        for link in changed:
            response = http.get(link)
            assert response.status_code == 403, link
            assert response.json()["error"]["type"] == "LinkTampered"
        extra = http.get(f"{good}&download=1")
        assert extra.status_code == 400 and extra.json()["error"]["field"] == "query:download"

        signer = ctx_of(server).signer
        path = f"/downloads/exports/{task['id']}/result"
        old = signer.sign(path, 60, now=time.time() - 120)
        gone = http.get(old)
        assert gone.status_code == 410 and gone.json()["error"]["type"] == "LinkExpired"


def test_links_of_a_server_with_a_short_ttl_expire(make_server: Any) -> None:
    server = make_server(link_ttl="3")
    task = finished_export(server, rows=1)
    with server.client("viewer") as http:
        asked = time.time()
        link = http.get(f"/api/v1/exports/{task['id']}").json()["links"]["manifest"]
    expires = int(link.split("expires=")[1].split("&")[0])
    assert asked + 2 <= expires <= time.time() + 3  # the server's TTL, not the 1-hour default
    with anonymous(server) as http:
        assert http.get(link).status_code == 200
    # past its expiry (the signer takes the time, so no test waits for it; a server answering
    # 410 for an expired link is the test above)
    signed = urlsplit(link)
    query = dict(parse_qsl(signed.query))
    signer = ctx_of(server).signer
    signer.check(signed.path, query["expires"], query["signature"], now=expires)
    with pytest.raises(LinkExpired):
        signer.check(signed.path, query["expires"], query["signature"], now=expires + 1)


def test_downloads_stay_inside_the_export_and_need_a_complete_one(server: Any) -> None:
    task = finished_export(server, rows=1)
    signer = ctx_of(server).signer
    home = Path(server.settings.home)
    assert (home / "secret.key").exists()  # what an escape would be after

    def fetch(path: str, raw: str | None = None) -> httpx.Response:
        signed = signer.sign(path)
        query = signed.partition("?")[2]
        with anonymous(server) as http:
            return http.get(f"{raw or path}?{query}")

    base = f"/downloads/exports/{task['id']}/files"
    for name in ("../../../secret.key", "a/../../manifest.json", "./manifest.json"):
        raw = f"{base}/{name.replace('.', '%2e')}"
        response = fetch(f"{base}/{name}", raw)
        assert response.status_code == 400, name
        assert response.json()["error"]["field"] == "path:name"
    assert fetch(f"{base}/manifest.json").status_code == 200
    assert fetch(f"{base}/nothing.json").status_code == 404
    (ctx_of(server).exports_root / task["id"] / "sub").mkdir()
    assert fetch(f"{base}/sub").status_code == 404  # a folder is not a file
    assert fetch(f"/downloads/exports/{task['id']}/everything").status_code == 404
    assert fetch("/downloads/exports/cnosuchtask/result").status_code == 404

    server.pool.shutdown(wait=True)
    with server.client("editor") as http:
        queued = http.post(
            API, json={"scope": {"kind": "catalog"}, "filters": {"global_keys": ["row-0"]}}
        ).json()
    response = fetch(f"/downloads/exports/{queued['id']}/result")
    assert response.status_code == 409 and "QUEUED" in response.json()["error"]["message"]
