"""One Diffgram packet from one canonical row: the pure part of the Diffgram writer.

:mod:`labelport.export.formats.diffgram` streams the packets this module builds into the export
file; its docstring describes the mapping. Here: the file type of a row, its project entry, and
the packet of an image, video or text row - its instances (made by
:mod:`~labelport.export.formats.diffgram_instances`), ``global`` instances for annotation-level
classifications, text relations and video sequences. The ids come from
:mod:`~labelport.export.formats.diffgram_ids`, the labels and attribute groups go to the
export's :mod:`~labelport.export.formats.diffgram_vocabulary`, and
:class:`~labelport.export.formats.diffgram_values.Unbuildable` names the canonical field a row
fails on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from labelport.export.formats.diffgram_attributes import add_attribute
from labelport.export.formats.diffgram_ids import file_id_of, stable_int
from labelport.export.formats.diffgram_instances import EXTENSION_ONLY, OBJECT_TYPES, build_instance
from labelport.export.formats.diffgram_values import (
    JSON,
    Unbuildable,
    as_list,
    as_object,
    diffgram_time,
)
from labelport.export.formats.diffgram_vocabulary import Packet, Vocabulary

_MEDIA_TYPES = {"IMAGE": "image", "VIDEO": "video", "TEXT": "text"}
_EXTENSIONS = {
    "image": ("jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "svg"),
    "video": ("mp4", "mov", "avi", "mkv", "webm", "m4v", "mpeg", "mpg"),
    "text": ("txt", "text", "md", "csv", "tsv", "json", "xml", "log"),
}

_STILL_KEYS = frozenset({"objects", "classifications", "relationships"})
_VIDEO_KEYS = frozenset({"frames", "segments", "key_frame_feature_map", "classifications"})


def media_kind(row: JSON, labels: list[JSON]) -> str | None:
    """``image``, ``video``, ``text``; None when it cannot be told; else the media type."""
    explicit = row.get("media_type")
    if isinstance(explicit, str):
        return _MEDIA_TYPES.get(explicit.upper(), explicit.upper())
    attributes = row.get("media_attributes") or {}
    mime = attributes.get("mime_type") if isinstance(attributes, dict) else None
    if isinstance(mime, str) and mime:
        for kind in ("image", "video", "text"):
            if mime.startswith(f"{kind}/"):
                return kind
        return mime
    for label in labels:
        annotations = label.get("annotations")
        if label.get("label_kind") == "Video" or (
            isinstance(annotations, dict) and "frames" in annotations
        ):
            return "video"
        objects = annotations.get("objects") if isinstance(annotations, dict) else None
        for obj in objects if isinstance(objects, list) else []:
            akind = obj.get("annotation_kind") if isinstance(obj, dict) else None
            if isinstance(akind, str) and akind in OBJECT_TYPES:
                return OBJECT_TYPES[akind][0]
    data_row = row.get("data_row", {})
    for name in (data_row.get("external_id"), data_row.get("row_data")):
        if isinstance(name, str):
            tail = name.split("?", 1)[0].rsplit("/", 1)[-1]
            ext = tail.rsplit(".", 1)[-1].lower() if "." in tail else ""
            for kind, extensions in _EXTENSIONS.items():
                if ext in extensions:
                    return kind
    if isinstance(attributes, dict) and attributes.get("width") is not None:
        return "video" if attributes.get("frame_count") is not None else "image"
    return None


def project_entry(row: JSON, project_id: str | None) -> tuple[str, JSON | None]:
    projects = row.get("projects") or {}
    if not isinstance(projects, dict):
        raise Unbuildable("projects", "expected an object keyed by project id")
    if project_id is None:
        if len(projects) > 1:
            raise Unbuildable("projects", "the row is in several projects; name the project")
        project_id = next(iter(projects), None)
    entry = projects.get(project_id) if project_id is not None else None
    return f"projects.{project_id}", entry


def build_packet(
    row: JSON, vocab: Vocabulary, project_id: str | None, org_id: str | None = None
) -> tuple[str, JSON, Packet, int]:
    """``(file key, packet, counts, labels merged)`` for one canonical row; raises Unbuildable."""
    data_row = row.get("data_row")
    if not isinstance(data_row, dict):
        raise Unbuildable("data_row", "is required")
    row_data = data_row.get("row_data")
    if not isinstance(row_data, str) or not row_data:
        raise Unbuildable("data_row.row_data", "is required (it becomes the file's blob_url)")
    ppath, entry = project_entry(row, project_id)
    labels = (entry or {}).get("labels") or []
    if not isinstance(labels, list):
        raise Unbuildable(f"{ppath}.labels", "expected a list")
    kind = media_kind(row, labels)
    if kind is None:
        raise Unbuildable(
            "media_type",
            "cannot tell whether the row is an image, a video or text (no mime type, annotation "
            "or file extension says so)",
        )
    if kind not in ("image", "video", "text"):
        raise Unbuildable(
            "media_type",
            f"{'a file of type ' + kind if '/' in kind else kind} has no Diffgram export form here "
            "(Diffgram exports image, video and text files)",
        )
    key = str(file_id_of(row, project_id, org_id))
    packet = Packet(vocab, key, str(data_row.get("id")))
    details = data_row.get("details") or {}
    filename = data_row.get("external_id")
    status = ((entry or {}).get("project_details") or {}).get("workflow_status")
    has_status = isinstance((entry or {}).get("project_details"), dict)
    info: JSON = {
        "id": int(key),
        "original_filename": filename,
        "blob_url": row_data,
        "created_time": _created_time(details),
        "ann_is_complete": (status == "DONE") if has_status else None,
        "type": kind,
    }
    attributes = row.get("media_attributes") or {}
    if not isinstance(attributes, dict):
        attributes = {}
    paths = [f"{ppath}.labels[{i}].annotations" for i in range(len(labels))]
    annotations = []
    for i, label in enumerate(labels):
        doc = label.get("annotations") if isinstance(label, dict) else None
        if not isinstance(doc, dict):
            raise Unbuildable(paths[i], "expected an object")
        annotations.append(doc)
    out: JSON = {"file": info}
    if kind == "video":
        out["video"] = {
            "width": attributes.get("width"),
            "height": attributes.get("height"),
            "frame_rate": attributes.get("frame_rate"),
            "frame_count": attributes.get("frame_count"),
            "original_fps": None,
            "fps_conversion_ratio": None,
            "mp4_video_signed_url": row_data,
            "mp4_video_signed_expiry": None,
            "offset_in_seconds": None,
            "global_frame_start": None,
        }
        parents, sequences = _video(packet, list(zip(paths, annotations, strict=True)))
        out["parent_instance_list"] = parents
        out["sequence_list"] = sequences
    else:
        if kind == "image":
            out["image"] = {
                "width": attributes.get("width"),
                "height": attributes.get("height"),
                "rotation_degrees": None,
                "image_signed_url": row_data,
                "image_signed_expiry": None,
                "original_filename": filename,
            }
        else:
            out["text"] = {
                "original_filename": filename,
                "signed_url": row_data,
                "signed_expiry": None,
                "tokens": None,
            }
        out["instance_list"] = _still(packet, kind, list(zip(paths, annotations, strict=True)))
    return key, out, packet, len(labels)


def _created_time(details: Any) -> str | None:
    value = details.get("created_at") if isinstance(details, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return diffgram_time(value)
    except ValueError:
        raise Unbuildable("data_row.details.created_at", f"not a timestamp: {value!r}") from None


def _still(packet: Packet, kind: str, docs: list[tuple[str, JSON]]) -> list[JSON]:
    """The instance_list of an image or text file."""
    objects: list[JSON] = []
    by_feature: dict[str, Any] = {}  # object feature_id -> instance id
    relations: list[tuple[str, JSON]] = []
    globals_: list[JSON] = []
    for path, doc in docs:
        _check_keys(doc, path, _STILL_KEYS, kind)
        for i, obj in enumerate(as_list(doc.get("objects", []), f"{path}.objects")):
            opath = f"{path}.objects[{i}]"
            instance = build_instance(packet, as_object(obj, opath), opath, kind, frame=None)
            objects.append(instance)
            if isinstance(obj.get("feature_id"), str):
                by_feature[obj["feature_id"]] = instance.get("id")
        rels = as_list(doc.get("relationships", []), f"{path}.relationships")
        for i, rel in enumerate(rels):
            relations.append(
                (f"{path}.relationships[{i}]", as_object(rel, f"{path}.relationships[{i}]"))
            )
        globals_.extend(_globals(packet, doc, path))
    if relations and kind != "text":
        raise Unbuildable(relations[0][0], "Diffgram exports relations only between text tokens")
    out = objects + globals_
    for rpath, rel in relations:
        out.append(_relation(packet, rel, rpath, by_feature))
    for instance in out:
        packet.count(instance)
    return out


def _check_keys(doc: JSON, path: str, allowed: frozenset[str], kind: str) -> None:
    """Nothing in a label may be left behind: a key with content we cannot write fails."""
    for key, value in doc.items():
        if key not in allowed and value not in (None, [], {}):
            raise Unbuildable(f"{path}.{key}", f"has no Diffgram form in a {kind} file")


def _relation(packet: Packet, rel: JSON, path: str, by_feature: dict[str, Any]) -> JSON:
    kind = rel.get("annotation_kind")
    if kind != "TextUnidirectionalRelationship":
        raise Unbuildable(
            f"{path}.annotation_kind",
            f"{kind} has no Diffgram form (Diffgram relations go one way: "
            "TextUnidirectionalRelationship)",
        )
    ends = rel.get("relationship")
    if not isinstance(ends, dict):
        raise Unbuildable(f"{path}.relationship", "expected {source, target}")
    instance: JSON = {}
    extension = rel.get("diffgram")
    if isinstance(extension, dict):
        instance.update({k: v for k, v in extension.items() if k not in EXTENSION_ONLY})
    instance["type"] = "relation"
    instance["label_file_id"] = packet.vocab.label(rel, path)
    instance["attribute_groups"] = None
    for end, name in (("source", "from_instance_id"), ("target", "to_instance_id")):
        fid = ends.get(end)
        if fid not in by_feature or by_feature[fid] is None:
            raise Unbuildable(
                f"{path}.relationship.{end}", f"no text entity with feature_id {fid!r} in this file"
            )
        instance[name] = by_feature[fid]
    if rel.get("classifications"):
        raise Unbuildable(f"{path}.classifications", "Diffgram relations carry no attributes")
    return instance


def _globals(packet: Packet, doc: JSON, path: str) -> list[JSON]:
    """``global`` instances for annotation-level classifications, one per source instance."""
    groups: dict[str, JSON] = {}
    for i, cls in enumerate(as_list(doc.get("classifications", []), f"{path}.classifications")):
        cpath = f"{path}.classifications[{i}]"
        cls = as_object(cls, cpath)
        extension = cls.get("diffgram") if isinstance(cls.get("diffgram"), dict) else None
        owner = extension.get("instance_id") if extension else None
        slot = str(owner) if owner is not None else ""
        if slot not in groups:
            instance_id: Any = owner
            if owner is None and extension is None:
                instance_id = stable_int("global", packet.row_id, path)
            groups[slot] = {
                "id": instance_id,
                "type": "global",
                "attribute_groups": {},
                "label_file_id": None,
            }
        add_attribute(packet, groups[slot]["attribute_groups"], cls, cpath, None, is_global=True)
    out = []
    for instance in groups.values():
        if instance["id"] is None:
            del instance["id"]
        out.append(instance)
    return out


def _video(packet: Packet, docs: list[tuple[str, JSON]]) -> tuple[list[JSON], list[JSON]]:
    parents: list[JSON] = []
    sequences: list[JSON] = []
    numbers: Counter[str] = Counter()  # sequence numbers per label, as Diffgram counts them
    for path, doc in docs:
        _check_keys(doc, path, _VIDEO_KEYS, "video")
        parents.extend(_globals(packet, doc, path))
        frames = doc.get("frames") or {}
        if not isinstance(frames, dict):
            raise Unbuildable(f"{path}.frames", "expected an object keyed by frame number")
        tracks: dict[str, list[tuple[int, str, JSON]]] = {}
        for number in sorted(frames, key=_frame_number(path)):
            fpath = f"{path}.frames.{number}"
            frame = as_object(frames[number], fpath)
            if frame.get("classifications"):
                raise Unbuildable(
                    f"{fpath}.classifications",
                    "frame-level classifications have no Diffgram form (Diffgram's video "
                    "attributes are per file or per instance)",
                )
            objects = frame.get("objects") or {}
            if not isinstance(objects, dict):
                raise Unbuildable(f"{fpath}.objects", "expected an object keyed by feature_id")
            for fid, obj in objects.items():
                tracks.setdefault(fid, []).append((int(number), f"{fpath}.objects.{fid}", obj))
        key_frames = doc.get("key_frame_feature_map") or {}
        for fid, track in tracks.items():
            sequences.append(_sequence(packet, fid, track, key_frames.get(fid), numbers))
    for instance in parents:
        packet.count(instance)
    return parents, sequences


def _frame_number(path: str) -> Callable[[str], int]:
    def number(key: str) -> int:
        if not (isinstance(key, str) and key.isdigit() and int(key) >= 1):
            raise Unbuildable(f"{path}.frames.{key}", "frame keys are 1-based frame numbers")
        return int(key)

    return number


def _sequence(
    packet: Packet,
    fid: str,
    track: list[tuple[int, str, JSON]],
    flags: Any,
    numbers: Counter[str],
) -> JSON:
    instances: list[JSON] = []
    seq_info: JSON = {}
    label_id: Any = None
    keyframes = (
        sorted(int(n) - 1 for n, flag in flags.items() if flag is True)
        if isinstance(flags, dict)
        else [n - 1 for n, _, _ in track]
    )
    keyset = {n + 1 for n in keyframes}
    ours: list[JSON] = []  # instances without a Diffgram origin: they get a sequence number
    for frame, opath, raw in track:
        obj = as_object(raw, opath)
        instance = build_instance(packet, obj, opath, "video", frame=frame)
        extension = obj.get("diffgram")
        if isinstance(extension, dict):
            if isinstance(extension.get("sequence"), dict) and not seq_info:
                seq_info = extension["sequence"]
        else:
            instance["interpolated"] = frame not in keyset
            ours.append(instance)
        if label_id is None:
            label_id = instance["label_file_id"]
        elif str(instance["label_file_id"]) != str(label_id):
            raise Unbuildable(
                f"{opath}.name", f"one feature ({fid}) has two labels; a sequence has one label"
            )
        instances.append(instance)
        packet.count(instance)
    numbers[str(label_id)] += 1
    number = seq_info.get("number", numbers[str(label_id)])
    for instance in ours:
        instance["number"] = number
    sequence: JSON = {
        "id": seq_info.get("id", stable_int("sequence", packet.row_id, fid)),
        "label_file_id": label_id,
        "number": number,
        "keyframe_list": keyframes,
        "single_frame": seq_info.get("single_frame", len(track) == 1),
        "instance_list": instances,
    }
    return sequence
