"""API keys listed and revoked from every face: the CLI, REST (admin) and the web page (admin).

A revoked key answers 401 on every surface from its next request on, and its web sessions end.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from labelport import services
from labelport.errors import NotFound
from tests.server.web.helpers import csrf_of, sign_in


def _key_id(key: str) -> str:
    return key.removeprefix(services.KEY_PREFIX).split("_", 1)[0]


def test_emails_are_one_user_whatever_their_case(store: Any, org: Any) -> None:
    first = services.ensure_user(store, org.id, "Ann.Lee@Acme.test", "viewer")
    again = services.ensure_user(store, org.id, "ann.lee@acme.TEST", "editor")
    assert again == first
    key = services.create_api_key(store, org.id, again)
    who = services.authenticate(store, key)
    assert who.email == "Ann.Lee@Acme.test" and who.role == "editor"  # kept as first written


def test_revoking_is_scoped_to_the_organization_and_idempotent(store: Any, org: Any) -> None:
    uid = services.ensure_user(store, org.id, "ci@acme.test", "viewer")
    key = services.create_api_key(store, org.id, uid, "ci")
    other = services.create_organization(store, "other")
    with pytest.raises(NotFound):
        services.revoke_api_key(store, other.id, _key_id(key))
    assert services.authenticate(store, key).user_id == uid  # still live
    assert services.revoke_api_key(store, org.id, _key_id(key)) is True
    assert services.revoke_api_key(store, org.id, _key_id(key)) is False


def test_the_cli_lists_and_revokes_keys(run_cli: Any) -> None:
    created = run_cli("init", "--org", "acme", "--email", "admin@acme.test")
    assert created.exit_code == 0, created.output
    made = run_cli("keys", "create", "--email", "ci@acme.test", "--role", "viewer", "--name", "ci")
    assert made.exit_code == 0, made.output
    ci_key = made.output.strip()

    listed = run_cli("keys", "list", "--json")
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["user"]["email"], r["name"], r["revoked_at"]) for r in rows] == [
        ("admin@acme.test", "init", None),
        ("ci@acme.test", "ci", None),
    ]
    assert ci_key.split("_", 2)[2] not in listed.output  # never a secret

    refused = run_cli("keys", "revoke", _key_id(ci_key), "nosuchkeyid")
    assert refused.exit_code == 66 and "nosuchkeyid" in refused.output
    still = [json.loads(line) for line in run_cli("keys", "list", "--json").output.splitlines()]
    assert all(r["revoked_at"] is None for r in still), "a refused revoke changed something"

    revoked = run_cli("keys", "revoke", _key_id(ci_key))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked already" in run_cli("keys", "revoke", _key_id(ci_key)).output
    table = run_cli("keys", "list").output
    assert "ci@acme.test" in table and "revoked 20" in table
    live = run_cli("keys", "list", "--live", "--json").output
    assert "ci@acme.test" not in live and "admin@acme.test" in live


def test_rest_lists_and_revokes_keys_for_admins_only(server: Any) -> None:
    uid = services.ensure_user(server.store, server.org.id, "bot@acme.test", "editor")
    bot_key = services.create_api_key(server.store, server.org.id, uid, "bot")
    bot_id = _key_id(bot_key)
    with server.client("editor") as editor:
        assert editor.get("/api/v1/keys").status_code == 403
        assert editor.delete(f"/api/v1/keys/{bot_id}").status_code == 403
    with server.client("admin") as admin:
        page = admin.get("/api/v1/keys", params={"limit": 2})
        assert page.status_code == 200 and len(page.json()["items"]) == 2
        everything = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            body = admin.get("/api/v1/keys", params=params).json()
            everything += body["items"]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert [k["name"] for k in everything][-1] == "bot"
        assert all("secret" not in json.dumps(k) for k in everything)

        with httpx.Client(base_url=server.url, timeout=30) as bot:
            me = {"Authorization": f"Bearer {bot_key}"}
            assert bot.get("/api/v1/me", headers=me).status_code == 200
            revoked = admin.delete(f"/api/v1/keys/{bot_id}")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
            assert bot.get("/api/v1/me", headers=me).status_code == 401
            assert (
                bot.post("/graphql", json={"query": "{ user { id } }"}, headers=me).status_code
                == 401
            )
            basic = httpx.BasicAuth(bot_id, bot_key.split("_", 2)[2])
            schema = "/diffgram/api/v1/project/x/labels-schema"
            assert bot.get(schema, auth=basic).status_code == 401
        again = admin.delete(f"/api/v1/keys/{bot_id}")
        assert again.status_code == 200
        assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # nothing changed
        live = admin.get("/api/v1/keys", params={"revoked": "false"}).json()["items"]
        assert bot_id not in [k["id"] for k in live]
    with httpx.Client(base_url=server.url, timeout=30) as stranger:
        other = {"Authorization": f"Bearer {server.other_org_key}"}
        assert stranger.delete(f"/api/v1/keys/{bot_id}", headers=other).status_code == 404


def test_an_admin_revokes_a_key_on_the_web_page_and_its_session_ends(server: Any) -> None:
    uid = services.ensure_user(server.store, server.org.id, "temp@acme.test", "viewer")
    temp_key = services.create_api_key(server.store, server.org.id, uid, "temporary")
    temp = sign_in(server, key=temp_key)
    assert temp.get("/").status_code == 200
    assert temp.get("/keys").status_code == 403  # admins only

    admin = sign_in(server, "admin")
    page = admin.get("/keys")
    assert page.status_code == 200 and "temp@acme.test" in page.text
    assert 'href="/keys"' in page.text  # in the admin's navigation
    temp_id = _key_id(temp_key)
    answer = admin.post(f"/keys/{temp_id}/revoke", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/keys"
    assert temp.get("/").status_code == 303  # its session ended
    after = admin.get("/keys").text
    assert after.count("Revoke</button>") == page.text.count("Revoke</button>") - 1
    forged = admin.post(f"/keys/{_key_id(server.keys['editor'])}/revoke", data={"csrf": "x"})
    assert forged.status_code == 403
    with server.client("editor") as editor:
        assert editor.get("/api/v1/me").status_code == 200  # the forged form revoked nothing
