"""Check values of a finished export, and :func:`verify`, which recomputes all of them.

``manifest.json`` sits beside the streams in the export's directory. It records what was asked
(scope, normalized params and filters), when (the snapshot time), by which labelport, the counts
(data rows, labels per project, model-run labels and predictions per model run, annotations by
kind, rows per workflow status per project, errors) and every file with bytes, lines and sha256.

:func:`verify` reads the streams again (in chunks; memory stays flat), recomputes every file's
check values and every count from the rows themselves, and lists each difference.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from labelport import vocab
from labelport.errors import InvalidInput
from labelport.export.stream_check import check_stream
from labelport.export.stream_reader import StreamReader
from labelport.export.streams import StreamInfo

MANIFEST = "manifest.json"
STREAMS = ("result", "errors")

# Every object of a row carries ``"annotation_kind":"<Kind>"``. Stored JSON is compact (orjson),
# and a quote inside a JSON string is always escaped, so this pattern only matches the key itself.
_KIND = re.compile(rb'"annotation_kind":"([^"\\]*)"')


def kinds_in(lines: bytes) -> Counter[bytes]:
    """The ``annotation_kind`` values in encoded rows, counted."""
    return Counter(_KIND.findall(lines))


@dataclass(slots=True)
class Counts:
    """Check values counted while exporting (and recounted by :func:`verify`)."""

    data_rows: int = 0
    errors: int = 0
    labels: Counter[str] = field(default_factory=Counter)  # per project
    model_run_labels: Counter[str] = field(default_factory=Counter)  # per model run
    predictions: Counter[str] = field(default_factory=Counter)  # per model run
    annotations: Counter[str] = field(default_factory=Counter)  # per annotation_kind
    workflow_status: dict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )  # per project, per status
    _kinds: Counter[bytes] = field(default_factory=Counter)

    def count_kinds(self, lines: bytes) -> None:
        """Count the ``annotation_kind`` values in encoded rows."""
        self._kinds.update(_KIND.findall(lines))

    def add_kinds(self, kinds: Iterable[tuple[bytes, int]]) -> None:
        """Add (annotation kind, count) pairs counted before (export-ready rows)."""
        for kind, n in kinds:
            self._kinds[kind] += n

    def _merge_kinds(self) -> None:
        for kind, n in self._kinds.items():
            self.annotations[kind.decode()] += n
        self._kinds.clear()

    def to_json(self) -> dict[str, Any]:
        self._merge_kinds()
        return {
            "data_rows": self.data_rows,
            "errors": self.errors,
            "labels": dict(sorted(self.labels.items())),
            "model_run_labels": dict(sorted(self.model_run_labels.items())),
            "predictions": dict(sorted(self.predictions.items())),
            "annotations": dict(sorted(self.annotations.items())),
            "workflow_status": {
                pid: dict(sorted(c.items())) for pid, c in sorted(self.workflow_status.items())
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        """The counts of a manifest's ``counts`` (what :meth:`to_json` wrote)."""
        return cls(
            data_rows=int(data["data_rows"]),
            errors=int(data["errors"]),
            labels=Counter(data["labels"]),
            model_run_labels=Counter(data["model_run_labels"]),
            predictions=Counter(data["predictions"]),
            annotations=Counter(data["annotations"]),
            workflow_status=defaultdict(
                Counter, {pid: Counter(c) for pid, c in data["workflow_status"].items()}
            ),
        )

    def add(self, other: Counts) -> None:
        """Add another part's counts to these (a shard's, when shards are stitched)."""
        other._merge_kinds()
        self.data_rows += other.data_rows
        self.errors += other.errors
        self.labels.update(other.labels)
        self.model_run_labels.update(other.model_run_labels)
        self.predictions.update(other.predictions)
        self.annotations.update(other.annotations)
        for project, statuses in other.workflow_status.items():
            self.workflow_status[project].update(statuses)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    path = directory / MANIFEST
    path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise InvalidInput(f"{directory}: no {MANIFEST} here; is this an export directory?")
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("streams"), dict):
        raise InvalidInput(f"{path}: not a labelport export manifest")
    return data


def stream_info(manifest: dict[str, Any], name: str) -> StreamInfo:
    return StreamInfo.from_json(manifest["streams"][name])


# ---------------------------------------------------------------------------------- recount


def _walk_kinds(value: Any, into: Counter[str]) -> None:
    if isinstance(value, dict):
        kind = value.get("annotation_kind")
        if isinstance(kind, str):
            into[kind] += 1
        for child in value.values():
            if isinstance(child, dict | list):
                _walk_kinds(child, into)
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict | list):
                _walk_kinds(child, into)


def recount(row: dict[str, Any], counts: Counts, *, statuses: bool) -> None:
    """Add one exported row to ``counts``, from the row alone (an independent second count)."""
    counts.data_rows += 1
    _walk_kinds(row, counts.annotations)
    for pid, entry in (row.get("projects") or {}).items():
        counts.labels[pid] += len(entry.get("labels") or ())
        if statuses:  # as the catalog counts them: stored form, UNKNOWN when none is known
            details = entry.get("project_details")
            given = details.get("workflow_status") if isinstance(details, dict) else None
            counts.workflow_status[pid][vocab.status_label(vocab.workflow_status(given))] += 1
    for model in (row.get("experiments") or {}).values():
        for run_id, run in (model.get("runs") or {}).items():
            counts.model_run_labels[run_id] += len(run.get("labels") or ())
            counts.predictions[run_id] += len(run.get("predictions") or ())


@dataclass(frozen=True, slots=True)
class Verification:
    directory: Path
    problems: list[str]
    checked: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(directory: Path) -> Verification:
    """Recompute every check value of the export in ``directory`` against its manifest."""
    manifest = read_manifest(directory)
    problems: list[str] = []
    checked: list[str] = []
    for name in STREAMS:
        info = stream_info(manifest, name)
        problems.extend(check_stream(directory, info))
        checked.append(
            f"{name}: {len(info.files)} file(s), {info.lines:,} lines, {info.bytes:,} bytes"
        )
    if problems:
        return Verification(directory, problems, checked)
    expected = manifest.get("counts") or {}
    with_statuses = bool(manifest.get("params", {}).get("project_details"))
    counts = Counts()
    result = stream_info(manifest, "result")
    for number, line in enumerate(StreamReader(directory, result).iter_lines(), start=1):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(f"result line {number}: not valid JSON: {exc}")
            continue
        recount(row, counts, statuses=with_statuses)
    counts.errors = stream_info(manifest, "errors").lines
    got = counts.to_json()
    for key in ("data_rows", "errors", "labels", "model_run_labels", "predictions", "annotations"):
        if got[key] != expected.get(key):
            problems.append(
                f"counts.{key}: the rows give {_short(got[key])}, the manifest says "
                f"{_short(expected.get(key))}"
            )
        else:
            checked.append(f"counts.{key}")
    if with_statuses:
        if got["workflow_status"] != expected.get("workflow_status"):
            problems.append(
                f"counts.workflow_status: the rows give {_short(got['workflow_status'])}, "
                f"the manifest says {_short(expected.get('workflow_status'))}"
            )
        else:
            checked.append("counts.workflow_status")
    return Verification(directory, problems, checked)


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 200 else text[:197] + "..."
