"""Every change the Labelbox docs count as activity moves last_activity_at."""

from __future__ import annotations

import io
import time

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidInput, NotFound
from labelport.services import activity
from labelport.store import schema as s
from tests.imports.test_load import PROJECT, make_row

ROW = make_row(1)["data_row"]["id"]
LABEL = make_row(1)["projects"][PROJECT]["labels"][0]["id"]


@pytest.fixture
def loaded(store, org):
    services.import_labelbox(store, org.id, io.BytesIO(orjson.dumps(make_row(1))), file="x")
    return store, org


def last_activity(store):
    with store.read() as conn:
        return conn.execute(
            sa.select(s.data_row.c.last_activity_at, s.data_row.c.updated_at).where(
                s.data_row.c.id == ROW
            )
        ).one()


@pytest.mark.parametrize(
    "change",
    [
        lambda st, org: activity.update_data_row(st, org.id, ROW, row_data="https://x/new.jpg"),
        lambda st, org: activity.update_data_row(st, org.id, ROW, global_key="renamed"),
        lambda st, org: activity.set_metadata(st, org.id, ROW, _field(st, org), "dusk"),
        lambda st, org: activity.set_workflow_status(st, org.id, PROJECT, ROW, "DONE"),
        lambda st, org: activity.save_label(
            st, org.id, PROJECT, ROW, {"objects": [], "classifications": []}
        )[1],
        lambda st, org: activity.save_label(
            st, org.id, PROJECT, ROW, {"objects": []}, label_id=LABEL
        )[1],
        lambda st, org: activity.add_review(st, org.id, LABEL, score=1),
        lambda st, org: activity.add_review(st, org.id, LABEL, comment="check the wheel"),
    ],
    ids=[
        "row_data",
        "global_key",
        "metadata",
        "status",
        "new label",
        "label edit",
        "review",
        "comment",
    ],
)
def test_activity_moves(loaded, change):
    store, org = loaded
    before = last_activity(store)
    time.sleep(0.002)
    at = change(store, org)
    after = last_activity(store)
    assert after.last_activity_at == at > before.last_activity_at
    assert at.microsecond % 1000 == 0


def _field(store, org):
    services.import_labelbox(
        store,
        org.id,
        io.BytesIO(
            orjson.dumps(make_row(2, metadata_fields=[{"schema_name": "tod", "value": "noon"}]))
        ),
        file="x",
    )
    with store.read() as conn:
        return conn.execute(
            sa.select(s.metadata_field.c.id).where(s.metadata_field.c.name == "tod")
        ).scalar_one()


def test_status_change_is_in_the_history(loaded):
    store, org = loaded
    activity.set_workflow_status(store, org.id, PROJECT, ROW, "IN_REWORK", action="Reject")
    with store.read() as conn:
        entry = conn.execute(sa.select(s.workflow_history.c.entry)).scalars().all()[-1]
        status = conn.execute(sa.select(s.project_data_row.c.workflow_status)).scalar_one()
    assert (entry["action"], entry["previous_status"], entry["next_status"]) == (
        "Reject",
        "IN_REVIEW",
        "IN_REWORK",
    )
    assert status == "IN_REWORK"


def test_changes_are_scoped_to_the_organization(loaded):
    store, _ = loaded
    other = services.create_organization(store, "rival")
    with pytest.raises(NotFound):
        activity.update_data_row(store, other.id, ROW, external_id="x")
    with pytest.raises(NotFound):
        activity.add_review(store, other.id, LABEL, score=1)


def test_bad_changes_are_refused(loaded):
    store, org = loaded
    with pytest.raises(InvalidInput):
        activity.set_workflow_status(store, org.id, PROJECT, ROW, "Done")
    with pytest.raises(InvalidInput):
        activity.save_label(
            store, org.id, PROJECT, ROW, {"objects": [{"name": "x", "annotation_kind": "Nope"}]}
        )
    with pytest.raises(InvalidInput):
        activity.update_data_row(store, org.id, ROW)
