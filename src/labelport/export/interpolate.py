"""Fill the in-between frames of video and DICOM labels (export param ``interpolated_frames``).

Labelbox stores only the keyframes of a video (or DICOM plane) label. With ``interpolated_frames``
the export carries every frame in between, computed by linear interpolation. The rules, per
feature id ``F`` (for DICOM: per plane, using ``groups[plane]["frames"]`` and
``segments[plane]``):

1. ``K`` is the sorted frame numbers whose frame holds ``F`` in its ``"objects"`` (as a dict). If
   ``K`` is empty there is nothing to do for ``F``.
2. The frames to fill are every ``f`` with ``min(K) <= f <= max(K)``, plus every ``f`` inside any
   segment ``[s, e]`` of ``F`` (inclusive). With ``frame_count`` given, frames ``< 1`` or
   ``> frame_count`` are dropped.
3. For a fill frame ``f`` not in ``K``: ``p`` is the largest keyframe ``< f`` and ``n`` the smallest
   keyframe ``> f``. With both, the new object is a copy of the object at ``p`` whose geometry is
   interpolated at ``t = (f - p) / (n - p)``; with only one, it is a copy of that keyframe's object
   (hold). Geometry: ``"bounding_box"`` (``top``, ``left``, ``height``, ``width``) and ``"point"``
   (``x``, ``y``) are linear per number; ``"line"`` and ``"polygon"`` (lists of ``{x, y}``) are
   linear point by point when both keyframes have as many points, else ``p``'s are held. Every
   other key (masks, nested classifications, name, ...) comes from ``p`` (or the keyframe held).
   Values are floats as computed, never rounded, and always lie between the two keyframes'
   values.
4. A frame that gains objects but did not exist is created as
   ``{"objects": {}, "classifications": []}``. Output ``"frames"`` keys are ordered numerically;
   keys that are not frame numbers follow, in their original order. Within a frame, existing
   objects keep their order and added ones follow in the order feature ids were first seen.
5. Frame-level classifications are not interpolated; ``"segments"`` and
   ``"key_frame_feature_map"`` are unchanged.
6. Odd input never raises: objects that are not dicts, frames that are not dicts or have no
   ``"objects"`` dict, malformed segments and non-numeric values are left alone. Anything that is
   neither the video shape (``"frames"``) nor the DICOM shape (``"groups"``) is returned as is.

The input is never mutated: what changes is copied (added objects are deep copies), whatever is
unchanged (keyframe objects, untouched frames) is shared with the input.
"""

from __future__ import annotations

import bisect
import copy
import math
from collections.abc import Iterator
from typing import Any, TypeGuard

__all__ = ["interpolate_frames", "needs_interpolation"]

JSON = dict[str, Any]

_EMPTY_FRAME: JSON = {"objects": {}, "classifications": []}
_XY = ("x", "y")
_BOX = ("top", "left", "height", "width")


def needs_interpolation(annotations: dict[str, Any]) -> bool:
    """Whether ``annotations`` has the video (``"frames"``) or DICOM (``"groups"``) shape."""
    return isinstance(annotations, dict) and ("frames" in annotations or "groups" in annotations)


def interpolate_frames(
    annotations: dict[str, Any], frame_count: int | None = None
) -> dict[str, Any]:
    """Return annotations with in-between frames filled. Never mutates its input (copy what you
    change; unchanged sub-objects may be shared). Anything that is not the video shape (has
    "frames") or the DICOM shape (has "groups") is returned as is (the same object)."""
    if not isinstance(annotations, dict):
        return annotations
    frames = annotations.get("frames")
    if isinstance(frames, dict):
        out = dict(annotations)
        out["frames"] = _fill(frames, annotations.get("segments"), frame_count)
        return out
    groups = annotations.get("groups")
    if isinstance(groups, dict):
        segments = annotations.get("segments")
        new_groups: JSON = {}
        for plane, group in groups.items():
            plane_frames = group.get("frames") if isinstance(group, dict) else None
            if not isinstance(plane_frames, dict):
                new_groups[plane] = group
                continue
            plane_segments = segments.get(plane) if isinstance(segments, dict) else None
            new_group = dict(group)
            new_group["frames"] = _fill(plane_frames, plane_segments, frame_count)
            new_groups[plane] = new_group
        out = dict(annotations)
        out["groups"] = new_groups
        return out
    return annotations


