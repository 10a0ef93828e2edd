"""One Diffgram file packet -> one canonical row: the file, its media and its annotations.

:func:`packet_row` builds the row of an image, text or video packet (the mapping is in the
docstring of :mod:`labelport.imports.diffgram`): the data row, media attributes, project and
label of the file; the annotations of an image or text file (its instances, file-level
attributes and text relations) or of a video (each sequence a track of frames, with segments and
key frames). The instances themselves are made by :mod:`labelport.imports.diffgram_instances`.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from labelport import ids
from labelport.imports.base import JSON, Problem
from labelport.imports.diffgram_attributes import file_attributes
from labelport.imports.diffgram_instances import (
    IMAGE_KINDS,
    VIDEO_KINDS,
    canonical_object,
    label_of,
)
from labelport.imports.diffgram_metadata import Export
from labelport.imports.diffgram_values import as_list, as_number, as_object, as_timestamp, schema_id

SUPPORTED_FILE_TYPES = ("image", "video", "text")
UNSUPPORTED_FILE_TYPES = ("geospatial", "sensor_fusion", "compound")


def packet_row(ctx: Export, key: str, packet: Any) -> JSON:
    if packet is None:
        raise Problem(
            key,
            "the packet is null (Diffgram writes null for file types its exporter cannot build)",
        )
    packet = as_object(packet, key)
    info = as_object(packet.get("file"), f"{key}.file")
    ftype = info.get("type") or _guess_type(packet)
    if ftype in UNSUPPORTED_FILE_TYPES:
        raise Problem(f"{key}.file.type", f"not supported yet: {ftype}")
    if ftype not in SUPPORTED_FILE_TYPES:
        raise Problem(f"{key}.file.type", f"unknown Diffgram file type {ftype!r}")
    if info.get("id") is not None and str(info["id"]) != key:
        raise Problem(f"{key}.file.id", f"{info['id']} does not match the packet's key {key}")
    media = as_object(packet.get(ftype), f"{key}.{ftype}")

    url_key = {"image": "image_signed_url", "video": "mp4_video_signed_url", "text": "signed_url"}
    row_data = info.get("blob_url") or media.get(url_key[ftype])
    if not isinstance(row_data, str) or not row_data:
        raise Problem(f"{key}.file.blob_url", f"no media URL (nor {ftype}.{url_key[ftype]})")
    filename = info.get("original_filename") or media.get("original_filename")
    details: JSON = {"dataset_name": ctx.dataset_name}
    created_at = as_timestamp(info.get("created_time"), f"{key}.file.created_time")
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
                attributes[name] = as_number(media[name], f"{key}.{ftype}.{name}")
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


def _still(ctx: Export, key: str, packet: JSON, ftype: str) -> JSON:
    """Annotations of an image or text packet."""
    objects: list[JSON] = []
    classifications: list[JSON] = []
    relations: list[tuple[str, JSON]] = []
    by_instance_id: dict[str, str] = {}  # Diffgram instance id -> object feature_id
    for i, raw in enumerate(as_list(packet.get("instance_list") or [], f"{key}.instance_list")):
        path = f"{key}.instance_list[{i}]"
        inst = as_object(raw, path)
        itype = inst.get("type")
        if itype == "global":
            classifications.extend(file_attributes(ctx, key, inst, path))
        elif itype == "relation" and ftype == "text":
            relations.append((path, inst))
        elif (ftype == "image" and itype in IMAGE_KINDS) or (
            ftype == "text" and itype == "text_token"
        ):
            obj = canonical_object(ctx, key, inst, path, itype, video=False)
            objects.append(obj)
            if inst.get("id") is not None:
                by_instance_id[str(inst["id"])] = obj["feature_id"]
        else:
            raise Problem(f"{path}.type", f"instance type {itype} is not supported yet")
    relationships = _relationships(ctx, key, relations, by_instance_id)
    return {"objects": objects, "classifications": classifications, "relationships": relationships}


def _relationships(
    ctx: Export, key: str, relations: list[tuple[str, JSON]], by_instance_id: dict[str, str]
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
        label_id, name = label_of(ctx, rel, path)
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
                "feature_schema_id": schema_id("diffgram-label-file", ctx.psid, label_id),
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


def _video(ctx: Export, key: str, packet: JSON) -> JSON:
    frames: dict[str, JSON] = {}
    segments: dict[str, list[list[int]]] = {}
    key_frames: dict[str, dict[str, bool]] = {}
    classifications: list[JSON] = []
    parents = as_list(packet.get("parent_instance_list") or [], f"{key}.parent_instance_list")
    for i, raw in enumerate(parents):
        path = f"{key}.parent_instance_list[{i}]"
        inst = as_object(raw, path)
        if inst.get("type") != "global":
            raise Problem(
                f"{path}.type",
                f"instance type {inst.get('type')} outside a sequence is not supported yet",
            )
        classifications.extend(file_attributes(ctx, key, inst, path))

    for j, raw_seq in enumerate(as_list(packet.get("sequence_list") or [], f"{key}.sequence_list")):
        spath = f"{key}.sequence_list[{j}]"
        seq = as_object(raw_seq, spath)
        if seq.get("id") is None:
            raise Problem(f"{spath}.id", "is required")
        feature_id = ids.derived_id("diffgram-sequence", ctx.psid, str(seq["id"]))
        track_label = seq.get("label_file_id")
        seq_frames: set[int] = set()
        marked: set[int] = set()  # frames whose instance is not interpolated
        for i, raw in enumerate(as_list(seq.get("instance_list") or [], f"{spath}.instance_list")):
            path = f"{spath}.instance_list[{i}]"
            inst = as_object(raw, path)
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
            obj = canonical_object(ctx, key, inst, path, itype, video=True)
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
            keys = {n + 1 for n in as_list(listed, f"{spath}.keyframe_list") if isinstance(n, int)}
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
