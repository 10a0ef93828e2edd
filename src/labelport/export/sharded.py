"""One export split into keyset-range shards that read the same PostgreSQL snapshot.

The coordinator opens the export's read transaction, publishes its snapshot
(``pg_export_snapshot()``), counts the rows and picks the boundary keys (``created_at``, ``id`` in
byte order) that cut them into contiguous ranges of the export order (:func:`boundaries`, one
scan). Each shard (:func:`export_range`) runs in a transaction of its own that imports that
snapshot (``SET TRANSACTION SNAPSHOT``) while the coordinator's transaction holds it, and exports
its range into a *part*: an export folder of its own (one file per stream, and a manifest with the
part's check values). :func:`stitch` then writes the parts' lines, in order, through the export's
ordinary stream writer and adds up their counts, so the RESULT and ERRORS streams (files, offsets,
line index, hashes) and the manifest are exactly those of
:func:`~labelport.export.engine.run_export` over the same snapshot.

:func:`run_sharded_export` runs the shards on threads of one process (the library entry point);
:mod:`labelport.services.sharding` runs them on Celery workers. SQLite, which cannot share a
snapshot, gets the single-process export.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labelport.export import engine
from labelport.export import plan as planning
from labelport.export.folders import Folder
from labelport.export.manifest import Counts, stream_info
from labelport.export.spec import ExportSpec
from labelport.export.stream_reader import StreamReader
from labelport.export.streams import StreamInfo
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import utcnow

SCRATCH_BYTES = 1 << 62  # a part's stream is one file
STITCH_LINES = 2000  # lines copied per write while stitching
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")
d = s.data_row

Key = tuple[datetime, str]  # (created_at, id): a position in export order
Span = tuple[Key | None, Key | None]  # rows after the first key, up to and including the second


def run_sharded_export(
    store: Store,
    org_id: str,
    spec: ExportSpec,
    directory: Path,
    *,
    shards: int = 2,
    task_id: str | None = None,
    page_size: int = engine.PAGE_SIZE,
    shard_bytes: int = engine.SHARD_BYTES,
) -> engine.Outcome:
    """Export ``spec`` into ``directory`` like :func:`~labelport.export.engine.run_export`,
    with ``shards`` parallel readers of one snapshot (PostgreSQL; SQLite runs it in one)."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    if store.is_sqlite or shards == 1:
        return engine.run_export(
            store, org_id, spec, directory, task_id=task_id, page_size=page_size,
            shard_bytes=shard_bytes,
        )  # fmt: skip
    with engine.writing(directory, shard_bytes=shard_bytes) as out:
        with store.read() as conn:  # the coordinator: holds the snapshot until the shards end
            snapshot_at = utcnow()
            snapshot = export_snapshot(conn)
            plan = planning.resolve(conn, org_id, spec)
            total = planning.count(conn, plan)
            spans = ranges(boundaries(conn, plan, total, shards))
            with ThreadPoolExecutor(len(spans), thread_name_prefix="labelport-shard") as pool:
                run = functools.partial(
                    export_range, store, snapshot, org_id, spec,
                    snapshot_at=snapshot_at, page_size=page_size,
                )  # fmt: skip
                futures = [
                    pool.submit(run, span, out.partial / f"s{n}") for n, span in enumerate(spans)
                ]
                parts = [future.result() for future in futures]
        for part in parts:
            stitch(out, part.manifest, part.directory)
            shutil.rmtree(part.directory)
        return out.complete(plan, task_id, snapshot_at, total)


def export_snapshot(conn: sa.Connection) -> str:
    """Publish the snapshot of ``conn``'s transaction for other transactions to import."""
    return str(conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one())


def boundaries(conn: sa.Connection, plan: planning.Plan, total: int, shards: int) -> list[Key]:
    """The last key of each shard but the last: ``shards`` ranges of (nearly) equal size,
    found in one scan of the export order (``row_number()`` over it)."""
    at = sorted({n * total // shards for n in range(1, shards)} - {0})
    if not at:
        return []
    key = d.c.id if conn.dialect.name == "sqlite" else d.c.id.collate("C")
    number = sa.func.row_number().over(order_by=(d.c.created_at, key)).label("n")
    numbered = plan.ids.with_only_columns(d.c.created_at, d.c.id, number).subquery()
    rows = conn.execute(
        sa.select(numbered.c.created_at, numbered.c.id)
        .where(numbered.c.n.in_(at))
        .order_by(numbered.c.n)
    ).all()
    return [(row[0], row[1]) for row in rows]


def ranges(bounds: list[Key]) -> list[Span]:
    edges: list[Key | None] = [None, *bounds, None]
    return list(itertools.pairwise(edges))


def key_to_json(key: Key | None) -> list[str] | None:
    """A key as JSON, to the microsecond (whatever precision the catalog holds)."""
    return None if key is None else [key[0].isoformat(), key[1]]


def key_from_json(value: Any) -> Key | None:
    if value is None:
        return None
    created, rid = value
    return datetime.fromisoformat(str(created)), str(rid)


def export_range(
    store: Store,
    snapshot: str,
    org_id: str,
    spec: ExportSpec,
    span: Span,
    directory: Path,
    *,
    snapshot_at: datetime,
    task_id: str | None = None,
    page_size: int = engine.PAGE_SIZE,
    progress: engine.Progress | None = None,
) -> engine.Outcome:
    """Export the rows of ``span`` (keys in export order) as of ``snapshot`` into the part
    folder ``directory``: one file per stream and a manifest with the part's check values.

    Like every export it is written as ``<directory>.partial`` and renamed when complete, so a
    part that exists is whole, and running a shard again simply replaces what a dead run left.
    """
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    low, high = span
    conn = store.engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        with engine.writing(directory, shard_bytes=SCRATCH_BYTES) as out, conn.begin():
            conn.execute(sa.text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            plan = planning.resolve(conn, org_id, spec)
            columns = sa.tuple_(d.c.created_at, d.c.id.collate("C"))
            ids = plan.ids
            if low is not None:
                ids = ids.where(columns > _key(low))
            if high is not None:
                ids = ids.where(columns <= _key(high))
            part = dataclasses.replace(plan, ids=ids)
            total = engine.export_pages(
                conn, part, out.result, out.errors, out.counts, page_size, progress,
                count_rows=False,
            )  # fmt: skip
            return out.complete(part, task_id, snapshot_at, total)
    finally:
        conn.close()


def stitch(out: engine.Output, manifest: dict[str, Any], folder: Path | Folder) -> None:
    """Append a finished part (its manifest and folder) to the export being written."""
    for name, writer in (("result", out.result), ("errors", out.errors)):
        for lines in _chunks(folder, stream_info(manifest, name)):
            writer.write_lines(lines)
    out.counts.add(Counts.from_json(manifest["counts"]))


def _key(key: Key) -> Any:
    return sa.tuple_(sa.literal(key[0], d.c.created_at.type), sa.literal(key[1], d.c.id.type))


def _chunks(folder: Path | Folder, info: StreamInfo) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in StreamReader(folder, info).iter_lines():
        batch.append(line)
        if len(batch) >= STITCH_LINES:
            yield batch
            batch = []
    if batch:
        yield batch
