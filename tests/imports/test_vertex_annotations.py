"""The annotation parsers of the Vertex converter (:mod:`labelport.imports.vertex_annotations`):
one good record per objective becomes its exact canonical annotations."""

from __future__ import annotations

import pytest

from labelport.imports.vertex import OBJECTIVES
from tests.imports.vertex_samples import GOOD, given, label_annotations, one_row


def test_the_table_covers_every_objective() -> None:
    assert set(GOOD) == set(OBJECTIVES)
    assert len(OBJECTIVES) == 11


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_good_record_maps_to_canonical_annotations(objective: str) -> None:
    record, expected = GOOD[objective]
    assert label_annotations(one_row(record, objective=given(objective))) == expected


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_good_record_with_explicit_objective(objective: str) -> None:
    record, expected = GOOD[objective]
    assert label_annotations(one_row(record, objective=objective)) == expected
