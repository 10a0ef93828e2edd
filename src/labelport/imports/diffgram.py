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

import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from labelport import ids
from labelport.errors import RecordError
from labelport.imports import diffgram_checks as checks
from labelport.imports.base import JSON, AliasSpec, Item, ParsedRow, Problem
from labelport.times import format_timestamp, parse_timestamp

METADATA_KEYS = frozenset(
    {"readme", "label_map", "label_colour_map", "export_info", "attribute_groups_reference"}
)
REQUIRED_METADATA = ("label_map", "export_info", "attribute_groups_reference")
SUPPORTED_FILE_TYPES = ("image", "video", "text")
UNSUPPORTED_FILE_TYPES = ("geospatial", "sensor_fusion", "compound")

IMAGE_KINDS = {
    "box": "ImageBoundingBox",
    "polygon": "ImagePolygon",
    "line": "ImagePolyline",
    "point": "ImagePoint",
}
VIDEO_KINDS = {"box": "VideoBoundingBox", "line": "VideoPolyline", "point": "VideoPoint"}
SINGLE_ANSWER_KINDS = (None, "radio", "select")  # no kind: Diffgram's UI treats it as select

_BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


@dataclass(frozen=True, slots=True)
class _Group:
    """One attribute group of ``attribute_groups_reference``."""

    id: Any  # as Diffgram wrote it (an integer)
    kind: str | None
    name: str  # shown to people: the prompt, else the internal name
    value: str  # the internal name, else the prompt
    options: dict[str, str]  # option (attribute template) id -> name


@dataclass(frozen=True, slots=True)
class _Export:
    """What every packet needs from the export's metadata."""

    psid: str
    project_id: str
    project_name: str
    dataset_name: str
    created_at: str | None
    created_by: str | None
    labels: dict[str, str]  # label_file_id -> label name
    groups: dict[str, _Group]
    scope: tuple[str, ...] = ()  # (org_id,): what ids of catalog entities are derived within
    job_id: str | None = None  # export_info.job.id: every file of the export is in that job
    job_name: str | None = None
    batch_id: str | None = None  # the job's batch


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
    context: _Export | None = None
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
                    context = _context(meta, dataset, org_id)
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
            row = _packet(context, key, value)
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


def _aliases(ctx: _Export) -> Iterator[AliasSpec]:
    """The Diffgram ids the Diffgram surface answers to (labelport.imports.aliases)."""
    yield AliasSpec(0, "diffgram_project", ctx.psid, ctx.project_id)
    if ctx.job_id is not None and ctx.batch_id is not None:
        yield AliasSpec(0, "diffgram_job", ctx.job_id, ctx.batch_id)


def _message(exc: Exception) -> str:
    message = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message)


# ---------------------------------------------------------------------------------------------
# metadata


def _context(meta: JSON, dataset: str | None, org_id: str | None) -> _Export:
    info = _obj(meta["export_info"], "export_info")
    project = info.get("project")
    if not isinstance(project, dict):
        raise Problem("export_info.project", f"expected an object, got {_type(project)}")
    psid = project.get("project_string_id")
    if not isinstance(psid, str) or not psid:
        raise Problem("export_info.project.project_string_id", "is required")
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise Problem("export_info.project.name", "is required")
    directory = info.get("directory")
    nickname = directory.get("nickname") if isinstance(directory, dict) else None
    email = info.get("user_created_email")
    if email is not None and not (isinstance(email, str) and "@" in email):
        raise Problem("export_info.user_created_email", f"not an email address: {email!r}")

    labels: dict[str, str] = {}
    for label_id, label_name in _obj(meta["label_map"], "label_map").items():
        if not isinstance(label_name, str):
            raise Problem(
                f"label_map.{label_id}", f"expected a label name, got {_type(label_name)}"
            )
        labels[str(label_id)] = label_name

    groups: dict[str, _Group] = {}
    reference = meta["attribute_groups_reference"]
    if not isinstance(reference, list):
        raise Problem("attribute_groups_reference", f"expected a list, got {_type(reference)}")
    for i, raw in enumerate(reference):
        path = f"attribute_groups_reference[{i}]"
        group = _obj(raw, path)
        if group.get("id") is None:
            raise Problem(f"{path}.id", "is required")
        prompt, internal = group.get("prompt"), group.get("name")
        shown = prompt if isinstance(prompt, str) and prompt else internal
        tag = internal if isinstance(internal, str) and internal else prompt
        if not isinstance(shown, str) or not isinstance(tag, str):
            raise Problem(f"{path}.prompt", "an attribute group needs a prompt or a name")
        options: dict[str, str] = {}
        for j, option in enumerate(group.get("attribute_template_list") or []):
            opath = f"{path}.attribute_template_list[{j}]"
            option = _obj(option, opath)
            if option.get("id") is None or not isinstance(option.get("name"), str):
                raise Problem(opath, "an attribute option needs an id and a name")
            options[str(option["id"])] = option["name"]
        kind = group.get("kind")
        groups[str(group["id"])] = _Group(
            group["id"], kind if isinstance(kind, str) else None, shown, tag, options
        )

    scope = (org_id,) if org_id is not None else ()
    # Only a job's export holds the job's files: Diffgram also writes the job the request named
    # into a directory or task export (the SDK's job.generate_export(source="directory") does).
    job_id, job_name = _job(info.get("job")) if info.get("source") == "job" else (None, None)
    return _Export(
        psid=psid,
        scope=scope,
        project_id=ids.derived_id("diffgram-project", *scope, psid),
        project_name=name,
        dataset_name=dataset or (nickname if isinstance(nickname, str) and nickname else name),
        created_at=_timestamp(info.get("created_time"), "export_info.created_time"),
        created_by=email,
        labels=labels,
        groups=groups,
        job_id=job_id,
        job_name=job_name,
        batch_id=None if job_id is None else ids.derived_id("diffgram-job", *scope, psid, job_id),
    )


