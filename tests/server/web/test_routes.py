"""The web pages over HTTP (httpx against a live server on SQLite and PostgreSQL).

Sessions, roles, CSRF, form errors that name their field, organization scoping, every page on the
demo-like catalog, exports started from the dialog down to their downloaded rows, and bad input
that never answers 5xx.
"""

from __future__ import annotations

import base64
import html
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.server.web import browse
from labelport.services import export_tasks
from labelport.store import schema as s
from labelport.times import utcnow
from tests.server.web.conftest import Site
from tests.server.web.helpers import csrf_of, sign_in

ROW = re.compile(r'name="row" value="([^"]+)"')
COUNT = re.compile(r'id="row-count" data-count="(\d+)" data-capped="(true|false)"')


def rows_of(page: str) -> list[str]:
    return ROW.findall(page)


def count_of(page: str) -> tuple[int, bool]:
    found = COUNT.search(page)
    assert found, "the page shows no row count"
    return int(found.group(1)), found.group(2) == "true"


def scalar(site: Site, query: Any) -> Any:
    with site.live.store.read() as conn:
        return conn.execute(query).scalar_one()


def status(http: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = http.get("/exports/status.json", params={"id": task_id})
    assert answer.status_code == 200
    items = answer.json()["exports"]
    assert [i["id"] for i in items] == [task_id]
    item: dict[str, Any] = items[0]
    return item


def wait_done(http: httpx.Client, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        item = status(http, task_id)
        if item["finished"]:
            return item
        assert time.monotonic() < deadline, f"export {task_id} is still {item['status']}"
        time.sleep(0.05)


def start(http: httpx.Client, form: dict[str, Any]) -> str:
    """Post the export dialog; the id of the export it started."""
    page = http.get("/exports")
    answer = http.post("/exports", data={"csrf": csrf_of(page.text), **form})
    assert answer.status_code == 303, answer.text[:3000]
    location = answer.headers["location"]
    assert location.startswith("/exports/")
    return urlsplit(location).path.rsplit("/", 1)[1]


def download(http: httpx.Client, link: str) -> list[dict[str, Any]]:
    """The rows behind a signed link, fetched without the session (the link is the permission)."""
    with httpx.Client(base_url=str(http.base_url)) as anonymous:
        answer = anonymous.get(link)
    assert answer.status_code == 200, answer.text
    return [orjson.loads(line) for line in answer.content.splitlines()]


# --------------------------------------------------------------------------------- sessions


def test_pages_send_visitors_without_a_session_to_sign_in(site: Site) -> None:
    with httpx.Client(base_url=site.live.url) as anonymous:
        answer = anonymous.get("/catalog?media_type=IMAGE")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Fcatalog%3Fmedia_type%3DIMAGE"
        for path in ("/", "/exports", "/datasets", f"/slices/{site.catalog.slice_id}"):
            assert anonymous.get(path).status_code == 303
        progress = anonymous.get("/exports/status.json?id=x")
        assert progress.status_code == 401 and progress.json() == {"error": "sign in again"}
        # a POST without a session changes nothing and goes to sign in
        assert anonymous.post("/exports", data={"scope_kind": "catalog"}).status_code == 303
        form = anonymous.get("/login")
        assert form.status_code == 200 and 'for="f-api_key"' in form.text


def test_sign_in_sets_a_signed_http_only_cookie_without_the_secret(site: Site) -> None:
    key = site.live.keys["viewer"]
    key_id, secret = key.removeprefix("lp_").split("_", 1)
    with httpx.Client(base_url=site.live.url) as http:
        form = http.get("/login?next=/exports")
        answer = http.post(
            "/login", data={"api_key": key, "csrf": csrf_of(form.text), "next": "/exports"}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/exports"
        cookie = next(
            h for h in answer.headers.get_list("set-cookie") if h.startswith("lp_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        value = http.cookies["lp_session"]
        assert secret not in value and key not in value
        payload = value.split(".")[0]
        decoded = orjson.loads(base64.urlsafe_b64decode(payload + "==="))
        assert decoded["k"] == key_id and set(decoded) == {"k", "n", "t"}
        home = http.get("/")
        assert home.status_code == 200 and "viewer@acme.test" in home.text
        # already signed in: the form sends you on
        again = http.get("/login?next=/catalog")
        assert again.status_code == 303 and again.headers["location"] == "/catalog"


@pytest.mark.parametrize("key", ["lp_nope_nope", "not a key", ""])
def test_a_bad_key_is_a_form_error(site: Site, key: str) -> None:
    with httpx.Client(base_url=site.live.url) as http:
        form = http.get("/login")
        answer = http.post("/login", data={"api_key": key, "csrf": csrf_of(form.text)})
        assert answer.status_code in (400, 401)
        assert "API key:" in answer.text and 'aria-invalid="true"' in answer.text
        assert "lp_session" not in http.cookies


def test_sign_in_needs_the_forms_token_and_follows_only_local_paths(site: Site) -> None:
    with httpx.Client(base_url=site.live.url) as http:
        http.get("/login")
        forged = http.post("/login", data={"api_key": site.live.keys["admin"], "csrf": "x" * 64})
        assert forged.status_code == 400 and "expired" in forged.text
        assert "lp_session" not in http.cookies
    for target in ("//evil.test/x", "https://evil.test/", "/\\evil.test", "/\t/evil.test"):
        with httpx.Client(base_url=site.live.url) as http:
            form = http.get("/login")
            answer = http.post(
                "/login",
                data={
                    "api_key": site.live.keys["admin"],
                    "csrf": csrf_of(form.text),
                    "next": target,
                },
            )
            assert answer.status_code == 303 and answer.headers["location"] == "/", target


def test_logout_clears_the_session_and_needs_its_token(site: Site) -> None:
    http = sign_in(site.live, "viewer")
    refused = http.post("/logout", data={"csrf": "wrong"})
    assert refused.status_code == 403
    assert http.get("/").status_code == 200
    token = csrf_of(http.get("/").text)
    answer = http.post("/logout", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert "lp_session" not in http.cookies
    assert http.get("/").status_code == 303


def test_a_forged_cookie_and_a_revoked_key_end_the_session(site: Site) -> None:
    with httpx.Client(base_url=site.live.url, cookies={"lp_session": "e30.abc"}) as http:
        assert http.get("/").status_code == 303
    live = site.live
    uid = services.ensure_user(live.store, live.org.id, "temp@acme.test", "viewer")
    key = services.create_api_key(live.store, live.org.id, uid, "temporary")
    http = sign_in(live, key=key)
    assert http.get("/").status_code == 200
    key_id = key.removeprefix("lp_").split("_", 1)[0]
    with live.store.write() as conn:
        conn.execute(
            s.api_key.update().where(s.api_key.c.id == key_id),
            {"revoked_at": utcnow()},
        )
    assert http.get("/").status_code == 303
    assert http.get("/exports/status.json").status_code == 401


# ------------------------------------------------------------------------- roles and CSRF


def test_viewers_read_but_cannot_change_anything(site: Site) -> None:
    cat = site.catalog
    http = sign_in(site.live, "viewer")
    dataset = cat.dataset_id("street-images")
    dialog = http.get(f"/exports/new?scope_kind=dataset&scope_id={dataset}")
    assert dialog.status_code == 200
    assert "needs the editor role" in dialog.text
    assert re.search(r'id="start-export" disabled', dialog.text)
    before = len(export_tasks.list_tasks(site.live.store, site.live.org.id, limit=500))
    answer = http.post(
        "/exports",
        data={"csrf": csrf_of(dialog.text), "scope_kind": "dataset", "scope_id": dataset},
    )
    assert answer.status_code == 403
    assert "this needs the editor role; viewer@acme.test is viewer" in html.unescape(answer.text)
    saved = http.post(
        "/slices",
        data={"csrf": csrf_of(dialog.text), "view_kind": "catalog", "slice_name": "x"},
    )
    assert saved.status_code == 403
    assert len(export_tasks.list_tasks(site.live.store, site.live.org.id, limit=500)) == before


def test_forms_that_change_things_need_the_csrf_token(site: Site) -> None:
    http = sign_in(site.live, "editor")
    dataset = site.catalog.dataset_id("street-images")
    before = len(export_tasks.list_tasks(site.live.store, site.live.org.id, limit=500))
    form = {"scope_kind": "dataset", "scope_id": dataset, "format": "ndjson"}
    for token in (None, "", "0" * 64):
        data = dict(form) if token is None else {**form, "csrf": token}
        answer = http.post("/exports", data=data)
        assert answer.status_code == 403
        assert "did not come from this site" in answer.text
    other = sign_in(site.live, "admin")  # another session's token is not this one's
    foreign = csrf_of(other.get("/").text)
    assert http.post("/exports", data={**form, "csrf": foreign}).status_code == 403
    assert len(export_tasks.list_tasks(site.live.store, site.live.org.id, limit=500)) == before


# -------------------------------------------------------------------------- organizations


def test_another_organizations_ids_are_not_found(site: Site) -> None:
    live, cat = site.live, site.catalog
    mine = sign_in(live, "editor")
    task_id = start(
        mine, {"scope_kind": "dataset", "scope_id": cat.dataset_id("invoices"), "format": "ndjson"}
    )
    wait_done(mine, task_id)
    row_id = rows_of(mine.get(f"/datasets/{cat.dataset_id('invoices')}").text)[0]
    other = sign_in(live, key=live.other_org_key)
    for path in (
        f"/datasets/{cat.dataset_id('invoices')}",
        f"/projects/{cat.project_id('Invoice fields')}",
        f"/model-runs/{cat.run_id}",
        f"/slices/{cat.slice_id}",
        f"/data-rows/{row_id}",
        f"/exports/{task_id}",
        f"/exports/new?scope_kind=dataset&scope_id={cat.dataset_id('invoices')}",
    ):
        answer = other.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in answer.text
    assert other.get(f"/exports/status.json?id={task_id}").json() == {"exports": []}
    token = csrf_of(other.get("/").text)
    assert other.post(f"/exports/{task_id}/archive", data={"csrf": token}).status_code == 404
    assert other.get("/catalog").status_code == 200
    assert count_of(other.get("/catalog").text) == (0, False)


# ------------------------------------------------------------------------------- the pages


def test_every_page_renders_the_demo_catalog(site: Site) -> None:
    cat = site.catalog
    http = sign_in(site.live, "viewer")
    home = http.get("/")
    assert home.status_code == 200
    assert home.text.count('<a href="/datasets/') == 8  # the newest eight of eleven
    assert "swatches" in home.text and '<a href="/datasets">All datasets</a>' in home.text
    assert "detector v1" in home.text and "Labeled in March 2025" in home.text
    assert re.search(r"<dt>Data rows</dt><dd>64</dd>", home.text)
    for path, text in (
        ("/datasets", "swatches"),
        ("/projects", "Vehicle tracking"),
        ("/model-runs", "Street detector"),
        ("/slices", "label_created_at"),
    ):
        answer = http.get(path)
        assert answer.status_code == 200 and text in answer.text
    catalog = http.get("/catalog")
    assert count_of(catalog.text) == (cat.rows, False)
    assert len(rows_of(catalog.text)) == 48  # the first page
    street = http.get(f"/datasets/{cat.dataset_id('street-images')}")
    assert count_of(street.text) == (6, False)
    swatches = http.get(f"/datasets/{cat.swatches_id}")
    assert swatches.text.count('src="data:image/svg+xml;base64,') == 3  # thumbnails
    assert "the parcel arrived late" in swatches.text  # a text snippet
    project = http.get(f"/projects/{cat.project_id('Street objects')}")
    assert count_of(project.text) == (6, False)
    assert 'name="workflow_status"' in project.text and 'name="batch_ids"' in project.text
    assert 'name="media_type"' not in project.text
    run = http.get(f"/model-runs/{cat.run_id}")
    assert count_of(run.text) == (5, False)
    sliced = http.get(f"/slices/{cat.slice_id}")
    assert sliced.status_code == 200 and "A slice is a saved filter" in sliced.text
    # every page is kept out of the OpenAPI description
    paths = http.get("/openapi.json").json()["paths"]
    assert not [
        p
        for p in paths
        if not p.startswith(
            ("/api/", "/vertex", "/diffgram", "/graphql", "/_gql", "/downloads", "/health")
        )
    ]


def test_a_data_row_page_shows_labels_per_project_and_predictions_per_run(site: Site) -> None:
    http = sign_in(site.live, "viewer")
    run = http.get(f"/model-runs/{site.catalog.run_id}")
    row_id = rows_of(run.text)[0]
    page = http.get(f"/data-rows/{row_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Street objects" in text and "Predictions per model run (1)" in text
    assert "Street detector · detector v1" in text
    shown = re.search(
        r'<pre tabindex="0" aria-label="The exported row" id="row-json">(.*?)</pre>',
        page.text,
        re.S,
    )
    assert shown
    row = orjson.loads(html.unescape(shown.group(1)))
    assert row["data_row"]["id"] == row_id
    assert row["experiments"] and row["projects"]  # labels and predictions, as exported
    assert "\n  " in shown.group(1)  # pretty-printed
    assert http.get("/data-rows/nope").status_code == 404


def test_filters_match_the_catalog(site: Site) -> None:
    store, org = site.live.store, site.live.org.id
    http = sign_in(site.live, "viewer")
    d = s.data_row
    images = scalar(
        site, sa.select(sa.func.count()).where(d.c.org_id == org, d.c.media_type == "IMAGE")
    )
    page = http.get("/catalog", params={"media_type": "IMAGE"})
    assert count_of(page.text) == (images, False) == (9, False)
    field = next(f for f in browse.metadata_fields(store, org) if f.name == "site")
    berlin = http.get("/catalog", params={"metadata_field": field.id, "metadata_value": "berlin"})
    m = s.data_row_metadata
    expected = scalar(
        site,
        sa.select(sa.func.count(sa.distinct(m.c.data_row_id))).where(
            m.c.schema_id == field.id, sa.type_coerce(m.c.value, sa.Text) == '"berlin"'
        ),
    )
    assert count_of(berlin.text) == (expected, False) and expected >= 3
    split = next(f for f in browse.metadata_fields(store, org) if f.name == "split")
    assert {o[1] for o in split.options} == {"train", "valid", "test"}
    train = http.get("/catalog", params={"metadata_field": split.id, "metadata_value": "train"})
    valid = http.get("/catalog", params={"metadata_field": split.id, "metadata_value": "valid"})
    test = http.get("/catalog", params={"metadata_field": split.id, "metadata_value": "test"})
    assert sum(count_of(p.text)[0] for p in (train, valid, test)) == 60
    project = site.catalog.project_id("Vehicle tracking")
    pdr = s.project_data_row
    done = scalar(
        site,
        sa.select(sa.func.count()).where(
            pdr.c.project_id == project, pdr.c.workflow_status == "DONE"
        ),
    )
    answer = http.get(f"/projects/{project}", params={"workflow_status": "Done"})
    assert count_of(answer.text) == (done, False) == (3, False)
    when = http.get("/catalog", params={"last_activity_at_to": "2000-01-01"})
    assert count_of(when.text) == (0, False)
    assert "No rows match these filters" in when.text


def test_paging_walks_every_row_once_in_export_order(site: Site) -> None:
    http = sign_in(site.live, "viewer")
    seen: list[str] = []
    url = "/catalog?limit=24"
    while url:
        page = http.get(url)
        assert page.status_code == 200
        seen.extend(rows_of(page.text))
        found = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = html.unescape(found.group(1)) if found else ""
    d = s.data_row
    with site.live.store.read() as conn:
        key = d.c.id if conn.dialect.name == "sqlite" else d.c.id.collate("C")
        expected = list(
            conn.execute(
                sa.select(d.c.id)
                .where(d.c.org_id == site.live.org.id)
                .order_by(d.c.created_at, key)
            ).scalars()
        )
    assert seen == expected and len(seen) == site.catalog.rows


def test_every_data_row_page_of_the_catalog_renders(site: Site) -> None:
    """Rows of every source shape, also those without external_id or global_key (Vertex)."""
    http = sign_in(site.live, "viewer")
    d = s.data_row
    with site.live.store.read() as conn:
        rows = conn.execute(
            sa.select(d.c.id, d.c.external_id, d.c.global_key).where(d.c.org_id == site.live.org.id)
        ).all()
    assert any(r.external_id is None for r in rows), "the catalog has no row without external_id"
    for row in rows:
        page = http.get(f"/data-rows/{row.id}")
        assert page.status_code == 200, f"/data-rows/{row.id}: {page.status_code}"
        assert row.id in page.text


def test_counts_stop_at_the_cap(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browse, "COUNT_CAP", 10)
    http = sign_in(site.live, "viewer")
    page = http.get("/catalog")
    assert count_of(page.text) == (10, True)
    assert "<strong>10+</strong> matching rows" in page.text
    assert "<dt>Data rows</dt><dd>10+</dd>" in http.get("/").text


@pytest.mark.parametrize(
    "params,field,text",
    [
        (
            {"last_activity_at_from": "2025-13-45"},
            "last_activity_at_from",
            "Last activity (from): '2025-13-45' is not a valid date",
        ),
        (
            {"label_created_at_to": "soon"},
            "label_created_at_to",
            "Label created (to): 'soon' is not a date",
        ),
        (
            {"last_activity_at_from": "2025-05-01", "last_activity_at_to": "2025-04-01"},
            "last_activity_at",
            "Last activity: the start '2025-05-01' is after the end",
        ),
        ({"global_keys": "a", "data_row_ids": "b"}, "global_keys", "cannot both be given"),
        ({"media_type": "PAINTING"}, "media_type", "Media type: 'PAINTING' is not a media type"),
        ({"after": "garbage"}, "after", "Page: this page position is not one"),
        (
            {"metadata_field": "nope", "metadata_value": "x"},
            "metadata_field",
            "Metadata field: no field with id 'nope'",
        ),
    ],
)
def test_a_bad_filter_is_a_form_error_naming_the_field(
    site: Site, params: dict[str, str], field: str, text: str
) -> None:
    http = sign_in(site.live, "viewer")
    page = http.get("/catalog", params=params)
    assert page.status_code == 400
    body = html.unescape(page.text)
    assert 'id="error-summary"' in page.text and "Check the filters" in body
    assert f'href="#f-{field}" data-field="{field}"' in page.text
    assert text in body
    assert 'id="row-count"' not in page.text  # no rows for filters that are wrong


def test_a_bad_metadata_value_and_batch_are_form_errors(site: Site) -> None:
    store, org = site.live.store, site.live.org.id
    http = sign_in(site.live, "viewer")
    quality = next(f for f in browse.metadata_fields(store, org) if f.name == "quality")
    page = http.get("/catalog", params={"metadata_field": quality.id, "metadata_value": "high"})
    assert page.status_code == 400
    assert "Metadata value: quality holds numbers, not &#39;high&#39;" in page.text
    project = site.catalog.project_id("Street objects")
    batch = http.get(f"/projects/{project}", params={"batch_ids": "nope"})
    assert batch.status_code == 400 and "Batches: batch not found: nope" in batch.text


# ---------------------------------------------------------------------------------- exports


def test_a_dataset_export_from_the_dialog_downloads_what_the_page_counts(site: Site) -> None:
    cat = site.catalog
    http = sign_in(site.live, "editor")
    dataset = cat.dataset_id("street-images")
    dialog = http.get(f"/exports/new?scope_kind=dataset&scope_id={dataset}")
    assert dialog.status_code == 200
    for name in ("attachments", "label_details", "all_projects", "predictions"):
        assert f'name="param" value="{name}"' in dialog.text
    assert 'name="format" value="vertex"' in dialog.text  # a dataset without filters
    assert "detector v1 predictions" in dialog.text  # its annotation sets
    task_id = start(
        http,
        {
            "scope_kind": "dataset",
            "scope_id": dataset,
            "filters": "{}",
            "format": "ndjson",
            "param": ["data_row_details", "label_details"],
            "project_ids": [cat.project_id("Street objects")],
            "name": "street export",
        },
    )
    item = wait_done(http, task_id)
    assert item["status"] == "COMPLETE" and item["percent"] == 100.0
    assert (item["rows"], item["files"], item["errors"]) == (6, 1, 0)
    assert item["created_by"] == "editor@acme.test"
    rows = download(http, item["links"]["result"])
    assert len(rows) == 6
    assert {r["data_row"]["details"]["dataset_name"] for r in rows} == {"street-images"}
    assert all(cat.project_id("Street objects") in r["projects"] for r in rows)
    page = http.get(f"/exports/{task_id}")
    assert page.status_code == 200
    assert '<dd data-field="rows" id="count-rows">6</dd>' in page.text
    assert '<dd data-field="files" id="count-files">1</dd>' in page.text
    assert '<dd data-field="errors" id="count-errors">0</dd>' in page.text
    assert "The first 5 rows" in page.text and '"data_row": {' in html.unescape(page.text)
    assert "Manifest (check values)" in page.text and "sha256" in page.text
    listed = http.get("/exports")
    assert "street export" in listed.text and task_id in listed.text
    manifest = download_json(http, item["links"]["manifest"])
    assert manifest["counts"]["data_rows"] == 6


def download_json(http: httpx.Client, link: str) -> dict[str, Any]:
    with httpx.Client(base_url=str(http.base_url)) as anonymous:
        body: dict[str, Any] = anonymous.get(link).json()
    return body


def test_complete_only_exports_the_done_rows_of_a_project(site: Site) -> None:
    http = sign_in(site.live, "editor")
    project = site.catalog.project_id("Call intents")
    dialog = http.get(f"/exports/new?scope_kind=project&scope_id={project}")
    assert 'name="complete_only"' in dialog.text
    assert 'value="predictions"' not in dialog.text  # not a project export's param
    task_id = start(
        http,
        {
            "scope_kind": "project",
            "scope_id": project,
            "filters": "{}",
            "param": ["project_details"],
            "complete_only": "on",
        },
    )
    item = wait_done(http, task_id)
    rows = download(http, item["links"]["result"])
    statuses = {r["projects"][project]["project_details"]["workflow_status"] for r in rows}
    assert statuses == {"DONE"} and item["rows"] == len(rows) == 3
    task = export_tasks.get(site.live.store, site.live.org.id, task_id)
    assert task.filters == {"workflow_status": "Done"}


def test_selected_rows_and_all_matching_rows_export_as_asked(site: Site) -> None:
    cat = site.catalog
    http = sign_in(site.live, "editor")
    page = http.get(f"/datasets/{cat.dataset_id('support-tickets')}")
    chosen = rows_of(page.text)[:2]
    dialog = http.post(
        "/exports/new",
        data={"csrf": csrf_of(page.text), "row": [*chosen, "not-a-row"], "view_kind": "dataset"},
    )
    assert dialog.status_code == 200
    assert "Export 2 selected data rows" in dialog.text
    assert "1 selected rows were not found and are left out." in dialog.text
    task_id = start(
        http,
        {
            "scope_kind": "selection",
            "ids": "\n".join(chosen),
            "filters": "{}",
            "param": ["all_projects"],
        },
    )
    item = wait_done(http, task_id)
    assert [r["data_row"]["id"] for r in download(http, item["links"]["result"])] == chosen
    # all matching, with a media type filter: resolved to the matching rows as a selection
    everything = http.post(
        "/exports/new",
        data={
            "csrf": csrf_of(page.text),
            "all": "1",
            "scope_kind": "catalog",
            "media_type": "PDF",
        },
    )
    assert everything.status_code == 200
    assert "Export 6 selected data rows" in everything.text
    assert "are exported as a selection of data rows" in everything.text
    # all matching, with export filters only: the scope and its filters
    ranged = http.get(
        "/exports/new",
        params={
            "scope_kind": "dataset",
            "scope_id": cat.dataset_id("support-tickets"),
            "last_activity_at_from": "2025-01-01",
        },
    )
    assert ranged.status_code == 200
    assert "Last activity" in ranged.text and "2025-01-01 to …" in ranged.text
    assert 'name="format" value="vertex"' not in ranged.text  # Vertex takes no filters


@pytest.mark.parametrize(
    "form,field,text",
    [
        (
            {"scope_kind": "project", "param": ["predictions"]},
            "params",
            "Optional fields: 'predictions' is not available here",
        ),
        (
            {"scope_kind": "dataset", "param": ["all_projects"], "project_ids": ["x"]},
            "project_ids",
            "give project_ids or all_projects, not both",
        ),
        (
            {"scope_kind": "dataset", "project_ids": ["nope"]},
            "project_ids",
            "project not found: nope",
        ),
        (
            {"scope_kind": "dataset", "complete_only": "on"},
            "complete_only",
            "Complete only: only a project export has it",
        ),
        (
            {"scope_kind": "dataset", "format": "vertex", "destination": "file:///etc"},
            "destination",
            "Destination:",
        ),
        (
            {"scope_kind": "dataset", "format": "vertex", "destination": ""},
            "destination",
            "destination: give the storage directory",
        ),
        (
            {"scope_kind": "dataset", "format": "vertex", "destination": "ftp://x/y"},
            "destination",
            "unsupported scheme",
        ),
        (
            {"scope_kind": "dataset", "filters": '{"workflow_status": "Done"}'},
            "filters",
            "filters.workflow_status: not available for a dataset export",
        ),
        ({"scope_kind": "dataset", "filters": "[1, 2"}, "filters", "Filters: not a filters"),
        ({"scope_kind": "selection", "ids": ""}, "scope", "no data rows are selected"),
    ],
)
def test_dialog_errors_name_their_field(
    site: Site, form: dict[str, Any], field: str, text: str
) -> None:
    http = sign_in(site.live, "editor")
    before = len(export_tasks.list_tasks(site.live.store, site.live.org.id, limit=500))
    data = {"scope_id": site.catalog.dataset_id("street-images"), "filters": "{}", **form}
    if form["scope_kind"] == "project":
        data["scope_id"] = site.catalog.project_id("Street objects")
    if form["scope_kind"] == "selection":
        data.pop("scope_id")
    answer = http.post("/exports", data={"csrf": csrf_of(http.get("/").text), **data})
    assert answer.status_code == 400, answer.text[:2000]
    assert f'href="#f-{field}" data-field="{field}"' in answer.text
    assert text in html.unescape(answer.text)
    assert "The export was not started" in answer.text
    assert len(export_tasks.list_tasks(site.live.store, site.live.org.id, limit=500)) == before


def test_a_vertex_style_export_writes_the_chosen_annotation_set(site: Site) -> None:
    live, cat = site.live, site.catalog
    http = sign_in(live, "editor")
    root = Path(live.settings.destination_roots[0]) / "web"
    root.mkdir(parents=True, exist_ok=True)
    task_id = start(
        http,
        {
            "scope_kind": "dataset",
            "scope_id": cat.dataset_id("street-images"),
            "filters": "{}",
            "format": "vertex",
            "destination": f"file://{root}",
            "annotation_set": cat.set_id,
        },
    )
    item = wait_done(http, task_id)
    assert item["status"] == "COMPLETE", item["error_message"]
    task = export_tasks.get(live.store, live.org.id, task_id)
    assert task.format == "vertex"
    exported = task.output["exportedFiles"]  # type: ignore[index]
    assert exported and all(f.startswith(f"file://{root}/export-data-") for f in exported)
    written = [Path(f.removeprefix("file://")) for f in exported]
    assert all(p.is_file() for p in written)
    page = http.get(f"/exports/{task_id}")
    assert "Written to storage" in page.text and "gcsOutputDirectory" in page.text


def test_cancel_and_archive(site: Site) -> None:
    live = site.live
    http = sign_in(live, "editor")
    task_id = start(
        http,
        {
            "scope_kind": "dataset",
            "scope_id": site.catalog.dataset_id("ct-scans"),
            "filters": "{}",
            "name": "to archive",
        },
    )
    wait_done(http, task_id)
    token = csrf_of(http.get(f"/exports/{task_id}").text)
    late = http.post(f"/exports/{task_id}/cancel", data={"csrf": token})
    assert late.status_code == 409 and "already COMPLETE" in late.text
    archived = http.post(f"/exports/{task_id}/archive", data={"csrf": token})
    assert archived.status_code == 303
    assert "to archive" not in http.get("/exports").text
    assert "to archive" in http.get("/exports?archived=1").text
    back = http.post(f"/exports/{task_id}/archive", data={"csrf": token, "undo": "1"})
    assert back.status_code == 303
    assert "to archive" in http.get("/exports").text
    # a queued export can be canceled (the pool is held so it stays queued)
    live.pool.shutdown(wait=True)
    try:
        queued = start(
            http,
            {
                "scope_kind": "dataset",
                "scope_id": site.catalog.dataset_id("chat-logs"),
                "filters": "{}",
                "param": ["attachments"],
            },
        )
        assert status(http, queued)["status"] == "QUEUED"
        token = csrf_of(http.get(f"/exports/{queued}").text)
        assert http.post(f"/exports/{queued}/cancel", data={"csrf": token}).status_code == 303
        assert status(http, queued)["status"] == "CANCELED"
    finally:
        live.pool.start()


def test_save_as_slice(site: Site) -> None:
    http = sign_in(site.live, "editor")
    page = http.get("/catalog", params={"media_type": "AUDIO"})
    answer = http.post(
        "/slices",
        data={
            "csrf": csrf_of(page.text),
            "view_kind": "catalog",
            "media_type": "AUDIO",
            "slice_name": "Audio rows",
        },
    )
    assert answer.status_code == 303
    slice_page = http.get(answer.headers["location"])
    assert slice_page.status_code == 200 and "Audio rows" in slice_page.text
    assert count_of(slice_page.text) == (6, False)
    refused = http.post(
        "/slices",
        data={
            "csrf": csrf_of(page.text),
            "view_kind": "catalog",
            "metadata_field": "x",
            "metadata_value": "y",
            "slice_name": "meta",
        },
    )
    assert refused.status_code == 400 and "The slice was not saved" in refused.text


# ------------------------------------------------------------------------------- bad input


def test_bad_input_never_answers_5xx(site: Site) -> None:
    http = sign_in(site.live, "editor")
    token = csrf_of(http.get("/").text)
    gets = [
        "/datasets/%00",
        "/datasets/" + "x" * 3000,
        "/data-rows/a%00b",
        "/data-rows/a/b/c",
        "/exports/%00",
        "/exports/nope",
        "/exports?before=%00",
        "/exports?before=W10",
        "/datasets?after=x",
        "/catalog?limit=99999999999999999999&after=%00",
        "/catalog?metadata_field=%00&metadata_value=%00",
        "/catalog?last_activity_at_from=%00",
        "/catalog?global_keys=%00",
        "/catalog?media_type=%F0%9F%92%A9",
        "/exports/new",
        "/exports/new?scope_kind=data_rows",
        "/exports/new?scope_kind=dataset",
        "/exports/new?scope_kind=dataset&scope_id=%00",
        "/exports/new?scope_kind=project&scope_id=nope&workflow_status=x",
        "/exports/status.json?id=%00",
        "/static/..%2Fviews.py",
        "/static/nope.css",
    ]
    for path in gets:
        answer = http.get(path)
        assert answer.status_code < 500, (path, answer.status_code, answer.text[:500])
    posts: list[tuple[str, Any]] = [
        ("/exports", {"csrf": token, "scope_kind": "dataset", "scope_id": "\x00"}),
        ("/exports", {"csrf": token, "scope_kind": "selection", "ids": "\x00 a"}),
        ("/exports", {"csrf": token, "scope_kind": "catalog", "filters": '{"x": 1}'}),
        (
            "/exports",
            {
                "csrf": token,
                "scope_kind": "catalog",
                "param": ["predictions"],
                "model_run_ids": ["\x00"],
            },
        ),
        ("/exports", {"csrf": token, "scope_kind": "slice", "scope_id": "nope"}),
        (
            "/exports",
            {
                "csrf": token,
                "scope_kind": "dataset",
                "scope_id": "nope",
                "format": "vertex",
                "destination": "gs://b/p",
            },
        ),
        ("/exports/new", {"csrf": token, "row": ["\x00"]}),
        ("/exports/new", {"csrf": token, "all": "1", "scope_kind": "x"}),
        ("/slices", {"csrf": token, "view_kind": "dataset", "view_id": "nope", "slice_name": "x"}),
        ("/exports/nope/cancel", {"csrf": token}),
        ("/exports/nope/archive", {"csrf": token}),
        ("/login", {"api_key": "\x00", "csrf": "\x00"}),
    ]
    for path, data in posts:
        answer = http.post(path, data=data)
        assert answer.status_code < 500, (path, answer.status_code, answer.text[:500])
    raw = http.post("/exports", content=b"\xff\xfe", headers={"content-type": "text/plain"})
    assert raw.status_code == 403
    huge = http.post(
        "/exports",
        content=b"a=" + b"x" * (2 << 20),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 400 and "too large" in huge.text


def test_static_files_and_security_headers(site: Site) -> None:
    http = sign_in(site.live, "viewer")
    css = http.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    again = http.get("/static/style.css", headers={"if-none-match": css.headers["etag"]})
    assert again.status_code == 304
    js = http.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert http.get("/static/views.py").status_code == 404
    page = http.get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and " style=" not in page.text
