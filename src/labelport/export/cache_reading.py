"""Reading export-ready rows back: the plan's rows a page at a time with their entries, and a
row's line composed for what an export includes (cutting the parts it leaves out).

The entries are written by :mod:`labelport.export.cache`, which holds their layout.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from labelport.export import plan as planning
from labelport.export.assemble import Include
from labelport.export.cache import FORMAT, VIDEO_LIKE, Entry, Range
from labelport.export.manifest import Counts
from labelport.export.plan import Plan
from labelport.store import schema as s
from labelport.vocab import status_label

c = s.export_cache

# (data-row id, tally or None, layout, line): tally None when the row has no entry (or one of
# another format); the layout is still encoded (:meth:`Composer.line` decodes it when it cuts)
Ready = tuple[str, Entry | None, bytes, bytes]
MEMO = 4096  # distinct tallies kept decoded while reading


def pages(conn: sa.Connection, plan: Plan, size: int) -> Iterator[list[Ready]]:
    """The plan's rows in export order, a page at a time, each with its entry.

    SQLite reads the entries in the same streamed query as the ids (a lookup per row along the
    export-order index). PostgreSQL streams the ids down the export-order index as before and
    reads a page's entries with one primary-key lookup: joined into the row query, the planner
    would rather hash-join and sort the whole export before the first row.
    """
    d = s.data_row
    memo: dict[bytes, Entry | None] = {}

    def tally(blob: bytes | None) -> Entry | None:
        if blob is None:
            return None
        try:
            return memo[blob]
        except KeyError:
            if len(memo) >= MEMO:
                memo.clear()
            found = marshal.loads(blob)
            memo[blob] = found = found if found[0] == FORMAT else None
            return found

    if conn.dialect.name == "sqlite":
        query = planning.ordered(plan, "sqlite")
        query = query.outerjoin(c, c.c.data_row_id == d.c.id)
        query = query.add_columns(c.c.tally, c.c.layout, c.c.line)
        for part in planning.stream(conn, query, size):
            yield [(rid, tally(t), layout, line) for rid, t, layout, line in part]
        return
    # Binary results: bytea as it is, not hex text to decode.
    cursor = conn.connection.driver_connection.cursor(binary=True)  # type: ignore[union-attr]
    try:
        for ids in planning.pages(conn, plan, size):
            cursor.execute(_BY_IDS, (ids,))
            found = {row[0]: row for row in cursor.fetchall()}
            page: list[Ready] = []
            for rid in ids:
                row = found.get(rid)
                if row is None:
                    page.append((rid, None, b"", b""))
                else:
                    page.append((rid, tally(row[1]), row[2], row[3]))
            yield page
    finally:
        cursor.close()


_BY_IDS = "SELECT data_row_id, tally, layout, line FROM export_cache WHERE data_row_id = ANY(%s)"


def live_only(tally: Entry, include: Include) -> bool:
    """Must this row be built by the live path (its labels are interpolated)?"""
    return include.interpolated_frames and (include.media_type_override or tally[1]) in VIDEO_LIKE


_NO_RUNS = b',"experiments":{}}\n'  # how :func:`encode` ends the line of a row in no run


class Composer:
    """The export lines and check values of entries, for one export's params."""

    def __init__(self, include: Include) -> None:
        self.include = include
        every_param = (
            include.data_row_details
            and include.attachments
            and include.metadata_fields
            and include.embeddings
            and include.label_details
            and include.performance_details
            and include.project_details
            and include.projects != ()
        )
        # every part kept; or every part but the model runs (a project's export)
        self.every_part = (
            every_param
            and include.predictions
            and include.model_run_details
            and include.model_runs != ()
        )
        self.all_but_runs = every_param and include.model_runs == ()
        self.projects = None if include.projects is None else frozenset(include.projects)
        self.runs = None if include.model_runs is None else frozenset(include.model_runs)

    def line(self, tally: Entry, layout: bytes, line: bytes) -> bytes:
        """The row's export line (with its newline), as the live path would write it: the
        stored line, or (when the params leave parts out) the line with those parts cut away."""
        if self.every_part and self._every_project_and_run(tally):
            return line
        if (
            self.all_but_runs
            and not tally[3]
            and line.endswith(_NO_RUNS)
            and self._every_project_and_run(tally)
        ):
            return line[: -len(_NO_RUNS)] + b"}\n"  # the end of the line, cut without a layout
        return compose(tally, marshal.loads(layout), line, self.include)

    def _every_project_and_run(self, tally: Entry) -> bool:
        projects, runs = self.projects, self.runs
        if projects is not None:
            for p in tally[2]:
                if p[0] not in projects:
                    return False
        if runs is not None:
            for r in tally[3]:
                if r[0] not in runs:
                    return False
        return True

    def count(self, tally: Entry, counts: Counts) -> None:
        """Add a row's check values (as the live path counts them from its line)."""
        counts.data_rows += 1
        add_kinds = counts.add_kinds
        add_kinds(tally[4])
        include = self.include
        wanted = self.projects
        if include.projects != ():
            for pid, status, labels, kinds in tally[2]:
                if wanted is not None and pid not in wanted:
                    continue
                counts.labels[pid] += labels
                counts.workflow_status[pid][status_label(status)] += 1
                add_kinds(kinds)
        runs_wanted = self.runs
        if include.model_runs != ():
            predictions = include.predictions
            for run_id, labels, predicted, kinds, predicted_kinds in tally[3]:
                if runs_wanted is not None and run_id not in runs_wanted:
                    continue
                counts.model_run_labels[run_id] += labels
                add_kinds(kinds)
                counts.predictions[run_id] += predicted if predictions else 0
                if predictions:
                    add_kinds(predicted_kinds)


