"""Diffgram ids kept as aliases of the importing organization, on both stores: the project's
project_string_id and the job id; two organizations importing the same export; an ambiguous
alias refused; re-imports idempotent."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.ids import derived_id
from labelport.imports import aliases
from labelport.imports.base import AliasSpec, Problem
from labelport.imports.diffgram import convert
from labelport.store import schema as s
from tests.imports.diffgram_samples import (
    EXPORT_INFO,
    PSID,
    export_bytes,
    image_packet,
    text_packet,
    video_packet,
)

JOB = {"id": 7, "name": "first pass", "type": "Normal"}


def job_export(psid: str = PSID, job: Any = JOB, packets: Any = None, source: str = "job") -> bytes:
    info = {**EXPORT_INFO, "source": source, "job": job}
    info["project"] = {**EXPORT_INFO["project"], "project_string_id": psid}  # type: ignore[dict-item]
    chosen = packets or [("501", image_packet()), ("502", video_packet()), ("503", text_packet())]
    return export_bytes(chosen, metadata={"export_info": info})


def alias_rows(store: Any) -> list[tuple[str, str, str, str]]:
    t = s.external_alias
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(t.c.org_id, t.c.kind, t.c.alias, t.c.target_id).order_by(
                    t.c.org_id, t.c.kind, t.c.alias
                )
            )
        ]


def test_the_converter_names_the_ids_of_an_organization():
    items = list(convert(io.BytesIO(job_export()), file="j.json", org_id="corg"))
    project_id = derived_id("diffgram-project", "corg", PSID)
    batch_id = derived_id("diffgram-job", "corg", PSID, "7")
    assert items[:2] == [
        AliasSpec(0, "diffgram_project", PSID, project_id),
        AliasSpec(0, "diffgram_job", "7", batch_id),
    ]
    rows = [i.row for i in items[2:]]  # type: ignore[union-attr]
    assert len(rows) == 3
    for row in rows:
        [(pid, project)] = row["projects"].items()
        assert pid == project_id
        assert project["project_details"]["batch_id"] == batch_id
        assert project["project_details"]["batch_name"] == "first pass"
        key = row["data_row"]["global_key"].rsplit(":", 1)[1]
        assert project["labels"][0]["id"] == derived_id("diffgram-label", "corg", PSID, key)
    # without an organization: no aliases, and ids from the Diffgram ids alone
    alone = list(convert(io.BytesIO(job_export()), file="j.json"))
    assert not any(isinstance(i, AliasSpec) for i in alone)
    assert list(alone[0].row["projects"]) == [derived_id("diffgram-project", PSID)]  # type: ignore[union-attr]


def test_an_imported_job_is_a_batch_named_by_its_diffgram_id(store: Any, org: Any):
    result = services.import_diffgram(store, org.id, io.BytesIO(job_export()), file="j.json")
    assert result.rows == 3
    project_id = derived_id("diffgram-project", org.id, PSID)
    batch_id = derived_id("diffgram-job", org.id, PSID, "7")
    assert alias_rows(store) == [
        (org.id, "diffgram_job", "7", batch_id),
        (org.id, "diffgram_project", PSID, project_id),
    ]
    with store.read() as conn:
        batch = conn.execute(sa.select(s.batch)).one()
        in_batch = conn.execute(
            sa.select(sa.func.count()).where(s.project_data_row.c.batch_id == batch_id)
        ).scalar()
        assert aliases.resolve(conn, org.id, "diffgram_project", PSID) == project_id
        assert aliases.resolve(conn, org.id, "diffgram_job", "7") == batch_id
        assert aliases.aliases_of(conn, org.id, "diffgram_job", batch_id) == ["7"]
    assert (batch.id, batch.name, batch.project_id, in_batch) == (
        batch_id,
        "first pass",
        project_id,
        3,
    )
    # again: the same catalog, the same aliases
    services.import_diffgram(store, org.id, io.BytesIO(job_export()), file="j.json")
    counts = services.stats(store, org.id)
    assert (counts["data rows"], counts["labels"], counts["projects"]) == (3, 3, 1)
    assert len(alias_rows(store)) == 2


def test_two_organizations_import_the_same_export_and_each_sees_its_own(store: Any, org: Any):
    other = services.create_organization(store, "other")
    data = job_export()
    services.import_diffgram(store, org.id, io.BytesIO(data), file="j.json")
    services.import_diffgram(store, other.id, io.BytesIO(data), file="j.json")  # not refused
    for owner in (org, other):
        counts = services.stats(store, owner.id)
        assert (counts["data rows"], counts["labels"], counts["projects"]) == (3, 3, 1)
    rows = alias_rows(store)
    assert len(rows) == 4
    with store.read() as conn:
        mine = aliases.resolve(conn, org.id, "diffgram_project", PSID)
        theirs = aliases.resolve(conn, other.id, "diffgram_project", PSID)
        jobs = {o.id: aliases.resolve(conn, o.id, "diffgram_job", "7") for o in (org, other)}
        owners = dict(conn.execute(sa.select(s.project.c.id, s.project.c.org_id)).all())
        batch_owners = dict(conn.execute(sa.select(s.batch.c.id, s.batch.c.org_id)).all())
    assert mine != theirs and owners == {mine: org.id, theirs: other.id}
    assert batch_owners == {jobs[org.id]: org.id, jobs[other.id]: other.id}


def test_an_alias_naming_two_jobs_is_refused_with_file_field_and_reason(store: Any, org: Any):
    services.import_diffgram(store, org.id, io.BytesIO(job_export()), file="first.json")
    # another Diffgram project (another server) whose export has a job 7 too
    packet = image_packet()
    packet["file"]["id"] = 601
    second = job_export(psid="other-vision", packets=[("601", packet)])
    with pytest.raises(InvalidRecords) as caught:
        services.import_diffgram(store, org.id, io.BytesIO(second), file="second.json")
    [error] = caught.value.errors
    assert (error.file, error.line, error.field) == ("second.json", 0, "export_info.job.id")
    batch_id = derived_id("diffgram-job", org.id, PSID, "7")
    assert error.reason.startswith(
        f"Diffgram job 7 already names batch 'first pass' ({batch_id}) of project 'Acme Vision' "
        "in this organization, and this file's Diffgram job 7 is another one"
    )
    counts = services.stats(store, org.id)  # nothing of the second file
    assert (counts["data rows"], counts["projects"]) == (3, 1)
    assert len(alias_rows(store)) == 2
    # the same second export in another organization is fine
    other = services.create_organization(store, "other")
    assert services.import_diffgram(store, other.id, io.BytesIO(second), file="s.json").rows == 1


@pytest.mark.parametrize(
    "source, job",
    [
        ("job", None),
        # the job the request named, which Diffgram writes into a directory export too: the
        # directory's files are not the job's
        ("directory", JOB),
    ],
)
def test_an_export_that_is_not_a_jobs_names_no_job(store: Any, org: Any, source: str, job: Any):
    data = job_export(job=job, source=source)
    services.import_diffgram(store, org.id, io.BytesIO(data), file="d.json")
    assert [r[1] for r in alias_rows(store)] == ["diffgram_project"]
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.batch)).scalar() == 0


@pytest.mark.parametrize(
    "job, reason",
    [
        ({"name": "no id"}, "expected the job's id, got None"),
        ({"id": True}, "expected the job's id, got True"),
        ({"id": 7, "name": 5}, "expected the job's name, got int"),
        ("7", "expected an object, got str"),
    ],
)
def test_a_broken_job_is_one_metadata_error(store: Any, org: Any, job: Any, reason: str):
    with pytest.raises(InvalidRecords) as caught:
        services.import_diffgram(store, org.id, io.BytesIO(job_export(job=job)), file="j.json")
    [error] = caught.value.errors
    assert error.line == 0 and error.field.startswith("export_info.job")
    assert error.reason == reason
    assert alias_rows(store) == []


# ------------------------------------------------------------------------------ aliases.write


def write(store: Any, org_id: str, spec: AliasSpec) -> None:
    with store.write() as conn:
        aliases.write(conn, org_id, spec)


def test_an_alias_of_a_deleted_entity_moves_to_the_new_one(store: Any, org: Any):
    services.import_diffgram(store, org.id, io.BytesIO(job_export()), file="j.json")
    with store.write() as conn:  # as if the project it named had been deleted
        conn.execute(
            s.external_alias.update().where(s.external_alias.c.kind == "diffgram_project"),
            {"target_id": "cgone"},
        )
    write(store, org.id, AliasSpec(0, "diffgram_project", PSID, "cnew"))
    assert (org.id, "diffgram_project", PSID, "cnew") in alias_rows(store)


@pytest.mark.parametrize(
    "spec, field, words",
    [
        (AliasSpec(0, "vertex_thing", "x", "c1"), "", "unknown alias kind 'vertex_thing'"),
        (AliasSpec(0, "diffgram_job", "", "c1"), "export_info.job.id", "1 to 255 characters"),
        (
            AliasSpec(0, "diffgram_project", "p" * 256, "c1"),
            "export_info.project.project_string_id",
            "1 to 255 characters",
        ),
    ],
)
def test_an_alias_that_cannot_be_kept_is_a_problem(
    store: Any, org: Any, spec: AliasSpec, field: str, words: str
):
    with pytest.raises(Problem) as caught:
        write(store, org.id, spec)
    assert caught.value.field == field and words in caught.value.reason
