"""One export split into keyset-range shards that read the same PostgreSQL snapshot.

The coordinator opens the export's read transaction, publishes its snapshot
(``pg_export_snapshot()``), counts the rows and picks ``shards - 1`` boundary keys
(``created_at``, ``id`` in byte order) that split them into contiguous ranges of the export order.
Each shard runs in a transaction of its own that imports that snapshot
(``SET TRANSACTION SNAPSHOT``) while the coordinator's transaction holds it, and exports its range
into a scratch stream. The finalizer writes the shards' lines, in order, through the ordinary
stream writer and adds up their check values, so the RESULT and ERRORS streams (files, offsets,
line index, hashes) and the manifest's counts are exactly those of :func:`run_export` over the same
snapshot. This first version runs the shards on threads of one process; SQLite, which cannot
share a snapshot, gets the single-process export.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labelport.export import engine
from labelport.export import plan as planning
from labelport.export.manifest import Counts
from labelport.export.sink import StreamInfo, StreamReader, StreamWriter
from labelport.export.spec import ExportSpec
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import utcnow

SCRATCH_BYTES = 1 << 62  # a shard's scratch stream is one file
STITCH_LINES = 2000  # lines copied per write while stitching
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")
d = s.data_row


@dataclasses.dataclass
class _Part:
    result: StreamInfo
    errors: StreamInfo
    counts: Counts
    directory: Path


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
            snapshot = str(conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one())
            plan = planning.resolve(conn, org_id, spec)
            total = planning.count(conn, plan)
            ranges = _ranges(_boundaries(conn, plan, total, shards))
            size, partial = page_size, out.partial
            with ThreadPoolExecutor(len(ranges), thread_name_prefix="labelport-shard") as pool:
                futures = [
                    pool.submit(_run_shard, store, snapshot, plan, span, partial / f"s{n}", size)
                    for n, span in enumerate(ranges)
                ]
                parts = [future.result() for future in futures]
        for part in parts:  # the finalizer: the shards' lines, in order, through one writer
            for lines in _chunks(part.directory, part.result):
                out.counts.count_kinds(out.result.write_lines(lines))
            for lines in _chunks(part.directory, part.errors):
                out.errors.write_lines(lines)
            _add(out.counts, part.counts)
            shutil.rmtree(part.directory)
        return out.complete(plan, task_id, snapshot_at, total)


Key = tuple[Any, str]


def _key_columns() -> tuple[Any, Any]:
    return d.c.created_at, d.c.id.collate("C")


def _boundaries(conn: sa.Connection, plan: planning.Plan, total: int, shards: int) -> list[Key]:
    """The last key of each shard but the last: ``shards`` ranges of (nearly) equal size."""
    keys: list[Key] = []
    query = planning.ordered(plan, conn.dialect.name).with_only_columns(d.c.created_at, d.c.id)
    for n in range(1, shards):
        at = n * total // shards
        if at == 0:
            continue
        row = conn.execute(query.offset(at - 1).limit(1)).one_or_none()
        if row is not None and (not keys or (row[0], row[1]) != keys[-1]):
            keys.append((row[0], row[1]))
    return keys


def _ranges(bounds: list[Key]) -> list[tuple[Key | None, Key | None]]:
    edges: list[Key | None] = [None, *bounds, None]
    return list(itertools.pairwise(edges))


def _run_shard(
    store: Store,
    snapshot: str,
    plan: planning.Plan,
    span: tuple[Key | None, Key | None],
    directory: Path,
    page_size: int,
) -> _Part:
    """Export the rows after ``low`` up to ``high`` (keys in export order) as of ``snapshot``."""
    low, high = span
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    columns = sa.tuple_(*_key_columns())
    ids = plan.ids
    if low is not None:
        ids = ids.where(columns > _key(low))
    if high is not None:
        ids = ids.where(columns <= _key(high))
    part_plan = dataclasses.replace(plan, ids=ids)
    directory.mkdir()
    result = StreamWriter(directory, "result", shard_bytes=SCRATCH_BYTES)
    errors = StreamWriter(directory, "errors", shard_bytes=SCRATCH_BYTES)
    counts = Counts()
    conn = store.engine.connect().execution_options(isolation_level="REPEATABLE READ")
    try:
        with conn.begin():
            conn.execute(sa.text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            engine._export_pages(conn, part_plan, result, errors, counts, page_size, None)
    except BaseException:
        result.abort()
        errors.abort()
        raise
    finally:
        conn.close()
    return _Part(result.close(), errors.close(), counts, directory)


def _key(key: Key) -> Any:
    return sa.tuple_(sa.literal(key[0], d.c.created_at.type), sa.literal(key[1], d.c.id.type))


def _chunks(directory: Path, info: StreamInfo) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in StreamReader(directory, info).iter_lines():
        batch.append(line)
        if len(batch) >= STITCH_LINES:
            yield batch
            batch = []
    if batch:
        yield batch


def _add(total: Counts, part: Counts) -> None:
    """Add a shard's check values (all but the annotation kinds, counted while stitching)."""
    total.data_rows += part.data_rows
    total.errors += part.errors
    total.labels.update(part.labels)
    total.model_run_labels.update(part.model_run_labels)
    total.predictions.update(part.predictions)
    for project, statuses in part.workflow_status.items():
        total.workflow_status[project].update(statuses)