def compose(tally: Entry, layout: Entry, line: bytes, include: Include) -> bytes:
    """``line`` with the parts ``include`` leaves out cut away."""
    cuts, project_places, models, run_places = layout
    projects = [(p[0], *place) for p, place in zip(tally[2], project_places, strict=True)]
    runs = [(r[0], *place) for r, place in zip(tally[3], run_places, strict=True)]
    details, attachments, metadata, embeddings, all_projects, experiments = cuts
    edits: list[tuple[Range, bytes]] = []  # ranges left out (b"") or written anew
    if not include.data_row_details:
        edits.append((details, b""))
    if not include.attachments:
        edits.append((attachments, b""))
    if not include.metadata_fields:
        edits.append((metadata, b""))
    if not include.embeddings:
        edits.append((embeddings, b""))
    wanted = include.projects
    if wanted == ():
        edits.append((all_projects, b""))
    elif projects:
        inner = _project_cuts(include)
        if wanted is None or all(p[0] in wanted for p in projects):
            for p in projects:
                edits += [(r, b"") for r in inner(p)]
        else:
            body = b",".join(_slice(line, p[1], p[2], inner(p)) for p in projects if p[0] in wanted)
            start, end = all_projects
            edits.append(((start + len(b',"projects":{'), end - 1), body))
    runs_wanted = include.model_runs
    if runs_wanted == ():
        edits.append((experiments, b""))
    elif runs:
        inner_run = _run_cuts(include)
        if runs_wanted is None or all(r[0] in runs_wanted for r in runs):
            for r in runs:
                edits += [(c, b"") for c in inner_run(r)]
        else:
            grouped: dict[int, list[bytes]] = {}  # models in the order of their first run kept
            for r in sorted((r for r in runs if r[0] in runs_wanted), key=lambda r: r[6]):
                grouped.setdefault(r[1], []).append(_slice(line, r[2], r[3], inner_run(r)))
            body = b",".join(
                line[models[m][0] : models[m][1]] + b",".join(parts) + b"}}"
                for m, parts in grouped.items()
            )
            start, end = experiments
            edits.append(((start + len(b',"experiments":{'), end - 1), body))
    if not edits:
        return line
    edits.sort()
    out: list[bytes] = []
    at = 0
    for (start, end), replacement in edits:
        out += (line[at:start], replacement)
        at = end
    out.append(line[at:])
    return b"".join(out)


def _project_cuts(include: Include) -> Callable[[Entry], list[Range]]:
    ld, pd, pdet = include.label_details, include.performance_details, include.project_details

    def cuts(p: Entry) -> list[Range]:
        out: list[Range] = []
        if not (ld and pd):
            for label_details, performance in p[3]:
                if not ld:
                    out.append(label_details)
                if not pd:
                    out.append(performance)
        if not pdet:
            out.append(p[4])
        return out

    return cuts


def _run_cuts(include: Include) -> Callable[[Entry], list[Range]]:
    predictions, details = include.predictions, include.model_run_details

    def cuts(r: Entry) -> list[Range]:
        out: list[Range] = []
        if not predictions:
            out.append(r[4])
        if not details:
            out.append(r[5])
        return out

    return cuts


def _slice(line: bytes, start: int, end: int, drop: list[Range]) -> bytes:
    """``line[start:end]`` without the ``drop`` ranges (which lie inside it)."""
    if not drop:
        return line[start:end]
    out: list[bytes] = []
    at = start
    for a, b in sorted(drop):
        out.append(line[at:a])
        at = b
    out.append(line[at:end])
    return b"".join(out)
