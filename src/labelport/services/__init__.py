"""Use-cases shared by every shell (CLI, REST, compatibility surfaces, web UI).

Shells parse input, call one function here and render the result. Organizations, datasets,
slices and stats are here; users and keys in :mod:`.keys`, imports in :mod:`.imports`, exports in
:mod:`.exports`; export and import *tasks* (records, and running one) in :mod:`.export_tasks` and
:mod:`.import_tasks`, the shards of a sharded export in :mod:`.sharding`. Runners
(:mod:`labelport.tasks`) call these; nothing here imports a runner. The import and export
functions are reachable from this package too, loaded on first use, so that a command that needs
neither (``labelport stats``) does not pay for them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from labelport.errors import (
    Conflict,
    InvalidInput,
    InvalidSpec,
    NotFound,
)
from labelport.ids import new_id
from labelport.services.keys import (
    KEY_PREFIX,
    ROLES,
    Principal,
    authenticate,
    authenticate_pair,
    create_api_key,
    ensure_user,
    revoke_api_key,
)
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import utcnow
from labelport.vertex_vocab import OBJECTIVES

if TYPE_CHECKING:
    from labelport.services.exports import export_spec, start_export
    from labelport.services.imports import (
        import_diffgram,
        import_labelbox,
        import_rows,
        import_vertex,
    )

_LAZY = {
    "export_spec": "exports",
    "start_export": "exports",
    "import_diffgram": "imports",
    "import_labelbox": "imports",
    "import_rows": "imports",
    "import_vertex": "imports",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


# ------------------------------------------------------------------------------ organizations


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    timezone: str


def create_organization(store: Store, name: str, timezone: str = "UTC") -> Organization:
    _check_timezone(timezone)
    with store.write() as conn:
        taken = conn.execute(
            sa.select(s.organization.c.id).where(s.organization.c.name == name)
        ).first()
        if taken is not None:
            raise Conflict(f"an organization named {name!r} already exists")
        org = Organization(new_id(), name, timezone)
        conn.execute(
            s.organization.insert(),
            {"id": org.id, "name": name, "timezone": timezone, "created_at": utcnow()},
        )
    return org


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def set_timezone(store: Store, org_id: str, timezone: str) -> None:
    _check_timezone(timezone)
    with store.write() as conn:
        conn.execute(
            s.organization.update().where(s.organization.c.id == org_id), {"timezone": timezone}
        )


def find_organization(store: Store, name: str | None = None) -> Organization:
    """The organization called ``name``; without a name, the only one there is."""
    with store.read() as conn:
        query = sa.select(s.organization.c.id, s.organization.c.name, s.organization.c.timezone)
        if name is not None:
            row = conn.execute(query.where(s.organization.c.name == name)).first()
            if row is None:
                raise NotFound("organization", name)
            return Organization(row.id, row.name, row.timezone)
        rows = conn.execute(query.limit(2)).all()
    if not rows:
        raise NotFound("organization", "(none yet: run `labelport init` first)")
    if len(rows) > 1:
        raise InvalidInput("there are several organizations; name one with --org NAME")
    return Organization(rows[0].id, rows[0].name, rows[0].timezone)


@dataclass(frozen=True, slots=True)
class InitResult:
    organization: Organization
    user_id: str
    email: str
    api_key: str


def init_catalog(store: Store, org_name: str, email: str, timezone: str = "UTC") -> InitResult:
    """Create an organization with an admin user and return that user's first API key."""
    org = create_organization(store, org_name, timezone)
    uid = ensure_user(store, org.id, email, "admin")
    return InitResult(org, uid, email, create_api_key(store, org.id, uid, "init"))


# ------------------------------------------------------------------------------ stats

STAT_TABLES: tuple[tuple[str, sa.Table], ...] = (
    ("users", s.user),
    ("api keys", s.api_key),
    ("datasets", s.dataset),
    ("data rows", s.data_row),
    ("metadata fields", s.metadata_field),
    ("embeddings", s.embedding),
    ("ontologies", s.ontology),
    ("projects", s.project),
    ("batches", s.batch),
    ("labels", s.label),
    ("models", s.model),
    ("model runs", s.model_run),
    ("catalog slices", s.catalog_slice),
    ("annotation sets", s.annotation_set),
    ("export tasks", s.export_task),
)