def _job(job: Any) -> tuple[str | None, str | None]:
    """The id (as text) and name of the export's job (``source`` job), if it has one."""
    if job is None:
        return None, None
    job = _obj(job, "export_info.job")
    job_id, name = job.get("id"), job.get("name")
    if isinstance(job_id, bool) or not isinstance(job_id, int | str) or job_id == "":
        raise Problem("export_info.job.id", f"expected the job's id, got {job_id!r}")
    if name is not None and not isinstance(name, str):
        raise Problem("export_info.job.name", f"expected the job's name, got {_type(name)}")
    return str(job_id), name or None


# ---------------------------------------------------------------------------------------------
# packets


def _packet(ctx: _Export, key: str, packet: Any) -> JSON:
    if packet is None:
        raise Problem(
            key,
            "the packet is null (Diffgram writes null for file types its exporter cannot build)",
        )
    packet = _obj(packet, key)
    info = _obj(packet.get("file"), f"{key}.file")
    ftype = info.get("type") or _guess_type(packet)
    if ftype in UNSUPPORTED_FILE_TYPES:
        raise Problem(f"{key}.file.type", f"not supported yet: {ftype}")
    if ftype not in SUPPORTED_FILE_TYPES:
        raise Problem(f"{key}.file.type", f"unknown Diffgram file type {ftype!r}")
    if info.get("id") is not None and str(info["id"]) != key:
        raise Problem(f"{key}.file.id", f"{info['id']} does not match the packet's key {key}")
    media = _obj(packet.get(ftype), f"{key}.{ftype}")

    url_key = {"image": "image_signed_url", "video": "mp4_video_signed_url", "text": "signed_url"}
    row_data = info.get("blob_url") or media.get(url_key[ftype])
    if not isinstance(row_data, str) or not row_data:
        raise Problem(f"{key}.file.blob_url", f"no media URL (nor {ftype}.{url_key[ftype]})")
    filename = info.get("original_filename") or media.get("original_filename")
    details: JSON = {"dataset_name": ctx.dataset_name}
    created_at = _timestamp(info.get("created_time"), f"{key}.file.created_time")
    if created_at is not None:
        details["created_at"] = created_at
    data_row: JSON = {"global_key": f"diffgram:{ctx.psid}:{key}"}
    if isinstance(filename, str) and filename:
        data_row["external_id"] = filename
    data_row["row_data"] = row_data
    data_row["details"] = details

    attributes: JSON = {}
    if ftype in ("image", "video"):
        for name in ("width", "height") + (
            ("frame_rate", "frame_count") if ftype == "video" else ()
        ):
            if media.get(name) is not None:
                attributes[name] = _number(media[name], f"{key}.{ftype}.{name}")
    if ftype in ("image", "text") and isinstance(filename, str):
        mime = mimetypes.guess_type(filename)[0]
        if mime is not None:
            attributes["mime_type"] = mime

    annotations = _video(ctx, key, packet) if ftype == "video" else _still(ctx, key, packet, ftype)
    label: JSON = {
        "id": ids.derived_id("diffgram-label", *ctx.scope, ctx.psid, key),
        "label_kind": "Video" if ftype == "video" else "Default",
        "version": "1.0.0",
        "label_details": {
            "created_at": ctx.created_at,
            "updated_at": ctx.created_at,
            "created_by": ctx.created_by,
            "content_last_updated_at": None,
            "reviews": [],
        },
        "annotations": annotations,
    }
    row: JSON = {"data_row": data_row, "media_type": ftype.upper()}
    if attributes:
        row["media_attributes"] = attributes
    project_details: JSON = {
        "workflow_status": "DONE" if info.get("ann_is_complete") is True else "TO_LABEL"
    }
    if ctx.batch_id is not None:
        project_details["batch_id"] = ctx.batch_id
        if ctx.job_name is not None:
            project_details["batch_name"] = ctx.job_name
    row["projects"] = {
        ctx.project_id: {
            "name": ctx.project_name,
            "labels": [label],
            "project_details": project_details,
        }
    }
    return row


