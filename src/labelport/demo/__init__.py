"""The demo catalog: deterministic, realistic, every media type and annotation kind.

:func:`run` writes the demo files into ``<home>/demo`` (the Labelbox export-v2 rows of
:mod:`labelport.demo.rows`, the same bytes for the same seed, and a Vertex AI file), imports them
through the import services (the path ``labelport import`` takes), adds slices and annotation
sets, runs and verifies one export of each kind of scope, and reports what is there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from labelport import services
from labelport.demo.annotations import demo_id
from labelport.demo.rows import annotation_kinds, iter_rows, write_labelbox
from labelport.errors import NotFound
from labelport.export.artifacts import Artifacts, local_copy, open_folder
from labelport.export.manifest import read_manifest, verify
from labelport.export.spec import Scope, every_param
from labelport.services import export_tasks
from labelport.settings import Settings
from labelport.store import Store
from labelport.store import schema as s


def run(
    store: Store,
    settings: Settings,
    *,
    rows_per_type: int = 60,
    seed: int = 7,
) -> list[str]:
    """Build the demo catalog in organization ``demo`` and return a report, line by line.

    The files go to ``<home>/demo``, the exports to the settings' artifact store."""
    home = settings.home
    report: list[str] = []
    try:
        org = services.find_organization(store, "demo")
    except NotFound:
        created = services.init_catalog(store, "demo", "admin@demo.test")
        org = created.organization
        report.append(f"created organization 'demo'; admin API key (shown once): {created.api_key}")
    folder = home / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labelbox-export.ndjson"
    with path.open("wb") as out:
        written = write_labelbox(out, rows_per_type, seed)
    with path.open("rb") as stream:
        result = services.import_labelbox(store, org.id, stream, file=str(path))
    report.append(f"wrote {written:,} Labelbox export-v2 rows to {path}")
    report.append(
        f"imported {result.rows:,} rows, {result.labels:,} labels, "
        f"{result.predictions:,} predictions "
        f"in {result.seconds:.2f}s ({result.rows_per_second:,.0f} rows/s)"
    )
    for line in _extra_sources(store, org.id, folder, rows_per_type, seed):
        report.append(line)
    report.append("catalog (organization demo):")
    for name, count in services.stats(store, org.id).items():
        report.append(f"  {name:<28} {count:>8,}")
    report.append("annotation kinds in the demo rows:")
    for kind, count in sorted(annotation_kinds(iter_rows(rows_per_type, seed)).items()):
        report.append(f"  {kind:<36} {count:>6,}")
    artifacts = Artifacts.for_settings(settings)
    report.extend(export_examples(store, org.id, artifacts))
    return report


EVERY_PROJECT_PARAM = every_param("project")


