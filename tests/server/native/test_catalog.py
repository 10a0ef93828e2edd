"""The native catalog API through a live server: every endpoint, roles, organizations, paging,
and bad input answered 400 with the field named."""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
import pytest

from labelport import services

DATASET = "cdsapi0000000000000000001"
PROJECT = "cprojapi00000000000000001"
BATCH = "cbatchapi0000000000000001"
MODEL = "cmodelapi0000000000000001"
RUN = "crunapi000000000000000001"
STATUSES = ["TO_LABEL", "IN_REVIEW", "DONE", "DONE", "DONE"]
SPLITS = ["TRAINING", "TRAINING", "VALIDATION", "TEST", None]


def cid(prefix: str, n: int) -> str:
    return f"c{prefix}{n:0{24 - len(prefix)}d}"


def catalog_row(n: int) -> dict[str, Any]:
    box = {
        "objects": [
            {
                "name": "car",
                "value": "car",
                "annotation_kind": "ImageBoundingBox",
                "classifications": [],
                "bounding_box": {"top": 1, "left": 2, "height": 3, "width": 4},
            }
        ],
        "classifications": [],
        "relationships": [],
    }
    run: dict[str, Any] = {
        "name": "run one",
        "run_data_row_id": cid("rdr", n),
        "labels": [],
        "predictions": [
            {"id": cid("pred", n), "label_kind": "Default", "version": "1.0.0", "annotations": box}
        ],
    }
    if SPLITS[n] is not None:
        run["split"] = SPLITS[n]
    return {
        "data_row": {
            "id": cid("row", n),
            "global_key": f"api-{n}",
            "external_id": f"ext-{n}",
            "row_data": f"https://media.test/api/{n}.jpg",
            "details": {
                "dataset_id": DATASET,
                "dataset_name": "api images",
                "created_at": f"2024-01-01T00:00:0{n}.000+00:00",
            },
        },
        "media_attributes": {"mime_type": "image/jpeg", "width": 64, "height": 48},
        "attachments": [{"type": "RAW_TEXT", "value": f"note {n}", "name": "note"}],
        "metadata_fields": [{"schema_name": "weather", "value": "sunny"}],
        "projects": {
            PROJECT: {
                "name": "api boxes",
                "labels": [
                    {
                        "id": cid("label", n),
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "label_details": {
                            "created_at": f"2024-01-02T00:00:0{n}.000+00:00",
                        },
                        "annotations": box,
                    }
                ],
                "project_details": {
                    "workflow_status": STATUSES[n],
                    "batch_id": BATCH,
                    "batch_name": "first batch",
                },
            }
        },
        "experiments": {MODEL: {"name": "detector", "runs": {RUN: run}}},
    }


def seed(server: Any) -> None:
    rows = b"".join(orjson.dumps(catalog_row(n)) + b"\n" for n in range(5))
    services.import_labelbox(server.store, server.org.id, io.BytesIO(rows), file="seed.ndjson")


@pytest.fixture
def catalog(server: Any) -> Any:
    seed(server)
    return server


