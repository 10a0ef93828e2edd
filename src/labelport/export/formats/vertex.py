"""The ``vertex`` output format: canonical rows → Vertex AI dataset-export JSON Lines.

Layout of one export (``reference/vertex-export.md`` §2), in
``<outputUriPrefix>/export-data-<dataset display name>-<YYYY-MM-DDThh:mm:ss.sssZ>/``:

* regular export: one subfolder per annotation set, ``<display name>_<set id>/``, holding
  ``<objective>-00000.jsonl`` (more shards, ``-00001``…, past :data:`SHARD_BYTES`) and
  ``schema.yaml``. A data item is a line of every set whose source holds it: a project (its
  first label) or a model run (its first prediction; the run's split, in any letter case,
  becomes ``aiplatform.googleapis.com/ml_use`` when the item has no ``ml_use`` under either
  spelling). A dataset without annotation sets exports its items without annotations in
  ``data_items/``. An item's own ``ml_use`` comes back under the key and with the value it had.
* custom training (``exportUse`` 6): ``training-00000.jsonl``, ``validation-00000.jsonl``,
  ``test-00000.jsonl`` (each always written, maybe empty) of one annotation set, the items
  assigned by the split (:mod:`.vertex_split`); the output lists the ``training-*``,
  ``validation-*``, ``test-*`` wildcards and ``dataStats``.

Conversion is pure (:func:`record_of`, :func:`annotation_count`, :func:`write_export` writes
through any object with ``open(relative) -> IO[bytes]``); :func:`publish` is the publisher that
puts the files at the destination (:mod:`labelport.export.destinations`), all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import orjson

from labelport.errors import ConfigurationError, InvalidSpec
from labelport.export import destinations
from labelport.export.formats import OPTION_CHECKS, Publication, register
from labelport.export.formats.vertex_config import AnnotationSetRef, VertexJob
from labelport.export.formats.vertex_records import vertex_record
from labelport.export.formats.vertex_schemas import schema_yaml
from labelport.export.formats.vertex_split import SPLITS, Split
from labelport.vertex_vocab import ANNOTATION_KEYS, ML_USE_KEYS, ML_USE_LABEL

SHARD_BYTES = 256 * 2**20
SCHEMA_FILE = "schema.yaml"
# action recognition's timeSegments are spans that are fully annotated, not annotations
_COUNTED = ANNOTATION_KEYS - {"timeSegments"}
_RUN_SPLITS = {"TRAINING": "training", "VALIDATION": "validation", "TEST": "test"}
_PROGRESS_EVERY = 1000


class Opener(Protocol):
    def open(self, relative: str) -> IO[bytes]: ...


# ------------------------------------------------------------------------------------ records


def source_entry(row: Mapping[str, Any], aset: AnnotationSetRef) -> Mapping[str, Any] | None:
    """The row's entry for the set's source (project or model run), None if not in it."""
    if aset.project_id is not None:
        entry: Mapping[str, Any] | None = (row.get("projects") or {}).get(aset.project_id)
        return entry
    if aset.model_run_id is not None:
        for model in (row.get("experiments") or {}).values():
            run: Mapping[str, Any] | None = model.get("runs", {}).get(aset.model_run_id)
            if run is not None:
                return run
        return None
    return {}  # the plain set holds every item


def record_of(row: Mapping[str, Any], aset: AnnotationSetRef) -> dict[str, Any] | None:
    """The Vertex record of a canonical row in annotation set ``aset``; None when the row is
    not in the set's source."""
    entry = source_entry(row, aset)
    if entry is None:
        return None
    found = entry.get("predictions" if aset.model_run_id else "labels") or []
    annotations = found[0].get("annotations") or {} if found else {}
    item_labels: dict[str, str] = {}
    split = _RUN_SPLITS.get(str(entry.get("split")).upper())
    if aset.model_run_id and split is not None and not _has_ml_use(row):
        item_labels[ML_USE_LABEL] = split
    try:
        return vertex_record(
            dict(row),
            aset.objective,
            aset.id,
            _vertexable(annotations, row, aset.objective),
            settings=aset.settings,
            item_labels=item_labels,
        )
    except (KeyError, TypeError, ValueError) as exc:
        data_row_id = row.get("data_row", {}).get("id")
        raise InvalidSpec(
            f"data row {data_row_id}: its annotations in annotation set {aset.id} "
            f"({aset.display_name}) cannot be written as {aset.objective}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _has_ml_use(row: Mapping[str, Any]) -> bool:
    fields = row.get("metadata_fields") or []
    return any(isinstance(f, dict) and f.get("schema_name") in ML_USE_KEYS for f in fields)


def annotation_count(record: Mapping[str, Any]) -> int:
    """Annotations in a record: list items, or 1 for a single annotation object (keys that are
    no annotation, such as unknown ones kept from an import, do not count)."""
    count = 0
    for key, value in record.items():
        if key in _COUNTED:
            count += len(value) if isinstance(value, list) else 1
    return count


def _vertexable(annotations: Mapping[str, Any], row: Mapping[str, Any], objective: str) -> Any:
    """Canonical annotations made by other tools, in the shape the Vertex writers read.

    Vertex imports name their classification ``class`` and keep boxes normalized; labels made
    elsewhere name the classification after the question and give boxes in pixels. Here the
    first top-level radio (single-label) or checklist/radio (multi-label) classification stands
    for ``class``, and a pixel box is normalized by the row's ``media_attributes`` size.
    """
    out = dict(annotations)
    classifications = list(out.get("classifications") or [])
    if "classification" in objective and not any(c.get("name") == "class" for c in classifications):
        out["classifications"] = _as_class(classifications, multi=objective.endswith("multi_label"))
    if objective == "image_bounding_box":
        size = row.get("media_attributes") or {}
        out["objects"] = [_normalized_box(o, size) for o in out.get("objects") or []]
    return out


def _as_class(classifications: list[Any], *, multi: bool) -> list[Any]:
    for item in classifications:
        if not isinstance(item, dict):
            continue
        if multi and "checklist_answers" in item:
            return [{**item, "name": "class"}]
        if "radio_answer" in item:
            if multi:
                return [{"name": "class", "checklist_answers": [item["radio_answer"]]}]
            return [{**item, "name": "class"}]
    return classifications


def _normalized_box(target: Any, size: Mapping[str, Any]) -> Any:
    if not isinstance(target, dict) or "normalized_bounding_box" in target:
        return target
    box = target.get("bounding_box")
    width, height = size.get("width"), size.get("height")
    if target.get("annotation_kind") != "ImageBoundingBox" or not isinstance(box, dict):
        return target
    if not (isinstance(width, int | float) and isinstance(height, int | float)):
        return target
    if width <= 0 or height <= 0:
        return target

    def unit(value: float, total: float) -> float:
        return min(1.0, max(0.0, value / total))

    left, top = float(box["left"]), float(box["top"])
    normalized = {
        "x_min": unit(left, width),
        "y_min": unit(top, height),
        "x_max": unit(left + float(box["width"]), width),
        "y_max": unit(top + float(box["height"]), height),
    }
    return {**target, "normalized_bounding_box": normalized}


# ------------------------------------------------------------------------------------ writing


class _ShardedFile:
    """Lines into ``<stem>-00000.jsonl``, ``-00001``… cut at ``shard_bytes`` on line ends."""

    def __init__(self, opener: Opener, stem: str, shard_bytes: int) -> None:
        self.opener = opener
        self.stem = stem
        self.shard_bytes = shard_bytes
        self.names: list[str] = []
        self.lines = 0
        self._out: IO[bytes] | None = None
        self._size = 0
        self._next()

    def _next(self) -> None:
        self.close()
        name = f"{self.stem}-{len(self.names):05d}.jsonl"
        self.names.append(name)
        self._out = self.opener.open(name)
        self._size = 0

    def write(self, line: bytes) -> None:
        if self._size and self._size + len(line) > self.shard_bytes:
            self._next()
        assert self._out is not None
        self._out.write(line)
        self._size += len(line)
        self.lines += 1

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


@dataclass(slots=True)
class Written:
    """What :func:`write_export` wrote: files (relative to the export folder) and counts."""

    files: list[str] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    annotations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    lines: int = 0

    def data_stats(self) -> dict[str, str]:
        """Model.DataStats, int64 values as strings."""
        stats: dict[str, str] = {}
        for split in SPLITS:
            stats[f"{split}DataItemsCount"] = str(self.items[split])
        for split in SPLITS:
            stats[f"{split}AnnotationsCount"] = str(self.annotations[split])
        return stats


def _line(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(record) + b"\n"


def write_export(
    rows: Iterable[Mapping[str, Any]],
    job: VertexJob,
    folder: Opener,
    *,
    shard_bytes: int = SHARD_BYTES,
    progress: Callable[[int], None] | None = None,
) -> Written:
    """Write the job's files for ``rows`` through ``folder``; one pass, one line at a time."""
    if job.custom_training:
        return _write_training(rows, job, folder, shard_bytes, progress)
    return _write_sets(rows, job, folder, shard_bytes, progress)


def _write_sets(
    rows: Iterable[Mapping[str, Any]],
    job: VertexJob,
    folder: Opener,
    shard_bytes: int,
    progress: Callable[[int], None] | None,
) -> Written:
    written = Written()
    outputs: list[tuple[AnnotationSetRef, _ShardedFile]] = []
    try:
        for aset in job.sets:
            with folder.open(f"{aset.folder}/{SCHEMA_FILE}") as out:
                out.write(schema_yaml(aset.objective).encode())
            outputs.append(
                (aset, _ShardedFile(folder, f"{aset.folder}/{aset.objective}", shard_bytes))
            )
        for done, row in enumerate(rows, start=1):
            for aset, output in outputs:
                record = record_of(row, aset)
                if record is not None:
                    output.write(_line(record))
                    written.lines += 1
            _tick(progress, done)
    finally:
        for _, output in outputs:
            output.close()
    written.files = [name for _, output in outputs for name in output.names]
    return written


def _write_training(
    rows: Iterable[Mapping[str, Any]],
    job: VertexJob,
    folder: Opener,
    shard_bytes: int,
    progress: Callable[[int], None] | None,
) -> Written:
    (aset,) = job.sets
    split: Split | None = job.split
    if split is None:
        raise InvalidSpec("a custom-training export needs a split")
    written = Written()
    outputs: dict[str, _ShardedFile] = {}
    try:
        for name in SPLITS:
            outputs[name] = _ShardedFile(folder, name, shard_bytes)
        for done, row in enumerate(rows, start=1):
            record = record_of(row, aset)
            if record is not None:
                data_row_id = str(row.get("data_row", {}).get("id", ""))
                chosen = split.assign(data_row_id, record.get("dataItemResourceLabels") or {})
                if chosen is not None:
                    outputs[chosen].write(_line(record))
                    written.items[chosen] += 1
                    written.annotations[chosen] += annotation_count(record)
                    written.lines += 1
            _tick(progress, done)
    finally:
        for output in outputs.values():
            output.close()
    written.files = [name for output in outputs.values() for name in output.names]
    return written


def _tick(progress: Callable[[int], None] | None, done: int) -> None:
    if progress is not None and done % _PROGRESS_EVERY == 0:
        progress(done)


def output_of(job: VertexJob, written: Written) -> dict[str, Any]:
    """The task output: what the ExportData operation's metadata and response carry."""
    directory = job.output_directory
    if job.custom_training:
        return {
            "gcsOutputDirectory": directory,
            "exportedFiles": [f"{directory}{split}-*" for split in SPLITS],
            "dataStats": written.data_stats(),
        }
    return {
        "gcsOutputDirectory": directory,
        "exportedFiles": [directory + name for name in written.files],
    }


# ---------------------------------------------------------------------------------- publisher


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Options of a ``vertex`` task: the ``exportConfig`` and the ``plan`` the Vertex surface
    made from it (``labelport.server.compat.vertex``), which is where such exports are started."""
    if isinstance(options.get("refusal"), dict):
        return options
    plan = options.get("plan")
    try:
        if not isinstance(plan, dict):
            raise TypeError("no plan")
        VertexJob.from_json(plan)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidSpec(
            "vertex exports are started with POST /vertex/v1/projects/P/locations/L/datasets/"
            f"D:export (the options need the plan it makes; {exc})"
        ) from None
    return options


OPTION_CHECKS["vertex"] = check_options


@register("vertex")
def publish(publication: Publication) -> dict[str, Any]:
    """Write the Vertex files of a finished dataset export to its destination, all at once."""
    check_options(publication.options)
    job = VertexJob.from_json(publication.options["plan"])
    destination = destinations.resolve(job.output_uri_prefix, publication.settings)
    total = publication.task.result_lines

    def progress(done: int) -> None:
        publication.progress(done, total)

    try:
        with destinations.publish_folder(destination, job.folder) as folder:
            written = write_export(publication.rows(), job, folder, progress=progress)
    except OSError as exc:
        raise ConfigurationError(
            f"writing the export to {job.output_directory} failed: {type(exc).__name__}: {exc}"
        ) from None
    return output_of(job, written)
