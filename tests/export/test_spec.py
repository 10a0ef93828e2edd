"""Export requests: the seeds' availability matrix, filter formats and every error, before work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from labelport.errors import InvalidSpec
from labelport.export.spec import (
    FILTERS_BY_SCOPE,
    PARAMS_BY_SCOPE,
    Scope,
    every_param,
    parse_spec,
)

SCOPES = {
    "project": Scope("project", "p1"),
    "dataset": Scope("dataset", "d1"),
    "slice": Scope("slice", "s1"),
    "model_run": Scope("model_run", "r1"),
    "data_rows": Scope("data_rows", data_row_ids=("a", "b")),
    "catalog": Scope("catalog"),
}

# The seeds' parameter table (001/003), row by row: which scopes accept the param.
# Catalog-side scopes also take predictions/model_run_details (the field table lists both as
# optional in Catalog exports; see labelport.export.spec).
PARAM_MATRIX = {
    "attachments": {"project", "model_run", "dataset", "slice", "catalog", "data_rows"},
    "metadata_fields": {"project", "model_run", "dataset", "slice", "catalog", "data_rows"},
    "embeddings": {"project", "model_run", "dataset", "slice", "catalog", "data_rows"},
    "data_row_details": {"project", "model_run", "dataset", "slice", "catalog", "data_rows"},
    "project_details": {"project", "dataset", "slice", "catalog", "data_rows"},
    "label_details": {"project", "dataset", "slice", "catalog", "data_rows"},
    "performance_details": {"project", "dataset", "slice", "catalog", "data_rows"},
    "interpolated_frames": {"project", "model_run", "dataset", "slice", "catalog", "data_rows"},
    "predictions": {"model_run", "dataset", "slice", "catalog", "data_rows"},
    "model_run_details": {"model_run", "dataset", "slice", "catalog", "data_rows"},
    "all_projects": {"dataset", "slice", "catalog", "data_rows"},
    "all_model_runs": {"dataset", "slice", "catalog", "data_rows"},
}

# The seeds' filter table: project takes all; dataset the dates and id lists; model run and
# slice none. Catalog is a dataset without the dataset; a data-rows export takes the dates.
FILTER_VALUES: dict[str, Any] = {
    "last_activity_at": ["2024-01-01", None],
    "label_created_at": [None, "2024-01-01 10:00:00"],
    "workflow_status": "InReview",
    "batch_ids": ["b1"],
    "global_keys": ["k1"],
    "data_row_ids": ["r1"],
}
FILTER_MATRIX = {
    "last_activity_at": {"project", "dataset", "catalog", "data_rows"},
    "label_created_at": {"project", "dataset", "catalog", "data_rows"},
    "workflow_status": {"project"},
    "batch_ids": {"project"},
    "global_keys": {"project", "dataset", "catalog"},
    "data_row_ids": {"project", "dataset", "catalog"},
}


@pytest.mark.parametrize("kind", SCOPES)
@pytest.mark.parametrize("param", PARAM_MATRIX)
def test_param_availability(kind: str, param: str) -> None:
    if kind in PARAM_MATRIX[param]:
        spec = parse_spec(SCOPES[kind], {param: True})
        assert spec.normalized_params[param] is True
    else:
        with pytest.raises(InvalidSpec, match=f"params.{param}: not available for"):
            parse_spec(SCOPES[kind], {param: True})


@pytest.mark.parametrize("kind", SCOPES)
@pytest.mark.parametrize("name", FILTER_MATRIX)
def test_filter_availability(kind: str, name: str) -> None:
    if kind in FILTER_MATRIX[name]:
        spec = parse_spec(SCOPES[kind], None, {name: FILTER_VALUES[name]})
        assert name in spec.normalized_filters
    else:
        with pytest.raises(InvalidSpec, match=f"filters.{name}: not available for"):
            parse_spec(SCOPES[kind], None, {name: FILTER_VALUES[name]})


def test_tables_match_the_module() -> None:
    for param, kinds in PARAM_MATRIX.items():
        assert {k for k, names in PARAMS_BY_SCOPE.items() if param in names} == kinds
    for name, kinds in FILTER_MATRIX.items():
        assert {k for k, names in FILTERS_BY_SCOPE.items() if name in names} == kinds


def test_normalized_params_list_every_param_of_the_scope() -> None:
    spec = parse_spec(SCOPES["project"], {"label_details": True})
    assert list(spec.normalized_params) == list(PARAMS_BY_SCOPE["project"])
    assert spec.normalized_params["attachments"] is False
    assert spec.normalized_params["media_type_override"] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"batch_ids": ["b"]}, r"params.batch_ids: unknown param"),
        ({"label_detail": True}, r"params.label_detail: unknown param"),
        ({"attachments": 1}, r"params.attachments: expected true or false, got 1"),
        ({"attachments": "yes"}, r"expected true or false"),
        ({"project_ids": "p1"}, r"params.project_ids: expected a list, got a string"),
        ({"project_ids": [""]}, r"params.project_ids\[0\]: expected a non-empty string"),
        ({"project_ids": ["p"], "all_projects": True}, r"project_ids or all_projects, not both"),
        ({"model_run_ids": ["r"], "all_model_runs": True}, r"not both"),
        ({"media_type_override": "HOLOGRAM"}, r"'HOLOGRAM' is not a media type"),
        ({"media_attributes": False}, r"media attributes are always exported"),
    ],
)
def test_bad_params(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        parse_spec(SCOPES["dataset"], params)


def test_params_accept_nulls_and_media_type_aliases() -> None:
    spec = parse_spec(
        SCOPES["dataset"],
        {
            "project_ids": None,
            "model_run_ids": [],
            "media_type_override": "document",
            "media_attributes": True,
        },
    )
    assert spec.params.project_ids is None
    assert spec.params.model_run_ids == ()
    assert spec.params.media_type_override == "PDF"
    assert (
        parse_spec(SCOPES["dataset"], {"media_type_override": "Video"}).params.media_type_override
        == "VIDEO"
    )


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"task_queue_status": "Done"}, r"filters.task_queue_status: unknown filter"),
        ({"workflow_status": "REVIEWED"}, r"'REVIEWED' is not a workflow status"),
        ({"workflow_status": ["Done"]}, r"is not a workflow status"),
        ({"global_keys": []}, r"filters.global_keys: the list is empty"),
        ({"global_keys": "k"}, r"expected a list, got a string"),
        ({"data_row_ids": ["x"] * 2001}, r"at most 2,000 values, got 2,001"),
        ({"global_keys": ["k"], "data_row_ids": ["r"]}, r"cannot both be given"),
        ({"batch_ids": [1]}, r"filters.batch_ids\[0\]: expected a non-empty string"),
        ({"last_activity_at": "2024-01-01"}, r"expected \[start, end\]"),
        ({"last_activity_at": ["2024-01-01"]}, r"expected \[start, end\]"),
        (
            {"last_activity_at": ["2024/01/01", None]},
            r"last_activity_at\[0\]: '2024/01/01' is not a date",
        ),
        (
            {"last_activity_at": [None, "2024-13-01"]},
            r"last_activity_at\[1\]: '2024-13-01' is not a valid date",
        ),
        ({"label_created_at": ["2024-01-01T10:00:00", None]}, r"is not a date"),
        ({"label_created_at": [5, None]}, r"expected a date string or null"),
        ({"last_activity_at": ["2024-02-01", "2024-01-01"]}, r"the start '2024-02-01' is after"),
    ],
)
def test_bad_filters(filters: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        parse_spec(SCOPES["project"], None, filters)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "timezone", "expected"),
    [
        ("2024-03-01", "UTC", _utc(2024, 3, 1)),
        ("2024-03-01", "Asia/Tokyo", _utc(2024, 2, 29, 15)),
        ("2024-03-01 12:30:00", "America/New_York", _utc(2024, 3, 1, 17, 30)),
        ("2024-07-01 12:30:00", "America/New_York", _utc(2024, 7, 1, 16, 30)),  # summer time
        ("2024-01-01T10:00:00+0530", "America/New_York", _utc(2024, 1, 1, 4, 30)),  # offset wins
        ("2024-01-01T10:00:00-02:00", "UTC", _utc(2024, 1, 1, 12)),
        ("2024-01-01T10:00:00Z", "Asia/Tokyo", _utc(2024, 1, 1, 10)),
        ("2024-01-01T10:00:00.250+00:00", "UTC", _utc(2024, 1, 1, 10, 0, 0, 250000)),
    ],
)
def test_date_formats(value: str, timezone: str, expected: datetime) -> None:
    spec = parse_spec(
        SCOPES["project"], None, {"last_activity_at": [value, None]}, timezone=timezone
    )
    assert spec.filters.last_activity_at == (expected, None)


def test_open_ranges_and_no_range() -> None:
    spec = parse_spec(SCOPES["dataset"], None, {"last_activity_at": [None, None]})
    assert spec.filters.last_activity_at is None
    spec = parse_spec(SCOPES["dataset"], None, {"label_created_at": [None, "2024-01-02"]})
    assert spec.filters.label_created_at == (None, _utc(2024, 1, 2))
    assert spec.normalized_filters == {"label_created_at": [None, "2024-01-02T00:00:00.000+00:00"]}


def test_workflow_status_maps_to_the_stored_form_and_back() -> None:
    for given, stored in [
        ("ToLabel", "TO_LABEL"),
        ("InReview", "IN_REVIEW"),
        ("InRework", "IN_REWORK"),
        ("Done", "DONE"),
    ]:
        spec = parse_spec(SCOPES["project"], None, {"workflow_status": given})
        assert spec.filters.workflow_status == stored
        assert spec.normalized_filters == {"workflow_status": given}


def test_id_lists_keep_order_and_drop_duplicates() -> None:
    spec = parse_spec(SCOPES["project"], None, {"global_keys": ["b", "a", "b"]})
    assert spec.filters.global_keys == ("b", "a")


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (Scope("galaxy", "x"), r"unknown export scope 'galaxy'"),
        (Scope("project"), r"a project export needs the project id"),
        (Scope("model_run", ""), r"needs the model run id"),
        (Scope("data_rows"), r"needs data row ids or global keys"),
        (Scope("data_rows", data_row_ids=("a",), global_keys=("k",)), r"one of them"),
        (Scope("data_rows", "x", data_row_ids=("a",)), r"not an id"),
        (Scope("catalog", "x"), r"a catalog export takes no id"),
        (Scope("project", "p", data_row_ids=("a",)), r"takes one id, not data rows"),
    ],
)
def test_bad_scopes(scope: Scope, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        parse_spec(scope)


def test_bad_format_timezone_and_shapes() -> None:
    with pytest.raises(InvalidSpec, match="unknown export format 'csv'"):
        parse_spec(SCOPES["catalog"], format="csv")
    with pytest.raises(InvalidSpec, match="unknown timezone 'Mars/Olympus'"):
        parse_spec(SCOPES["catalog"], timezone="Mars/Olympus")
    with pytest.raises(InvalidSpec, match="params must be an object, got a list"):
        parse_spec(SCOPES["catalog"], [])  # type: ignore[arg-type]
    with pytest.raises(InvalidSpec, match="filters must be an object"):
        parse_spec(SCOPES["catalog"], None, "x")  # type: ignore[arg-type]


def test_fingerprint_is_stable_and_tells_requests_apart() -> None:
    a = parse_spec(SCOPES["project"], {"label_details": True}, {"workflow_status": "Done"})
    b = parse_spec(
        SCOPES["project"],
        {"label_details": True, "attachments": False},
        {"workflow_status": "Done"},
    )
    c = parse_spec(SCOPES["project"], {"label_details": True}, {"workflow_status": "InReview"})
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()


def test_every_param_is_exactly_what_each_scope_takes() -> None:
    for kind, scope in SCOPES.items():
        params = every_param(kind)
        spec = parse_spec(scope, params)
        assert all(spec.normalized_params[name] is True for name in params)
        assert "media_type_override" not in params and "project_ids" not in params
    assert "interpolated_frames" not in every_param("project", interpolated_frames=False)
    assert {"all_projects", "all_model_runs"} <= set(every_param("catalog"))


@pytest.mark.parametrize("kind", ["data_row_ids", "global_keys"])
def test_a_data_rows_scope_takes_at_most_as_many_ids_as_the_id_filters(kind: str) -> None:
    from labelport.export.spec import MAX_IDS

    ids = tuple(f"r{i}" for i in range(MAX_IDS))
    parse_spec(Scope("data_rows", **{kind: ids}), timezone="UTC")  # the cap itself is fine
    with pytest.raises(InvalidSpec, match=r"at most 2,000 ids or global keys, not 2,001"):
        parse_spec(Scope("data_rows", **{kind: (*ids, "one-more")}), timezone="UTC")
