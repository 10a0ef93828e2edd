"""Vertex AI custom-training splits: which data items go to training, validation and test.

Pure functions of an ``exportConfig``'s ``fractionSplit`` / ``filterSplit`` and of each item's id
and ``dataItemResourceLabels``.

* ``fractionSplit``: each data row id is hashed to a number in [0, 1) (the first 8 bytes of its
  SHA-256, over 2**64), so the same item lands in the same split on every export. Items below
  ``trainingFraction`` train, the next ``validationFraction`` validate, the next ``testFraction``
  test; the rest (when the fractions sum to less than 1) are left out. No fractions at all (or
  all zero, which is what proto3 JSON sends for an empty message) means 0.8 / 0.1 / 0.1.
* ``filterSplit``: three ListDataItems filters, tried in the order training, validation, test;
  the first that matches takes the item; an item that none matches is left out. Understood forms:
  ``labels.KEY=VALUE`` (the value may be quoted), ``-`` (matches nothing) and the empty string
  (matches everything, i.e. every item not taken by an earlier filter). proto3 JSON leaves out
  empty strings, so a filter that is not given counts as the empty string. A filter on
  ``ml_use`` (``aiplatform.googleapis.com/ml_use`` or the bare ``ml_use``) reads an item's
  ``ml_use`` under either key and compares splits in any letter case and spelling
  (:func:`labelport.vertex_vocab.ml_use_split`: ``Training``, ``train``, ``VAL``…).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labelport.errors import InvalidSpec
from labelport.vertex_vocab import ML_USE_KEYS, ML_USE_LABEL, ml_use_split

TRAINING, VALIDATION, TEST = "training", "validation", "test"
SPLITS = (TRAINING, VALIDATION, TEST)
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)

_FRACTION_KEYS = ("trainingFraction", "validationFraction", "testFraction")
_FILTER_KEYS = ("trainingFilter", "validationFilter", "testFilter")
_SLACK = 1e-9  # float tolerance when checking that fractions sum to at most 1
_LABEL_FILTER = re.compile(r"^labels\.(?P<key>[^\s=!:]+)\s*=\s*(?P<value>.*)$")


def unit_hash(data_row_id: str) -> float:
    """A stable number in [0, 1) for a data row id."""
    digest = hashlib.sha256(data_row_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class FractionSplit:
    training: float
    validation: float
    test: float

    def assign(self, data_row_id: str, labels: Mapping[str, str]) -> str | None:
        point = unit_hash(data_row_id)
        edge = 0.0
        for name, share in zip(SPLITS, (self.training, self.validation, self.test), strict=True):
            edge += share
            if point < edge:
                return name
        return None

    def to_json(self) -> dict[str, Any]:
        return {"fractionSplit": dict(zip(_FRACTION_KEYS, self.fractions(), strict=True))}

    def fractions(self) -> tuple[float, float, float]:
        return (self.training, self.validation, self.test)


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """One ListDataItems filter: ``all``, ``none`` or ``label`` (``key`` = ``value``)."""

    kind: str
    key: str = ""
    value: str = ""
    text: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "none":
            return False
        if self.key not in ML_USE_KEYS:
            return labels.get(self.key) == self.value
        given = labels.get(self.key)
        if given is None:  # the other spelling of the key
            given = next((labels[key] for key in sorted(ML_USE_KEYS) if key in labels), None)
        return given is not None and (ml_use_split(given) or given) == self.value


@dataclass(frozen=True, slots=True)
class FilterSplit:
    training: ItemFilter
    validation: ItemFilter
    test: ItemFilter

    def assign(self, data_row_id: str, labels: Mapping[str, str]) -> str | None:
        for name, item_filter in zip(
            SPLITS, (self.training, self.validation, self.test), strict=True
        ):
            if item_filter.matches(labels):
                return name
        return None

    def to_json(self) -> dict[str, Any]:
        texts = (self.training.text, self.validation.text, self.test.text)
        return {"filterSplit": dict(zip(_FILTER_KEYS, texts, strict=True))}


Split = FractionSplit | FilterSplit


def parse_split(config: Mapping[str, Any], where: str = "exportConfig") -> Split:
    """The split of a custom-training ``exportConfig`` (the 80/10/10 default when none)."""
    has_fractions = config.get("fractionSplit") is not None
    has_filters = config.get("filterSplit") is not None
    if has_fractions and has_filters:
        raise InvalidSpec(
            f"{where}: give fractionSplit or filterSplit, not both (they are one choice)"
        )
    if has_filters:
        return parse_filter_split(config["filterSplit"], f"{where}.filterSplit")
    return parse_fraction_split(config.get("fractionSplit") or {}, f"{where}.fractionSplit")


def parse_fraction_split(value: Any, where: str) -> FractionSplit:
    given = _object(value, where, _FRACTION_KEYS)
    fractions = tuple(_fraction(given.get(key, 0), f"{where}.{key}") for key in _FRACTION_KEYS)
    if not any(fractions):
        return FractionSplit(*DEFAULT_FRACTIONS)
    total = math.fsum(fractions)
    if total > 1 + _SLACK:
        raise InvalidSpec(f"{where}: the fractions sum to {total:g}; they must sum to at most 1")
    return FractionSplit(*fractions)


def parse_filter_split(value: Any, where: str) -> FilterSplit:
    given = _object(value, where, _FILTER_KEYS)
    parsed = [parse_item_filter(given.get(key, ""), f"{where}.{key}") for key in _FILTER_KEYS]
    return FilterSplit(*parsed)


def parse_item_filter(value: Any, where: str) -> ItemFilter:
    """A ListDataItems filter of the forms this module understands, else InvalidSpec."""
    if not isinstance(value, str):
        raise InvalidSpec(f"{where}: expected a filter string, got {type(value).__name__}")
    text = value.strip()
    if text == "":
        return ItemFilter("all", text=value)
    if text == "-":
        return ItemFilter("none", text=value)
    match = _LABEL_FILTER.match(text)
    if match is not None:
        label_value = _unquote(match["value"].strip())
        if label_value is not None and label_value != "":
            key = match["key"]
            if key in ML_USE_KEYS:
                label_value = ml_use_split(label_value) or label_value
            return ItemFilter("label", key, label_value, value)
    raise InvalidSpec(
        f"{where}: unsupported filter {value!r}; use labels.KEY=VALUE (e.g. "
        f'labels.{ML_USE_LABEL}="training"), "-" for nothing or "" for everything else'
    )


def _unquote(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inner = text[1:-1]
        return None if text[0] in inner else inner
    if any(ch in text for ch in " \t\"'()"):
        return None
    return text


def _object(value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidSpec(f"{where}: expected an object, got {type(value).__name__}")
    for key in value:
        if key not in allowed:
            raise InvalidSpec(f"{where}.{key}: unknown field; expected {', '.join(allowed)}")
    return value


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSpec(f"{where}: expected a number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise InvalidSpec(f"{where}: {number:g} is outside 0..1")
    return number
