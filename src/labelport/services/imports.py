"""Imports: a file of one source format into the catalog, all or nothing per file.

Each function converts its source's records (:mod:`labelport.imports`) and hands them to the one
streaming loader; the summary is an :class:`~labelport.imports.load.ImportResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from labelport.errors import InvalidSpec, RecordError
from labelport.export import cache
from labelport.imports import base, load
from labelport.store import Store

Progress = Callable[[int], None]


def import_labelbox(
    store: Store,
    org_id: str,
    stream: IO[bytes],
    *,
    file: str,
    dataset: str | None = None,
    media_type: str | None = None,
    strict: bool = False,
    max_line_bytes: int | None = None,
    on_progress: Progress | None = None,
) -> load.ImportResult:
    """Import Labelbox export-v2 NDJSON rows (the canonical row format).

    Rows without ``data_row.details`` go to ``dataset``, else to a dataset named after the file
    (its stem; the result's ``dataset`` says so). ``strict`` makes every warning an error;
    ``max_line_bytes`` is the longest line read (default: 16 MiB).
    """
    items = _json_rows(base.iter_json_lines(stream, file, max_line_bytes=max_line_bytes))
    return load.import_items(
        store,
        org_id,
        items,
        file=file,
        default_dataset=dataset or _named_after(file),
        media_type=media_type,
        on_progress=on_progress,
        strict=strict,
        ready=cache,
    )


def _named_after(file: str) -> str | None:
    """The default dataset of a file: its name without the extension (none for stdin)."""
    stem = Path(file).stem.strip()
    return stem if stem and stem != "-" else None


def _json_rows(lines: Iterator[tuple[int, base.JSON] | RecordError]) -> Iterator[base.Item]:
    for item in lines:
        yield base.ParsedRow(item[0], item[1]) if isinstance(item, tuple) else item


def import_vertex(
    store: Store,
    org_id: str,
    stream: IO[bytes],
    *,
    file: str,
    dataset: str,
    annotation_set: str | None = None,
    objective: str | None = None,
    strict: bool = False,
    max_line_bytes: int | None = None,
    on_progress: Progress | None = None,
) -> load.ImportResult:
    """Import Vertex AI JSONL for one of its eleven objectives into ``dataset``."""
    from labelport.imports import vertex

    items = vertex.convert(
        stream, file=file, dataset=dataset, annotation_set=annotation_set, objective=objective
    )
    limit = base.max_line(max_line_bytes)
    with base.line_limit(limit):  # the converter's line reader runs inside import_items
        return load.import_items(
            store,
            org_id,
            items,
            file=file,
            default_dataset=dataset,
            on_progress=on_progress,
            strict=strict,
            ready=cache,
        )


def import_diffgram(
    store: Store,
    org_id: str,
    stream: IO[bytes],
    *,
    file: str,
    dataset: str | None = None,
    strict: bool = False,
    on_progress: Progress | None = None,
) -> load.ImportResult:
    """Import a Diffgram JSON export (image, video and text files) into a dataset and project.

    The project, labels and job get ids derived from Diffgram's ids and ``org_id``, so that
    every organization may import the same export; the project_string_id and job id become
    aliases of this organization (labelport.imports.aliases)."""
    from labelport.imports import diffgram

    items = diffgram.convert(stream, file=file, dataset=dataset, org_id=org_id)
    return load.import_items(
        store,
        org_id,
        items,
        file=file,
        default_dataset=dataset,
        on_progress=on_progress,
        strict=strict,
        ready=cache,
    )


def import_rows(
    store: Store,
    org_id: str,
    stream: IO[bytes],
    *,
    file: str,
    dataset: str,
    file_format: str | None = None,
    media_type: str | None = None,
    strict: bool = False,
    max_line_bytes: int | None = None,
    on_progress: Progress | None = None,
) -> load.ImportResult:
    """Import plain data-row lists (JSONL or CSV, UTF-8) into ``dataset``."""
    from labelport.imports import rows

    fmt = file_format or ("csv" if Path(file).suffix.lower() in (".csv", ".tsv") else "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise InvalidSpec(f"the file format must be csv or jsonl, not {fmt!r}", field="format")
    convert = rows.convert_csv if fmt == "csv" else rows.convert_jsonl
    return load.import_items(
        store,
        org_id,
        convert(stream, file=file, max_line_bytes=max_line_bytes),
        file=file,
        default_dataset=dataset,
        media_type=media_type,
        on_progress=on_progress,
        strict=strict,
        ready=cache,
    )
