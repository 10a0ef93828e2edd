"""Canonical rows -> a Diffgram JSON export ("Annotations" kind, ``export_format_version`` 1.0).

This is the inverse of :mod:`labelport.imports.diffgram` (read its docstring for the field
mapping); ``imports.diffgram.convert`` of what :func:`write_export` writes from rows imported from
a Diffgram export gives back the rows of that first import, for every instance type the importer
supports (image ``box``/``polygon``/``line``/``point``/``global``, video sequences of ``box``/
``line``/``point``, text ``text_token`` and ``relation``). The document looks like Diffgram's
(``reference/diffgram-and-peers.md`` A2): the metadata keys ``readme``, ``label_map``,
``label_colour_map``, ``export_info`` and ``attribute_groups_reference`` first, then one packet per
file, keyed by the file id, for image, video and text files.

Streaming: packets are built one row at a time and spooled to a temporary file next to the output;
when the rows are done, the metadata (which needs every label, attribute group and failure) is
written to ``out`` and the spooled packets are copied after it. Memory holds one packet plus the
vocabulary (labels, attribute groups, options), never the document.

Better than Diffgram, where it loses data:

* A file whose packet cannot be built (a media type Diffgram cannot hold here, an annotation kind
  it has no instance type for, image relationships, frame-level video classifications, ...) is
  not written and is listed in ``export_info.failed_files`` as ``{"data_row_id", "global_key",
  "file_id", "field", "reason"}`` - never silently dropped while the export says it is complete.
* ``export_info.check_values`` carries counts: files listed / exported / failed, instances by
  type and by label file id, canonical labels, and the bytes, lines and sha256 of the canonical
  RESULT stream the file was made from (from the export's manifest).
* The text/video/image packet never carries a signed URL that expires: ``blob_url`` and the
  media's ``*_signed_url`` are the data row's ``row_data`` and ``*_signed_expiry`` is null.

Ids. Diffgram ids are integers. A row imported from Diffgram (global key
``diffgram:<psid>:<file id>``, with ``derived_id("diffgram-project", org_id, psid)`` - or, for
imports before catalog version 9, ``derived_id("diffgram-project", psid)`` - equal to the
exported project's id) keeps its file id, and ``export_info.project.project_string_id`` is that
``psid``. Instances, sequences, label file ids, attribute groups and options keep the ids the
importer left under the ``diffgram`` extension. Everything else gets a stable integer derived
from its labelport id (sha256, in ``[2**52, 2**53)``: above any serial id Diffgram hands out,
still exact in JavaScript): the same rows always give the same file. Diffgram-origin objects that
came without an instance id (old exporters) are written without one again.

Mapping of the canonical row (``docs/row-format.md``):

* File type: ``media_type`` when the row has it, else the mime type, the label kind / annotation
  shape, the file extension, and the media attributes. ``IMAGE``, ``VIDEO`` and ``TEXT`` are
  exported; other media types are failed files.
* ``file``: ``id``, ``original_filename`` (``external_id``), ``blob_url`` (``row_data``),
  ``created_time`` (``details.created_at`` as Diffgram's naive-UTC ``str(datetime)``),
  ``ann_is_complete`` (workflow status ``DONE`` in the project; null without project details) and
  ``type``. Media blocks from ``media_attributes`` (``width``, ``height``, ``frame_rate``,
  ``frame_count``); facts labelport does not keep (rotation, tokens, fps conversion) are null.
* Every label of the exported project on the row is merged into the file's instances (Diffgram
  keeps one current set of instances per file).
* Objects: ``bounding_box`` -> ``box`` (``x_min = left``, ``x_max = left + width``, ...),
  ``polygon``/``line`` -> ``polygon``/``line`` ``points``, ``point`` -> ``point`` with one point,
  ``TextEntity`` -> ``text_token`` (``start_char = start``, ``end_char = end + 1``: Diffgram's
  offsets are end-exclusive). Fields the importer kept under ``diffgram`` are written back as
  they are; raw ``points`` kept there (extra keys such as ``figure_id``) are used when their
  coordinates still equal the canonical geometry.
* Classifications of an object become its ``attribute_groups``; annotation-level ones become
  ``global`` instances (video: ``parent_instance_list``), one per Diffgram instance they came from.
  ``radio_answer`` -> a ``radio`` group (or the group's own kind), ``checklist_answers`` ->
  ``multiple_select``, ``text_answer`` -> ``text``. Values kept raw (``diffgram.value``, slider
  and date values under ``diffgram.attribute_groups``) are written back; otherwise an option is
  written the way Diffgram's UI stores it, ``{"display_name", "id", "name": id}``. Nested
  classifications (Diffgram has none) become further groups of the same instance. A group only
  known from a raw value gets the kind ``slider`` (numbers), ``date``/``time`` (strings shaped
  so) or ``tree``, so that Diffgram readers leave it raw as the original did.
* Video: each ``feature_id`` of ``frames`` is one sequence; its ``keyframe_list`` is the frames
  marked ``true`` in ``key_frame_feature_map`` (all its frames when the feature has no entry);
  each frame becomes an instance with ``frame_number = frame - 1``.
* Text relationships -> ``relation`` instances between the instance ids of their ends
  (``TextUnidirectionalRelationship`` only; Diffgram relations have a direction).
* ``label_map``/``label_colour_map``: every label file id used; the colour is derived from the id
  (labelport does not keep Diffgram's colours). ``attribute_groups_reference``: every group used,
  with its options and the labels it was used with.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from labelport.errors import InvalidSpec
from labelport.export.formats import OPTION_CHECKS, Publication, register
from labelport.export.formats.diffgram_ids import (
    DERIVED_BASE,
    diffgram_origin,
    file_id_of,
    stable_int,
)
from labelport.export.formats.diffgram_packets import build_packet, media_kind, project_entry
from labelport.export.formats.diffgram_values import JSON, Unbuildable, diffgram_time
from labelport.export.formats.diffgram_vocabulary import Vocabulary, colour_of
from labelport.export.manifest import read_manifest
from labelport.times import format_timestamp

FORMAT_VERSION = "1.0"
FILE_NAME = "diffgram.json"
MAX_FAILED_LISTED = 1000  # in the task output; the file itself lists every failed file
KINDS = ("Annotations", "TF Records")
SOURCES = ("job", "directory", "task", "project")

README = {
    "docs_high_level": "https://diffgram.com/docs/export-walkthrough",
    "docs_low_level": "https://diffgram.com/docs/understanding-diffgrams-json-file-format",
    "support": "this file was written by a labelport server, not by Diffgram",
    "share_request": None,
    "labelport": (
        "Written by labelport from a canonical export. export_info.failed_files lists every file "
        "that could not be written and why; export_info.check_values holds counts and the sha256 "
        "of the canonical rows this file was made from."
    ),
}


# ---------------------------------------------------------------------------------- the request


@dataclass(frozen=True, slots=True)
class Header:
    """What ``export_info`` says about the request (the rows say the rest)."""

    id: str | int | None = None
    created_time: str | None = None  # Diffgram's form, see :func:`diffgram_time`
    user_created_email: str | None = None
    kind: str = "Annotations"
    masks: bool = False
    source: str = "project"
    file_comparison_mode: str = "latest"
    project_name: str | None = None
    project_string_id: str | None = None  # used when no row names its Diffgram project
    directory: JSON | None = None  # None: the rows' dataset when they share one
    job: JSON | None = None
    task: JSON | None = None
    ann_is_complete: bool | None = None
    canonical: JSON | None = None  # {task_id, bytes, lines, sha256} of the RESULT stream


@dataclass(slots=True)
class Summary:
    """What was written: counts, failures and the file's size and sha256."""

    project_string_id: str | None = None
    file_list_length: int = 0
    files_exported: int = 0
    failed_file_count: int = 0
    failed_files: list[JSON] = field(default_factory=list)  # the first MAX_FAILED_LISTED
    labels: int = 0  # canonical labels merged into packets
    instances: Counter[str] = field(default_factory=Counter)  # by Diffgram instance type
    instances_by_label: Counter[str] = field(default_factory=Counter)  # by label file id
    bytes: int = 0
    sha256: str = ""


