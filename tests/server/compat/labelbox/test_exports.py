"""Export inputs as the SDK builds them → labelport specs (pure), and task values."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from labelport import services
from labelport.errors import InvalidSpec
from labelport.export import spec
from labelport.export.spec import Scope
from labelport.server.compat.labelbox import exports, schema
from labelport.store import Store
from tests import factories

export_filters = pytest.importorskip("labelbox.schema.export_filters")

ZONE = "Asia/Tokyo"


class TimezoneOnly:
    """What ``build_filters`` asks of a client: ``query CurrentUserPyApi { user { timezone } }``."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.asked = 0

    def execute(self, query: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        assert "timezone" in query
        self.asked += 1
        return {"user": {"timezone": self.zone}}


def through_sdk(filters: dict[str, Any], *, zone: str = ZONE) -> dict[str, Any]:
    """``filters`` as the SDK sends them, read back by the surface."""
    query = export_filters.build_filters(TimezoneOnly(zone), filters)
    return exports.translate_search({"scope": None, "query": query}, allow_dataset=False).filters


def normalized(filters: dict[str, Any], zone: str = ZONE) -> dict[str, Any]:
    return spec.parse_spec(Scope("project", "p"), None, filters, timezone=zone).normalized_filters


@pytest.mark.parametrize(
    "filters",
    [
        {"last_activity_at": ["2024-03-05", "2024-03-06 12:00:00"]},
        {
            "last_activity_at": ["2024-03-05 00:00:01", None],
            "label_created_at": [None, "2024-02-01"],
        },
        {"label_created_at": ["2024-02-01", "2024-02-29 23:59:59"], "workflow_status": "Done"},
        {"workflow_status": "ToLabel", "batch_ids": ["b1", "b2"], "global_keys": ["k1", "clé ☃"]},
        {"workflow_status": "InReview", "data_row_ids": ["d1"]},
        {"workflow_status": "InRework"},
        {},
    ],
)
def test_the_sdk_search_grammar_reads_as_labelport_reads_the_same_filters(
    filters: dict[str, Any],
) -> None:
    assert normalized(through_sdk(filters)) == normalized(filters)


def test_wall_clock_values_are_read_in_the_filters_timezone() -> None:
    tokyo = through_sdk({"last_activity_at": ["2024-03-05", "2024-03-05 09:30:00"]})
    assert tokyo["last_activity_at"] == ["2024-03-04T15:00:00+00:00", "2024-03-05T00:30:00+00:00"]
    berlin = through_sdk({"last_activity_at": [None, "2024-07-01 12:00:00"]}, zone="Europe/Berlin")
    assert berlin["last_activity_at"] == [None, "2024-07-01T10:00:00+00:00"]
    # the SDK keeps an ISO value's wall clock and drops its offset (reference §3): we read what
    # it sends, +0000 in UTC
    iso = through_sdk({"label_created_at": ["2024-01-01T10:00:00+0530", None]})
    assert iso["label_created_at"] == ["2024-01-01T10:00:00+00:00", None]


def test_a_dataset_element_makes_a_dataset_scope() -> None:
    query = [*export_filters.build_filters(TimezoneOnly(ZONE), {"global_keys": ["k"]})]
    query.append({"ids": ["ds-1"], "operator": "is", "type": "dataset"})
    request = exports.catalog_request(
        {"filters": {"searchQuery": {"scope": None, "query": query}}, "params": None}
    )
    assert request.scope == Scope("dataset", "ds-1")
    assert request.filters == {"global_keys": ["k"]}
    plain = exports.catalog_request({"filters": {"searchQuery": {"query": []}}})
    assert plain.scope == Scope("catalog")
    with pytest.raises(InvalidSpec, match="not available here"):
        exports.translate_search({"query": query}, allow_dataset=False)


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"scope": {"x": 1}, "query": []}, "only null"),
        ({"query": ["data_row_id"]}, "must be an object"),
        ({"query": [{"type": "batch", "ids": ["b"], "operator": "is not"}]}, "only 'is'"),
        ({"query": [{"type": "task_queue_not_exist"}, {"type": "task_queue_status"}]}, "second"),
        ({"query": [{"type": "labeled_at", "value": {"operator": "AFTER"}}]}, "not one of"),
        ({"query": [{"type": "labeled_at", "value": "2024-01-01"}]}, "operator, timezone"),
        (
            {"query": [{"type": "labeled_at", "value": {"operator": "BETWEEN", "value": {}}}]},
            "both min and max",
        ),
        (
            {
                "query": [
                    {
                        "type": "labeled_at",
                        "value": {"operator": "LESS_THAN_OR_EQUAL", "value": "01/02/2024"},
                    }
                ]
            },
            "not a date",
        ),
        ({"query": [{"type": "dataset", "ids": ["a", "b"]}]}, "exactly one dataset"),
    ],
)
def test_malformed_search_queries_name_the_element(search: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message) as caught:
        exports.translate_search(search, allow_dataset=True)
    assert "filters.searchQuery" in str(caught.value)