def _guess_type(packet: JSON) -> str | None:
    for key, ftype in (
        ("image", "image"),
        ("video", "video"),
        ("text", "text"),
        ("geo_assets", "geospatial"),
        ("point_cloud", "sensor_fusion"),
    ):
        if key in packet:
            return ftype
    if any(k.isdigit() for k in packet):
        return "compound"
    return None


def _still(ctx: _Export, key: str, packet: JSON, ftype: str) -> JSON:
    """Annotations of an image or text packet."""
    objects: list[JSON] = []
    classifications: list[JSON] = []
    relations: list[tuple[str, JSON]] = []
    by_instance_id: dict[str, str] = {}  # Diffgram instance id -> object feature_id
    for i, raw in enumerate(_list(packet.get("instance_list") or [], f"{key}.instance_list")):
        path = f"{key}.instance_list[{i}]"
        inst = _obj(raw, path)
        itype = inst.get("type")
        if itype == "global":
            classifications.extend(_file_attributes(ctx, key, inst, path))
        elif itype == "relation" and ftype == "text":
            relations.append((path, inst))
        elif (ftype == "image" and itype in IMAGE_KINDS) or (
            ftype == "text" and itype == "text_token"
        ):
            obj = _object(ctx, key, inst, path, itype, video=False)
            objects.append(obj)
            if inst.get("id") is not None:
                by_instance_id[str(inst["id"])] = obj["feature_id"]
        else:
            raise Problem(f"{path}.type", f"instance type {itype} is not supported yet")
    relationships = _relationships(ctx, key, relations, by_instance_id)
    return {"objects": objects, "classifications": classifications, "relationships": relationships}


def _relationships(
    ctx: _Export, key: str, relations: list[tuple[str, JSON]], by_instance_id: dict[str, str]
) -> list[JSON]:
    out: list[JSON] = []
    seen: dict[str, int] = {}
    for path, rel in relations:
        ends = []
        for name in ("from_instance_id", "to_instance_id"):
            ref = rel.get(name)
            if ref is None:
                raise Problem(f"{path}.{name}", "is required")
            if str(ref) not in by_instance_id:
                raise Problem(f"{path}.{name}", f"no text_token instance {ref} in this file")
            ends.append(str(ref))
        if rel.get("attribute_groups"):
            raise Problem(
                f"{path}.attribute_groups", "attributes on relations are not supported yet"
            )
        label_id, name = _label(ctx, rel, path)
        if rel.get("id") is not None:
            feature_id = ids.derived_id("diffgram-instance", ctx.psid, str(rel["id"]))
        else:  # Diffgram exports relations without their id
            basis = (ctx.psid, key, ends[0], ends[1], label_id)
            feature_id = ids.derived_id("diffgram-relation", *basis)
            count = seen.get(feature_id, 0)
            seen[feature_id] = count + 1
            if count:
                feature_id = ids.derived_id("diffgram-relation", *basis, str(count))
        out.append(
            {
                "name": name,
                "value": name,
                "feature_id": feature_id,
                "feature_schema_id": _schema_id("diffgram-label-file", ctx.psid, label_id),
                "annotation_kind": "TextUnidirectionalRelationship",
                "relationship": {
                    "source": by_instance_id[ends[0]],
                    "target": by_instance_id[ends[1]],
                    "type": "unidirectional",
                },
                # what a re-export needs: the relation's own label file id (and id, if any)
                "diffgram": {
                    k: rel[k] for k in ("id", "type", "label_file_id") if rel.get(k) is not None
                },
            }
        )
    return out


