"""Export-ready rows: each data row's export, kept encoded beside the catalog.

Reading a row for export means six or more joined queries (the row, metadata, embeddings,
projects, labels, workflow history, model runs…) and building a dict; most of an export's time
went there. So the catalog keeps, per data row, its export line with every param, every project
and every model run, encoded by the same code (:func:`labelport.export.assemble.build_row`,
then ``orjson``), and the byte ranges of each part a param can leave out (details, attachments,
metadata, embeddings, each project and model run, label and performance details, project
details, predictions, split). An export reads the entries in the same streamed query as the row
ids; a row whose export keeps every part is written as stored, any other has the ranges its
params leave out cut away (:class:`Composer`) — byte for byte the row the live path builds,
which the tests check for every data type and parameter.

Correctness does not depend on anyone remembering the cache:

* **Triggers** (SQLite and PostgreSQL, :mod:`labelport.store.triggers`) delete a row's entry
  whenever anything its export is made of changes: the row itself, its metadata, embeddings,
  project memberships, labels, workflow history, model-run rows, labels and predictions, and the
  names that appear in it (dataset, project, batch, metadata field, embedding, model, model run,
  user e-mail). A row without an entry is exported by the live path: no entry is ever stale.
* **Filling** (:func:`fill`) builds the entries of rows that have none, in the writer's own
  transaction: imports do it for each batch they write, so the entries are part of the same
  commit and every snapshot sees rows and entries that agree.

An entry is three columns: ``line``, the row's export line as it is written (newline
included); ``tally``, what the check values count in each part (projects, model runs, annotation
kinds), so no export scans its lines to count them; and ``layout``, where the parts are. Both are
``marshal``-encoded tuples (strings, integers), written and read only by this module; ``tally``
carries :data:`FORMAT`, and an entry of another format is treated as missing. A row whose export
keeps every part is its stored ``line`` as is: no decoding of the layout, no copy. Rows tally
alike (same project, status, label and kind counts), so an export decodes each distinct tally
once. Rows whose labels must be interpolated (``interpolated_frames`` on video or DICOM) always
take the live path.
"""

from __future__ import annotations

import marshal
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.export.assemble import Fragment, Include, Page, build_row, fetch
from labelport.export.manifest import kinds_in
from labelport.store import Store
from labelport.store import schema as s
from labelport.store.bulk import BulkWriter, Written

FORMAT = 3  # a new layout ships with a migration that empties export_cache
FILL_PAGE = 500
EVERYTHING = Include()  # every param, every project and model run, no interpolation
VIDEO_LIKE = ("VIDEO", "DICOM")

c = s.export_cache
dumps = orjson.dumps

# An entry's line is the row exported with every param, every project and model run, with its
# newline. Its tally: (FORMAT, media_type, projects, runs, kinds of the rest of the line)
#   project:  (id, workflow_status, label_count, kinds)
#   run:      (id, label_count, prediction_count, kinds without the predictions, their kinds)
#   kinds:    ((annotation_kind, count), ...)
# Its layout: (cuts, projects, models, runs), where the parts a param can leave out are in the
# line, as (start, end) byte ranges; projects and runs in the tally's order:
#   cuts:     (details, attachments, metadata_fields, embeddings, projects, experiments), each
#             with its leading ``,"key":``
#   project:  (start, end, label_cuts, project_details): the range ``"id":{...}``; label_cuts:
#             per label (label_details, performance_details)
#   model:    (head start, head end): ``"id":{"name":...,"runs":{``
#   run:      (model index, start, end, predictions, split, position among the row's runs)
Entry = tuple[Any, ...]
Range = tuple[int, int]
JSON = dict[str, Any]


