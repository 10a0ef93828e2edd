"""One Diffgram packet from one canonical row: the pure part of the Diffgram writer.

:mod:`labelport.export.formats.diffgram` streams the packets this module builds into the export
file; its docstring describes the mapping. Here: the ids (kept or derived), the vocabulary of
labels and attribute groups an export collects, and the packet of an image, video or text row.
:class:`Unbuildable` names the canonical field a row fails on.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from labelport import ids
from labelport.times import parse_timestamp

JSON = dict[str, Any]
DERIVED_BASE = 2**52  # derived ids live in [2**52, 2**53)

_OBJECT_TYPES = {
    "ImageBoundingBox": ("image", "box"),
    "ImagePolygon": ("image", "polygon"),
    "ImagePolyline": ("image", "line"),
    "ImagePoint": ("image", "point"),
    "VideoBoundingBox": ("video", "box"),
    "VideoPolyline": ("video", "line"),
    "VideoPoint": ("video", "point"),
    "TextEntity": ("text", "text_token"),
}
_MEDIA_TYPES = {"IMAGE": "image", "VIDEO": "video", "TEXT": "text"}
_EXTENSIONS = {
    "image": ("jpg", "jpeg", "png", "gif", "bmp", "webp", "tif", "tiff", "svg"),
    "video": ("mp4", "mov", "avi", "mkv", "webm", "m4v", "mpeg", "mpg"),
    "text": ("txt", "text", "md", "csv", "tsv", "json", "xml", "log"),
}
_GLOBAL_KEY = re.compile(r"diffgram:(.+):(\d+)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")
_SINGLE_KINDS = (None, "radio", "select")
_STILL_KEYS = frozenset({"objects", "classifications", "relationships"})
_VIDEO_KEYS = frozenset({"frames", "segments", "key_frame_feature_map", "classifications"})
# Internal keys of the object extension that are not instance fields.
_EXTENSION_ONLY = frozenset({"sequence", "attribute_groups"})


class Unbuildable(Exception):
    """A row whose packet cannot be built; ``field`` names the canonical field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def diffgram_time(value: str | None) -> str | None:
    """A canonical timestamp as Diffgram writes times: naive UTC ``str(datetime)``."""
    if value is None:
        return None
    moment = parse_timestamp(value)
    return str(moment.replace(tzinfo=None))


# ---------------------------------------------------------------------------------- vocabulary


def stable_int(namespace: str, *parts: str) -> int:
    """An integer id in ``[2**52, 2**53)`` that depends only on its parts."""
    text = "\x1f".join(("labelport-diffgram", namespace, *parts))
    digest = hashlib.sha256(text.encode()).digest()
    return DERIVED_BASE + int.from_bytes(digest[:8], "big") % DERIVED_BASE


@lru_cache(maxsize=256)
def _project_of(psid: str, org_id: str | None) -> tuple[str, ...]:
    """The ids a Diffgram import gives the project ``psid``: within the organization (as
    :mod:`labelport.imports.diffgram` derives them), and from the Diffgram id alone (imports
    before catalog version 9, and the converter without an organization)."""
    alone = ids.derived_id("diffgram-project", psid)
    return (alone,) if org_id is None else (ids.derived_id("diffgram-project", org_id, psid), alone)


def diffgram_origin(
    row: JSON, project_id: str | None, org_id: str | None = None
) -> tuple[str, str] | None:
    """``(psid, file key)`` when the row was imported from Diffgram into ``project_id`` (of
    organization ``org_id``)."""
    key = row.get("data_row", {}).get("global_key")
    if project_id is None or not isinstance(key, str):
        return None
    match = _GLOBAL_KEY.fullmatch(key)
    if match is None or str(int(match.group(2))) != match.group(2):
        return None
    if project_id not in _project_of(match.group(1), org_id):
        return None
    return match.group(1), match.group(2)


def file_id_of(row: JSON, project_id: str | None, org_id: str | None = None) -> int:
    """The Diffgram file id of a canonical row: kept from a Diffgram import, else derived."""
    origin = diffgram_origin(row, project_id, org_id)
    if origin is not None:
        return int(origin[1])
    return stable_int("file", str(row.get("data_row", {}).get("id")))


@dataclass(slots=True)
class _Group:
    id: Any
    kind: str | None
    name: str
    prompt: str
    is_global: bool = False
    options: dict[str, JSON] = field(default_factory=dict)  # str(id) -> {id, name}
    labels: dict[str, JSON] = field(default_factory=dict)  # str(label id) -> {id, label}

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "kind": self.kind,
            "is_root": True,
            "name": self.name,
            "prompt": self.prompt,
            "show_prompt": True,
            "is_global": self.is_global,
            "global_type": "file" if self.is_global else None,
            "attribute_template_list": [
                {
                    "id": option["id"],
                    "name": option["name"],
                    "value_type": None,
                    "archived": False,
                    "group_id": self.id,
                    "display_order": position,
                }
                for position, option in enumerate(self.options.values())
            ],
            "label_file_list": list(self.labels.values()),
        }