def _video(ctx: _Export, key: str, packet: JSON) -> JSON:
    frames: dict[str, JSON] = {}
    segments: dict[str, list[list[int]]] = {}
    key_frames: dict[str, dict[str, bool]] = {}
    classifications: list[JSON] = []
    parents = _list(packet.get("parent_instance_list") or [], f"{key}.parent_instance_list")
    for i, raw in enumerate(parents):
        path = f"{key}.parent_instance_list[{i}]"
        inst = _obj(raw, path)
        if inst.get("type") != "global":
            raise Problem(
                f"{path}.type",
                f"instance type {inst.get('type')} outside a sequence is not supported yet",
            )
        classifications.extend(_file_attributes(ctx, key, inst, path))

    for j, raw_seq in enumerate(_list(packet.get("sequence_list") or [], f"{key}.sequence_list")):
        spath = f"{key}.sequence_list[{j}]"
        seq = _obj(raw_seq, spath)
        if seq.get("id") is None:
            raise Problem(f"{spath}.id", "is required")
        feature_id = ids.derived_id("diffgram-sequence", ctx.psid, str(seq["id"]))
        track_label = seq.get("label_file_id")
        seq_frames: set[int] = set()
        marked: set[int] = set()  # frames whose instance is not interpolated
        for i, raw in enumerate(_list(seq.get("instance_list") or [], f"{spath}.instance_list")):
            path = f"{spath}.instance_list[{i}]"
            inst = _obj(raw, path)
            itype = inst.get("type")
            if itype not in VIDEO_KINDS:
                reason = (
                    "polygon instances in video are not supported yet (the canonical video "
                    "form has no polygon)"
                    if itype == "polygon"
                    else f"instance type {itype} is not supported yet"
                )
                raise Problem(f"{path}.type", reason)
            number = inst.get("frame_number")
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise Problem(f"{path}.frame_number", "expected a frame number (0-based integer)")
            label_id = inst.get("label_file_id", track_label)
            if (
                track_label is not None
                and label_id is not None
                and str(label_id) != str(track_label)
            ):
                raise Problem(
                    f"{path}.label_file_id",
                    f"{label_id} differs from its sequence's label_file_id {track_label}",
                )
            if inst.get("label_file_id") is None:
                inst = {**inst, "label_file_id": track_label}
            frame = number + 1
            if frame in seq_frames:
                raise Problem(
                    f"{path}.frame_number",
                    f"sequence {seq['id']} has two instances on frame {number}",
                )
            obj = _object(ctx, key, inst, path, itype, video=True)
            obj["feature_id"] = feature_id
            obj["diffgram"]["sequence"] = {
                k: seq[k] for k in ("id", "number", "single_frame") if seq.get(k) is not None
            }
            slot = frames.setdefault(str(frame), {"objects": {}, "classifications": []})
            slot["objects"][feature_id] = obj
            seq_frames.add(frame)
            if inst.get("interpolated") is not True:
                marked.add(frame)
        if not seq_frames:
            continue
        runs = _runs(sorted(seq_frames))
        segments[feature_id] = runs
        listed = seq.get("keyframe_list")
        if listed is not None:
            keys = {n + 1 for n in _list(listed, f"{spath}.keyframe_list") if isinstance(n, int)}
        else:
            keys = marked
        flags: dict[int, bool] = {n: True for n in seq_frames if n in keys}
        for start, end in runs:
            flags.setdefault(start, False)
            flags.setdefault(end, False)
        key_frames[feature_id] = {str(n): flags[n] for n in sorted(flags)}

    ordered = {str(n): frames[str(n)] for n in sorted(int(k) for k in frames)}
    return {
        "frames": ordered,
        "segments": segments,
        "key_frame_feature_map": key_frames,
        "classifications": classifications,
    }