# ---------------------------------------------------------------------------------- writing


class _Hashing:
    """A binary writer that counts and hashes what goes through it."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.sha.update(data)
        self.bytes += len(data)


def write_export(
    rows: Iterable[JSON],
    out: IO[bytes],
    *,
    header: Header,
    project_id: str | None,
    spool_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    org_id: str | None = None,
) -> Summary:
    """Write the Diffgram export of ``rows`` (canonical rows of ``project_id``, a project of
    organization ``org_id``) to ``out``."""
    vocab = Vocabulary()
    summary = Summary()
    psid: str | None = None
    project_name = header.project_name
    dataset: JSON | None = None
    mixed_datasets = False
    with (
        tempfile.TemporaryFile(dir=spool_dir, prefix="diffgram-body-") as body,
        tempfile.TemporaryFile(dir=spool_dir, prefix="diffgram-failed-") as failed,
    ):
        for done, row in enumerate(rows, start=1):
            summary.file_list_length += 1
            origin = diffgram_origin(row, project_id, org_id)
            if origin is not None and psid is None:
                psid = origin[0]
            data_row = _dict(row.get("data_row"))
            if project_name is None:
                _, entry = _safe_entry(row, project_id)
                if entry is not None and isinstance(entry.get("name"), str):
                    project_name = entry["name"]
            details = _dict(data_row.get("details"))
            here = {"id": details.get("dataset_id"), "nickname": details.get("dataset_name")}
            if here["nickname"] is not None or here["id"] is not None:
                if dataset is None:
                    dataset = here
                elif dataset != here:
                    mixed_datasets = True
            try:
                key, packet, counts, labels = build_packet(row, vocab, project_id, org_id)
            except Unbuildable as problem:
                entry_json = {
                    "data_row_id": data_row.get("id"),
                    "global_key": data_row.get("global_key"),
                    "file_id": _safe_file_id(row, project_id, org_id),
                    "field": problem.field,
                    "reason": problem.reason,
                }
                failed.write(
                    (b"," if summary.failed_file_count else b"") + orjson.dumps(entry_json)
                )
                if summary.failed_file_count < MAX_FAILED_LISTED:
                    summary.failed_files.append(entry_json)
                summary.failed_file_count += 1
            else:
                body.write(b"," + orjson.dumps(key) + b":" + orjson.dumps(packet))
                summary.files_exported += 1
                summary.labels += labels
                summary.instances.update(counts.instances)
                summary.instances_by_label.update(counts.by_label)
            if progress is not None:
                progress(done)
        summary.project_string_id = psid or header.project_string_id or project_id
        directory = header.directory
        if directory is None and dataset is not None and not mixed_datasets:
            directory = dataset
        writer = _Hashing(out)
        _write_head(writer, header, summary, vocab, project_name, directory)
        failed.seek(0)
        _copy(failed, writer)
        writer.write(b"]}")
        groups = [group.to_json() for group in vocab.groups.values()]
        writer.write(b',"attribute_groups_reference":' + orjson.dumps(groups))
        body.seek(0)
        _copy(body, writer)
        writer.write(b"}")
    summary.bytes = writer.bytes
    summary.sha256 = writer.sha.hexdigest()
    return summary


def _safe_entry(row: JSON, project_id: str | None) -> tuple[str, JSON | None]:
    try:
        path, entry = project_entry(row, project_id)
    except Unbuildable:
        return "projects", None
    return path, entry if isinstance(entry, dict) else None


def _safe_file_id(row: JSON, project_id: str | None, org_id: str | None) -> int | None:
    try:
        return file_id_of(row, project_id, org_id)
    except (AttributeError, TypeError, ValueError):
        return None


def _write_head(
    writer: _Hashing,
    header: Header,
    summary: Summary,
    vocab: Vocabulary,
    project_name: str | None,
    directory: JSON | None,
) -> None:
    label_map = {key: name for key, (_, name) in vocab.labels.items()}
    colours = {key: colour_of(label_id) for key, (label_id, _) in vocab.labels.items()}
    info: JSON = {
        "id": header.id,
        "export_format_version": FORMAT_VERSION,
        "user_created_email": header.user_created_email,
        "created_time": header.created_time,
        "kind": header.kind,
        "masks": header.masks,
        "source": header.source,
        "file_comparison_mode": header.file_comparison_mode,
        "project": {
            "name": project_name or summary.project_string_id,
            "project_string_id": summary.project_string_id,
        },
        "directory": directory,
        "job": header.job,
        "task": header.task,
        "file_list_length": summary.file_list_length,
        "ann_is_complete": header.ann_is_complete,
        "check_values": {
            "files": summary.file_list_length,
            "files_exported": summary.files_exported,
            "files_failed": summary.failed_file_count,
            "labels": summary.labels,
            "instances": dict(sorted(summary.instances.items())),
            "instances_by_label": dict(summary.instances_by_label),
            "canonical": header.canonical,
        },
    }
    writer.write(b'{"readme":' + orjson.dumps(README))
    writer.write(b',"label_map":' + orjson.dumps(label_map))
    writer.write(b',"label_colour_map":' + orjson.dumps(colours))
    head = orjson.dumps(info)
    writer.write(b',"export_info":' + head[:-1] + b',"failed_files":[')


def _copy(source: IO[bytes], writer: _Hashing, chunk: int = 1 << 18) -> None:
    while True:
        data = source.read(chunk)
        if not data:
            return
        writer.write(data)


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# ---------------------------------------------------------------------------------- publisher

OPTION_KEYS = (
    "kind",
    "source",
    "masks",
    "file_comparison_mode",
    "ann_is_complete",
    "project_string_id",
    "project_name",
    "directory",
    "job",
    "task",
)


def header_from_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the Diffgram format options of an export request (errors name the option)."""
    if not isinstance(options, Mapping):
        raise InvalidSpec(f"options must be an object, got {_type(options)}")
    out: dict[str, Any] = {}
    for name, value in options.items():
        if name not in OPTION_KEYS:
            raise InvalidSpec(
                f"options.{name}: unknown Diffgram export option (known: {', '.join(OPTION_KEYS)})"
            )
        if value is None:
            continue
        if name == "kind":
            if value not in KINDS:
                raise InvalidSpec(f"options.kind: {value!r} is not one of {', '.join(KINDS)}")
            if value != "Annotations":
                raise InvalidSpec(
                    "options.kind: TF Records exports are not supported; use kind Annotations"
                )
        elif name == "source" and value not in SOURCES:
            raise InvalidSpec(f"options.source: {value!r} is not one of {', '.join(SOURCES)}")
        elif name in ("masks", "ann_is_complete") and not isinstance(value, bool):
            raise InvalidSpec(f"options.{name}: expected true, false or null, got {value!r}")
        elif name in ("file_comparison_mode", "project_string_id", "project_name") and not (
            isinstance(value, str) and value
        ):
            raise InvalidSpec(f"options.{name}: expected a non-empty string, got {value!r}")
        elif name in ("directory", "job", "task") and not isinstance(value, dict):
            raise InvalidSpec(f"options.{name}: expected an object, got {_type(value)}")
        out[name] = value
    return out


