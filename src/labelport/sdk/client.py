"""The client: a server URL and an API key; getters for what can be exported; export tasks."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from labelport.sdk._http import Http
from labelport.sdk.errors import ConfigurationError, InvalidRequestError
from labelport.sdk.tasks import ExportTask, _time

ENV_URL = "LABELPORT_URL"
ENV_API_KEY = "LABELPORT_API_KEY"


class Client:
    """A labelport server, reached with an API key.

    ``base_url`` and ``api_key`` default to the environment variables ``LABELPORT_URL`` and
    ``LABELPORT_API_KEY``. ``timeout`` is seconds per network operation (connect, each read),
    not for a whole export. Safe requests (GET) are retried ``max_retries`` times on
    connection errors and 5xx answers, waiting ``backoff`` seconds doubled each time.
    ``transport`` is an httpx transport to use instead of the network (tests, proxies).

    Use it as a context manager, or call :meth:`close`, to release its connections.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = base_url or os.environ.get(ENV_URL)
        key = api_key or os.environ.get(ENV_API_KEY)
        if not url:
            raise ConfigurationError(
                f"no server URL: pass base_url or set {ENV_URL} (e.g. http://127.0.0.1:8000)"
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"server URL {url!r} must start with http:// or https://")
        if not key:
            raise ConfigurationError(
                f"no API key: pass api_key or set {ENV_API_KEY} (`labelport keys create` makes one)"
            )
        self.base_url = url.rstrip("/")
        self._http = Http(
            self.base_url,
            key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            verify=verify,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<labelport.sdk.Client {self.base_url}>"

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self._http.request("GET", path, params=params).json()
        return body

    # -------------------------------------------------------------------------------- who

    def me(self) -> dict[str, Any]:
        """The key's user, role and organization."""
        return self._get_json("/api/v1/me")

    # ---------------------------------------------------------------------------- getters

    def get_project(self, project_id: str) -> Project:
        return Project(self, self._get_json(f"/api/v1/projects/{_id(project_id)}"))

    def get_dataset(self, dataset_id: str) -> Dataset:
        return Dataset(self, self._get_json(f"/api/v1/datasets/{_id(dataset_id)}"))

    def get_model_run(self, model_run_id: str) -> ModelRun:
        return ModelRun(self, self._get_json(f"/api/v1/model-runs/{_id(model_run_id)}"))

    def get_slice(self, slice_id: str) -> Slice:
        return Slice(self, self._get_json(f"/api/v1/slices/{_id(slice_id)}"))

    def get_catalog_slice(self, slice_id: str) -> Slice:
        """The same as :meth:`get_slice` (Labelbox's name)."""
        return self.get_slice(slice_id)

    def data_rows(
        self, ids: Sequence[str] | None = None, *, global_keys: Sequence[str] | None = None
    ) -> DataRows:
        """Data rows chosen by id or by global key (one of the two), to export."""
        if (ids is None) == (global_keys is None):
            raise InvalidRequestError("data_rows(): give ids or global_keys (one of them)")
        chosen = list(ids if ids is not None else global_keys or [])
        if isinstance(ids if ids is not None else global_keys, str) or not all(
            isinstance(value, str) for value in chosen
        ):
            raise InvalidRequestError("data_rows(): ids and global_keys are lists of strings")
        return DataRows(self, ids=ids is not None, values=chosen)

    def catalog(self) -> Catalog:
        """The organization's whole catalog, to export (narrow it with filters)."""
        return Catalog(self)

    # ---------------------------------------------------------------------------- exports

    def create_export(
        self,
        scope: dict[str, Any],
        params: dict[str, Any] | None = None,
        filters: dict[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> ExportTask:
        """Start an export of ``scope`` (``{"kind": "project", "id": …}``, as the REST API
        takes it). The getters' ``.export()`` are the friendlier way."""
        body: dict[str, Any] = {"scope": scope}
        if params is not None:
            body["params"] = params
        if filters is not None:
            body["filters"] = filters
        if name is not None:
            body["name"] = name
        answer = self._http.request("POST", "/api/v1/exports", json=body).json()
        return ExportTask(self, answer, reused=bool(answer.get("reused")))

    def get_export(self, task_id: str) -> ExportTask:
        """An export task by id (e.g. one started earlier, or by someone else)."""
        return ExportTask(self, self._get_json(f"/api/v1/exports/{_id(task_id)}"))

    def exports(
        self,
        *,
        scope_kind: str | None = None,
        scope_id: str | None = None,
        status: str | None = None,
        include_archived: bool = False,
        page_size: int = 50,
    ) -> Iterator[ExportTask]:
        """Export tasks, newest first, page after page as the iteration goes."""
        cursor: str | None = None
        while True:
            page = self._get_json(
                "/api/v1/exports",
                params={
                    "scope_kind": scope_kind,
                    "scope_id": scope_id,
                    "status": status,
                    "include_archived": "true" if include_archived else None,
                    "limit": page_size,
                    "cursor": cursor,
                },
            )
            for item in page.get("exports") or []:
                yield ExportTask(self, item)
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _id(value: str) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise InvalidRequestError(f"not an id: {value!r}", field="id")
    return value


# ---------------------------------------------------------------------------------- resources


class _Exportable:
    kind: ClassVar[str]
    _client: Client

    def _scope(self) -> dict[str, Any]:
        raise NotImplementedError

    def export(
        self,
        params: dict[str, Any] | None = None,
        filters: dict[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> ExportTask:
        """Start an export; ``params`` and ``filters`` are the Labelbox SDK's dicts. The
        server checks them and a mistake raises :class:`InvalidRequestError` whose ``field``
        names it (``body:params.nope``). Returns at once: the task runs on the server."""
        return self._client.create_export(self._scope(), params, filters, name=name)

    def export_v2(
        self,
        params: dict[str, Any] | None = None,
        filters: dict[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> ExportTask:
        """The same as :meth:`export` (Labelbox's older name)."""
        return self.export(params, filters, name=name)


class Resource(_Exportable):
    """Something with an id that can be exported. ``data`` is the server's whole answer."""

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        self._client = client
        self.data: dict[str, Any] = dict(data)
        self.id: str = str(data["id"])
        self.name: str | None = data.get("name")
        self.description: str | None = data.get("description")
        self.created_at: datetime | None = _time(data.get("created_at"))
        self.updated_at: datetime | None = _time(data.get("updated_at"))

    @property
    def uid(self) -> str:
        """The id (Labelbox's name for it)."""
        return self.id

    def _scope(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and getattr(other, "id", None) == self.id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))


class Project(Resource):
    """A labeling project: its rows with their labels, workflow status, reviews..."""

    kind = "project"

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        super().__init__(client, data)
        self.media_type: str | None = data.get("media_type")
        self.ontology_id: str | None = data.get("ontology_id")
        self.tags: list[str] = list(data.get("tags") or [])
        self.data_row_count: int | None = data.get("data_row_count")
        self.label_count: int | None = data.get("label_count")
        self.batch_count: int | None = data.get("batch_count")
        self.workflow_status_counts: dict[str, int] = dict(data.get("workflow_status_counts") or {})


class Dataset(Resource):
    """A dataset: its data rows, with the labels and predictions the params choose."""

    kind = "dataset"

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        super().__init__(client, data)
        self.labels: dict[str, str] = dict(data.get("labels") or {})
        self.dataset_kind: str | None = data.get("kind")
        self.created_by: str | None = data.get("created_by")
        self.data_row_count: int | None = data.get("data_row_count")


class ModelRun(Resource):
    """A model run: its rows with their split, ground truth and (``predictions``) predictions."""

    kind = "model_run"

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        super().__init__(client, data)
        self.model_id: str | None = data.get("model_id")
        self.model_name: str | None = data.get("model_name")
        self.training_metadata: Any = data.get("training_metadata")
        self.created_by: str | None = data.get("created_by")
        self.data_row_count: int | None = data.get("data_row_count")
        self.split_counts: dict[str, int] = dict(data.get("split_counts") or {})
        self.label_count: int | None = data.get("label_count")
        self.prediction_count: int | None = data.get("prediction_count")


class Slice(Resource):
    """A catalog slice: a saved filter over the catalog (its export takes no more filters)."""

    kind = "slice"

    def __init__(self, client: Client, data: dict[str, Any]) -> None:
        super().__init__(client, data)
        self.filters: dict[str, Any] = dict(data.get("filters") or {})
        self.created_by: str | None = data.get("created_by")


class DataRows(_Exportable):
    """Data rows chosen by id or global key (:meth:`Client.data_rows`)."""

    kind = "data_rows"

    def __init__(self, client: Client, *, ids: bool, values: list[str]) -> None:
        self._client = client
        self.by = "data_row_ids" if ids else "global_keys"
        self.values = values

    def _scope(self) -> dict[str, Any]:
        return {"kind": self.kind, self.by: list(self.values)}

    def __repr__(self) -> str:
        return f"<DataRows {self.by}={self.values!r}>"


class Catalog(_Exportable):
    """The whole catalog of the key's organization (:meth:`Client.catalog`)."""

    kind = "catalog"

    def __init__(self, client: Client) -> None:
        self._client = client

    def _scope(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def __repr__(self) -> str:
        return "<Catalog>"