def stats(store: Store, org_id: str) -> dict[str, int]:
    """Counts per entity for one organization."""
    out: dict[str, int] = {}
    with store.read() as conn:
        for name, table in STAT_TABLES:
            out[name] = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.org_id == org_id)
            ).scalar_one()
        mr = s.model_run
        for name, table in (
            ("model run data rows", s.model_run_data_row),
            ("ground-truth labels in runs", s.model_run_label),
            ("predictions", s.prediction),
        ):
            out[name] = conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .join(mr, mr.c.id == table.c.model_run_id)
                .where(mr.c.org_id == org_id)
            ).scalar_one()
        p = s.project
        out["project data rows"] = conn.execute(
            sa.select(sa.func.count())
            .select_from(s.project_data_row)
            .join(p, p.c.id == s.project_data_row.c.project_id)
            .where(p.c.org_id == org_id)
        ).scalar_one()
    return out


# ------------------------------------------------------------------------------ datasets

DATASET_KINDS = ("image", "text", "video", "tabular", "time_series")
MAX_DATASET_LABELS = 64


def check_dataset_labels(labels: Any) -> dict[str, str]:
    """Resource labels as Vertex AI takes them: at most 64; keys start with a lower-case letter;
    keys and values hold lower-case letters, digits, ``_`` and ``-``, at most 63 characters."""
    if not isinstance(labels, dict):
        raise InvalidInput("labels must be an object of {key: value} strings")
    if len(labels) > MAX_DATASET_LABELS:
        raise InvalidInput(f"labels: at most {MAX_DATASET_LABELS} labels, got {len(labels)}")
    for key, value in labels.items():
        if not isinstance(key, str) or not _label_text(key) or not key or not _lower(key[0]):
            raise InvalidInput(
                f"labels: key {key!r} must start with a lower-case letter and hold only "
                "lower-case letters, digits, '_' and '-' (at most 63 characters)"
            )
        if not isinstance(value, str) or not _label_text(value):
            raise InvalidInput(
                f"labels.{key}: value {value!r} must hold only lower-case letters, digits, "
                "'_' and '-' (at most 63 characters)"
            )
    return dict(labels)


def _lower(char: str) -> bool:
    return char.isalpha() and not char.isupper()


def _label_text(text: str) -> bool:
    return len(text) <= 63 and all(_lower(c) or c.isdigit() or c in "_-" for c in text)


def _check_dataset_kind(kind: str | None) -> None:
    if kind is not None and kind not in DATASET_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(DATASET_KINDS)}, not {kind!r}")


def create_dataset(
    store: Store,
    org_id: str,
    name: str,
    *,
    description: str | None = None,
    labels: dict[str, str] | None = None,
    kind: str | None = None,
    user_id: str | None = None,
) -> str:
    """Create an empty dataset and return its id (names need not be unique, as in Labelbox)."""
    if not name.strip():
        raise InvalidInput("a dataset needs a name")
    _check_dataset_kind(kind)
    labels = None if labels is None else check_dataset_labels(labels)
    dataset_id = new_id()
    now = utcnow()
    with store.write() as conn:
        conn.execute(
            s.dataset.insert(),
            {
                "id": dataset_id,
                "org_id": org_id,
                "name": name,
                "description": description,
                "labels": labels,
                "kind": kind,
                "created_at": now,
                "updated_at": now,
                "created_by_id": user_id,
            },
        )
    return dataset_id


def update_dataset(store: Store, org_id: str, dataset_id: str, changes: dict[str, Any]) -> None:
    """Change a dataset's ``name``, ``description``, ``labels`` or ``kind`` (None clears all
    but the name)."""
    unknown = set(changes) - {"name", "description", "labels", "kind"}
    if unknown:
        raise InvalidInput(f"a dataset has no field {sorted(unknown)[0]!r} to change")
    values = dict(changes)
    if "name" in values and (not isinstance(values["name"], str) or not values["name"].strip()):
        raise InvalidInput("a dataset needs a name")
    if "kind" in values:
        _check_dataset_kind(values["kind"])
    if values.get("labels") is not None:
        values["labels"] = check_dataset_labels(values["labels"])
    values["updated_at"] = utcnow()
    d = s.dataset
    with store.write() as conn:
        done = conn.execute(
            d.update().where(d.c.id == dataset_id, d.c.org_id == org_id), values
        ).rowcount
        from labelport.export import cache

        if done and cache.incomplete(conn, org_id):  # a new name: its rows' entries again
            cache.fill(conn, org_id)
    if not done:
        raise NotFound("dataset", dataset_id)


