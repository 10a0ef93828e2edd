"""A checked row as the raw rows of the catalog's tables (:mod:`labelport.store.bulk`).

:class:`TableRows` turns one :class:`~labelport.imports.canonical.CheckedRow` into its
``data_row`` values and its child rows (metadata, embeddings, project memberships, workflow
history, labels, model-run rows, their labels and predictions), naming the entities through an
:class:`~labelport.imports.entities.Entities` (which ensures them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labelport.ids import derived_id
from labelport.imports import shaping
from labelport.imports.canonical import CheckedLabel, CheckedRow
from labelport.imports.entities import Entities
from labelport.store.bulk import BulkWriter, document

Raw = tuple[Any, ...]


@dataclass(slots=True)
class ChildRows:
    """Rows to write for one batch, by table; ``*_replace`` name the
    sets being replaced (of rows the catalog may have had before: a new row has nothing to
    replace)."""

    meta_rows: list[Raw] = field(default_factory=list)
    meta_replace: list[str] = field(default_factory=list)
    emb_rows: list[Raw] = field(default_factory=list)
    emb_replace: list[str] = field(default_factory=list)
    pdr_full: list[Raw] = field(default_factory=list)
    pdr_default: list[Raw] = field(default_factory=list)
    history_replace: list[tuple[str, str]] = field(default_factory=list)  # (project, row)
    history_rows: list[Raw] = field(default_factory=list)
    label_replace: list[tuple[str, str]] = field(default_factory=list)  # (project, row)
    label_rows: list[Raw] = field(default_factory=list)
    mrdr_rows: list[Raw] = field(default_factory=list)
    run_replace: list[tuple[str, str]] = field(default_factory=list)  # (model run, row)
    predictions_replace: list[tuple[str, str]] = field(default_factory=list)
    meta_values: dict[str, list[Any]] = field(default_factory=dict)  # row -> values as stored
    run_labels: list[Raw] = field(default_factory=list)
    predictions: list[Raw] = field(default_factory=list)


def counts(row: CheckedRow) -> tuple[int, int, int, tuple[str, ...]]:
    """What a row adds to the summary: project labels, predictions, model-run labels, and the
    ids of its model runs."""
    labels = sum(len(p.labels or ()) for p in row.projects)
    predictions = sum(len(run.predictions or ()) for run in row.runs)
    run_labels = sum(len(run.labels or ()) for run in row.runs)
    return labels, predictions, run_labels, tuple(run.id for run in row.runs)


class TableRows:
    """Builds the raw rows of checked rows for one import."""

    def __init__(
        self,
        bulk: BulkWriter,
        org_id: str,
        default_dataset: str | None,
        media_type: str | None,
        now: datetime,
    ) -> None:
        self.bulk = bulk
        self.org_id = org_id
        self.default_dataset = default_dataset
        self.media_type = media_type
        self.now = now
        self.now_raw = bulk.timestamp(now)

    def new_id(self, row: CheckedRow) -> str:
        """The id of a row new to the catalog: its own, or derived from its global key (or its
        content, when it has none)."""
        if row.id is not None:
            return row.id
        dataset_hint = row.dataset_id or row.dataset_name or self.default_dataset or ""
        return derived_id(
            "data-row",
            self.org_id,
            *(
                ("gk", row.global_key)
                if row.global_key
                else ("content", dataset_hint, row.external_id or "", row.row_data)
            ),
        )

    def values(
        self,
        row: CheckedRow,
        rid: str,
        old: Any,
        inferred: str,
        entities: Entities,
    ) -> list[Any]:
        """The raw ``data_row`` values of ``row`` (all but the shape); ``old`` the catalog's
        row (None: new)."""
        ts = self.bulk.timestamp
        if old is None:
            dataset_id = entities.dataset(row)
            created_at = row.created_at or self.now
            last_activity = row.last_activity_at or max(row.activity_times(), default=self.now)
            return [
                rid,
                self.org_id,
                dataset_id,
                row.global_key,
                row.external_id,
                row.row_data,
                self.media_type or row.media_type or inferred,
                document(row.media_attributes),
                document(row.attachments),
                ts(created_at),
                ts(row.updated_at or created_at),
                entities.user(row.created_by) if row.created_by else None,
                ts(last_activity),
            ]
        dataset_id = (
            entities.dataset(row) if (row.dataset_id or row.dataset_name) else old["dataset_id"]
        )
        created_at = row.created_at or old["created_at"]
        last_activity = row.last_activity_at or max(
            (*row.activity_times(), old["last_activity_at"])
        )
        # forced by the caller, else the row's own, else what the catalog has
        media_type = self.media_type or row.media_type or old["media_type"]

        def keep(new: Any, column: str) -> Any:
            return new if new is not None else old[column]

        return [
            rid,
            self.org_id,
            dataset_id,
            keep(row.global_key, "global_key"),
            keep(row.external_id, "external_id"),
            row.row_data,
            media_type,
            document(keep(row.media_attributes, "media_attributes")),
            document(keep(row.attachments, "attachments")),
            ts(created_at),
            ts(row.updated_at or old["updated_at"]),
            entities.user(row.created_by) if row.created_by else old["created_by_id"],
            ts(last_activity),
        ]

    def collect(
        self,
        rid: str,
        row: CheckedRow,
        media_type: str,
        replace: bool,
        b: ChildRows,
        entities: Entities,
    ) -> None:
        """Gather the child rows of one data row into ``b``; entities are named on the way.
        ``replace``: the catalog may hold sections of the row (replaced when carried)."""
        if row.metadata is not None:
            if replace:
                b.meta_replace.append(rid)
            stored = b.meta_values[rid] = []
            for i, item in enumerate(row.metadata):
                sid, value = entities.metadata_field(item, f"metadata_fields[{i}]")
                stored.append(value)
                b.meta_rows.append((rid, i, sid, document(value)))
        if row.embeddings is not None:
            if replace:
                b.emb_replace.append(rid)
            for i, item in enumerate(row.embeddings):
                entities.embedding(item, f"embeddings[{i}]")
                b.emb_rows.append((rid, item["id"], i, document(item["values"])))
        ts = self.bulk.timestamp
        for position, proj in enumerate(row.projects):
            details = proj.details or {}
            ontology = entities.project(proj.id, proj.name, media_type, details.get("ontology_id"))
            if proj.tags is not None:
                entities.project_tagged(proj.id, proj.tags)
            if details.get("batch_id"):
                entities.batch(details["batch_id"], proj.id, details.get("batch_name"))
            pdr = (
                proj.id,
                rid,
                proj.workflow_status,  # None: unknown, never made up
                details.get("priority"),
                details.get("batch_id"),
                details.get("task_id"),
                details.get("task_name"),
                details.get("consensus_expected_label_count"),
                details.get("selected_label_id"),
                position,
                self.now_raw,
                document(shaping.project_shape(proj)),
            )
            (b.pdr_full if proj.details is not None else b.pdr_default).append(pdr)
            if proj.details is not None:
                if replace:
                    b.history_replace.append((proj.id, rid))
                for i, entry in enumerate(details.get("workflow_history") or ()):
                    b.history_rows.append(
                        (proj.id, rid, i, ts(proj.history_times[i]), document(entry))
                    )
            if proj.labels is None:  # the entry carried no labels: the catalog's stay
                continue
            if replace:
                b.label_replace.append((proj.id, rid))
            for i, lab in enumerate(proj.labels):
                entities.collect_features(ontology, lab.annotations)
                b.label_rows.append(self._label_row(lab, proj.id, rid, i, row, entities))
        for position, run in enumerate(row.runs):
            entities.model_run(run.model_id, run.model_name, run.id, run.name)
            b.mrdr_rows.append(
                (
                    run.id,
                    rid,
                    run.run_data_row_id or derived_id("run-data-row", run.id, rid),
                    run.split,
                    position,
                    document(shaping.run_shape(run)),
                )
            )
            if replace and run.labels is not None:
                b.run_replace.append((run.id, rid))
            if replace and run.predictions is not None:
                b.predictions_replace.append((run.id, rid))
            for rows_out, labels in ((b.run_labels, run.labels), (b.predictions, run.predictions)):
                for i, lab in enumerate(labels or ()):
                    rows_out.append(
                        (
                            run.id,
                            lab.id,
                            rid,
                            i,
                            lab.label_kind,
                            lab.version,
                            document(lab.annotations),
                            document(shaping.run_label_shape(lab)),
                        )
                    )

    def _label_row(
        self,
        lab: CheckedLabel,
        project_id: str,
        rid: str,
        position: int,
        row: CheckedRow,
        entities: Entities,
    ) -> Raw:
        perf = lab.performance
        created = lab.created_at or row.created_at or self.now
        ts = self.bulk.timestamp
        if perf is None:
            performance: tuple[Any, ...] = (None,) * 9
        else:
            performance = (
                _float(perf.get("seconds_to_create")),
                _float(perf.get("seconds_to_review")),
                perf.get("skipped"),
                document(perf.get("performance_details_v2")),
                perf.get("benchmark_reference_label"),
                _float(perf.get("benchmark_score")),
                _float(perf.get("consensus_score")),
                perf.get("consensus_label_count"),
                document(perf.get("consensus_labels")),
            )
        return (
            lab.id,
            self.org_id,
            project_id,
            rid,
            position,
            lab.label_kind,
            lab.version,
            document(lab.annotations),
            ts(created),
            ts(lab.updated_at or created),
            entities.user(lab.created_by),
            ts(lab.content_last_updated_at),
            document(lab.reviews),
            *performance,
            document(shaping.label_shape(lab)),
        )


def position(membership: Sequence[Any]) -> int:
    """The position of a project membership among its row's (the raw row's column)."""
    return int(membership[9])


def _float(value: Any) -> float | None:
    """A value of a Float column as it is stored (and read back)."""
    return None if value is None else float(value)
