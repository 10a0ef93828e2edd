"""Export-ready rows: each data row's export, kept encoded, in pieces, beside the catalog.

Reading a row for export means six or more joined queries (the row, metadata, embeddings,
projects, labels, workflow history, model runs…) and building a dict; most of an export's time
went there. So the catalog keeps, per data row, the pieces of its export already encoded by the
same code (:func:`labelport.export.assemble.build_row` with everything included, then
``orjson``): the data row with and without details, media attributes, attachments, metadata,
embeddings, and per project and per model run the parts each parameter adds. An export reads one
blob per row and joins the pieces its parameters ask for (:func:`compose`) — byte for byte the
row the live path builds, which the tests check for every data type and parameter.

Correctness does not depend on anyone remembering the cache:

* **Triggers** (SQLite and PostgreSQL, :mod:`labelport.store.triggers`) delete a row's entry
  whenever anything its export is made of changes: the row itself, its metadata, embeddings, project
  memberships, labels, workflow history, model-run rows, labels and predictions, and the names
  that appear in it (dataset, project, batch, metadata field, embedding, model, model run, user
  e-mail). A row without an entry is exported by the live path, so a stale entry cannot exist.
* **Filling** (:func:`fill`) builds the entries of rows that have none, in the writer's own
  transaction: imports call it when they finish, so the entries are part of the same commit
  and every snapshot sees rows and entries that agree.

Entries are ``marshal``-encoded tuples of bytes, written and read only by this module, and
carry :data:`FORMAT`; an entry of another format is treated as missing. Rows whose labels must
be interpolated (``interpolated_frames`` on video or DICOM) always take the live path.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.export import plan as planning
from labelport.export.assemble import Include, Page, build_row, fetch
from labelport.export.plan import Plan
from labelport.store import Store
from labelport.store import schema as s
from labelport.store.bulk import BulkWriter

FORMAT = 1
FILL_PAGE = 500
EVERYTHING = Include()  # every param, every project and model run, no interpolation
_VIDEO_LIKE = ("VIDEO", "DICOM")

c = s.export_cache
dumps = orjson.dumps

# An entry: (FORMAT, media_type, dr_head, dr_details, media, attachments, metadata, embeddings,
#            projects, runs)
# project: (id, key, workflow_status, label_count, head, labels, details, tags)
#          label: (head, label_details, performance_details, tail)
# run: (model key, model head, run id, run key, head, predictions, split, label_count, pred_count)
Entry = tuple[Any, ...]


# ------------------------------------------------------------------------------ building


def encode(page: Page, rid: str) -> bytes:
    """The entry of one row of a page read with :data:`EVERYTHING`."""
    row = build_row(page, rid, EVERYTHING)
    data_row = dict(row["data_row"])
    details = data_row.pop("details")
    projects = []
    labels_of = page.labels
    for p in page.projects.get(rid, ()):
        pid, status = p[1], p[2]
        entry = row["projects"][pid]
        labels = []
        for label in entry["labels"]:
            rest = dict(label)
            label_details = rest.pop("label_details")
            performance = rest.pop("performance_details")
            annotations = rest.pop("annotations")
            labels.append(
                (
                    dumps(rest)[:-1],
                    b',"label_details":' + dumps(label_details),
                    b',"performance_details":' + dumps(performance),
                    b',"annotations":' + dumps(annotations) + b"}",
                )
            )
        tags = (
            b',"project_tags":' + dumps(entry["project_tags"]) if "project_tags" in entry else b""
        )
        projects.append(
            (
                pid,
                dumps(pid),
                status,
                len(labels_of.get((pid, rid), ())),
                b'{"name":' + dumps(entry["name"]) + b',"labels":[',
                tuple(labels),
                b',"project_details":' + dumps(entry["project_details"]),
                tags,
            )
        )
    runs = []
    for run in page.runs.get(rid, ()):
        run_id, model_id = run[1], run[5]
        model = row["experiments"][model_id]
        entry = model["runs"][run_id]
        key = (run_id, rid)
        runs.append(
            (
                dumps(model_id),
                b'{"name":' + dumps(model["name"]) + b',"runs":{',
                run_id,
                dumps(run_id),
                b'{"name":'
                + dumps(entry["name"])
                + b',"run_data_row_id":'
                + dumps(entry["run_data_row_id"])
                + b',"labels":'
                + dumps(entry["labels"]),
                b',"predictions":' + dumps(entry["predictions"]),
                b',"split":' + dumps(entry["split"]),
                len(page.run_labels.get(key, ())),
                len(page.predictions.get(key, ())),
            )
        )
    media_type = page.rows[rid][5]
    return marshal.dumps(
        (
            FORMAT,
            media_type,
            dumps(data_row)[:-1],
            b',"details":' + dumps(details),
            dumps(row["media_attributes"]),
            dumps(row["attachments"]),
            dumps(row["metadata_fields"]),
            dumps(row["embeddings"]),
            tuple(projects),
            tuple(runs),
        )
    )


def fill(conn: sa.Connection, org_id: str, ids: Iterable[str] | None = None) -> int:
    """Build the entries of ``org_id``'s rows that have none (of ``ids``, or of all its rows)
    in ``conn``'s transaction; returns how many were written. A row that cannot be built gets
    no entry: its export error comes from the live path."""
    written = 0
    for page_ids in _missing(conn, org_id, ids):
        page = fetch(conn, org_id, page_ids, EVERYTHING)
        values = []
        for rid in page_ids:
            if rid not in page.rows:
                continue
            try:
                body = encode(page, rid)
            except Exception:
                continue
            values.append({"data_row_id": rid, "org_id": org_id, "body": body})
        if values:
            conn.execute(c.delete().where(c.c.data_row_id.in_([v["data_row_id"] for v in values])))
            BulkWriter(conn).insert(c, values)  # COPY on PostgreSQL
            written += len(values)
    return written


def _missing(
    conn: sa.Connection, org_id: str, ids: Iterable[str] | None, after: str | None = None
) -> Iterator[list[str]]:
    """Pages of rows without an entry: of ``ids``, or of the whole organization, walked by id
    a page at a time (each step reads a page of ids and the entries among them, so the walk is
    linear and memory holds one page whatever the catalog's size)."""
    d = s.data_row
    if ids is None:
        while True:
            query = sa.select(d.c.id).where(d.c.org_id == org_id)
            if after is not None:
                query = query.where(d.c.id > after)
            page = list(conn.execute(query.order_by(d.c.id).limit(FILL_PAGE)).scalars())
            if not page:
                return
            have = set(
                conn.execute(sa.select(c.c.data_row_id).where(c.c.data_row_id.in_(page))).scalars()
            )
            found = [rid for rid in page if rid not in have]
            if found:
                yield found
            after = page[-1]
    wanted = list(dict.fromkeys(ids))
    for at in range(0, len(wanted), FILL_PAGE):
        chunk = wanted[at : at + FILL_PAGE]
        have = set(
            conn.execute(sa.select(c.c.data_row_id).where(c.c.data_row_id.in_(chunk))).scalars()
        )
        found = [rid for rid in chunk if rid not in have]
        if found:
            yield found


def incomplete(conn: sa.Connection, org_id: str) -> bool:
    """Has any of the organization's rows no entry? (Two counts, no walk.)"""
    rows = conn.execute(
        sa.select(sa.func.count()).select_from(s.data_row).where(s.data_row.c.org_id == org_id)
    ).scalar_one()
    ready = conn.execute(
        sa.select(sa.func.count()).select_from(c).where(c.c.org_id == org_id)
    ).scalar_one()
    return bool(ready < rows)


def fill_catalog(store: Store, progress: Callable[[int], None] | None = None) -> int:
    """Build every missing entry of every organization, a page per transaction (for catalogs
    that existed before export-ready rows: ``labelport db upgrade`` runs it)."""
    with store.read() as conn:
        orgs = list(conn.execute(sa.select(s.organization.c.id)).scalars())
    written = 0
    for org_id in orgs:
        after: str | None = None
        while True:
            with store.write() as conn:
                ids = next(_missing(conn, org_id, None, after), None)
                if ids is None:
                    break
                written += fill(conn, org_id, ids)  # a row that cannot be built gets none
            after = ids[-1]
            if progress is not None:
                progress(written)
    return written


# ------------------------------------------------------------------------------- reading


def pages(conn: sa.Connection, plan: Plan, size: int) -> Iterator[list[tuple[str, Entry | None]]]:
    """The plan's rows in export order, a page at a time, each with its entry (None: none, or
    one of another format) — read in the same streamed query as the ids themselves."""
    d = s.data_row
    query = planning.ordered(plan, conn.dialect.name)
    query = query.outerjoin(c, c.c.data_row_id == d.c.id).add_columns(c.c.body)
    loads = marshal.loads
    for part in planning.stream(conn, query, size):
        page: list[tuple[str, Entry | None]] = []
        for rid, body in part:
            entry = None if body is None else loads(body)
            page.append((rid, entry if entry is not None and entry[0] == FORMAT else None))
        yield page


def live_only(entry: Entry, include: Include) -> bool:
    """Must this row be built by the live path (its labels are interpolated)?"""
    return include.interpolated_frames and (include.media_type_override or entry[1]) in _VIDEO_LIKE


def compose(entry: Entry, include: Include) -> bytes:
    """The export line of a row (with its newline), as the live path would write it."""
    _, _, head, details, media, attachments, metadata, embeddings, projects, runs = entry
    parts = [b'{"data_row":', head]
    if include.data_row_details:
        parts.append(details)
    parts += (b'},"media_attributes":', media)
    if include.attachments:
        parts += (b',"attachments":', attachments)
    if include.metadata_fields:
        parts += (b',"metadata_fields":', metadata)
    if include.embeddings:
        parts += (b',"embeddings":', embeddings)
    wanted = include.projects
    if wanted != ():
        parts.append(b',"projects":{')
        first = True
        ld, pd, pdet = include.label_details, include.performance_details, include.project_details
        for pid, key, _status, _n, phead, labels, pdetails, tags in projects:
            if wanted is not None and pid not in wanted:
                continue
            if not first:
                parts.append(b",")
            first = False
            parts += (key, b":", phead)
            for i, (lhead, ldet, lperf, ltail) in enumerate(labels):
                if i:
                    parts.append(b",")
                parts.append(lhead)
                if ld:
                    parts.append(ldet)
                if pd:
                    parts.append(lperf)
                parts.append(ltail)
            parts.append(b"]")
            if pdet:
                parts.append(pdetails)
            parts += (tags, b"}")
        parts.append(b"}")
    runs_wanted = include.model_runs
    if runs_wanted != ():
        parts.append(b',"experiments":{')
        models: dict[bytes, list[bytes]] = {}
        heads: dict[bytes, bytes] = {}
        for mkey, mhead, run_id, rkey, rhead, preds, split, _nl, _np in runs:
            if runs_wanted is not None and run_id not in runs_wanted:
                continue
            body = [rkey, b":", rhead]
            if include.predictions:
                body.append(preds)
            if include.model_run_details:
                body.append(split)
            body.append(b"}")
            heads.setdefault(mkey, mhead)
            models.setdefault(mkey, []).append(b"".join(body))
        parts.append(
            b",".join(
                mkey + b":" + heads[mkey] + b",".join(rs) + b"}}" for mkey, rs in models.items()
            )
        )
        parts.append(b"}")
    parts.append(b"}\n")
    return b"".join(parts)


def count(entry: Entry, include: Include, counts: Any) -> None:
    """Add a row's check values (as the live path counts them)."""
    counts.data_rows += 1
    wanted = include.projects
    if wanted != ():
        for pid, _key, status, n, *_ in entry[8]:
            if wanted is not None and pid not in wanted:
                continue
            counts.labels[pid] += n
            counts.workflow_status[pid][status] += 1
    runs_wanted = include.model_runs
    if runs_wanted != ():
        for _mkey, _mhead, run_id, *_, n_labels, n_preds in entry[9]:
            if runs_wanted is not None and run_id not in runs_wanted:
                continue
            counts.model_run_labels[run_id] += n_labels
            counts.predictions[run_id] += n_preds if include.predictions else 0