# ------------------------------------------------------------------------------ slices and sets


def save_slice(
    store: Store,
    org_id: str,
    name: str,
    filters: dict[str, Any],
    *,
    slice_id: str | None = None,
    description: str | None = None,
    user_id: str | None = None,
) -> str:
    """Create or update a catalog slice: a named, saved set of catalog filters."""
    if not isinstance(filters, dict):
        raise InvalidSpec("slice filters must be an object")
    from labelport.export import spec

    spec.parse_filters(spec.SLICE_FILTERS, filters, ZoneInfo("UTC"), where="a slice")
    slice_id = slice_id or new_id()
    now = utcnow()
    c = s.catalog_slice
    with store.write() as conn:
        owner = conn.execute(sa.select(c.c.org_id).where(c.c.id == slice_id)).scalar_one_or_none()
        values = {"name": name, "description": description, "filters": filters, "updated_at": now}
        if owner is None:
            conn.execute(
                c.insert(),
                {
                    "id": slice_id,
                    "org_id": org_id,
                    "created_at": now,
                    "created_by_id": user_id,
                    **values,
                },
            )
        elif owner == org_id:
            conn.execute(c.update().where(c.c.id == slice_id), values)
        else:
            raise NotFound("catalog slice", slice_id)
    return slice_id


def save_annotation_set(
    store: Store,
    org_id: str,
    *,
    display_name: str,
    objective: str,
    set_id: str | None = None,
    project_id: str | None = None,
    model_run_id: str | None = None,
    dataset_id: str | None = None,
) -> str:
    """Create or update an annotation set whose source is one project or one model run."""
    if objective not in OBJECTIVES:
        raise InvalidSpec(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    if (project_id is None) == (model_run_id is None):
        raise InvalidSpec("an annotation set's source is exactly one project or one model run")
    set_id = set_id or new_id()
    now = utcnow()
    a = s.annotation_set
    with store.write() as conn:
        source_table = s.project if project_id else s.model_run
        source_id = project_id or model_run_id
        owner = conn.execute(
            sa.select(source_table.c.org_id).where(source_table.c.id == source_id)
        ).scalar_one_or_none()
        if owner != org_id:
            raise NotFound("project" if project_id else "model run", str(source_id))
        if dataset_id is not None:
            dataset_owner = conn.execute(
                sa.select(s.dataset.c.org_id).where(s.dataset.c.id == dataset_id)
            ).scalar_one_or_none()
            if dataset_owner != org_id:
                raise NotFound("dataset", dataset_id)
        values = {
            "display_name": display_name,
            "objective": objective,
            "project_id": project_id,
            "model_run_id": model_run_id,
            "dataset_id": dataset_id,
            "updated_at": now,
        }
        existing = conn.execute(sa.select(a.c.org_id).where(a.c.id == set_id)).scalar_one_or_none()
        if existing is None:
            conn.execute(
                a.insert(),
                {"id": set_id, "org_id": org_id, "created_at": now, "settings": {}, **values},
            )
        elif existing == org_id:
            conn.execute(a.update().where(a.c.id == set_id), values)
        else:
            raise NotFound("annotation set", set_id)
    return set_id


__all__ = [
    "KEY_PREFIX",
    "ROLES",
    "InitResult",
    "Organization",
    "Principal",
    "authenticate",
    "authenticate_pair",
    "check_dataset_labels",
    "create_api_key",
    "create_dataset",
    "create_organization",
    "ensure_user",
    "export_spec",
    "find_organization",
    "import_diffgram",
    "import_labelbox",
    "import_rows",
    "import_vertex",
    "init_catalog",
    "revoke_api_key",
    "save_annotation_set",
    "save_slice",
    "set_timezone",
    "start_export",
    "stats",
    "update_dataset",
]
