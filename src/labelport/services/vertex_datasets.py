"""Datasets as a Vertex-style export sees them, their annotation sets, and starting such an
export (the Vertex surface and the web UI both do). Every query is scoped to one organization
(another's ids are "not found").

A dataset's kind is ``dataset.kind`` when set, else the media type most of its data rows have
among IMAGE, TEXT and VIDEO (a dataset with none of those, e.g. empty, counts as image).
Its annotation sets are those recorded for it (``annotation_set.dataset_id``) and those without a
dataset whose source (project or model run) holds rows of it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from labelport import services
from labelport.errors import NotFound
from labelport.export import destinations
from labelport.export.formats.vertex_config import AnnotationSetRef, make_job, parse_export_config
from labelport.export.spec import Scope
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.settings import Settings
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import utcnow
from labelport.vertex_vocab import FAILED_PRECONDITION


@dataclass(frozen=True, slots=True)
class DatasetView:
    """A labelport dataset as Vertex sees it."""

    id: str
    name: str
    description: str | None
    kind: str  # image | text | video | tabular | time_series
    labels: dict[str, str]
    created_at: datetime
    updated_at: datetime
    item_count: int
    sets: tuple[SetView, ...] = ()


@dataclass(frozen=True, slots=True)
class SetView:
    """An annotation set as a Vertex SavedQuery."""

    id: str
    display_name: str
    objective: str
    created_at: datetime
    updated_at: datetime
    settings: dict[str, Any] = field(default_factory=dict)


KIND_OF_MEDIA = {"IMAGE": "image", "TEXT": "text", "VIDEO": "video"}
DEFAULT_KIND = "image"
KNOWN_KINDS = ("image", "text", "video", "tabular", "time_series")


def infer_kind(stored: str | None, media_counts: Counter[str]) -> str:
    if stored:
        return stored.lower()
    kinds: Counter[str] = Counter()
    for media_type, n in media_counts.items():
        kind = KIND_OF_MEDIA.get(media_type)
        if kind is not None:
            kinds[kind] += n
    if not kinds:
        return DEFAULT_KIND
    return sorted(kinds.items(), key=lambda item: (-item[1], item[0]))[0][0]


def _media_counts(conn: sa.Connection, dataset_ids: list[str]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    if not dataset_ids:
        return counts
    r = s.data_row
    query = (
        sa.select(r.c.dataset_id, r.c.media_type, sa.func.count())
        .where(r.c.dataset_id.in_(dataset_ids))
        .group_by(r.c.dataset_id, r.c.media_type)
    )
    for dataset_id, media_type, n in conn.execute(query):
        counts[dataset_id][media_type] += int(n)
    return counts


def _sets_query(org_id: str, dataset_id: str) -> sa.Select[Any]:
    a, r = s.annotation_set, s.data_row
    in_project = sa.exists().where(
        s.project_data_row.c.project_id == a.c.project_id,
        s.project_data_row.c.data_row_id == r.c.id,
        r.c.dataset_id == dataset_id,
    )
    in_run = sa.exists().where(
        s.model_run_data_row.c.model_run_id == a.c.model_run_id,
        s.model_run_data_row.c.data_row_id == r.c.id,
        r.c.dataset_id == dataset_id,
    )
    return (
        sa.select(a)
        .where(
            a.c.org_id == org_id,
            sa.or_(
                a.c.dataset_id == dataset_id,
                sa.and_(a.c.dataset_id.is_(None), sa.or_(in_project, in_run)),
            ),
        )
        .order_by(a.c.created_at, a.c.id)
    )


def annotation_sets(conn: sa.Connection, org_id: str, dataset_id: str) -> list[Any]:
    return list(conn.execute(_sets_query(org_id, dataset_id)))


def set_ref(row: Any) -> AnnotationSetRef:
    return AnnotationSetRef(
        id=row.id,
        display_name=row.display_name,
        objective=row.objective,
        project_id=row.project_id,
        model_run_id=row.model_run_id,
        settings=dict(row.settings or {}),
    )


def set_view(row: Any) -> SetView:
    return SetView(
        row.id,
        row.display_name,
        row.objective,
        row.created_at,
        row.updated_at,
        dict(row.settings or {}),
    )


def _view(row: Any, media: Counter[str], sets: list[Any]) -> DatasetView:
    labels = row.labels if isinstance(row.labels, dict) else {}
    return DatasetView(
        id=row.id,
        name=row.name,
        description=row.description,
        kind=infer_kind(row.kind, media),
        labels={str(k): str(v) for k, v in labels.items()},
        created_at=row.created_at,
        updated_at=row.updated_at,
        item_count=sum(media.values()),
        sets=tuple(set_view(x) for x in sets),
    )


def get_dataset(conn: sa.Connection, org_id: str, dataset_id: str) -> DatasetView:
    d = s.dataset
    row = conn.execute(sa.select(d).where(d.c.id == dataset_id, d.c.org_id == org_id)).one_or_none()
    if row is None:
        raise NotFound("dataset", dataset_id)
    media = _media_counts(conn, [dataset_id])[dataset_id]
    return _view(row, media, annotation_sets(conn, org_id, dataset_id))


def list_datasets(conn: sa.Connection, org_id: str) -> list[DatasetView]:
    """Every dataset of the organization (saved queries are not listed, as Vertex does)."""
    d = s.dataset
    rows = list(conn.execute(sa.select(d).where(d.c.org_id == org_id).order_by(d.c.created_at)))
    media = _media_counts(conn, [row.id for row in rows])
    return [_view(row, media.get(row.id, Counter()), []) for row in rows]


def project_and_run_ids(sets: list[AnnotationSetRef]) -> tuple[list[str], list[str]]:
    projects = sorted({x.project_id for x in sets if x.project_id})
    runs = sorted({x.model_run_id for x in sets if x.model_run_id})
    return projects, runs


# ------------------------------------------------------------------------------ starting one

FORMAT = "vertex"
EXPORTABLE = ("image", "text", "video")


@dataclass(frozen=True, slots=True)
class Started:
    task: TaskInfo
    item_count: int


def start_export(
    store: Store,
    settings: Settings,
    org_id: str,
    dataset_id: str,
    export_config: Any,
    *,
    user_id: str | None = None,
    when: datetime | None = None,
) -> Started:
    """Validate an ``exportConfig`` against a dataset and queue its export task."""
    config = parse_export_config(export_config)
    with store.read() as conn:
        view = get_dataset(conn, org_id, dataset_id)
        set_rows = annotation_sets(conn, org_id, dataset_id)
    scope = Scope("dataset", dataset_id)
    if view.kind not in EXPORTABLE:
        message = (
            f"dataset {dataset_id} ({view.name}) is a {view.kind} dataset; only image, text "
            "and video datasets can be exported"
        )
        spec = services.export_spec(store, org_id, scope, {}, None, format=FORMAT)
        options = {
            "exportConfig": config.raw,
            "refusal": {"code": FAILED_PRECONDITION, "message": message},
        }
        task = export_tasks.create(
            store, org_id, spec, user_id=user_id, options=options, refused=message
        )
        return Started(task, view.item_count)
    destinations.resolve(config.output_uri_prefix, settings, connect=False)
    job = make_job(
        config,
        [set_ref(row) for row in set_rows],
        kind=view.kind,
        display_name=view.name,
        when=when or utcnow(),
    )
    projects, runs = project_and_run_ids(list(job.sets))
    params: dict[str, Any] = {"metadata_fields": True}
    if projects:
        params["project_ids"] = projects
    if runs:
        params["model_run_ids"] = runs
        params["predictions"] = True
        params["model_run_details"] = True  # the run's split, written as ml_use
    spec = services.export_spec(store, org_id, scope, params, None, format=FORMAT)
    options = {"exportConfig": config.raw, "plan": job.to_json()}
    task = export_tasks.create(store, org_id, spec, user_id=user_id, options=options)
    return Started(task, view.item_count)
