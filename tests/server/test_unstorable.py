"""NUL characters and unpaired surrogates are a 400 naming where, on every surface and database.

No catalog column can hold them (PostgreSQL text refuses NUL; a lone surrogate has no UTF-8
form), and no id, key or name has one: they are refused before any route runs (path, query) or
when a body is read, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from labelport.services import queries
from labelport.store.types import unstorable
from tests.factories import PROJECT, import_rows, simple_row

VERTEX = "/vertex/v1/projects/p/locations/us-central1/datasets"


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("plain", None),
        ({"a": [1, "ok", {"b": "x\x00y"}]}, "a[2].b"),
        ({"k\x00": 1}, "k"),
        (["\ud800"], "[0]"),
        ("\x00", "value"),
        ({"emoji": "🙂", "n": None, "f": 1.5}, None),
    ],
)
def test_unstorable_names_the_first_bad_string(value: Any, where: str | None) -> None:
    assert unstorable(value) == where


def _send(http: httpx.Client, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    content = None if body is None else json.dumps(body)  # json.dumps keeps lone surrogates
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    return http.request(method, path, content=content, headers=headers, **kw)


def test_every_surface_answers_400_for_a_nul_or_a_lone_surrogate(server: Any) -> None:
    import_rows(server.store, server.org.id, [simple_row(0, project=PROJECT)])
    dataset = queries.list_datasets(server.store, server.org.id).items[0]["id"]
    bearer = {"Authorization": f"Bearer {server.keys['editor']}"}
    basic = server.key_pairs["editor"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        native = _send(http, "GET", "/api/v1/datasets/a%00b", headers=bearer)
        assert native.status_code == 400 and native.json()["error"]["field"] == "path"
        query = _send(http, "GET", "/api/v1/datasets?name=a%00b", headers=bearer)
        assert query.status_code == 400 and query.json()["error"]["field"] == "query:name"
        created = _send(http, "POST", "/api/v1/datasets", {"name": "x\ud800y"}, headers=bearer)
        assert created.status_code == 400, created.text

        vertex = _send(http, "GET", f"{VERTEX}/a%00b", headers=bearer)
        assert vertex.status_code == 400 and vertex.json()["error"]["status"] == "INVALID_ARGUMENT"
        destination = {"gcsDestination": {"outputUriPrefix": "file:///tmp/out\x00side"}}
        export = _send(
            http,
            "POST",
            f"{VERTEX}/{dataset}:export",
            {"exportConfig": destination},
            headers=bearer,
        )
        assert export.status_code == 400 and "NUL" in export.json()["error"]["message"]

        diffgram = _send(http, "GET", "/diffgram/api/v1/project/a%00b/labels-schema", auth=basic)
        assert diffgram.status_code == 400 and "path" in diffgram.json()["log"]["error"]
        body = {"kind": "Annotations", "source": "job", "job_id": "a\x00b"}
        to_file = _send(
            http, "POST", f"/diffgram/api/walrus/project/{PROJECT}/export/to_file", body, auth=basic
        )
        assert to_file.status_code == 400 and "job_id" in to_file.json()["log"]["error"]
        link = {"id": "\ud800", "return_type": "url"}
        linked = _send(
            http, "POST", f"/diffgram/api/walrus/project/{PROJECT}/export/link", link, auth=basic
        )
        assert linked.status_code == 400 and "id" in linked.json()["log"]["error"]
        graphql = [
            {"query": 'query { project(where: {id: "a\\u0000b"}) { id } }'},
            {
                "query": "query($id: ID!) { project(where: {id: $id}) { id } }",
                "variables": {"id": "a\x00b"},
            },
            {
                "query": "query($id: ID!) { dataRow(where: {id: $id}) { id } }",
                "variables": {"id": "\ud800"},
            },
        ]
        for body in graphql:
            answer = _send(http, "POST", "/graphql", body, headers=bearer)
            assert answer.status_code == 400, answer.text
            assert answer.json()["errors"][0]["extensions"]["code"] == "MALFORMED_REQUEST"
        named = _send(http, "POST", "/graphql", graphql[1], headers=bearer).json()
        assert named["errors"][0]["message"].startswith("variables.id:")
        assert http.get("/health").status_code == 200  # the server is fine