class _Line:
    """Bytes appended piece by piece, remembering where the pieces are."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.at = 0

    def add(self, piece: bytes) -> Range:
        start = self.at
        self.parts.append(piece)
        self.at += len(piece)
        return start, self.at


class _Unusual(Exception):
    """A row this layout cannot cut (an extra key inside a model's entry): it gets no entry,
    and every export builds it on the live path."""


def _object(out: _Line, value: JSON, cuts: Iterable[str] = ()) -> dict[str, Range]:
    """Write an object; the ranges (``,"key":value``) of the ``cuts`` keys it has. The keys
    between them are encoded together (``dumps`` of an object is its keys' encodings joined)."""
    if not cuts or value.keys().isdisjoint(cuts):
        out.add(dumps(value))
        return {}
    found: dict[str, Range] = {}
    out.add(b"{")
    run: JSON = {}
    first = True  # nothing of the object written yet
    for key, item in value.items():
        if key in cuts:
            if run:
                _run(out, run, first)
                run = {}
            elif first:
                raise _Unusual(key)  # a leading key cannot be cut without its comma
            first = False
            found[key] = out.add(b"," + dumps(key) + b":" + dumps(item))
        else:
            run[key] = item
    if run:
        _run(out, run, first)
    out.add(b"}")
    return found


def _run(out: _Line, run: JSON, first: bool) -> None:
    """Write the keys of ``run`` (none of them to be cut) as one piece of an object."""
    piece = dumps(run)[1:-1]
    out.add(piece if first else b"," + piece)


# The top-level keys a row's line is written around: a range (or ranges inside) of their own.
_TOP_PARTS = frozenset(
    ("data_row", "projects", "experiments", "attachments", "metadata_fields", "embeddings")
)


def _nothing(out: _Line) -> Range:
    return out.at, out.at


def encode(page: Page, rid: str) -> tuple[bytes, bytes, bytes]:
    """The entry (tally, layout, line) of one row of a page read with :data:`EVERYTHING`.

    The line is written key by key in the order of the row :func:`build_row` gives (the source's
    shape applied), so it is byte for byte that row; a part the row does not have (a source
    without details, a label without performance details) has an empty range."""
    row = build_row(page, rid, EVERYTHING)
    out = _Line()
    ranges: dict[str, Range] = {}
    projects: list[tuple[Any, ...]] = []
    models: list[Range] = []
    runs: list[tuple[Any, ...]] = []
    out.add(b"{")
    run: JSON = {}
    first = True  # nothing of the row written yet
    for key, value in row.items():
        if key not in _TOP_PARTS:
            run[key] = value
            continue
        if run:
            _run(out, run, first)
            run = {}
            first = False
        comma = b"" if first else b","
        first = False
        if key == "data_row":
            out.add(comma + b'"data_row":')
            inner = _object(out, value, ("details",))
            if "details" in inner:
                ranges["details"] = inner["details"]
        elif key == "projects":
            start = out.add(comma + b'"projects":{')[0]
            for k, (pid, entry) in enumerate(value.items()):
                projects.append(_project(out, page, rid, pid, entry, k))
            ranges["projects"] = (start, out.add(b"}")[1])
        elif key == "experiments":
            start = out.add(comma + b'"experiments":{')[0]
            position = {run_[1]: i for i, run_ in enumerate(page.runs.get(rid, ()))}
            for k, (model_id, model) in enumerate(value.items()):
                if list(model) != ["name", "runs"]:
                    raise _Unusual(model_id)
                models.append(
                    out.add(
                        (b"," if k else b"")
                        + dumps(model_id)
                        + b':{"name":'
                        + dumps(model["name"])
                        + b',"runs":{'
                    )
                )
                for j, (run_id, entry) in enumerate(model["runs"].items()):
                    if j:
                        out.add(b",")
                    start_run = out.add(dumps(run_id) + b":")[0]
                    inner = _object(out, entry, ("predictions", "split"))
                    key_ = (run_id, rid)
                    runs.append(
                        (
                            run_id,
                            len(page.run_labels.get(key_, ())),
                            len(page.predictions.get(key_, ())),
                            len(models) - 1,
                            start_run,
                            out.at,
                            inner.get("predictions", (out.at, out.at)),
                            inner.get("split", (out.at, out.at)),
                            position[run_id],
                        )
                    )
                out.add(b"}}")
            ranges["experiments"] = (start, out.add(b"}")[1])
        else:  # attachments, metadata_fields, embeddings: a range of their own
            ranges[key] = out.add(comma + dumps(key) + b":" + dumps(value))
    if run:
        _run(out, run, first)
    out.add(b"}\n")
    end = _nothing(out)  # a part the row does not have: nothing to cut
    cuts = tuple(
        ranges.get(key, end)
        for key in (
            "details",
            "attachments",
            "metadata_fields",
            "embeddings",
            "projects",
            "experiments",
        )
    )
    line = b"".join(out.parts)
    rest = kinds_in(line)  # what is left once each project and run took its own

    def kinds(start: int, end: int) -> Counter[bytes]:
        found = kinds_in(line[start:end])
        rest.subtract(found)
        return found

    tally_projects, tally_runs = [], []
    for p in projects:
        tally_projects.append((*p[:3], _pairs(kinds(p[3], p[4]))))
    for r in runs:
        whole = kinds(r[4], r[5])
        predicted = kinds_in(line[r[6][0] : r[6][1]])
        tally_runs.append((*r[:3], _pairs(whole - predicted), _pairs(predicted)))
    tally = (
        FORMAT,
        page.rows[rid][5],
        tuple(tally_projects),
        tuple(tally_runs),
        _pairs(rest),
    )
    layout = (
        cuts,
        tuple(p[3:] for p in projects),
        tuple(models),
        tuple(r[3:] for r in runs),
    )
    return marshal.dumps(tally), marshal.dumps(layout), line


def _project(out: _Line, page: Page, rid: str, pid: str, entry: JSON, n: int) -> tuple[Any, ...]:
    """Write one project entry (``"id":{...}``); its tally head and layout."""
    status = next(p[2] for p in page.projects[rid] if p[1] == pid)
    if n:
        out.add(b",")
    start = out.add(dumps(pid) + b":{")[0]
    label_cuts: list[tuple[Range, Range]] = []
    details = _nothing(out)
    run: JSON = {}
    first = True  # nothing of the entry written yet
    for key, value in entry.items():
        if key != "labels" and key != "project_details":
            run[key] = value
            continue
        if run:
            _run(out, run, first)
            run = {}
            first = False
        comma = b"" if first else b","
        if key == "labels":
            out.add(comma + b'"labels":[')
            for j, label in enumerate(value):
                if j:
                    out.add(b",")
                inner = _object(out, label, ("label_details", "performance_details"))
                here = (out.at, out.at)
                label_cuts.append(
                    (inner.get("label_details", here), inner.get("performance_details", here))
                )
            out.add(b"]")
        else:
            if first:
                raise _Unusual(key)
            details = out.add(comma + dumps(key) + b":" + dumps(value))
        first = False
    if run:
        _run(out, run, first)
    end = out.add(b"}")[1]
    labels = len(page.labels.get((pid, rid), ()))
    return (pid, status, labels, start, end, tuple(label_cuts), details)


def _pairs(kinds: Counter[bytes]) -> tuple[tuple[bytes, int], ...]:
    return tuple(sorted((k, n) for k, n in kinds.items() if n))


def fill(
    conn: sa.Connection,
    org_id: str,
    ids: Iterable[str] | None = None,
    sources: Mapping[str, bytes | None] | None = None,
    built: Mapping[str, tuple[bytes, bytes, bytes]] | None = None,
) -> int:
    """Build the entries of ``org_id``'s rows that have none (of ``ids``, or of all its rows)
    in ``conn``'s transaction; returns how many were written. A row that cannot be built gets
    no entry: its export error comes from the live path. ``sources``: the digests of the import
    records the rows were just written from (see :func:`unchanged`). ``built``: the entries of
    rows just written whole (so without an entry: the triggers saw to it), made by :func:`build`
    from what was written instead of read back; they are written as they are."""
    done = 0
    if built:
        values = [
            (rid, org_id, *entry, None if sources is None else sources.get(rid))
            for rid, entry in built.items()
        ]
        BulkWriter(conn).insert_rows(c, _COLUMNS, values)  # COPY on PostgreSQL
        done = len(values)
        if ids is not None:
            ids = [rid for rid in ids if rid not in built]
    return done + sum(
        _build(conn, org_id, page_ids, sources) for page_ids in _missing(conn, org_id, ids)
    )


def build(written: Written) -> dict[str, tuple[bytes, bytes, bytes]]:
    """The entries of the rows of ``written`` that can be built, made from it (no catalog read:
    a pure function of what was written and the names it holds)."""
    page = page_of(written)
    out = {}
    for rid in page.rows:
        try:
            out[rid] = encode(page, rid)
        except Exception:
            continue
    return out


def unchanged(conn: sa.Connection, org_id: str, digests: Mapping[str, bytes]) -> set[str]:
    """The rows of ``digests`` (data-row id -> digest of an import record) that an import wrote
    from that very record and that nothing changed since: their entry lives (the triggers
    forget it at any change to the row, its parts or the names it shows) and remembers it."""
    found: set[str] = set()
    wanted = list(digests)
    one_of = BulkWriter(conn).one_of
    for at in range(0, len(wanted), FILL_PAGE):
        query = sa.select(c.c.data_row_id, c.c.source).where(
            one_of(c.c.data_row_id, wanted[at : at + FILL_PAGE]), c.c.org_id == org_id
        )
        found.update(rid for rid, source in conn.execute(query) if source == digests[rid])
    return found


def _build(
    conn: sa.Connection,
    org_id: str,
    page_ids: list[str],
    sources: Mapping[str, bytes | None] | None = None,
) -> int:
    """Write the entries of rows known to have none (found so in this transaction)."""
    return _insert(conn, org_id, fetch(conn, org_id, page_ids, EVERYTHING), page_ids, sources)


def _insert(
    conn: sa.Connection,
    org_id: str,
    page: Page,
    page_ids: list[str],
    sources: Mapping[str, bytes | None] | None,
) -> int:
    values = []
    for rid in page_ids:
        if rid not in page.rows:
            continue
        try:
            tally, layout, line = encode(page, rid)
        except Exception:
            continue
        values.append(
            (rid, org_id, tally, layout, line, None if sources is None else sources.get(rid))
        )
    if values:
        BulkWriter(conn).insert_rows(c, _COLUMNS, values)  # COPY on PostgreSQL
    return len(values)


_COLUMNS = ("data_row_id", "org_id", "tally", "layout", "line", "source")


def page_of(written: Written) -> Page:
    """The page :func:`~labelport.export.assemble.fetch` would read for the rows of
    ``written``, made from it (its raw rows and names, as the catalog now holds them)."""
    page = Page()
    ts = _export_time
    for rid, r in written.rows.items():
        try:
            _row_of(page, written, rid, r, ts)
        except KeyError:  # a name the load did not know: this row is read back instead
            for part in (page.rows, page.metadata, page.embeddings, page.projects, page.runs):
                part.pop(rid, None)
    return page


def _row_of(page: Page, w: Written, rid: str, r: Any, ts: Callable[[Any], Any]) -> None:
    # (raw data_row: id, org_id, dataset_id, global_key, external_id, row_data, media_type,
    #  media_attributes, attachments, created_at, updated_at, created_by_id, last_activity_at,
    #  shape; the page's as assemble._Sql.rows reads them)
    email = w.emails
    page.metadata[rid] = [(rid, m[2], w.fields[m[2]][1], m[3]) for m in w.metadata.get(rid, ())]
    page.embeddings[rid] = [
        (rid, e[1], *w.embedding_names[e[1]], e[3]) for e in w.embeddings.get(rid, ())
    ]
    projects = page.projects[rid] = []
    for m in w.memberships.get(rid, ()):
        name, ontology, tags = w.projects[m[0]]
        batch = w.batches[m[4]] if m[4] is not None else None
        projects.append((rid, m[0], *m[2:9], name, ontology, tags, batch, m[11]))
    for x in w.history.get(rid, ()):
        page.history[(x[0], rid)].append(Fragment(x[4]))
    for x in w.labels.get(rid, ()):
        page.labels[(x[2], rid)].append(
            (
                rid,
                x[2],
                x[0],
                x[5],
                x[6],
                x[7],
                x[22],
                ts(x[8]),
                ts(x[9]),
                email[x[10]] if x[10] is not None else None,
                ts(x[11]),
                x[12],
                x[13],
                x[14],
                x[15],
                x[17],
                x[18],
                x[19],
                x[20],
                x[21],
                x[16],
            )
        )
    runs = page.runs[rid] = []
    for x in w.runs.get(rid, ()):
        run_name, model_id = w.model_runs[x[0]]
        runs.append((rid, x[0], x[2], x[3], run_name, model_id, w.models[model_id], x[5]))
    for into, items in ((page.run_labels, w.run_labels), (page.predictions, w.predictions)):
        for x in items.get(rid, ()):
            into[(x[0], rid)].append((rid, x[0], x[1], x[4], x[5], x[6], x[7]))
    page.rows[rid] = (
        rid,
        r[1],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[13],
        r[2],
        w.datasets[r[2]],
        ts(r[9]),
        ts(r[10]),
        ts(r[12]),
        email[r[11]] if r[11] is not None else None,
    )


def _export_time(raw: Any) -> str | None:
    """A raw timestamp (SQLite's stored text, or an instant for PostgreSQL) in the export form
    the page queries give (``2023-03-15T14:46:58.000+00:00``)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return f"{raw[:10]}T{raw[11:23]}+00:00"
    return f"{raw.replace(tzinfo=None).isoformat(timespec='milliseconds')}+00:00"


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
    if not wanted:
        return
    # through the driver's own connection: an import's writes may run this on a thread of
    # their own while the import goes on with SQLAlchemy
    sqlite = conn.dialect.name == "sqlite"
    sql = "SELECT data_row_id FROM export_cache WHERE data_row_id " + (
        "IN (SELECT value FROM json_each(?))" if sqlite else "= ANY(%s)"
    )
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for at in range(0, len(wanted), FILL_PAGE):
            chunk = wanted[at : at + FILL_PAGE]
            cursor.execute(sql, (orjson.dumps(chunk).decode() if sqlite else chunk,))
            have = {row[0] for row in cursor.fetchall()}
            found = [rid for rid in chunk if rid not in have]
            if found:
                yield found
    finally:
        cursor.close()


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
                written += _build(conn, org_id, ids)  # a row that cannot be built gets none
            after = ids[-1]
            if progress is not None:
                progress(written)
    return written