def _fill(frames: JSON, segments: Any, frame_count: int | None) -> JSON:
    """The frames of one video (or DICOM plane) with every feature's in-between frames added."""
    numbered: dict[int, str] = {}
    others: list[str] = []
    for key in frames:
        number = _frame_number(key)
        if number is None:
            others.append(key)
        else:
            numbered[number] = key

    order: list[Any] = []  # feature ids, as first seen
    present: dict[Any, set[int]] = {}  # every frame holding the feature, whatever its value
    keyframes: dict[Any, dict[int, JSON]] = {}  # the frames where the feature is a dict
    for number in sorted(numbered):
        objects = _objects(frames[numbered[number]])
        if objects is None:
            continue
        for fid, obj in objects.items():
            if fid not in present:
                order.append(fid)
                present[fid] = set()
            present[fid].add(number)
            if isinstance(obj, dict):
                keyframes.setdefault(fid, {})[number] = obj

    additions: dict[int, list[tuple[Any, JSON]]] = {}
    for fid in order:
        by_frame = keyframes.get(fid)
        if not by_frame:
            continue
        ks = sorted(by_frame)
        targets = set(range(ks[0], ks[-1] + 1))
        feature_segments = segments.get(fid) if isinstance(segments, dict) else None
        for start, end in _segments(feature_segments):
            targets.update(range(start, end + 1))
        for f in sorted(targets):
            if frame_count is not None and not 1 <= f <= frame_count:
                continue
            if f in present[fid]:
                continue
            if f in numbered and _objects(frames[numbered[f]]) is None:
                continue  # an existing frame that cannot hold objects is left alone
            i = bisect.bisect_left(ks, f)
            prev = ks[i - 1] if i > 0 else None
            nxt = ks[i] if i < len(ks) else None
            if prev is not None and nxt is not None:
                obj = _interpolate(by_frame[prev], by_frame[nxt], (f - prev) / (nxt - prev))
            elif prev is not None:
                obj = copy.deepcopy(by_frame[prev])
            elif nxt is not None:
                obj = copy.deepcopy(by_frame[nxt])
            else:  # pragma: no cover - ks is never empty
                continue
            additions.setdefault(f, []).append((fid, obj))

    out: JSON = {}
    for number in sorted(numbered.keys() | additions.keys()):
        key = numbered.get(number, str(number))
        added = additions.get(number)
        if added is None:
            out[key] = frames[key]
            continue
        frame = dict(frames[key]) if key in frames else copy.deepcopy(_EMPTY_FRAME)
        objects = dict(frame["objects"])
        for fid, obj in added:
            objects[fid] = obj
        frame["objects"] = objects
        out[key] = frame
    for key in others:
        out[key] = frames[key]
    return out


def _frame_number(key: Any) -> int | None:
    """The frame number a key spells in canonical form (``"13"``), else None."""
    if not isinstance(key, str):
        return None
    try:
        number = int(key)
    except ValueError:
        return None
    return number if str(number) == key else None


def _objects(frame: Any) -> JSON | None:
    """A frame's ``"objects"`` dict, or None when the frame has none."""
    if not isinstance(frame, dict):
        return None
    objects = frame.get("objects")
    return objects if isinstance(objects, dict) else None


def _segments(value: Any) -> Iterator[tuple[int, int]]:
    """The well-formed ``[start, end]`` pairs of one feature's segments."""
    if not isinstance(value, list | tuple):
        return
    for segment in value:
        if not isinstance(segment, list | tuple) or len(segment) != 2:
            continue
        start, end = _integer(segment[0]), _integer(segment[1])
        if start is not None and end is not None:
            yield start, end


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _interpolate(prev: JSON, nxt: JSON, t: float) -> JSON:
    """A copy of ``prev`` with its geometry moved a fraction ``t`` of the way to ``nxt``'s."""
    out = copy.deepcopy(prev)
    box = out.get("bounding_box")
    if isinstance(box, dict):
        _lerp_in_place(box, nxt.get("bounding_box"), _BOX, t)
    point = out.get("point")
    if isinstance(point, dict):
        _lerp_in_place(point, nxt.get("point"), _XY, t)
    for key in ("line", "polygon"):
        points = out.get(key)
        targets = nxt.get(key)
        if not isinstance(points, list) or not isinstance(targets, list):
            continue
        if len(points) != len(targets):
            continue
        for here, there in zip(points, targets, strict=True):
            if isinstance(here, dict):
                _lerp_in_place(here, there, _XY, t)
    return out


def _lerp_in_place(here: JSON, there: Any, keys: tuple[str, ...], t: float) -> None:
    """Move each numeric ``here[key]`` toward ``there[key]``; anything else is kept."""
    if not isinstance(there, dict):
        return
    for key in keys:
        a, b = here.get(key), there.get(key)
        if _is_number(a) and _is_number(b):
            value = _lerp(a, b, t)
            if value is not None:
                here[key] = value


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _lerp(a: float, b: float, t: float) -> float | None:
    """``a + (b - a) * t``, kept within ``[min(a, b), max(a, b)]``; None when not computable."""
    try:
        fa, fb = float(a), float(b)
    except OverflowError:
        return None
    if not (math.isfinite(fa) and math.isfinite(fb)):
        return None
    delta = fb - fa
    value = fa + delta * t if math.isfinite(delta) else fa * (1.0 - t) + fb * t
    return min(max(value, min(fa, fb)), max(fa, fb))
