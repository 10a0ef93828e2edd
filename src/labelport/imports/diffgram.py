"""Diffgram export JSON -> canonical rows. A pure, streaming converter.

A Diffgram export ("Annotations" kind, ``export_format_version`` 1.0) is one JSON object. Diffgram
writes the metadata keys first: ``readme``, ``label_map`` (``{label_file_id: name}``),
``label_colour_map``, ``export_info`` (``project {name, project_string_id}``, ``directory``,
``user_created_email``, ``created_time``, ...) and ``attribute_groups_reference`` (the project's
attribute groups with their ``attribute_template_list`` of options). Then comes one key per file id
whose value is that file's *packet*. :func:`convert` reads the object with ijson one top-level
key at a time, so only one packet is in memory at once. A packet that comes before ``label_map``,
``export_info`` and ``attribute_groups_reference`` cannot be converted without buffering and is
reported as an error. A broken ``export_info``, ``label_map`` or ``attribute_groups_reference`` is
reported once and reading stops, because no packet can be converted without it.

Items yielded: one :class:`~labelport.imports.base.ParsedRow` per convertible packet, one
:class:`~labelport.errors.RecordError` per packet that is not (reading goes on). A JSON document
has no useful line numbers, so ``line`` is the 1-based ordinal of the file packet (metadata keys
are not counted; metadata errors have line 0), and ``field`` starts with the file id key, e.g.
``1234.instance_list[3].x_max``. Broken JSON gives one error whose line is the ordinal of the
packet being read when the parser failed, with ijson's reason.

Limits (:mod:`labelport.imports.diffgram_checks`): a file packet (and a metadata value the import
uses) may not nest more than 128 arrays and objects, hold a NUL character in a string or key, an
integer beyond 64 bits or a number that is not finite; the packet is an error naming the field.
The raw file may not hold a NUL byte or nest more than 2,048 levels (an error naming the byte,
checked before the parser builds anything); a UTF-8 byte order mark is accepted.

Ids and aliases. With ``org_id`` (the import service always gives it), the ids of catalog
entities derived from Diffgram ids include the organization, so that every organization may
import the same export; ids inside annotations (feature and feature schema ids) do not. The
Diffgram ids become aliases of that organization (:class:`~labelport.imports.base.AliasSpec`,
line 0, before the first row): ``diffgram_project`` (``psid`` -> the project) and, for an export
of a job (``source`` job), ``diffgram_job`` (the job id -> its batch). File ids need none: the
global key is one.

Parts: this module reads the document one key at a time; the metadata is read by
:mod:`~labelport.imports.diffgram_metadata`, a file packet converted by
:mod:`~labelport.imports.diffgram_packets`, an instance by
:mod:`~labelport.imports.diffgram_instances` and its attributes by
:mod:`~labelport.imports.diffgram_attributes`; the checked reads of values they share are
:mod:`~labelport.imports.diffgram_values`.

Mapping (canonical row: ``docs/row-format.md``; ``psid`` is
``export_info.project.project_string_id``):

* ``media_type``: ``IMAGE``/``VIDEO``/``TEXT`` from ``file.type`` (or the packet's ``image``,
  ``video``, ``text`` key). ``geospatial``, ``sensor_fusion`` and ``compound`` packets are errors
  ("not supported yet"), and so is a ``null`` packet (Diffgram writes null for file types its
  exporter has no builder for, e.g. audio).
* ``data_row``: ``global_key`` ``diffgram:<psid>:<file id>``, ``external_id`` the original file
  name, ``row_data`` ``file.blob_url`` or the media's signed URL, ``details.dataset_name`` (the
  ``dataset`` argument, else the export directory's nickname, else the project name) and
  ``details.created_at`` (``file.created_time``; Diffgram writes naive UTC ``str(datetime)``).
  No ``data_row.id``: the loader resolves rows by global key.
* ``media_attributes``: image ``width``, ``height`` (+ ``mime_type`` guessed from the file name);
  video ``width``, ``height``, ``frame_rate``, ``frame_count``; text ``mime_type`` when guessable.
* ``projects``: one project ``derived_id("diffgram-project", org_id, psid)`` named after the
  Diffgram project, ``workflow_status`` ``DONE`` if ``file.ann_is_complete`` else ``TO_LABEL``,
  and - when the export is a job's (``source`` ``job``; ``export_info.job``) - ``batch_id``
  ``derived_id("diffgram-job", org_id, psid, job id)`` with ``batch_name`` the job's name; one
  label ``derived_id("diffgram-label", org_id, psid, file id)`` (``Video`` kind for videos) whose
  ``label_details`` carry the export's ``created_time`` and ``user_created_email`` (Diffgram does
  not export per-instance authors or times).
* Instances become objects: ``name``/``value`` from ``label_map[label_file_id]``, ``feature_id``
  ``derived_id("diffgram-instance", psid, instance id)``, ``feature_schema_id``
  ``derived_id("diffgram-label-file", psid, label_file_id)``. Geometry: ``box`` ->
  ``ImageBoundingBox`` (``x_min..y_max`` -> ``top/left/height/width``), ``polygon`` ->
  ``ImagePolygon``, ``line`` -> ``ImagePolyline``, ``point`` -> ``ImagePoint`` (``points[0]``),
  ``text_token`` -> ``TextEntity``. Every other instance type (``ellipse``, ``cuboid``,
  ``keypoints``, ``curve``, ``tag``, ``cuboid_3d``, ``geo_*``, ``audio``, ...) is an error, never
  dropped. The instance ``id``, ``type``, ``label_file_id`` and every non-null field without a
  canonical place (``number``, ``global_frame_number``, ``interpolated``, ``mask``, the bounds of a
  polygon, ``start_token``/``end_token``/``sentence`` ...) stay under the object's ``diffgram``
  extension.
* Text offsets: Diffgram's UI records only token indices (``start_token``..``end_token``,
  inclusive, into its NLTK word list) and never fills ``start_char``/``end_char``; those come
  from API/SDK pre-labels and Diffgram stores them uninterpreted. labelport reads them with the
  Python/spaCy convention their names follow, ``end_char`` exclusive, and writes the canonical
  inclusive ``end = end_char - 1``. A ``text_token`` without character offsets is an error: the
  document text is not in the export, so tokens cannot be turned into characters.
* Text ``relation`` instances (``from_instance_id`` -> ``to_instance_id``) become
  ``TextUnidirectionalRelationship`` relationships between the objects' feature ids. Diffgram
  exports relations without an ``id``; their feature id is derived from file, endpoints and label.
  The relation's ``type``, ``label_file_id`` (and ``id`` when given) stay under ``diffgram``, so
  that a re-export (:mod:`labelport.export.formats.diffgram`) gives back the same label file id.
* Attributes: an instance's ``attribute_groups`` (``{group id: value}``) are resolved through
  ``attribute_groups_reference``. ``radio``/``select`` -> ``radio_answer``, ``multiple_select`` ->
  ``checklist_answers``, ``text`` -> ``text_answer``; each classification keeps the group id, kind
  and raw value under ``diffgram``. Other kinds (``slider``, ``date``, ``time``, ``tree``) have no
  canonical answer: on objects they are kept raw under ``diffgram.attribute_groups``; on
  file-level attributes, which have no extension slot, they are an error.
* ``global`` instances (file-level "global attributes"; in videos the ``parent_instance_list``)
  become annotations-level ``classifications``.
* Video: each ``sequence_list`` entry is one object track, ``feature_id``
  ``derived_id("diffgram-sequence", psid, sequence id)``; each of its instances is placed at
  ``frames["<frame_number + 1>"].objects[feature_id]`` as ``VideoBoundingBox``/``VideoPolyline``/
  ``VideoPoint`` (the canonical video form has no polygon, so video polygons are an error).
  ``segments`` are the runs of consecutive frames; ``key_frame_feature_map`` marks the sequence's
  ``keyframe_list`` frames (or, without one, the instances not ``interpolated``) ``true`` and the
  other ends of segments ``false``. Keyframes without an instance are ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import ijson  # type: ignore[import-untyped]

from labelport.errors import RecordError
from labelport.imports import diffgram_checks as checks
from labelport.imports.base import JSON, AliasSpec, Item, ParsedRow, Problem
from labelport.imports.diffgram_metadata import Export, read_metadata
from labelport.imports.diffgram_packets import packet_row

METADATA_KEYS = frozenset(
    {"readme", "label_map", "label_colour_map", "export_info", "attribute_groups_reference"}
)
REQUIRED_METADATA = ("label_map", "export_info", "attribute_groups_reference")


def convert(
    stream: IO[bytes], *, file: str, dataset: str | None = None, org_id: str | None = None
) -> Iterator[Item]:
    """Convert a Diffgram export read from ``stream``; ``file`` names it in errors.

    ``dataset`` overrides the dataset name (default: the export directory's nickname, else the
    Diffgram project's name). ``org_id`` is the organization the rows are for: the ids of the
    project, labels and job derived from Diffgram's ids include it, and the Diffgram ids become
    its aliases (:class:`~labelport.imports.base.AliasSpec` items before the first row; an
    export without rows names nothing). The import service always passes it; without it, ids
    are derived from the Diffgram ids alone and no aliases are yielded.
    """
    meta: JSON = {}
    context: Export | None = None
    ordinal = 0  # file packets seen
    keys_seen = 0
    aliased = False
    guard = checks.GuardedStream(stream)
    walk_all = ijson.backend != "yajl2_c"  # other parsers let big and infinite numbers through
    pairs = ijson.kvitems(guard, "", use_float=True)
    while True:
        try:
            key, value = next(pairs)
        except StopIteration:
            break
        except ijson.JSONError as exc:
            field, reason = checks.explain_parse_error(_message(exc))
            yield RecordError(file, ordinal + 1, field, reason)
            return
        except checks.Refused as exc:
            yield RecordError(file, ordinal + 1, "", f"{exc.reason} (byte {exc.offset})")
            return
        except UnicodeDecodeError as exc:  # e.g. a \u escape of a lone low surrogate
            yield RecordError(
                file,
                ordinal + 1,
                "",
                f"a string is not valid Unicode ({exc.reason}; a lone surrogate escape?)",
            )
            return
        keys_seen += 1
        if key in METADATA_KEYS:
            meta[key] = value
            if context is None and all(k in meta for k in REQUIRED_METADATA):
                try:
                    for name in REQUIRED_METADATA:
                        if walk_all or guard.suspect:
                            checks.check_value(meta[name], name)
                    context = read_metadata(meta, dataset, org_id)
                except Problem as problem:
                    yield RecordError(file, 0, problem.field, problem.reason)
                    return
            continue
        ordinal += 1
        if context is None:
            missing = ", ".join(k for k in REQUIRED_METADATA if k not in meta)
            yield RecordError(
                file,
                ordinal,
                key.replace("\x00", "\\u0000"),
                f"file packet before the export metadata (missing so far: {missing}); Diffgram "
                "writes those keys first and labelport reads the export as a stream",
            )
            continue
        try:
            if "\x00" in key:
                raise Problem(key.replace("\x00", "\\u0000"), f"the file id {checks.NUL_REASON}")
            if walk_all or guard.suspect:
                checks.check_value(value, key)
            row = packet_row(context, key, value)
        except Problem as problem:
            yield RecordError(file, ordinal, problem.field, problem.reason)
            continue
        if not aliased and org_id is not None:  # once, with the first row
            aliased = True
            yield from _aliases(context)
        yield ParsedRow(ordinal, row)
    if keys_seen == 0:
        yield RecordError(
            file,
            0,
            "",
            "not a Diffgram export: expected a JSON object with label_map, "
            "export_info, attribute_groups_reference and one key per file",
        )
    elif context is None and ordinal == 0:
        missing = ", ".join(k for k in REQUIRED_METADATA if k not in meta)
        yield RecordError(file, 0, "", f"not a Diffgram export: missing {missing}")


def _aliases(ctx: Export) -> Iterator[AliasSpec]:
    """The Diffgram ids the Diffgram surface answers to (labelport.imports.aliases)."""
    yield AliasSpec(0, "diffgram_project", ctx.psid, ctx.project_id)
    if ctx.job_id is not None and ctx.batch_id is not None:
        yield AliasSpec(0, "diffgram_job", ctx.job_id, ctx.batch_id)


def _message(exc: Exception) -> str:
    message = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message)