def _runs(numbers: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


# ---------------------------------------------------------------------------------------------
# instances


def _object(ctx: _Export, key: str, inst: JSON, path: str, itype: str, *, video: bool) -> JSON:
    label_id, name = _label(ctx, inst, path)
    inst_id = inst.get("id")
    if inst_id is not None:
        feature_id = ids.derived_id("diffgram-instance", ctx.psid, str(inst_id))
        owner = str(inst_id)
    else:  # older exporters (build_instance without base_instance_packet) wrote no id
        feature_id = ids.derived_id("diffgram-instance-at", ctx.psid, path)
        owner = f"@{path}"
    obj: JSON = {
        "feature_id": feature_id,
        "feature_schema_id": _schema_id("diffgram-label-file", ctx.psid, label_id),
        "name": name,
        "value": name,
    }
    consumed = {"attribute_groups", "frame_number"} if video else {"attribute_groups"}
    if itype == "text_token":
        obj["annotation_kind"] = "TextEntity"
        obj["location"] = _location(inst, path)
        consumed |= {"start_char", "end_char"}
    else:
        obj["annotation_kind"] = (VIDEO_KINDS if video else IMAGE_KINDS)[itype]
        obj.update(_geometry(inst, path, itype, consumed))
    classifications, unresolved = _attributes(ctx, inst.get("attribute_groups"), path, owner)
    obj["classifications"] = classifications
    extension: JSON = {"id": inst_id, "type": itype, "label_file_id": inst.get("label_file_id")}
    for name_, value in inst.items():
        if name_ not in consumed and name_ not in extension and value is not None:
            extension[name_] = value
    if unresolved:
        extension["attribute_groups"] = unresolved
    obj["diffgram"] = {k: v for k, v in extension.items() if v is not None}
    return obj


def _label(ctx: _Export, inst: JSON, path: str) -> tuple[str, str]:
    label_id = inst.get("label_file_id")
    if label_id is None:
        raise Problem(f"{path}.label_file_id", "is required")
    name = ctx.labels.get(str(label_id))
    if name is None:
        raise Problem(f"{path}.label_file_id", f"label file {label_id} is not in label_map")
    return str(label_id), name


def _geometry(inst: JSON, path: str, itype: str, consumed: set[str]) -> JSON:
    if itype == "box":
        x_min, y_min, x_max, y_max = (_number(inst.get(k), f"{path}.{k}") for k in _BOX_FIELDS)
        if x_max < x_min:
            raise Problem(f"{path}.x_max", f"smaller than x_min ({x_max} < {x_min})")
        if y_max < y_min:
            raise Problem(f"{path}.y_max", f"smaller than y_min ({y_max} < {y_min})")
        consumed.update(_BOX_FIELDS)
        return {
            "bounding_box": {
                "top": y_min,
                "left": x_min,
                "height": y_max - y_min,
                "width": x_max - x_min,
            }
        }
    points = inst.get("points")
    if itype == "point" and not points and "x" in inst and "y" in inst:
        consumed.update(("x", "y"))
        return {
            "point": {"x": _number(inst["x"], f"{path}.x"), "y": _number(inst["y"], f"{path}.y")}
        }
    plist = _list(points, f"{path}.points")
    vertexes = []
    figures = set()
    exact = True
    for i, raw in enumerate(plist):
        point = _obj(raw, f"{path}.points[{i}]")
        vertexes.append(
            {
                "x": _number(point.get("x"), f"{path}.points[{i}].x"),
                "y": _number(point.get("y"), f"{path}.points[{i}].y"),
            }
        )
        exact = exact and set(point) <= {"x", "y"}
        if point.get("figure_id") is not None:
            figures.add(str(point["figure_id"]))
    if len(figures) > 1:
        raise Problem(f"{path}.points", "polygons of several figures are not supported yet")
    if exact:
        consumed.add("points")  # else the raw points stay under the extension
    if itype == "point":
        if not vertexes:
            raise Problem(f"{path}.points", "a point needs one vertex")
        return {"point": vertexes[0]}
    least = 3 if itype == "polygon" else 2
    if len(vertexes) < least:
        raise Problem(f"{path}.points", f"a {itype} needs at least {least} vertexes")
    return {"polygon" if itype == "polygon" else "line": vertexes}


def _location(inst: JSON, path: str) -> JSON:
    start, end = inst.get("start_char"), inst.get("end_char")
    if start is None or end is None:
        field_ = f"{path}.start_char" if start is None else f"{path}.end_char"
        raise Problem(
            field_,
            "a text_token without character offsets (start_char/end_char) is not supported: "
            "Diffgram's UI records only token indices, and the export does not carry the text",
        )
    for name, value in (("start_char", start), ("end_char", end)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Problem(f"{path}.{name}", f"expected a character offset, got {value!r}")
    if end <= start:
        raise Problem(f"{path}.end_char", f"must be greater than start_char ({end} <= {start})")
    return {"start": start, "end": end - 1}


# ---------------------------------------------------------------------------------------------
# attributes


def _file_attributes(ctx: _Export, key: str, inst: JSON, path: str) -> list[JSON]:
    owner = str(inst["id"]) if inst.get("id") is not None else f"file:{key}"
    classifications, unresolved = _attributes(ctx, inst.get("attribute_groups"), path, owner)
    if unresolved:
        gid = next(iter(unresolved))
        kind = ctx.groups[gid].kind
        raise Problem(
            f"{path}.attribute_groups.{gid}",
            f"attribute group kind {kind} is not supported yet on file-level (global) attributes",
        )
    if inst.get("id") is not None:
        for cls in classifications:
            cls["diffgram"]["instance_id"] = inst["id"]
    return classifications


def _attributes(ctx: _Export, groups: Any, path: str, owner: str) -> tuple[list[JSON], JSON]:
    """Classifications from ``{group id: value}``, and the values no answer form can hold."""
    if groups is None:
        return [], {}
    out: list[JSON] = []
    unresolved: JSON = {}
    for gid, value in _obj(groups, f"{path}.attribute_groups").items():
        gpath = f"{path}.attribute_groups.{gid}"
        group = ctx.groups.get(str(gid))
        if group is None:
            raise Problem(gpath, f"attribute group {gid} is not in attribute_groups_reference")
        if value is None or value == "" or value == [] or value == {}:
            continue  # nothing chosen
        cls: JSON = {
            "feature_id": ids.derived_id("diffgram-attribute", ctx.psid, owner, str(gid)),
            "feature_schema_id": _schema_id("diffgram-attribute-group", ctx.psid, str(gid)),
            "name": group.name,
            "value": group.value,
        }
        if group.kind in SINGLE_ANSWER_KINDS:
            chosen = value[0] if isinstance(value, list) and len(value) == 1 else value
            cls["radio_answer"] = _answer(ctx, group, chosen, gpath, owner)
        elif group.kind == "multiple_select":
            chosen_list = value if isinstance(value, list) else [value]
            cls["checklist_answers"] = [
                _answer(ctx, group, item, f"{gpath}[{i}]", owner)
                for i, item in enumerate(chosen_list)
            ]
        elif group.kind == "text":
            if not isinstance(value, str):
                raise Problem(gpath, f"expected the text of a text attribute, got {_type(value)}")
            cls["text_answer"] = {"content": value}
        else:
            unresolved[str(gid)] = value
            continue
        cls["diffgram"] = {"attribute_group_id": group.id, "kind": group.kind, "value": value}
        out.append(cls)
    return out, unresolved


def _answer(ctx: _Export, group: _Group, chosen: Any, path: str, owner: str) -> JSON:
    option = _obj(chosen, path)
    option_id = option.get("id")
    if option_id is None:
        raise Problem(f"{path}.id", "is required")
    name = group.options.get(str(option_id))
    if name is None:  # an archived option is no longer in the reference
        shown = option.get("display_name")
        if not isinstance(shown, str):
            raise Problem(
                f"{path}.id", f"option {option_id} is not in attribute group {group.id}'s options"
            )
        name = shown
    return {
        "feature_id": ids.derived_id(
            "diffgram-attribute-answer", ctx.psid, owner, str(group.id), str(option_id)
        ),
        "feature_schema_id": _schema_id("diffgram-attribute-option", ctx.psid, str(option_id)),
        "name": name,
        "value": name,
        "classifications": [],
    }


# ---------------------------------------------------------------------------------------------
# small checkers


@lru_cache(maxsize=8192)
def _schema_id(*parts: str) -> str:
    """``derived_id`` for ontology-level ids, which repeat in every packet."""
    return ids.derived_id(*parts)


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _obj(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {_type(value)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Problem(path, f"expected a list, got {_type(value)}")
    return value


def _number(value: Any, path: str) -> int | float:
    if value is None:
        raise Problem(path, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path, f"expected a number, got {_type(value)}")
    return value


def _timestamp(value: Any, path: str) -> str | None:
    """Diffgram's ``str(datetime)`` (naive UTC) or ISO 8601, as a canonical timestamp."""
    if value is None or value == "None":  # str(None): a missing time
        return None
    if not isinstance(value, str):
        raise Problem(path, f"expected a timestamp, got {_type(value)}")
    try:
        return format_timestamp(parse_timestamp(value))
    except ValueError:
        raise Problem(path, f"not a timestamp: {value!r}") from None
