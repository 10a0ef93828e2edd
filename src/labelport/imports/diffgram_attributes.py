"""Diffgram attributes -> canonical classifications.

An instance's ``attribute_groups`` (``{group id: value}``) are resolved through the export's
``attribute_groups_reference`` (:class:`~labelport.imports.diffgram_metadata.AttributeGroup`):
:func:`attribute_classifications` for an instance (values no answer form can hold are handed
back, to be kept raw), :func:`file_attributes` for a file-level ``global`` instance (where such a
value is an error). The mapping is in the docstring of :mod:`labelport.imports.diffgram`.
"""

from __future__ import annotations

from typing import Any

from labelport import ids
from labelport.imports.base import JSON, Problem
from labelport.imports.diffgram_metadata import AttributeGroup, Export
from labelport.imports.diffgram_values import as_object, schema_id, type_name

SINGLE_ANSWER_KINDS = (None, "radio", "select")  # no kind: Diffgram's UI treats it as select


def file_attributes(ctx: Export, key: str, inst: JSON, path: str) -> list[JSON]:
    owner = str(inst["id"]) if inst.get("id") is not None else f"file:{key}"
    classifications, unresolved = attribute_classifications(
        ctx, inst.get("attribute_groups"), path, owner
    )
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


def attribute_classifications(
    ctx: Export, groups: Any, path: str, owner: str
) -> tuple[list[JSON], JSON]:
    """Classifications from ``{group id: value}``, and the values no answer form can hold."""
    if groups is None:
        return [], {}
    out: list[JSON] = []
    unresolved: JSON = {}
    for gid, value in as_object(groups, f"{path}.attribute_groups").items():
        gpath = f"{path}.attribute_groups.{gid}"
        group = ctx.groups.get(str(gid))
        if group is None:
            raise Problem(gpath, f"attribute group {gid} is not in attribute_groups_reference")
        if value is None or value == "" or value == [] or value == {}:
            continue  # nothing chosen
        cls: JSON = {
            "feature_id": ids.derived_id("diffgram-attribute", ctx.psid, owner, str(gid)),
            "feature_schema_id": schema_id("diffgram-attribute-group", ctx.psid, str(gid)),
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
                raise Problem(
                    gpath, f"expected the text of a text attribute, got {type_name(value)}"
                )
            cls["text_answer"] = {"content": value}
        else:
            unresolved[str(gid)] = value
            continue
        cls["diffgram"] = {"attribute_group_id": group.id, "kind": group.kind, "value": value}
        out.append(cls)
    return out, unresolved


def _answer(ctx: Export, group: AttributeGroup, chosen: Any, path: str, owner: str) -> JSON:
    option = as_object(chosen, path)
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
        "feature_schema_id": schema_id("diffgram-attribute-option", ctx.psid, str(option_id)),
        "name": name,
        "value": name,
        "classifications": [],
    }
