"""The server's shared parts: health, docs, auth and roles, errors, access log, signed links."""

from __future__ import annotations

import json
import logging

import pytest

from labelport.server.signing import LinkExpired, LinkTampered, Signer, load_secret


def test_health_and_docs_need_no_key(server):
    with server.client(role="") as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert http.get("/docs").status_code == 200
        spec = http.get("/openapi.json").json()
        assert "/api/v1/me" in spec["paths"]


def test_a_key_identifies_its_user_and_organization(server):
    for role in ("admin", "editor", "viewer"):
        with server.client(role) as http:
            me = http.get("/api/v1/me").json()
        assert me["role"] == role
        assert me["email"] == f"{role}@acme.test"
        assert me["organization_id"] == server.org.id


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "an API key is required"),
        ("Bearer nonsense", "malformed API key"),
        ("Bearer lp_abc_def", "unknown or revoked API key"),
        ("Token abc", "must read 'Bearer <API key>'"),
    ],
)
def test_missing_or_bad_keys_answer_401(server, header, message):
    headers = {"Authorization": header} if header else {}
    with server.client(role="") as http:
        response = http.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "AuthenticationFailed"
    assert message in error["message"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_tampered_secret_is_refused(server):
    key = server.keys["viewer"]
    with server.client(role="") as http:
        response = http.get("/api/v1/me", headers={"Authorization": f"Bearer {key[:-1]}x"})
    assert response.status_code == 401


def test_unknown_paths_and_methods_are_4xx_in_the_native_shape(server):
    with server.client() as http:
        missing = http.get("/api/v1/no-such-thing")
        wrong = http.delete("/api/v1/me")
    assert missing.status_code == 404
    assert "no such endpoint" in missing.json()["error"]["message"]
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "MethodNotAllowed"


def test_every_request_is_logged_as_one_json_line(server, caplog):
    with caplog.at_level(logging.INFO, logger="labelport.access"), server.client("viewer") as http:
        http.get("/api/v1/me", headers={"x-request-id": "req-42"})
    lines = [json.loads(r.message) for r in caplog.records if r.name == "labelport.access"]
    entry = next(line for line in lines if line["request_id"] == "req-42")
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/me"
    assert entry["status"] == 200
    assert entry["user"] == "viewer@acme.test"
    assert entry["ms"] >= 0


# ---------------------------------------------------------------------------- signed links


def test_a_signed_link_checks_out_until_it_expires():
    signer = Signer(b"k" * 32, ttl=60)
    link = signer.sign("/download/x", now=1000)
    path, query = link.split("?")
    params = dict(part.split("=") for part in query.split("&"))
    assert params["expires"] == "1060"
    signer.check(path, params["expires"], params["signature"], now=1059)
    with pytest.raises(LinkExpired):
        signer.check(path, params["expires"], params["signature"], now=1061)


@pytest.mark.parametrize(
    ("path", "expires", "signature"),
    [
        ("/download/y", None, None),  # another path
        ("/download/x", "1061", None),  # a longer life
        ("/download/x", None, "0" * 64),  # a made-up signature
        ("/download/x", "soon", None),
    ],
)
def test_a_changed_link_is_refused(path, expires, signature):
    signer = Signer(b"k" * 32, ttl=60)
    good = signer.sign("/download/x", now=1000)
    params = dict(part.split("=") for part in good.split("?")[1].split("&"))
    with pytest.raises(LinkTampered):
        signer.check(path, expires or params["expires"], signature or params["signature"], now=1)


def test_a_signer_from_another_secret_does_not_accept_the_link():
    link = Signer(b"a" * 32).sign("/p", now=0)
    params = dict(part.split("=") for part in link.split("?")[1].split("&"))
    with pytest.raises(LinkTampered):
        Signer(b"b" * 32).check("/p", params["expires"], params["signature"], now=0)


def test_the_secret_is_generated_once_and_kept(tmp_path):
    first = load_secret(None, tmp_path)
    assert len(first) == 64
    assert load_secret(None, tmp_path) == first
    assert oct((tmp_path / "secret.key").stat().st_mode & 0o777) == "0o600"
    assert load_secret("configured-secret-value", tmp_path) == b"configured-secret-value"


def test_an_unexpected_error_is_a_500_that_says_it_closes_the_connection(make_server, database):
    import sqlalchemy as sa

    live = make_server()
    engine = sa.create_engine(database.url)
    with live.client("viewer") as http:
        assert http.get("/api/v1/slices").status_code == 200
        with engine.begin() as conn:  # a fault of the server, not of the request
            conn.exec_driver_sql("DROP TABLE catalog_slice")
        broken = http.get("/api/v1/slices")
        assert broken.status_code == 500 and broken.headers["connection"] == "close"
        error = broken.json()["error"]
        assert error["type"] == "InternalError" and "catalog_slice" not in error["message"]
        assert http.get("/api/v1/me").status_code == 200  # the next request gets an answer
    engine.dispose()