def test_params_map_to_the_sdk_params_and_unknown_keys_are_refused() -> None:
    sent = {key: True for key in exports.PARAMS}
    sent.update(mediaTypeOverride="VIDEO", projectIds=["p"], modelRunIds=None, allModelRuns=False)
    assert exports.translate_params(sent) == {
        "media_type_override": "VIDEO",
        "attachments": True,
        "embeddings": True,
        "metadata_fields": True,
        "data_row_details": True,
        "project_details": True,
        "performance_details": True,
        "label_details": True,
        "interpolated_frames": True,
        "predictions": True,
        "model_run_details": True,
        "project_ids": ["p"],
        "all_projects": True,
    }
    assert exports.translate_params(None) == {}
    with pytest.raises(InvalidSpec, match="unknown export param") as caught:
        exports.translate_params({"includeAttachments": True, "batch_ids": ["b"]})
    assert getattr(caught.value, "field", None) == "params.batch_ids"
    with pytest.raises(InvalidSpec, match="must be an object"):
        exports.translate_params(["includeAttachments"])


# ---------------------------------------------------------------------------------- tasks


def _principal(store: Store, org_id: str, email: str) -> services.Principal:
    uid = services.ensure_user(store, org_id, email, "editor")
    return services.Principal(uid, email, "editor", org_id, "key")


def test_an_identical_export_of_another_user_is_a_task_of_its_own(
    store: Store, org: services.Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No task pool runs here, so tasks stay QUEUED: a user asking twice gets the same task;
    another user asking the same gets one of their own (a task is seen only by its creator)."""
    monkeypatch.setattr(exports, "INLINE_SECONDS", 0.0)
    factories.import_rows(store, org.id, [factories.simple_row(n) for n in range(3)])
    ann, bob = (_principal(store, org.id, f"{name}@acme.test") for name in ("ann", "bob"))
    request = exports.catalog_request(
        {"filters": {"searchQuery": {"query": []}}, "params": {"includeMetadata": True}}
    )
    woken: list[int] = []
    first = exports.start(store, ann, request, lambda: woken.append(1))
    assert first.status == "QUEUED" and woken == [1]
    assert exports.start(store, ann, request, lambda: None).id == first.id
    other = exports.start(store, bob, request, lambda: None)
    assert other.id != first.id and other.created_by == "bob@acme.test"

    shown = exports.task_json(first)
    assert (shown["status"], shown["type"], shown["errors"], shown["result"]) == (
        "IN_PROGRESS",
        "export-data-rows",
        None,
        None,
    )
    assert shown["metadata"]["status"] == "QUEUED"
    assert schema.resolve_header(shown, None, "RESULT") is None  # type: ignore[arg-type]
    for status, seen in (
        ("IN_PROGRESS", "IN_PROGRESS"),
        ("COMPLETE", "COMPLETE"),
        ("FAILED", "FAILED"),
        ("CANCELED", "CANCELED"),
    ):
        assert exports.task_json(dataclasses.replace(first, status=status))["status"] == seen
    done = dataclasses.replace(first, status="COMPLETE", result_bytes=0, result_lines=0)
    assert schema.resolve_header(exports.task_json(done), None, "RESULT") is None  # type: ignore[arg-type]
    done = dataclasses.replace(done, error_bytes=10, error_lines=1)
    assert schema.resolve_header(exports.task_json(done), None, "ERRORS") == {  # type: ignore[arg-type]
        "totalSize": 10,
        "totalLines": 1,
    }
