"""Custom-training splits: fraction hashing and ListDataItems filters."""

from __future__ import annotations

import pytest

from labelport.errors import InvalidSpec
from labelport.export.formats.vertex_split import (
    FilterSplit,
    FractionSplit,
    ItemFilter,
    parse_filter_split,
    parse_fraction_split,
    parse_item_filter,
    parse_split,
    unit_hash,
)

ML_USE = "aiplatform.googleapis.com/ml_use"


def test_unit_hash_is_stable_and_in_range() -> None:
    values = [unit_hash(f"id-{i}") for i in range(1000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert unit_hash("abc") == unit_hash("abc") != unit_hash("abd")
    # a fixed value: re-exports with a later labelport must split the same way
    assert unit_hash("ckabc0000000000000000000") == pytest.approx(0.370465, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        (f"labels.{ML_USE}=training", {ML_USE: "training"}, True),
        (f'labels.{ML_USE}="training"', {ML_USE: "training"}, True),
        (f"labels.{ML_USE}='training'", {ML_USE: "training"}, True),
        (f"labels.{ML_USE} = training", {ML_USE: "training"}, True),
        (f"labels.{ML_USE}=train", {ML_USE: "training"}, True),
        (f"labels.{ML_USE}=training", {"ml_use": "train"}, True),
        (f"labels.{ML_USE}=training", {ML_USE: "test"}, False),
        (f"labels.{ML_USE}=training", {}, False),
        # ml_use under either key, its value in any case and spelling
        (f"labels.{ML_USE}=training", {ML_USE: "TRAINING"}, True),
        (f"labels.{ML_USE}=Validation", {"ml_use": "VAL"}, True),
        (f"labels.{ML_USE}=test", {"ml_use": "Test"}, True),
        ("labels.ml_use=training", {ML_USE: "Training"}, True),
        ("labels.ml_use=test", {"ml_use": "testing"}, True),
        ("labels.ml_use=test", {ML_USE: "training"}, False),
        ("labels.ml_use=test", {"ml_use": "test", ML_USE: "training"}, True),
        (f"labels.{ML_USE}=holdout", {"ml_use": "holdout"}, True),
        (f"labels.{ML_USE}=training", {"ml_use": "holdout"}, False),
        ("labels.team=cv", {"team": "cv"}, True),
        ("labels.team=cv", {"team": "CV"}, False),
        ("-", {ML_USE: "training"}, False),
        ("", {}, True),
        ("   ", {ML_USE: "test"}, True),
    ],
)
def test_item_filters(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_item_filter(text, "f").matches(labels) is expected


@pytest.mark.parametrize(
    "text",
    [
        "ml_use=training",
        f"labels.{ML_USE}!=training",
        f"labels.{ML_USE}=training AND labels.x=y",
        f'labels.{ML_USE}="training',
        f"labels.{ML_USE}=",
        f"labels.{ML_USE}:*",
        "displayName=foo",
    ],
)
def test_other_filters_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidSpec, match=r"exportConfig\.filterSplit\.testFilter: unsupported"):
        parse_item_filter(text, "exportConfig.filterSplit.testFilter")


def test_filter_split_first_match_wins_in_order() -> None:
    split = parse_filter_split(
        {"trainingFilter": "labels.a=1", "validationFilter": "labels.b=2", "testFilter": ""},
        "f",
    )
    assert split.assign("x", {"a": "1", "b": "2"}) == "training"
    assert split.assign("x", {"b": "2"}) == "validation"
    assert split.assign("x", {}) == "test"
    nothing = parse_filter_split(
        {"trainingFilter": "labels.a=1", "validationFilter": "-", "testFilter": "-"}, "f"
    )
    assert nothing.assign("x", {"b": "2"}) is None


def test_a_filter_left_out_is_the_empty_filter() -> None:
    # proto3 JSON drops empty strings: the SDK sends no testFilter for test_filter=""
    split = parse_filter_split({"trainingFilter": "-", "validationFilter": "-"}, "f")
    assert split.test == ItemFilter("all", text="")
    assert split.assign("x", {}) == "test"


def test_fraction_split_assigns_by_hash() -> None:
    split = FractionSplit(0.5, 0.25, 0.25)
    for i in range(200):
        point = unit_hash(f"r{i}")
        expected = "training" if point < 0.5 else "validation" if point < 0.75 else "test"
        assert split.assign(f"r{i}", {}) == expected
    assert FractionSplit(0.0, 0.0, 0.0).assign("r1", {}) is None
    assert FractionSplit(1.0, 0.0, 0.0).assign("r1", {}) == "training"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"trainingFraction": 0.9, "validationFraction": 0.2}, "sum to 1.1"),
        ({"trainingFraction": -0.1}, r"trainingFraction: -0.1 is outside 0..1"),
        ({"testFraction": "0.1"}, "testFraction: expected a number"),
        ({"trainFraction": 0.1}, r"fractionSplit\.trainFraction: unknown field"),
        ([0.8], "expected an object"),
    ],
)
def test_bad_fractions(value: object, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        parse_fraction_split(value, "exportConfig.fractionSplit")


def test_fractions_may_sum_to_less_than_one() -> None:
    assert parse_fraction_split({"trainingFraction": 0.5}, "f") == FractionSplit(0.5, 0.0, 0.0)
    assert parse_fraction_split(
        {"trainingFraction": 0.7, "validationFraction": 0.2, "testFraction": 0.1}, "f"
    ) == FractionSplit(0.7, 0.2, 0.1)


def test_splits_round_trip_through_json() -> None:
    for split in (
        FractionSplit(0.6, 0.3, 0.1),
        parse_filter_split({"trainingFilter": "labels.a=b", "testFilter": "-"}, "f"),
    ):
        again = parse_split(split.to_json())
        assert again == split
        assert isinstance(again, FractionSplit | FilterSplit)


def test_both_splits_is_an_error() -> None:
    with pytest.raises(InvalidSpec, match="not both"):
        parse_split({"fractionSplit": {}, "filterSplit": {}})