def export_examples(store: Store, org_id: str, artifacts: Artifacts) -> list[str]:
    """Run one export of each kind of scope on the demo catalog, verify each, report the files."""
    with store.read() as conn:
        video_project = conn.execute(
            sa.select(s.project.c.id, s.project.c.name)
            .where(s.project.c.org_id == org_id, s.project.c.media_type == "VIDEO")
            .order_by(s.project.c.name)
        ).first()
        run = conn.execute(
            sa.select(s.model_run.c.id)
            .join(s.model, s.model.c.id == s.model_run.c.model_id)
            .where(s.model.c.org_id == org_id)
            .order_by(s.model_run.c.name)
        ).scalar()
        dataset = conn.execute(
            sa.select(s.dataset.c.id).where(s.dataset.c.org_id == org_id).order_by(s.dataset.c.name)
        ).scalar()
        catalog_slice = conn.execute(
            sa.select(s.catalog_slice.c.id)
            .where(s.catalog_slice.c.org_id == org_id)
            .order_by(s.catalog_slice.c.name)
        ).scalar()
    requests: list[tuple[str, Scope, dict[str, Any], dict[str, Any] | None]] = []
    if video_project is not None:
        requests.append(
            (
                f"project {video_project.name!r}, every param, frames interpolated",
                Scope("project", video_project.id),
                EVERY_PROJECT_PARAM,
                None,
            )
        )
        requests.append(
            (
                f"project {video_project.name!r}, rows in review",
                Scope("project", video_project.id),
                {"project_details": True},
                {"workflow_status": "InReview"},
            )
        )
    if dataset is not None:
        requests.append(
            (
                "a dataset with labels of every project",
                Scope("dataset", dataset),
                {"data_row_details": True, "all_projects": True, "label_details": True},
                None,
            )
        )
    if run is not None:
        requests.append(
            (
                "a model run with predictions and splits",
                Scope("model_run", run),
                {"predictions": True, "model_run_details": True},
                None,
            )
        )
    if catalog_slice is not None:
        requests.append(("a catalog slice", Scope("slice", catalog_slice), {}, None))
    requests.append(
        (
            "the whole catalog, everything",
            Scope("catalog"),
            every_param("catalog", interpolated_frames=False),
            None,
        )
    )
    report = ["exports (each verified against its manifest):"]
    for title, scope, params, filters in requests:
        task = services.start_export(store, org_id, scope, params, filters)
        started = time.perf_counter()
        done = export_tasks.execute(store, artifacts, task.id)
        seconds = time.perf_counter() - started
        if done.status != "COMPLETE":
            report.append(f"  {title}: {done.status} {done.error_message}")
            continue
        location = str(done.location)
        folder = open_folder(location, artifacts.settings)
        with local_copy(folder) as copy:  # an object store's folder is checked on a copy
            checked = verify(copy)
            files = read_manifest(copy)["streams"]["result"]["files"]

        def where(name: str, local: Path | None = folder.local, url: str = location) -> str:
            return str(local / name) if local is not None else f"{url}/{name}"

        report.append(
            f"  {title}: {done.result_lines:,} rows, {done.result_bytes or 0:,} bytes, "
            f"{done.error_lines or 0} errors in {seconds:.2f}s; "
            f"verify {'ok' if checked.ok else 'FAILED: ' + '; '.join(checked.problems)}"
        )
        for f in files:
            report.append(f"    {where(f['name'])}")
        if not files:
            report.append(f"    (no rows) {where('manifest.json')}")
    return report


def _extra_sources(store: Store, org_id: str, folder: Path, rows: int, seed: int) -> Iterator[str]:
    """Slices and annotation sets on top of the Labelbox rows, and a Vertex AI file."""
    rng = random.Random(seed)
    vertex_path = folder / "vertex-flowers.jsonl"
    flowers = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    uses = ["training"] * 8 + ["validation", "test"]
    with vertex_path.open("wb") as out:
        for n in range(rows):
            line = {
                "imageGcsUri": f"gs://demo-labelport/flowers/{n:05d}.jpg",
                "classificationAnnotation": {"displayName": rng.choice(flowers)},
                "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": uses[n % 10]},
            }
            out.write(orjson.dumps(line) + b"\n")
    with vertex_path.open("rb") as stream:
        result = services.import_vertex(
            store,
            org_id,
            stream,
            file=str(vertex_path),
            dataset="flowers",
            annotation_set="flowers single label",
        )
    yield (
        f"imported {result.rows:,} Vertex AI rows from {vertex_path} "
        f"(annotation set {result.annotation_sets[0]}: 'flowers single label')"
    )
    for name, filters in (
        ("Labeled in March 2025", {"label_created_at": ["2025-03-01", "2025-03-31"]}),
        ("Active in March 2025", {"last_activity_at": ["2025-03-01", "2025-03-31"]}),
    ):
        services.save_slice(store, org_id, name, filters, slice_id=demo_id("slice", name))
        yield f"saved catalog slice {name!r} {filters}"
    run_id = demo_id("run", "detector", "v1")
    services.save_annotation_set(
        store,
        org_id,
        set_id="8066716590760001536",
        display_name="detector v1 predictions",
        objective="image_bounding_box",
        model_run_id=run_id,
    )
    yield "saved annotation set 'detector v1 predictions' (source: model run detector v1)"