@dataclass(slots=True)
class Vocabulary:
    """Labels and attribute groups seen so far (ontology-sized, not row-sized)."""

    labels: dict[str, tuple[Any, str]] = field(default_factory=dict)  # str(id) -> (id, name)
    by_schema: dict[str, Any] = field(default_factory=dict)  # feature_schema_id -> label id
    groups: dict[str, _Group] = field(default_factory=dict)  # str(id) -> group

    def label(self, obj: JSON, path: str) -> Any:
        """The label file id of an object or relationship (registered in ``label_map``)."""
        name = obj.get("name")
        if not isinstance(name, str) or not name:
            raise Unbuildable(f"{path}.name", "is required (it becomes the label's name)")
        schema = obj.get("feature_schema_id")
        extension = obj.get("diffgram")
        kept = extension.get("label_file_id") if isinstance(extension, dict) else None
        if _is_int_like(kept):
            known = self.labels.get(str(kept))
            if known is None or known[1] == name:
                self._add(kept, name, schema)
                return kept
        if isinstance(schema, str) and schema in self.by_schema:
            label_id = self.by_schema[schema]
            if self.labels[str(label_id)][1] == name:
                return label_id
        label_id = stable_int("label", schema if isinstance(schema, str) else "", name)
        self._add(label_id, name, schema)
        return label_id

    def _add(self, label_id: Any, name: str, schema: Any) -> None:
        self.labels.setdefault(str(label_id), (label_id, name))
        if isinstance(schema, str):
            self.by_schema.setdefault(schema, label_id)

    def group(self, gid: Any, kind: str | None, name: str, prompt: str) -> _Group:
        group = self.groups.get(str(gid))
        if group is None:
            group = self.groups[str(gid)] = _Group(gid, kind, name, prompt)
        return group


