"""Native REST: the catalog — datasets, data rows, projects and batches, model runs, slices,
annotation sets, and (admin) users and API keys.

Viewers read; editors also create and change datasets, slices and annotation sets; admins also
list users and create API keys. Every lookup is scoped to the key's organization (another
organization's id answers 404). Lists are pages: ``?limit=`` (1..1000, default 100) and
``?cursor=`` (the previous page's ``next_cursor``), answered as ``{"items", "next_cursor"}``.
Bodies are JSON objects; an unknown field, like an unknown query parameter, is a 400 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from labelport import services
from labelport.errors import InvalidInput, InvalidSpec
from labelport.server.auth import Admin, Ctx, Editor, Viewer
from labelport.server.native.rest import (
    InvalidParameter,
    PageArgs,
    Strict,
    Text,
    check_id,
    json_response,
    page_response,
)
from labelport.services import queries
from labelport.vertex_vocab import OBJECTIVES

router = APIRouter()

Name = Annotated[Text, Field(min_length=1, max_length=500)]
Description = Annotated[Text, Field(max_length=10_000)]
IdField = Annotated[Text, Field(min_length=1, max_length=64)]
Labels = Annotated[dict[str, str], Field(max_length=services.MAX_DATASET_LABELS)]
Kind = Literal["image", "text", "video", "tabular", "time_series"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _labels(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    try:
        return services.check_dataset_labels(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


def _created(body: dict[str, Any], path: str) -> Response:
    return json_response(body, status_code=201, headers={"Location": path})


# ------------------------------------------------------------------------------------ datasets


class DatasetCreate(Body):
    name: Name
    description: Description | None = None
    labels: Labels | None = None
    kind: Kind | None = None

    _check_labels = field_validator("labels")(_labels)


class DatasetUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    labels: Labels | None = None
    kind: Kind | None = None

    _check_labels = field_validator("labels")(_labels)
    _check_name = field_validator("name")(_not_null)


@router.get("/datasets", tags=["datasets"], summary="Datasets, oldest first")
def list_datasets(
    ctx: Ctx,
    principal: Viewer,
    page: PageArgs,
    _: Strict,
    name: Annotated[
        str | None, Query(min_length=1, max_length=500, description="Only datasets so named.")
    ] = None,
) -> Response:
    found = queries.list_datasets(
        ctx.store, principal.org_id, limit=page.limit, after=page.after, name=name
    )
    return page_response(found)


@router.post("/datasets", tags=["datasets"], status_code=201, summary="Create a dataset")
def create_dataset(ctx: Ctx, principal: Editor, _: Strict, body: DatasetCreate) -> Response:
    dataset_id = services.create_dataset(
        ctx.store,
        principal.org_id,
        body.name,
        description=body.description,
        labels=body.labels,
        kind=body.kind,
        user_id=principal.user_id,
    )
    found = queries.get_dataset(ctx.store, principal.org_id, dataset_id)
    return _created(found, f"/api/v1/datasets/{dataset_id}")


@router.get(
    "/datasets/{dataset_id}", tags=["datasets"], summary="A dataset, with its data row count"
)
def get_dataset(ctx: Ctx, principal: Viewer, dataset_id: str, _: Strict) -> Response:
    found = queries.get_dataset(ctx.store, principal.org_id, check_id(dataset_id, "dataset"))
    return json_response(found)


@router.patch(
    "/datasets/{dataset_id}",
    tags=["datasets"],
    summary="Change a dataset's name, description, labels or kind (null clears all but name)",
)
def update_dataset(
    ctx: Ctx, principal: Editor, dataset_id: str, _: Strict, body: DatasetUpdate
) -> Response:
    check_id(dataset_id, "dataset")
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if changes:
        services.update_dataset(ctx.store, principal.org_id, dataset_id, changes)
    return json_response(queries.get_dataset(ctx.store, principal.org_id, dataset_id))


@router.get(
    "/datasets/{dataset_id}/data-rows",
    tags=["data rows"],
    summary="A dataset's data rows, in export order",
)
def list_data_rows(
    ctx: Ctx, principal: Viewer, dataset_id: str, page: PageArgs, _: Strict
) -> Response:
    found = queries.list_data_rows(
        ctx.store,
        principal.org_id,
        check_id(dataset_id, "dataset"),
        limit=page.limit,
        after=page.after,
    )
    return page_response(found)


# ----------------------------------------------------------------------------------- data rows


@router.get("/data-rows", tags=["data rows"], summary="The data row with a global key")
def find_data_row(
    ctx: Ctx,
    principal: Viewer,
    _: Strict,
    global_key: Annotated[
        str, Query(min_length=1, max_length=1024, description="The exact global key.")
    ],
) -> Response:
    return json_response(queries.find_data_row(ctx.store, principal.org_id, global_key))


@router.get("/data-rows/{data_row_id}", tags=["data rows"], summary="A data row")
def get_data_row(ctx: Ctx, principal: Viewer, data_row_id: str, _: Strict) -> Response:
    found = queries.get_data_row(ctx.store, principal.org_id, check_id(data_row_id, "data row"))
    return json_response(found)


# ------------------------------------------------------------------------------------ projects


@router.get("/projects", tags=["projects"], summary="Projects, with counts per workflow status")
def list_projects(ctx: Ctx, principal: Viewer, page: PageArgs, _: Strict) -> Response:
    found = queries.list_projects(ctx.store, principal.org_id, limit=page.limit, after=page.after)
    return page_response(found)


@router.get(
    "/projects/{project_id}", tags=["projects"], summary="A project, with counts per status"
)
def get_project(ctx: Ctx, principal: Viewer, project_id: str, _: Strict) -> Response:
    found = queries.get_project(ctx.store, principal.org_id, check_id(project_id, "project"))
    return json_response(found)


@router.get("/projects/{project_id}/batches", tags=["projects"], summary="A project's batches")
def list_batches(
    ctx: Ctx, principal: Viewer, project_id: str, page: PageArgs, _: Strict
) -> Response:
    found = queries.list_batches(
        ctx.store,
        principal.org_id,
        check_id(project_id, "project"),
        limit=page.limit,
        after=page.after,
    )
    return page_response(found)


# ---------------------------------------------------------------------------------- model runs


@router.get("/model-runs", tags=["model runs"], summary="Model runs, with counts per split")
def list_model_runs(
    ctx: Ctx,
    principal: Viewer,
    page: PageArgs,
    _: Strict,
    model_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this model's runs.")
    ] = None,
) -> Response:
    found = queries.list_model_runs(
        ctx.store, principal.org_id, limit=page.limit, after=page.after, model_id=model_id
    )
    return page_response(found)


@router.get("/model-runs/{model_run_id}", tags=["model runs"], summary="A model run")
def get_model_run(ctx: Ctx, principal: Viewer, model_run_id: str, _: Strict) -> Response:
    found = queries.get_model_run(ctx.store, principal.org_id, check_id(model_run_id, "model run"))
    return json_response(found)


# -------------------------------------------------------------------------------------- slices


class SliceCreate(Body):
    name: Name
    description: Description | None = None
    filters: dict[str, Any]


class SliceUpdate(Body):
    name: Name | None = None
    description: Description | None = None
    filters: dict[str, Any] | None = None

    _check_name = field_validator("name", "filters")(_not_null)


def _save_slice(ctx: Ctx, org_id: str, user_id: str, slice_id: str | None, **fields: Any) -> str:
    try:
        return services.save_slice(ctx.store, org_id, slice_id=slice_id, user_id=user_id, **fields)
    except InvalidSpec as exc:  # the filters are all save_slice checks
        raise InvalidParameter("body:filters", exc.message) from None


@router.get("/slices", tags=["slices"], summary="Catalog slices (saved filters)")
def list_slices(ctx: Ctx, principal: Viewer, page: PageArgs, _: Strict) -> Response:
    found = queries.list_slices(ctx.store, principal.org_id, limit=page.limit, after=page.after)
    return page_response(found)


@router.post(
    "/slices",
    tags=["slices"],
    status_code=201,
    summary="Save a slice; its filters are checked like a catalog export's",
)
def create_slice(ctx: Ctx, principal: Editor, _: Strict, body: SliceCreate) -> Response:
    slice_id = _save_slice(
        ctx,
        principal.org_id,
        principal.user_id,
        None,
        name=body.name,
        description=body.description,
        filters=body.filters,
    )
    found = queries.get_slice(ctx.store, principal.org_id, slice_id)
    return _created(found, f"/api/v1/slices/{slice_id}")


@router.get("/slices/{slice_id}", tags=["slices"], summary="A catalog slice")
def get_slice(ctx: Ctx, principal: Viewer, slice_id: str, _: Strict) -> Response:
    found = queries.get_slice(ctx.store, principal.org_id, check_id(slice_id, "catalog slice"))
    return json_response(found)


def _update_slice(
    ctx: Ctx, org_id: str, user_id: str, slice_id: str, body: SliceUpdate
) -> Response:
    current = queries.get_slice(ctx.store, org_id, check_id(slice_id, "catalog slice"))
    given = body.model_fields_set
    _save_slice(
        ctx,
        org_id,
        user_id,
        slice_id,
        name=body.name if "name" in given else current["name"],
        description=body.description if "description" in given else current["description"],
        filters=body.filters if "filters" in given else current["filters"],
    )
    return json_response(queries.get_slice(ctx.store, org_id, slice_id))


SLICE_UPDATE = "Change a slice's name, description or filters (fields left out are kept)"


@router.patch("/slices/{slice_id}", tags=["slices"], summary=SLICE_UPDATE)
def patch_slice(
    ctx: Ctx, principal: Editor, slice_id: str, _: Strict, body: SliceUpdate
) -> Response:
    return _update_slice(ctx, principal.org_id, principal.user_id, slice_id, body)


@router.put("/slices/{slice_id}", tags=["slices"], summary=SLICE_UPDATE + "; same as PATCH")
def put_slice(ctx: Ctx, principal: Editor, slice_id: str, _: Strict, body: SliceUpdate) -> Response:
    return _update_slice(ctx, principal.org_id, principal.user_id, slice_id, body)


# ----------------------------------------------------------------------------- annotation sets


class AnnotationSetCreate(Body):
    display_name: Name
    objective: str
    project_id: IdField | None = None
    model_run_id: IdField | None = None
    dataset_id: IdField | None = None

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: str) -> str:
        if value not in OBJECTIVES:
            raise ValueError(f"{value!r} is not one of {', '.join(OBJECTIVES)}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> AnnotationSetCreate:
        if (self.project_id is None) == (self.model_run_id is None):
            raise ValueError("give exactly one of project_id and model_run_id (the source)")
        return self


@router.get("/annotation-sets", tags=["annotation sets"], summary="Annotation sets")
def list_annotation_sets(ctx: Ctx, principal: Viewer, page: PageArgs, _: Strict) -> Response:
    found = queries.list_annotation_sets(
        ctx.store, principal.org_id, limit=page.limit, after=page.after
    )
    return page_response(found)


@router.post(
    "/annotation-sets",
    tags=["annotation sets"],
    status_code=201,
    summary="Create an annotation set over a project or a model run",
)
def create_annotation_set(
    ctx: Ctx, principal: Editor, _: Strict, body: AnnotationSetCreate
) -> Response:
    set_id = services.save_annotation_set(
        ctx.store,
        principal.org_id,
        display_name=body.display_name,
        objective=body.objective,
        project_id=body.project_id,
        model_run_id=body.model_run_id,
        dataset_id=body.dataset_id,
    )
    found = queries.get_annotation_set(ctx.store, principal.org_id, set_id)
    return _created(found, f"/api/v1/annotation-sets/{set_id}")


@router.get(
    "/annotation-sets/{annotation_set_id}", tags=["annotation sets"], summary="An annotation set"
)
def get_annotation_set(ctx: Ctx, principal: Viewer, annotation_set_id: str, _: Strict) -> Response:
    found = queries.get_annotation_set(
        ctx.store, principal.org_id, check_id(annotation_set_id, "annotation set")
    )
    return json_response(found)


# ------------------------------------------------------------------------------- users and keys


class KeyCreate(Body):
    email: Annotated[Text, Field(min_length=3, max_length=320)]
    role: Literal["admin", "editor", "viewer"]
    name: Annotated[Text, Field(max_length=200)] | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        local, at, domain = value.partition("@")
        if not at or not local or not domain or any(c.isspace() for c in value):
            raise ValueError(f"not an email address: {value!r}")
        return value


@router.get("/users", tags=["users and keys"], summary="The organization's users (admin)")
def list_users(ctx: Ctx, principal: Admin, page: PageArgs, _: Strict) -> Response:
    found = queries.list_users(ctx.store, principal.org_id, limit=page.limit, after=page.after)
    return page_response(found)


@router.get(
    "/keys",
    tags=["users and keys"],
    summary="The organization's API keys, oldest first, never their secrets (admin)",
    description="`?revoked=false` leaves revoked keys out.",
)
def list_keys(
    ctx: Ctx,
    principal: Admin,
    page: PageArgs,
    _: Strict,
    revoked: Annotated[bool, Query(description="include revoked keys")] = True,
) -> Response:
    found = queries.list_keys(
        ctx.store, principal.org_id, limit=page.limit, after=page.after, revoked=revoked
    )
    return page_response(found)


@router.delete(
    "/keys/{key_id}",
    tags=["users and keys"],
    summary="Revoke an API key (admin); it answers 401 everywhere from the next request on",
    description="Revoking a revoked key changes nothing and answers the same. The web sessions "
    "signed in with the key end too.",
)
def revoke_key(ctx: Ctx, principal: Admin, _: Strict, key_id: str) -> Response:
    check_id(key_id, "API key")
    services.revoke_api_key(ctx.store, principal.org_id, key_id)
    return json_response(queries.get_key(ctx.store, principal.org_id, key_id))


@router.post(
    "/keys",
    tags=["users and keys"],
    status_code=201,
    summary="Create an API key for a user (created if new; an existing user gets the role)",
    description="The key is in the answer and nowhere else: it is stored hashed.",
)
def create_key(ctx: Ctx, principal: Admin, _: Strict, body: KeyCreate) -> Response:
    user_id = services.ensure_user(ctx.store, principal.org_id, body.email, body.role)
    key = services.create_api_key(ctx.store, principal.org_id, user_id, body.name)
    key_id = key.removeprefix(services.KEY_PREFIX).split("_", 1)[0]
    user = queries.get_user(ctx.store, principal.org_id, user_id)
    return json_response(
        {"key": key, "key_id": key_id, "name": body.name, "user": user}, status_code=201
    )