OPTION_CHECKS["diffgram"] = header_from_options


@register("diffgram")
def publish(publication: Publication) -> dict[str, Any]:
    """Write ``diffgram.json`` into the task's folder and return what it holds."""
    options = header_from_options(publication.options or {})
    task = publication.task
    manifest = read_manifest(publication.directory)
    result = manifest.get("streams", {}).get("result")
    canonical = {
        "task_id": task.id,
        "bytes": result.get("bytes", 0) if result else 0,
        "lines": result.get("lines", 0) if result else 0,
        "sha256": result.get("sha256") if result else None,
    }
    scope = task.scope or {}
    project_id = scope.get("id") if scope.get("kind") == "project" else None
    scope_name = (manifest.get("scope") or {}).get("name")
    header = Header(
        id=task.id,
        created_time=diffgram_time(_iso(task.created_at)),
        user_created_email=task.created_by,
        kind=options.get("kind", "Annotations"),
        masks=options.get("masks", False),
        source=options.get("source", "project"),
        file_comparison_mode=options.get("file_comparison_mode", "latest"),
        project_name=options.get("project_name", scope_name),
        project_string_id=options.get("project_string_id", project_id),
        directory=options.get("directory"),
        job=options.get("job"),
        task=options.get("task"),
        ann_is_complete=options.get("ann_is_complete"),
        canonical=canonical,
    )
    total = int((manifest.get("counts") or {}).get("data_rows") or 0)
    rows: Iterable[JSON] = publication.rows() if result else iter(())
    target = publication.directory / FILE_NAME
    partial = publication.directory / (FILE_NAME + ".partial")
    try:
        with open(partial, "wb") as out:
            summary = write_export(
                rows,
                out,
                header=header,
                project_id=project_id,
                org_id=task.org_id,
                spool_dir=publication.directory,
                progress=lambda done: _report(publication, done, total),
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return {
        "file": FILE_NAME,
        "bytes": summary.bytes,
        "sha256": summary.sha256,
        "file_list_length": summary.file_list_length,
        "files_exported": summary.files_exported,
        "failed_file_count": summary.failed_file_count,
        "failed_files": summary.failed_files,
        "project_string_id": summary.project_string_id,
        "labels": summary.labels,
        "instances": dict(sorted(summary.instances.items())),
    }


PROGRESS_EVERY = 500  # rows between progress reports (each one is a database write)


def _report(publication: Publication, done: int, total: int) -> None:
    if done % PROGRESS_EVERY == 0:
        publication.progress(done, total)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return format_timestamp(value)


__all__ = [
    "DERIVED_BASE",
    "FILE_NAME",
    "Header",
    "Summary",
    "Unbuildable",
    "build_packet",
    "colour_of",
    "diffgram_origin",
    "diffgram_time",
    "file_id_of",
    "header_from_options",
    "media_kind",
    "publish",
    "stable_int",
    "write_export",
]
