"""The SDK client against a live server (SQLite and PostgreSQL): getters and their fields,
every kind of export scope, the server's errors as one tree, configuration, and retries."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from labelport import errors
from labelport.sdk import (
    AuthenticationError,
    Client,
    ConfigurationError,
    ConflictError,
    Dataset,
    InvalidRequestError,
    LabelportSDKError,
    ModelRun,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    Project,
    ServerError,
    Slice,
)
from tests.server.native.test_catalog import DATASET, MODEL, PROJECT, RUN, cid, seed


def sdk(server: Any, role: str = "editor", **options: Any) -> Client:
    return Client(server.url, server.keys[role], backoff=0.0, **options)


def native_rows(server: Any, task_id: str) -> bytes:
    with server.client("viewer") as http:
        body: bytes = http.get(f"/api/v1/exports/{task_id}/streams/result").content
    return body


# ------------------------------------------------------------------------------- getters


def test_getters_show_the_fields_and_each_scope_exports_its_rows(server: Any) -> None:
    seed(server)
    with server.client("editor") as http:
        made = http.post(
            "/api/v1/slices", json={"name": "two", "filters": {"global_keys": ["api-1", "api-3"]}}
        )
        assert made.status_code == 201, made.text
        slice_id = made.json()["id"]

    with sdk(server) as client:
        project = client.get_project(PROJECT)
        assert isinstance(project, Project) and project.uid == project.id == PROJECT
        assert project.name == "api boxes" and project.media_type == "IMAGE"
        assert project.data_row_count == 5 and project.label_count == 5
        assert project.workflow_status_counts["DONE"] == 3
        assert project.created_at is not None and project.created_at.tzinfo is not None
        assert project.data["id"] == PROJECT and repr(project) == f"<Project {PROJECT} 'api boxes'>"

        dataset = client.get_dataset(DATASET)
        assert isinstance(dataset, Dataset)
        assert (dataset.name, dataset.data_row_count, dataset.labels) == ("api images", 5, {})

        run = client.get_model_run(RUN)
        assert isinstance(run, ModelRun)
        assert (run.name, run.model_id, run.model_name) == ("run one", MODEL, "detector")
        assert run.split_counts["TRAINING"] == 2 and run.prediction_count == 5

        chosen = client.get_slice(slice_id)
        assert isinstance(chosen, Slice) and chosen == client.get_catalog_slice(slice_id)
        assert chosen.filters == {"global_keys": ["api-1", "api-3"]} and chosen.name == "two"

        def keys(task: Any) -> list[str]:
            return [row["data_row"]["global_key"] for row in task.wait_till_done(timeout=30)]

        everything = [f"api-{n}" for n in range(5)]
        done = project.export(params={"label_details": True}, filters={"workflow_status": "Done"})
        assert keys(done) == ["api-2", "api-3", "api-4"]
        assert done.params["label_details"] is True and done.scope["id"] == PROJECT
        assert "label_details" in next(iter(done))["projects"][PROJECT]["labels"][0]
        assert keys(dataset.export(name="by dataset")) == everything
        predicted = run.export(params={"predictions": True})
        assert keys(predicted) == everything
        first = next(iter(predicted))["experiments"][MODEL]["runs"][RUN]
        assert len(first["predictions"]) == 1
        assert keys(chosen.export()) == ["api-1", "api-3"]
        assert keys(client.data_rows(global_keys=["api-4", "api-0"]).export()) == [
            "api-0",
            "api-4",
        ]
        assert keys(client.data_rows([cid("row", 2)]).export_v2()) == ["api-2"]
        assert keys(client.catalog().export(filters={"global_keys": ["api-1"]})) == ["api-1"]

        task = client.get_export(done.id)
        assert task.status == "COMPLETE" and task.filters == {"workflow_status": "Done"}
        assert b"".join(task.rows().lines()) == native_rows(server, done.id)
        listed = list(client.exports(page_size=2))
        assert len(listed) == 7 and listed[-1].id == done.id  # newest first, every page
        assert [t.id for t in client.exports(scope_kind="slice")] == [
            t.id for t in listed if t.scope["kind"] == "slice"
        ]
        assert client.me()["role"] == "editor"

        with pytest.raises(InvalidRequestError):
            client.data_rows(["a"], global_keys=["b"])
        with pytest.raises(InvalidRequestError):
            client.data_rows("not-a-list")


# -------------------------------------------------------------------------------- errors


def test_the_servers_errors_are_one_tree_with_what_the_server_said(server: Any) -> None:
    seed(server)
    with sdk(server) as client:
        project = client.get_project(PROJECT)
        with pytest.raises(InvalidRequestError) as bad:
            project.export(params={"label_details": True, "nope": 1})
        assert bad.value.status == 400 and bad.value.type == "InvalidSpec"
        assert bad.value.field == "body:params.nope" and "nope" in str(bad.value)
        assert bad.value.request_id  # to look for in the server's log
        with pytest.raises(InvalidRequestError) as bad_filter:
            project.export(filters={"workflow_status": "Sleeping"})
        assert bad_filter.value.field == "body:filters.workflow_status"

        with pytest.raises(NotFoundError) as missing:
            client.get_dataset("cnosuchdataset00000000001")
        assert missing.value.status == 404 and "cnosuchdataset" in str(missing.value)
        with pytest.raises(NotFoundError):
            client.get_export("cnosuchexport000000000001")

        finished = project.export().wait_till_done(timeout=30)
        with pytest.raises(ConflictError) as conflict:
            finished.cancel()
        assert conflict.value.status == 409 and "COMPLETE" in str(conflict.value)

    with sdk(server, "viewer") as viewer:
        assert viewer.get_project(PROJECT).name == "api boxes"  # viewers read
        with pytest.raises(PermissionDeniedError) as weak:
            viewer.get_project(PROJECT).export()
        assert weak.value.status == 403

    other = Client(server.url, server.other_org_key, backoff=0)
    with other, pytest.raises(NotFoundError):  # another organization's id: 404, never 403
        other.get_project(PROJECT)

    with Client(server.url, "lp_nope_nope", backoff=0) as stranger:
        with pytest.raises(AuthenticationError) as unknown:
            stranger.get_project(PROJECT)
        assert unknown.value.status == 401

    for error in (bad.value, missing.value, conflict.value, weak.value, unknown.value):
        assert isinstance(error, LabelportSDKError)


def test_configuration_comes_from_arguments_or_the_environment(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABELPORT_URL", raising=False)
    monkeypatch.delenv("LABELPORT_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="LABELPORT_URL"):
        Client()
    with pytest.raises(ConfigurationError, match="LABELPORT_API_KEY"):
        Client(server.url)
    with pytest.raises(ConfigurationError, match="http"):
        Client("127.0.0.1:8000", "key")
    # one class for a configuration mistake, on either side of the wire
    with pytest.raises(errors.ConfigurationError) as raised:
        Client()
    assert isinstance(raised.value, LabelportSDKError) and raised.value.exit_code == 78

    monkeypatch.setenv("LABELPORT_URL", server.url + "/")
    monkeypatch.setenv("LABELPORT_API_KEY", server.keys["viewer"])
    with Client() as client:
        assert client.base_url == server.url
        assert client.me()["email"] == "viewer@acme.test"
    with Client(api_key=server.keys["admin"]) as client:  # an argument wins over the variable
        assert client.me()["role"] == "admin"


# ------------------------------------------------------------------------------- retries


class Flaky(httpx.BaseTransport):
    """The real network, except that the first ``fail`` requests of ``method`` fail with
    ``status`` (or raise ``raise_`` without reaching the server)."""

    def __init__(
        self,
        fail: int,
        method: str = "GET",
        status: int = 503,
        raise_: type[httpx.TransportError] | None = None,
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.fail, self.method, self.status, self.raise_ = fail, method, status, raise_
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        if request.method == self.method and self.fail > 0:
            self.fail -= 1
            if self.raise_ is not None:
                raise self.raise_("simulated", request=request)
            body = {"error": {"type": "Busy", "message": "try again", "status": self.status}}
            return httpx.Response(self.status, json=body, request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_safe_requests_are_retried_with_backoff_and_unsafe_ones_are_not(server: Any) -> None:
    seed(server)
    path = f"/api/v1/projects/{PROJECT}"

    flaky = Flaky(2, status=502)
    with sdk(server, transport=flaky, max_retries=3) as client:
        assert client.get_project(PROJECT).name == "api boxes"
    assert flaky.seen == [f"GET {path}"] * 3

    flaky = Flaky(5, status=500)
    with (
        sdk(server, transport=flaky, max_retries=2) as client,
        pytest.raises(ServerError) as failed,
    ):
        client.get_project(PROJECT)
    assert failed.value.status == 500 and failed.value.type == "Busy"
    assert len(flaky.seen) == 3  # the first try and two retries

    flaky = Flaky(3, raise_=httpx.ReadError)
    with sdk(server, transport=flaky, max_retries=3) as client:
        assert client.get_project(PROJECT).id == PROJECT
    assert len(flaky.seen) == 4

    # A POST that may have reached the server is never sent twice...
    flaky = Flaky(1, method="POST", status=500)
    with sdk(server, transport=flaky, max_retries=3) as client, pytest.raises(ServerError):
        client.catalog().export()
    assert flaky.seen == ["POST /api/v1/exports"]
    flaky = Flaky(1, method="POST", raise_=httpx.ReadTimeout)
    with sdk(server, transport=flaky, max_retries=3) as client, pytest.raises(NetworkError):
        client.catalog().export()
    assert flaky.seen == ["POST /api/v1/exports"]
    with server.client("viewer") as http:
        assert http.get("/api/v1/exports").json()["exports"] == []  # nothing was started

    # ... but one that never left (no connection), or that the server refused with 503, is
    flaky = Flaky(1, method="POST", raise_=httpx.ConnectError)
    with sdk(server, transport=flaky, max_retries=3) as client:
        assert client.catalog().export().wait_till_done(timeout=30).status == "COMPLETE"
    assert flaky.seen[:2] == ["POST /api/v1/exports"] * 2
    flaky = Flaky(1, method="POST", status=503)
    with sdk(server, transport=flaky, max_retries=3) as client:
        assert client.catalog().export(name="again").status in ("QUEUED", "IN_PROGRESS", "COMPLETE")
    assert flaky.seen[:2] == ["POST /api/v1/exports"] * 2


def test_an_unreachable_server_is_a_network_error_after_the_retries() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = Client(url, "lp_x_y", max_retries=2, backoff=0)
    with client, pytest.raises(NetworkError, match="no answer from the server"):
        client.me()
