"""The pages' forms and session cookies as pure functions: tables of inputs and outcomes."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import pytest

from labelport.server.signing import Signer
from labelport.server.web import forms, session

UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    "kind,form,filters,errors",
    [
        ("catalog", {}, {}, {}),
        (
            "catalog",
            {"last_activity_at_from": ["2025-03-01"], "last_activity_at_to": [""]},
            {"last_activity_at": ["2025-03-01", None]},
            {},
        ),
        (
            "catalog",
            {"last_activity_at_from": ["2025-13-45"]},
            {"last_activity_at": ["2025-13-45", None]},
            {"last_activity_at_from": "Last activity (from)"},
        ),
        (
            "dataset",
            {"label_created_at_to": ["yesterday"]},
            {"label_created_at": [None, "yesterday"]},
            {"label_created_at_to": "Label created (to)"},
        ),
        (
            "project",
            {"last_activity_at_from": ["2025-04-01"], "last_activity_at_to": ["2025-03-01"]},
            {"last_activity_at": ["2025-04-01", "2025-03-01"]},
            {"last_activity_at": "is after the end"},
        ),
        ("project", {"workflow_status": ["Done"]}, {"workflow_status": "Done"}, {}),
        (
            "project",
            {"workflow_status": ["Finished"]},
            {"workflow_status": "Finished"},
            {"workflow_status": "Workflow status: 'Finished' is not a workflow status"},
        ),
        (
            "catalog",
            {"global_keys": ["a\nb, c"], "data_row_ids": ["x"]},
            {"global_keys": ["a", "b", "c"], "data_row_ids": ["x"]},
            {"global_keys": "cannot both be given"},
        ),
        (
            "catalog",
            {"data_row_ids": ["\n".join(f"r{i}" for i in range(2001))]},
            {"data_row_ids": [f"r{i}" for i in range(2001)]},
            {"data_row_ids": "at most 2,000 values"},
        ),
        (
            "catalog",
            {"media_type": ["IMAGE", "document", "IMAGE"]},
            {"media_type": ["IMAGE", "document"]},
            {},
        ),
        (
            "catalog",
            {"media_type": ["PAINTING"]},
            {"media_type": ["PAINTING"]},
            {"media_type": "not a media type"},
        ),
        # a filter the page does not offer is not read at all
        ("model_run", {"workflow_status": ["Done"], "media_type": ["IMAGE"]}, {}, {}),
        ("dataset", {"batch_ids": ["b1"]}, {}, {}),
        (
            "catalog",
            {"metadata_value": ["berlin"]},
            {},
            {"metadata_field": "choose the field"},
        ),
    ],
)
def test_grid_form(kind, form, filters, errors):
    grid = forms.grid_form(kind, form, UTC)
    assert grid.filters == filters
    assert set(grid.errors.fields) == set(errors)
    for name, text in errors.items():
        assert text in grid.errors.fields[name]
    assert (grid.parsed is None) == bool(errors)


def test_grid_form_keeps_metadata_and_says_when_ids_are_needed():
    grid = forms.grid_form("dataset", {"metadata_field": ["f1"], "metadata_value": ["berlin"]}, UTC)
    assert grid.metadata == ("f1", "berlin")
    assert grid.needs_ids and grid.active
    plain = forms.grid_form("dataset", {"last_activity_at_from": ["2025-03-01"]}, UTC)
    assert not plain.needs_ids
    assert plain.export_filters() == {"last_activity_at": ["2025-03-01", None]}
    media = forms.grid_form("catalog", {"media_type": ["IMAGE"], "dataset_ids": ["d"]}, UTC)
    assert media.needs_ids and media.export_filters() == {}


def test_grid_query_round_trips():
    form = {
        "last_activity_at_from": ["2025-03-01"],
        "global_keys": ["a\nb"],
        "media_type": ["IMAGE", "TEXT"],
        "metadata_field": ["f"],
        "metadata_value": ["v"],
    }
    grid = forms.grid_form("catalog", form, UTC)
    again: dict[str, list[str]] = {}
    for name, value in forms.grid_query(grid):
        again.setdefault(name, []).append(value)
    assert forms.grid_form("catalog", again, UTC).filters == grid.filters
    assert again["metadata_value"] == ["v"]


@pytest.mark.parametrize(
    "message,field",
    [
        ("filters.last_activity_at[0]: 'x' is not a date", "last_activity_at_from"),
        ("filters.label_created_at[1]: 'x' is not a date", "label_created_at_to"),
        ("filters.last_activity_at: the start is after the end", "last_activity_at"),
        ("filters.batch_ids[3]: expected a non-empty string", "batch_ids"),
        ("filters: data_row_ids and global_keys cannot both be given", "global_keys"),
        ("something else", "filters"),
    ],
)
def test_filter_field(message, field):
    assert forms.filter_field(message) == field


@pytest.mark.parametrize(
    "message,field",
    [
        ("params.project_ids[0]: expected a non-empty string", "project_ids"),
        ("params: give project_ids or all_projects, not both", "project_ids"),
        ("params: give model_run_ids or all_model_runs, not both", "model_run_ids"),
        ("params.media_type_override: 'X' is not a media type", "media_type_override"),
        ("params.predictions: not available for a project export", "params"),
        ("filters.workflow_status: not available", "filters"),
        ("exportConfig.annotationsFilter: the annotation set id is empty", "annotation_set"),
        ("exportConfig.gcsDestination.outputUriPrefix: expected a gs:// URI", "destination"),
        ("destination 'ftp://x': unsupported scheme", "destination"),
        ("a data rows export needs data row ids", "scope"),
    ],
)
def test_export_field(message, field):
    assert forms.export_field(message) == field


def _export(**values):
    form = {"scope_kind": ["dataset"], "scope_id": ["d1"], **values}
    return forms.export_form(form, {})


def test_export_form_reads_the_dialog():
    ef = _export(
        param=["attachments", "all_projects"],
        project_ids=["p1"],
        media_type_override=["VIDEO"],
        name=["nightly"],
    )
    assert not ef.errors
    assert ef.kind == "dataset"
    assert ef.params == {
        "attachments": True,
        "all_projects": True,
        "project_ids": ["p1"],
        "media_type_override": "VIDEO",
    }
    assert ef.name == "nightly"


@pytest.mark.parametrize(
    "values,field,text",
    [
        ({"scope_kind": ["everything"]}, "scope", "unknown scope"),
        ({"param": ["label_details", "nope"]}, "params", "'nope' is not available"),
        ({"format": ["csv"]}, "format", "unknown format"),
        ({"complete_only": ["on"]}, "complete_only", "only a project export"),
        ({"scope_kind": ["selection"], "ids": [""]}, "scope", "no data rows are selected"),
        (
            {"scope_kind": ["selection"], "ids": ["\n".join(f"r{i}" for i in range(2001))]},
            "scope",
            "at most 2,000",
        ),
    ],
)
def test_export_form_errors(values, field, text):
    ef = _export(**values)
    assert field in ef.errors.fields
    assert text in ef.errors.fields[field]


def test_model_run_exports_offer_no_projects_and_complete_only_is_done():
    run = forms.export_form(
        {"scope_kind": ["model_run"], "scope_id": ["r"], "project_ids": ["p"]}, {}
    )
    assert "project_ids" not in run.params  # a model run export takes no project list
    assert "predictions" in forms.switches("model_run")
    assert "project_ids" not in forms.switches("dataset")
    done = forms.export_form(
        {"scope_kind": ["project"], "scope_id": ["p"], "complete_only": ["on"]}, {}
    )
    assert done.filters == {"workflow_status": "Done"} and not done.errors
    clash = forms.export_form(
        {"scope_kind": ["project"], "scope_id": ["p"], "complete_only": ["on"]},
        {"workflow_status": "InReview"},
    )
    assert "complete_only" in clash.errors.fields
    selection = forms.export_form({"scope_kind": ["selection"], "ids": ["a b a"]}, {})
    assert selection.kind == "data_rows" and selection.ids == ["a", "b"]


# ------------------------------------------------------------------------------------ sessions


KEY = session.session_key(Signer(b"0123456789abcdef0123456789abcdef"))


def test_session_cookie_round_trip_and_holds_no_secret():
    s = session.new_session("keyid123")
    value = s.encode(KEY)
    assert session.Session.decode(value, KEY) == s
    assert "keyid123" not in value  # encoded, and no secret is ever in it
    other = session.session_key(Signer(b"another secret of enough bytes!!"))
    assert session.Session.decode(value, other) is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v[:-1] + ("0" if v[-1] != "0" else "1"),  # signature changed
        lambda v: "x" + v,  # payload changed
        lambda v: v.split(".")[0],  # no signature
        lambda v: "",
        lambda v: "...",
    ],
)
def test_tampered_session_is_refused(mutate):
    value = session.new_session("k").encode(KEY)
    assert session.Session.decode(mutate(value), KEY) is None


def test_old_session_is_refused():
    old = session.Session("k", "nonce", int(time.time()) - session.SESSION_TTL - 5)
    assert session.Session.decode(old.encode(KEY), KEY) is None
    future = session.Session("k", "nonce", int(time.time()) + 3600)
    assert session.Session.decode(future.encode(KEY), KEY) is None


def test_csrf_tokens_differ_per_session_and_from_the_sign_in_token():
    a, b = session.new_session("k"), session.new_session("k")
    assert a.csrf(KEY) != b.csrf(KEY)
    assert session.login_csrf(a.nonce, KEY) != a.csrf(KEY)
    assert session.same(a.csrf(KEY), a.csrf(KEY))
    assert not session.same(None, a.csrf(KEY))
