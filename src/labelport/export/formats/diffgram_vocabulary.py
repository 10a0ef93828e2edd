"""What a Diffgram export collects while its packets are built: labels, attribute groups, counts.

:class:`Vocabulary` holds the labels (``label_map``) and attribute groups
(``attribute_groups_reference``) seen so far - ontology-sized, not row-sized - and
:class:`Packet` one packet being built with what it counts; :func:`colour_of` gives a label its
stable colour. Part of the Diffgram writer (:mod:`labelport.export.formats.diffgram`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from labelport.export.formats.diffgram_ids import stable_int
from labelport.export.formats.diffgram_values import JSON, Unbuildable


@dataclass(slots=True)
class AttributeGroup:
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
    groups: dict[str, AttributeGroup] = field(default_factory=dict)  # str(id) -> group

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

    def group(self, gid: Any, kind: str | None, name: str, prompt: str) -> AttributeGroup:
        group = self.groups.get(str(gid))
        if group is None:
            group = self.groups[str(gid)] = AttributeGroup(gid, kind, name, prompt)
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