def _is_int_like(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def colour_of(label_id: Any) -> JSON:
    """A stable colour for a label file id, in the shape Diffgram's colour picker stores."""
    digest = hashlib.sha256(f"colour:{label_id}".encode()).digest()
    r, g, b = digest[0], digest[1], digest[2]
    return {"hex": f"#{r:02x}{g:02x}{b:02x}", "rgba": {"r": r, "g": g, "b": b, "a": 1}}


# ---------------------------------------------------------------------------------- packets


@dataclass(slots=True)
class Packet:
    """One packet being built, and what it counts (added to the summary when it succeeds)."""

    vocab: Vocabulary
    file_key: str
    row_id: str
    instances: Counter[str] = field(default_factory=Counter)
    by_label: Counter[str] = field(default_factory=Counter)

    def count(self, instance: JSON) -> None:
        self.instances[str(instance["type"])] += 1
        if instance.get("label_file_id") is not None:
            self.by_label[str(instance["label_file_id"])] += 1


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
            if isinstance(akind, str) and akind in _OBJECT_TYPES:
                return _OBJECT_TYPES[akind][0]
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
        for i, obj in enumerate(_list(doc.get("objects", []), f"{path}.objects")):
            opath = f"{path}.objects[{i}]"
            instance = _instance(packet, _obj(obj, opath), opath, kind, frame=None)
            objects.append(instance)
            if isinstance(obj.get("feature_id"), str):
                by_feature[obj["feature_id"]] = instance.get("id")
        rels = _list(doc.get("relationships", []), f"{path}.relationships")
        for i, rel in enumerate(rels):
            relations.append(
                (f"{path}.relationships[{i}]", _obj(rel, f"{path}.relationships[{i}]"))
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
        instance.update({k: v for k, v in extension.items() if k not in _EXTENSION_ONLY})
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
    for i, cls in enumerate(_list(doc.get("classifications", []), f"{path}.classifications")):
        cpath = f"{path}.classifications[{i}]"
        cls = _obj(cls, cpath)
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
        _attribute(packet, groups[slot]["attribute_groups"], cls, cpath, None, is_global=True)
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
            frame = _obj(frames[number], fpath)
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
        obj = _obj(raw, opath)
        instance = _instance(packet, obj, opath, "video", frame=frame)
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


def _instance(packet: Packet, obj: JSON, path: str, kind: str, *, frame: int | None) -> JSON:
    annotation_kind = obj.get("annotation_kind")
    target = _OBJECT_TYPES.get(annotation_kind) if isinstance(annotation_kind, str) else None
    if target is None or target[0] != kind:
        raise Unbuildable(
            f"{path}.annotation_kind",
            f"{annotation_kind} has no Diffgram instance type in a {kind} file",
        )
    itype = target[1]
    extension = obj.get("diffgram") if isinstance(obj.get("diffgram"), dict) else None
    instance: JSON = {}
    if extension is not None:
        instance.update({k: v for k, v in extension.items() if k not in _EXTENSION_ONLY})
    elif frame is None:
        instance["id"] = stable_int("instance", packet.row_id, str(obj.get("feature_id") or path))
    else:
        feature = str(obj.get("feature_id") or path)
        instance["id"] = stable_int("instance", packet.row_id, feature, str(frame))
    instance["type"] = itype
    instance["label_file_id"] = packet.vocab.label(obj, path)
    attribute_groups: JSON = {}
    for i, cls in enumerate(_list(obj.get("classifications") or [], f"{path}.classifications")):
        cpath = f"{path}.classifications[{i}]"
        _attribute(packet, attribute_groups, _obj(cls, cpath), cpath, instance["label_file_id"])
    raw = extension.get("attribute_groups") if extension is not None else None
    if isinstance(raw, dict):
        for gid, value in raw.items():
            if gid in attribute_groups:
                raise Unbuildable(f"{path}.diffgram.attribute_groups.{gid}", "given twice")
            attribute_groups[gid] = value
            group = packet.vocab.group(_group_id(gid), _raw_kind(value), f"group_{gid}", "")
            _use_label(packet, group, instance["label_file_id"])
    instance["attribute_groups"] = attribute_groups or None
    if frame is not None:
        instance["frame_number"] = frame - 1
        if extension is None:
            instance["global_frame_number"] = frame - 1
    instance.update(_geometry(obj, path, itype, extension))
    return instance


def _group_id(gid: str) -> Any:
    return int(gid) if gid.isdigit() else gid


def _raw_kind(value: Any) -> str:
    """A kind Diffgram readers leave raw, for a group known only from a raw value."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "slider"
    if isinstance(value, str) and _DATE.fullmatch(value):
        return "date"
    if isinstance(value, str) and _TIME.fullmatch(value):
        return "time"
    return "tree"


def _geometry(obj: JSON, path: str, itype: str, extension: JSON | None) -> JSON:
    if itype == "box":
        box = _obj(obj.get("bounding_box"), f"{path}.bounding_box")
        top, left, height, width = (
            _number(box.get(k), f"{path}.bounding_box.{k}")
            for k in ("top", "left", "height", "width")
        )
        for name, size in (("height", height), ("width", width)):
            if size < 0:
                raise Unbuildable(f"{path}.bounding_box.{name}", f"is negative ({size})")
        return {"x_min": left, "y_min": top, "x_max": left + width, "y_max": top + height}
    if itype == "text_token":
        location = _obj(obj.get("location"), f"{path}.location")
        start = _offset(location.get("start"), f"{path}.location.start")
        end = _offset(location.get("end"), f"{path}.location.end")
        return {"start_char": start, "end_char": end + 1}
    if itype == "point":
        point = _obj(obj.get("point"), f"{path}.point")
        vertexes = [_vertex(point, f"{path}.point")]
    else:
        key = "polygon" if itype == "polygon" else "line"
        points = _list(obj.get(key), f"{path}.{key}")
        vertexes = [
            _vertex(_obj(p, f"{path}.{key}[{i}]"), f"{path}.{key}[{i}]")
            for i, p in enumerate(points)
        ]
        least = 3 if itype == "polygon" else 2
        if len(vertexes) < least:
            raise Unbuildable(f"{path}.{key}", f"a Diffgram {itype} needs {least} points or more")
    kept = extension.get("points") if extension is not None else None
    if itype == "point" and kept == []:  # Diffgram gave the point as top-level x and y
        return {"points": [], "x": vertexes[0]["x"], "y": vertexes[0]["y"]}
    if (
        isinstance(kept, list)
        and len(kept) == len(vertexes)
        and all(
            isinstance(p, dict) and p.get("x") == v["x"] and p.get("y") == v["y"]
            for p, v in zip(kept, vertexes, strict=True)
        )
    ):
        return {"points": kept}
    return {"points": vertexes}


def _offset(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unbuildable(path, f"expected a character offset, got {value!r}")
    return value


def _vertex(point: JSON, path: str) -> JSON:
    return {"x": _number(point.get("x"), f"{path}.x"), "y": _number(point.get("y"), f"{path}.y")}


# ---------------------------------------------------------------------------------- attributes


def _attribute(
    packet: Packet,
    into: JSON,
    cls: JSON,
    path: str,
    label_id: Any,
    *,
    is_global: bool = False,
) -> None:
    """Add one classification (and its nested ones) to an instance's ``attribute_groups``."""
    name = cls.get("name")
    if not isinstance(name, str) or not name:
        raise Unbuildable(f"{path}.name", "is required (it becomes the attribute group's prompt)")
    tag = cls.get("value")
    value: str = tag if isinstance(tag, str) and tag else name
    extension = cls.get("diffgram") if isinstance(cls.get("diffgram"), dict) else None
    schema = cls.get("feature_schema_id")
    gid = extension.get("attribute_group_id") if extension else None
    if gid is None:
        gid = stable_int("group", schema if isinstance(schema, str) else "", name, _form(cls))
    if str(gid) in into:
        raise Unbuildable(path, f"attribute group {gid} is given twice on one instance")
    answers: list[tuple[JSON, str]]
    if "radio_answer" in cls:
        form, answers = "radio", [(_obj(cls["radio_answer"], f"{path}.radio_answer"), "radio")]
    elif "checklist_answers" in cls:
        items = _list(cls["checklist_answers"], f"{path}.checklist_answers")
        form = "multiple_select"
        answers = [
            (_obj(a, f"{path}.checklist_answers[{j}]"), f"checklist_answers[{j}]")
            for j, a in enumerate(items)
        ]
    elif "text_answer" in cls:
        form, answers = "text", []
    else:
        raise Unbuildable(path, "needs radio_answer, checklist_answers or text_answer")
    kept_kind = extension.get("kind") if extension else None
    has_kind = extension is not None and "kind" in extension
    fits = has_kind and (kept_kind in _SINGLE_KINDS if form == "radio" else kept_kind == form)
    group = packet.vocab.group(gid, kept_kind if fits else form, value, name)
    if group.kind != form and not (form == "radio" and group.kind in _SINGLE_KINDS):
        raise Unbuildable(
            path, f"attribute group {gid} is a {group.kind} group elsewhere in this export"
        )
    group.is_global = group.is_global or is_global
    _use_label(packet, group, label_id)
    if form == "text":
        content = _obj(cls["text_answer"], f"{path}.text_answer").get("content")
        if not isinstance(content, str):
            raise Unbuildable(f"{path}.text_answer.content", "expected a string")
        into[str(gid)] = content
        return
    into[str(gid)] = None  # keeps the group ahead of the nested ones added below
    raw = extension.get("value") if fits and extension else None
    raw_options = _raw_options(raw, form)
    if raw_options is not None and len(raw_options) != len(answers):
        raw_options = None
    chosen: list[JSON] = []
    for j, (answer, apath) in enumerate(answers):
        option_name = answer.get("name")
        if not isinstance(option_name, str) or not option_name:
            raise Unbuildable(f"{path}.{apath}.name", "is required (it becomes the option's name)")
        if raw_options is not None:
            option_id = raw_options[j]["id"]
        else:
            aschema = answer.get("feature_schema_id")
            option_id = stable_int(
                "option", str(gid), aschema if isinstance(aschema, str) else "", option_name
            )
        group.options.setdefault(str(option_id), {"id": option_id, "name": option_name})
        chosen.append({"display_name": option_name, "id": option_id, "name": option_id})
        for k, nested in enumerate(answer.get("classifications") or []):
            npath = f"{path}.{apath}.classifications[{k}]"
            _attribute(packet, into, _obj(nested, npath), npath, label_id, is_global=is_global)
    if raw_options is not None:
        into[str(gid)] = raw
    else:
        into[str(gid)] = chosen[0] if form == "radio" else chosen


def _form(cls: JSON) -> str:
    for key, form in (
        ("radio_answer", "radio"),
        ("checklist_answers", "multiple_select"),
        ("text_answer", "text"),
    ):
        if key in cls:
            return form
    return ""


def _raw_options(raw: Any, form: str) -> list[JSON] | None:
    """The options of a value kept raw, when they have ids."""
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    if form == "radio" and isinstance(raw, list) and len(raw) != 1:
        return None
    if all(isinstance(item, dict) and item.get("id") is not None for item in items):
        return items
    return None


def _use_label(packet: Packet, group: _Group, label_id: Any) -> None:
    if label_id is None:
        return
    known = packet.vocab.labels.get(str(label_id))
    name = known[1] if known else None
    group.labels.setdefault(str(label_id), {"id": label_id, "label": {"name": name}})


# ---------------------------------------------------------------------------------- checkers


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


def _obj(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise Unbuildable(path, f"expected an object, got {_type(value)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Unbuildable(path, f"expected a list, got {_type(value)}")
    return value


def _number(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unbuildable(path, f"expected a number, got {_type(value)}")
    return value
