"""Canonical classifications -> the ``attribute_groups`` of a Diffgram instance.

:func:`add_attribute` adds one classification (and its nested ones) to an instance's
``attribute_groups``, registering its group and options in the export's vocabulary; values the
importer kept raw are written back as they were. The mapping is in the docstring of
:mod:`labelport.export.formats.diffgram`.
"""

from __future__ import annotations

from typing import Any

from labelport.export.formats.diffgram_ids import stable_int
from labelport.export.formats.diffgram_values import JSON, Unbuildable, as_list, as_object
from labelport.export.formats.diffgram_vocabulary import AttributeGroup, Packet

_SINGLE_KINDS = (None, "radio", "select")


def add_attribute(
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
        form, answers = "radio", [(as_object(cls["radio_answer"], f"{path}.radio_answer"), "radio")]
    elif "checklist_answers" in cls:
        items = as_list(cls["checklist_answers"], f"{path}.checklist_answers")
        form = "multiple_select"
        answers = [
            (as_object(a, f"{path}.checklist_answers[{j}]"), f"checklist_answers[{j}]")
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
    use_label(packet, group, label_id)
    if form == "text":
        content = as_object(cls["text_answer"], f"{path}.text_answer").get("content")
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
            add_attribute(
                packet, into, as_object(nested, npath), npath, label_id, is_global=is_global
            )
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


def use_label(packet: Packet, group: AttributeGroup, label_id: Any) -> None:
    if label_id is None:
        return
    known = packet.vocab.labels.get(str(label_id))
    name = known[1] if known else None
    group.labels.setdefault(str(label_id), {"id": label_id, "label": {"name": name}})