def error_of(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def with_key(server: Any, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def walk(http: Any, path: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor."""
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        answer = http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append(body["items"])
        if body["next_cursor"] is None:
            return pages
        params = {"limit": limit, "cursor": body["next_cursor"]}


# ------------------------------------------------------------------------------------ reading


def test_datasets_and_data_rows_read_like_the_export(catalog: Any) -> None:
    with catalog.client("viewer") as http:
        [dataset] = http.get("/api/v1/datasets").json()["items"]
        assert (dataset["id"], dataset["name"]) == (DATASET, "api images")
        assert dataset["data_row_count"] == 5  # a list counts its page's rows, like projects
        one = http.get(f"/api/v1/datasets/{DATASET}").json()
        assert one["data_row_count"] == 5
        assert (one["labels"], one["kind"]) == ({}, None)

        rows = http.get(f"/api/v1/datasets/{DATASET}/data-rows").json()["items"]
        assert [r["global_key"] for r in rows] == [f"api-{n}" for n in range(5)]
        row = rows[2]
        assert row == http.get(f"/api/v1/data-rows/{cid('row', 2)}").json()
        assert row == http.get("/api/v1/data-rows", params={"global_key": "api-2"}).json()
        assert row["id"] == cid("row", 2)
        assert row["external_id"] == "ext-2"
        assert row["row_data"] == "https://media.test/api/2.jpg"
        assert row["media_type"] == "IMAGE"
        assert (row["dataset_id"], row["dataset_name"]) == (DATASET, "api images")
        assert row["created_at"] == "2024-01-01T00:00:02.000+00:00"
        assert row["media_attributes"] == {"mime_type": "image/jpeg", "width": 64, "height": 48}
        assert row["attachments"] == [{"type": "RAW_TEXT", "value": "note 2", "name": "note"}]
        assert [(m["schema_name"], m["value"]) for m in row["metadata_fields"]] == [
            ("weather", "sunny")
        ]
        assert "projects" not in row and "embeddings" not in row

        missing = http.get("/api/v1/data-rows", params={"global_key": "api-99"})
        assert error_of(missing, 404)["type"] == "NotFound"
        assert "api-99" in missing.json()["error"]["message"]
        assert error_of(http.get("/api/v1/data-rows"))["field"] == "query:global_key"


def test_projects_batches_and_model_runs_carry_their_counts(catalog: Any) -> None:
    with catalog.client("viewer") as http:
        [project] = http.get("/api/v1/projects").json()["items"]
        assert project == http.get(f"/api/v1/projects/{PROJECT}").json()
        assert project["name"] == "api boxes"
        assert project["media_type"] is None or project["media_type"] == "IMAGE"
        assert project["ontology_id"]
        assert project["workflow_status_counts"] == {
            "TO_LABEL": 1,
            "IN_REVIEW": 1,
            "IN_REWORK": 0,
            "DONE": 3,
            "UNKNOWN": 0,
        }
        assert (project["data_row_count"], project["label_count"]) == (5, 5)

        [batch] = http.get(f"/api/v1/projects/{PROJECT}/batches").json()["items"]
        assert (batch["id"], batch["name"], batch["project_id"]) == (
            BATCH,
            "first batch",
            PROJECT,
        )
        assert batch["data_row_count"] == 5

        [run] = http.get("/api/v1/model-runs").json()["items"]
        assert run == http.get(f"/api/v1/model-runs/{RUN}").json()
        assert (run["name"], run["model_id"], run["model_name"]) == ("run one", MODEL, "detector")
        assert run["split_counts"] == {"TRAINING": 2, "VALIDATION": 1, "TEST": 1, "UNASSIGNED": 1}
        assert (run["data_row_count"], run["prediction_count"]) == (5, 5)
        assert http.get("/api/v1/model-runs", params={"model_id": MODEL}).json()["items"]
        assert http.get("/api/v1/model-runs", params={"model_id": "cnone"}).json()["items"] == []


# ------------------------------------------------------------------------------------ paging


def test_lists_page_with_a_cursor(catalog: Any) -> None:
    with catalog.client("editor") as http:
        made = [
            http.post("/api/v1/datasets", json={"name": f"set {n}"}).json()["id"] for n in range(6)
        ]
        pages = walk(http, "/api/v1/datasets", 3)  # 7 datasets: the seeded one and six more
        assert [len(p) for p in pages] == [3, 3, 1]
        listed = [d["id"] for page in pages for d in page]
        assert listed == [DATASET, *made]  # oldest first, nothing twice, nothing left out

        rows = walk(http, f"/api/v1/datasets/{DATASET}/data-rows", 2)
        assert [len(p) for p in rows] == [2, 2, 1]
        assert [r["global_key"] for p in rows for r in p] == [f"api-{n}" for n in range(5)]
        exact = walk(http, f"/api/v1/datasets/{DATASET}/data-rows", 5)
        assert [len(p) for p in exact] == [5]  # a full last page says so: no empty page after

        for value in ("0", "1001", "ten"):
            response = http.get("/api/v1/datasets", params={"limit": value})
            assert error_of(response)["field"] == "query:limit"
        bad = http.get("/api/v1/projects", params={"cursor": "not-a-cursor"})
        assert error_of(bad)["field"] == "query:cursor"


# ------------------------------------------------------------------------------------ writing


def test_datasets_are_created_and_changed_by_editors(catalog: Any) -> None:
    with catalog.client("editor") as http:
        created = http.post(
            "/api/v1/datasets",
            json={
                "name": "flowers",
                "description": "petals",
                "labels": {"team": "vision", "env": "prod-1"},
                "kind": "image",
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert created.headers["location"] == f"/api/v1/datasets/{body['id']}"
        assert (body["name"], body["description"], body["kind"]) == ("flowers", "petals", "image")
        assert body["labels"] == {"team": "vision", "env": "prod-1"}
        assert (body["data_row_count"], body["created_by"]) == (0, "editor@acme.test")

        path = f"/api/v1/datasets/{body['id']}"
        changed = http.patch(path, json={"name": "blooms", "labels": None}).json()
        assert (changed["name"], changed["description"], changed["labels"]) == (
            "blooms",
            "petals",
            {},
        )
        assert changed["kind"] == "image"  # left out: kept
        assert (
            http.get("/api/v1/datasets", params={"name": "blooms"}).json()["items"][0]["id"]
            == body["id"]
        )

        for payload, field in [
            ({"name": "x", "colour": "red"}, "body:colour"),
            ({"name": ""}, "body:name"),
            ({"name": "x", "kind": "audio"}, "body:kind"),
            ({"name": "x", "labels": {"Team": "a"}}, "body:labels"),
            ({"name": "x", "labels": {"team": 3}}, "body:labels.team"),
            ({"name": "x\u0000"}, "body:name"),
            ({}, "body:name"),
        ]:
            assert error_of(http.post("/api/v1/datasets", json=payload))["field"] == field
        assert error_of(http.patch(path, json={"name": None}))["field"] == "body:name"
        assert error_of(http.patch(path, json={"size": 1}))["field"] == "body:size"
        broken = http.post(
            "/api/v1/datasets", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert error_of(broken)["field"].startswith("body")
        assert error_of(http.get("/api/v1/datasets", params={"limt": "5"}))["field"] == (
            "query:limt"
        )
        assert error_of(http.get(path, params={"x": "1"}))["field"] == "query:x"
        nul = http.get("/api/v1/datasets", params={"name": "a\u0000b"})
        assert error_of(nul)["field"] == "query:name"
        assert http.get("/api/v1/datasets", params={"name": "blooms"}).status_code == 200


def test_slices_are_saved_with_checked_filters(catalog: Any) -> None:
    with catalog.client("editor") as http:
        created = http.post(
            "/api/v1/slices",
            json={"name": "two rows", "filters": {"global_keys": ["api-1", "api-2"]}},
        )
        assert created.status_code == 201, created.text
        one = created.json()
        path = f"/api/v1/slices/{one['id']}"
        assert http.get(path).json() == one
        assert one["filters"] == {"global_keys": ["api-1", "api-2"]}
        assert (one["name"], one["description"]) == ("two rows", None)

        renamed = http.patch(path, json={"name": "a pair", "description": "d"}).json()
        assert (renamed["name"], renamed["description"]) == ("a pair", "d")
        assert renamed["filters"] == one["filters"]  # left out: kept
        replaced = http.put(path, json={"filters": {"media_type": ["IMAGE"]}}).json()
        assert (replaced["name"], replaced["filters"]) == ("a pair", {"media_type": ["IMAGE"]})
        assert [s["id"] for s in http.get("/api/v1/slices").json()["items"]] == [one["id"]]

        bad = http.post(
            "/api/v1/slices", json={"name": "s", "filters": {"workflow_status": "Done"}}
        )
        error = error_of(bad)
        assert error["field"] == "body:filters"
        assert "filters.workflow_status" in error["message"]
        wrong_date = http.patch(path, json={"filters": {"last_activity_at": ["soon", None]}})
        assert error_of(wrong_date)["field"] == "body:filters"
        assert http.get(path).json()["filters"] == {"media_type": ["IMAGE"]}  # unchanged
        assert error_of(http.post("/api/v1/slices", json={"name": "s"}))["field"] == (
            "body:filters"
        )
        assert error_of(http.patch(path, json={"filters": None}))["field"] == "body:filters"
        assert error_of(http.patch(path, json={"owner": "me"}))["field"] == "body:owner"
        assert error_of(http.patch("/api/v1/slices/cnosuchslice", json={"name": "x"}), 404)


def test_annotation_sets_over_a_project_or_a_model_run(catalog: Any) -> None:
    with catalog.client("editor") as http:
        created = http.post(
            "/api/v1/annotation-sets",
            json={
                "display_name": "boxes v1",
                "objective": "image_bounding_box",
                "project_id": PROJECT,
                "dataset_id": DATASET,
            },
        )
        assert created.status_code == 201, created.text
        one = created.json()
        assert (one["project_id"], one["model_run_id"], one["dataset_id"]) == (
            PROJECT,
            None,
            DATASET,
        )
        assert http.get(f"/api/v1/annotation-sets/{one['id']}").json() == one
        from_run = http.post(
            "/api/v1/annotation-sets",
            json={"display_name": "preds", "objective": "image_bounding_box", "model_run_id": RUN},
        )
        assert from_run.status_code == 201, from_run.text
        listed = http.get("/api/v1/annotation-sets").json()["items"]
        assert [a["id"] for a in listed] == [one["id"], from_run.json()["id"]]

        both = {"display_name": "x", "objective": "image_bounding_box"}
        assert (
            error_of(
                http.post(
                    "/api/v1/annotation-sets",
                    json={**both, "project_id": PROJECT, "model_run_id": RUN},
                )
            )["field"]
            == "body"
        )
        assert error_of(http.post("/api/v1/annotation-sets", json=both))["field"] == "body"
        bad_objective = {"display_name": "x", "objective": "poetry", "project_id": PROJECT}
        error = error_of(http.post("/api/v1/annotation-sets", json=bad_objective))
        assert error["field"] == "body:objective" and "image_bounding_box" in error["message"]
        unknown = http.post("/api/v1/annotation-sets", json={**both, "project_id": "cnoproject"})
        assert error_of(unknown, 404)["type"] == "NotFound"


def test_admins_make_keys_and_list_users(catalog: Any) -> None:
    with catalog.client("admin") as http:
        made = http.post(
            "/api/v1/keys", json={"email": "ci@acme.test", "role": "viewer", "name": "ci"}
        )
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["key"].startswith(f"lp_{body['key_id']}_")
        assert (body["user"]["email"], body["user"]["role"], body["name"]) == (
            "ci@acme.test",
            "viewer",
            "ci",
        )
        users = [u["email"] for page in walk(http, "/api/v1/users", 2) for u in page]
        assert sorted(users) == sorted(
            ["admin@acme.test", "editor@acme.test", "viewer@acme.test", "ci@acme.test"]
        )
        for payload, field in [
            ({"email": "ci@acme.test", "role": "owner"}, "body:role"),
            ({"email": "nobody", "role": "viewer"}, "body:email"),
            ({"email": "a@b.test", "role": "viewer", "scopes": []}, "body:scopes"),
        ]:
            assert error_of(http.post("/api/v1/keys", json=payload))["field"] == field
    with with_key(catalog, body["key"]) as http:
        me = http.get("/api/v1/me").json()
        assert (me["email"], me["role"]) == ("ci@acme.test", "viewer")
        assert error_of(http.post("/api/v1/datasets", json={"name": "x"}), 403)


# ------------------------------------------------------------------------ roles and organizations

READS = [
    "/api/v1/datasets",
    f"/api/v1/datasets/{DATASET}",
    f"/api/v1/datasets/{DATASET}/data-rows",
    f"/api/v1/data-rows/{cid('row', 1)}",
    "/api/v1/data-rows?global_key=api-1",
    "/api/v1/projects",
    f"/api/v1/projects/{PROJECT}",
    f"/api/v1/projects/{PROJECT}/batches",
    "/api/v1/model-runs",
    f"/api/v1/model-runs/{RUN}",
    "/api/v1/slices",
    "/api/v1/annotation-sets",
]
WRITES = [
    ("POST", "/api/v1/datasets", {"name": "x"}),
    ("PATCH", f"/api/v1/datasets/{DATASET}", {"name": "x"}),
    ("POST", "/api/v1/slices", {"name": "x", "filters": {}}),
    ("PUT", "/api/v1/slices/cslice", {"name": "x"}),
    ("POST", "/api/v1/annotation-sets", {"display_name": "x", "objective": "x"}),
]
ADMIN = [("GET", "/api/v1/users", None), ("POST", "/api/v1/keys", {"email": "a@b.c"})]


def test_keys_and_roles_guard_every_route(catalog: Any) -> None:
    with catalog.client(role="") as http:
        for path in READS:
            assert error_of(http.get(path), 401)["type"] == "AuthenticationFailed", path
        for method, path, body in [*WRITES, *ADMIN]:
            # no key: 401 first, even with a bad query string
            assert http.request(method, path + "?bogus=1", json=body).status_code == 401
    with catalog.client("viewer") as http:
        for path in READS:
            assert http.get(path).status_code == 200, path
        for method, path, body in [*WRITES, *ADMIN]:
            assert error_of(http.request(method, path, json=body), 403)["type"] == (
                "PermissionDenied"
            )
    with catalog.client("editor") as http:
        for method, path, body in ADMIN:
            assert error_of(http.request(method, path, json=body), 403)


def test_another_organization_sees_none_of_it(catalog: Any) -> None:
    with catalog.client("editor") as http:
        slice_id = http.post("/api/v1/slices", json={"name": "s", "filters": {}}).json()["id"]
        set_id = http.post(
            "/api/v1/annotation-sets",
            json={"display_name": "a", "objective": "image_bounding_box", "project_id": PROJECT},
        ).json()["id"]
    with with_key(catalog, catalog.other_org_key) as http:
        for path in [
            *READS[1:5],
            READS[6],
            READS[7],
            READS[9],
            f"/api/v1/slices/{slice_id}",
            f"/api/v1/annotation-sets/{set_id}",
        ]:
            answer = http.get(path)
            assert error_of(answer, 404)["type"] == "NotFound", path
            for secret in ("api images", "api boxes", "detector", "sunny", "first batch"):
                assert secret not in answer.text  # no data in the answer
        for path in ("/api/v1/datasets", "/api/v1/projects", "/api/v1/model-runs"):
            assert http.get(path).json() == {"items": [], "next_cursor": None}
        assert http.get("/api/v1/slices").json()["items"] == []
        assert http.get("/api/v1/annotation-sets").json()["items"] == []
        assert [u["email"] for u in http.get("/api/v1/users").json()["items"]] == [
            "admin@other.test"
        ]
        assert error_of(http.patch(f"/api/v1/datasets/{DATASET}", json={"name": "mine"}), 404)
        assert error_of(http.patch(f"/api/v1/slices/{slice_id}", json={"name": "mine"}), 404)
        theirs = {"display_name": "a", "objective": "image_bounding_box"}
        for source in ({"project_id": PROJECT}, {"model_run_id": RUN}):
            assert error_of(http.post("/api/v1/annotation-sets", json={**theirs, **source}), 404)
        own_project = http.get("/api/v1/projects").json()["items"]
        assert own_project == []
    with catalog.client("viewer") as http:
        assert http.get(f"/api/v1/datasets/{DATASET}").json()["name"] == "api images"
        assert http.get(f"/api/v1/slices/{slice_id}").json()["name"] == "s"


def test_a_dataset_of_another_organization_cannot_be_named_in_an_annotation_set(
    catalog: Any,
) -> None:
    with with_key(catalog, catalog.other_org_key) as http:
        theirs = http.post("/api/v1/datasets", json={"name": "theirs"}).json()["id"]
    with catalog.client("editor") as http:
        answer = http.post(
            "/api/v1/annotation-sets",
            json={
                "display_name": "a",
                "objective": "image_bounding_box",
                "project_id": PROJECT,
                "dataset_id": theirs,
            },
        )
        assert error_of(answer, 404)["type"] == "NotFound"
        assert http.get("/api/v1/annotation-sets").json()["items"] == []
