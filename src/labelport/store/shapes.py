"""Source shapes: what an imported object looked like, so its export is the object it was.

labelport's columns hold values, not their presence or their spelling: a key the source left out
and a key it gave as ``null`` are both NULL, ``4739`` in a Float column reads back as ``4739.0``,
``"Done"`` is stored as ``DONE``. So each imported object that differs from labelport's own
rendering of it keeps a *shape* beside its row (the ``shape`` column of ``data_row``,
``project_data_row``, ``label``, ``model_run_data_row``, ``model_run_label`` and ``prediction``),
and the export applies it (:func:`apply`) to the object it builds. A shape is a small JSON object:

``a``  keys labelport renders that the source did not carry: left out
``n``  keys labelport leaves out when null (``global_key``, ``project_tags``…) that the source
       gave as ``null``: kept, as ``null``
``o``  keys whose exact JSON value the columns cannot give back (an integer in a Float column, a
       timestamp in another spelling, a status as the source spelled it): that value
``x``  keys labelport does not know: kept verbatim, after the known ones
``s``  nested objects: ``{key: shape}``
``l``  lists of objects (``metadata_fields``, ``embeddings``): ``{key: [shape or null, ...]}``
``e``  sections the source left out that the catalog may hold from before (a re-import keeps
       what a row leaves out): left out when empty, shown when not
``m``  (a model run's row) the shape of its model's entry ``{"name", "runs"}``
``k``  only these known keys are kept (an object the source left out whose value a labelport
       writer has since set: just that value shows)

Rows labelport creates itself (the demo, REST, the web UI) have no shape: NULL, today's full
rendering. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

Shape = dict[str, Any]
JSON = dict[str, Any]


def apply(built: JSON, shape: Shape | None, omit_null: Collection[str] = ()) -> JSON:
    """``built`` (labelport's rendering of one object, keys in export order) as its source had
    it. Changes and returns ``built``; keys absent from ``built`` (a param left them out) stay out,
    whatever the shape says, except unknown keys (``x``), which belong to the object itself."""
    if shape is None:
        for key in omit_null:
            if key in built and built[key] is None:
                del built[key]
        return built
    kept_null = shape.get("n", ())
    for key in omit_null:
        if key in built and built[key] is None and key not in kept_null:
            del built[key]
    for key in shape.get("a", ()):
        built.pop(key, None)
    for key in shape.get("e", ()):
        if key in built and _empty(built[key]):
            del built[key]
    if "k" in shape:
        only = shape["k"]
        for key in [k for k in built if k not in only]:
            del built[key]
    for key, value in shape.get("o", {}).items():
        if key in built:
            built[key] = value
    for key, sub in shape.get("s", {}).items():
        inner = built.get(key)
        if isinstance(inner, dict):
            built[key] = apply(inner, sub)
    for key, subs in shape.get("l", {}).items():
        items = built.get(key)
        if isinstance(items, list):
            for i, sub in enumerate(subs):
                if sub is not None and i < len(items) and isinstance(items[i], dict):
                    items[i] = apply(items[i], sub)
    extra = shape.get("x")
    if extra:
        built.update(extra)
    return built


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, list | dict) and not value)


_KNOWN_SETS: dict[int, tuple[tuple[str, ...], frozenset[str]]] = {}


def _known_set(known: tuple[str, ...]) -> frozenset[str]:
    found = _KNOWN_SETS.get(id(known))
    if found is None or found[0] is not known:
        found = _KNOWN_SETS[id(known)] = (known, frozenset(known))
    return found[1]


def of(
    source: Mapping[str, Any],
    known: tuple[str, ...],
    *,
    omit_null: Collection[str] = (),
    overrides: Mapping[str, Any] | None = None,
    nested: Mapping[str, Shape | None] | None = None,
    lists: Mapping[str, list[Shape | None]] | None = None,
    always: Collection[str] = (),
) -> Shape | None:
    """The shape of ``source`` against the ``known`` keys labelport renders for it (None when
    labelport's rendering is the source as it was). ``always`` are keys rendered whether or not
    the source carried them (ids labelport derives)."""
    found = _KNOWN_SETS.get(id(known))
    known_set = found[1] if found is not None and found[0] is known else _known_set(known)
    keys = source.keys()
    if not (omit_null or overrides or nested or lists) and keys == known_set:
        return None  # the common case: every key, none unknown, nothing else to say
    out: Shape = {}
    if keys != known_set:  # the common case (every key, none unknown) skips both walks
        absent = [k for k in known if k not in source and k not in always]
        if absent:
            out["a"] = absent
        extra = {k: v for k, v in source.items() if k not in known_set}
        if extra:
            out["x"] = extra
    for key in omit_null:
        if key in source and source[key] is None:
            out.setdefault("n", []).append(key)
    if overrides:
        out["o"] = dict(overrides)
    if nested:
        for key, sub in nested.items():
            if sub is not None:
                out.setdefault("s", {})[key] = sub
    if lists:
        for key, items in lists.items():
            if any(x is not None for x in items):
                out.setdefault("l", {})[key] = items
    return out or None


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (``1`` is not ``1.0``, ``True`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def forget(shape: Shape | None, *path: str) -> Shape | None:
    """``shape`` without what it says about the key at ``path`` (a labelport writer has just set
    that value: from now on it is rendered as stored). ``forget(s, "project_details",
    "workflow_status")`` makes a membership's status show, even if its source carried none."""
    if shape is None or not path:
        return shape
    out = dict(shape)
    head, rest = path[0], path[1:]
    if rest:
        subs = dict(out.get("s", {}))
        absent = [k for k in out.get("a", ()) if k != head]
        if head in out.get("a", ()):
            # the object was absent: it comes back holding only the key being set
            subs[head] = {"k": [rest[0]]}
        elif head in subs:
            inner = subs[head]
            if "k" in inner and rest[0] not in inner["k"]:
                inner = {**inner, "k": [*inner["k"], rest[0]]}
            inner = forget(inner, *rest)
            if inner is None:
                subs.pop(head)
            else:
                subs[head] = inner
        out["a"] = absent
        out["s"] = subs
    else:
        out["a"] = [k for k in out.get("a", ()) if k != head]
        out["o"] = {k: v for k, v in out.get("o", {}).items() if k != head}
    return {k: v for k, v in out.items() if v} or None
