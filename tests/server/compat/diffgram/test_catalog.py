"""Diffgram ids to labelport entities (compat/diffgram/catalog.py), on both stores: aliases of
the caller's organization first, then labelport's own ids; projects imported before aliases."""

from __future__ import annotations

import io
from typing import Any

import pytest

from labelport import services
from labelport.errors import NotFound
from labelport.export import cache
from labelport.ids import derived_id
from labelport.imports import load
from labelport.imports.diffgram import convert
from labelport.server.compat.diffgram import catalog
from tests.imports.diffgram_samples import PSID
from tests.imports.test_diffgram_aliases import job_export


def test_aliases_come_before_labelport_ids_and_names(store: Any, org: Any):
    services.import_diffgram(store, org.id, io.BytesIO(job_export()), file="j.json")
    project_id = derived_id("diffgram-project", org.id, PSID)
    batch_id = derived_id("diffgram-job", org.id, PSID, "7")
    with store.read() as conn:
        by_alias = catalog.project(conn, org.id, PSID)
        by_id = catalog.project(conn, org.id, project_id)
        by_name = catalog.project(conn, org.id, "Acme Vision")
        job = catalog.batch(conn, org.id, "7")
        same_job = catalog.batch(conn, org.id, batch_id)
        row = catalog.project_row(conn, by_alias, "502")  # a Diffgram file id
        again = catalog.project_row(conn, by_alias, row.id)  # its data row id
        files = catalog.imported_file_ids(conn, by_alias, ["501", "503", "504", "0501"])
    assert by_alias == by_id == by_name
    assert (by_alias.id, by_alias.org_id, by_alias.psids) == (project_id, org.id, (PSID,))
    assert (job.id, job.diffgram_id, job.job_id, job.files) == (batch_id, 7, 7, 3)
    assert same_job == job  # by its batch id, it still answers with its Diffgram id
    assert row == again and row.global_key == f"diffgram:{PSID}:502"
    assert row.file_id(by_alias) == 502
    assert files == {"501", "503"}


def test_another_organization_finds_nothing(store: Any, org: Any):
    services.import_diffgram(store, org.id, io.BytesIO(job_export()), file="j.json")
    other = services.create_organization(store, "other")
    with store.read() as conn:
        for lookup in (
            lambda: catalog.project(conn, other.id, PSID),
            lambda: catalog.project(conn, other.id, derived_id("diffgram-project", org.id, PSID)),
            lambda: catalog.batch(conn, other.id, "7"),
        ):
            with pytest.raises(NotFound):
                lookup()


def test_a_project_imported_before_aliases_answers_by_its_project_string_id(store: Any, org: Any):
    """Catalog version 8 derived the project id from the Diffgram id alone, and kept no alias."""
    items = convert(io.BytesIO(job_export()), file="old.json")  # no organization: no aliases
    load.import_items(store, org.id, items, file="old.json", ready=cache)
    other = services.create_organization(store, "other")
    with store.read() as conn:
        ref = catalog.project(conn, org.id, PSID)
        file_ids = catalog.file_ids(conn, ref, None, page=1, limit=10)
        with pytest.raises(NotFound):
            catalog.project(conn, other.id, PSID)
    assert (ref.id, ref.psids) == (derived_id("diffgram-project", PSID), (PSID,))
    assert file_ids == ([501, 502, 503], 3)  # the Diffgram file ids, kept
