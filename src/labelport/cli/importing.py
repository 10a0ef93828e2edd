"""``labelport import``: bring Labelbox, Vertex AI, Diffgram or plain row files into the catalog."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

import click

from labelport import services
from labelport.cli.common import file_progress, org_option, store
from labelport.imports.canonical import MEDIA_TYPES
from labelport.imports.load import ImportResult

media_type_option = click.option(
    "--media-type",
    type=click.Choice(MEDIA_TYPES),
    default=None,
    help="Media type of every row (default: inferred per row).",
)


@click.group("import")
def import_group() -> None:
    """Import a file into the catalog.

    Every import is all-or-nothing per file (a file with a bad record leaves no trace; the error
    names the file, line, field and reason), streams (memory stays flat) and is idempotent
    (importing again updates by id or global key and never duplicates).
    """


def _run(
    path: str,
    org: str | None,
    call: Callable[[IO[bytes], Callable[[int], None], str], ImportResult],
) -> None:
    st = store()
    organization = services.find_organization(st, org)
    with file_progress(path, "importing") as (stream, progress):
        result = call(stream, progress, organization.id)
    parts = [f"{result.rows:,} rows"]
    if result.labels:
        parts.append(f"{result.labels:,} labels")
    if result.predictions:
        parts.append(f"{result.predictions:,} predictions")
    if result.annotation_sets:
        parts.append(f"annotation set {', '.join(sorted(set(result.annotation_sets)))}")
    click.echo(
        f"imported {', '.join(parts)} from {path} in {result.seconds:.2f}s "
        f"({result.rows_per_second:,.0f} rows/s)"
    )


@import_group.command("labelbox")
@click.argument("file", metavar="FILE")
@click.option(
    "--dataset",
    metavar="NAME",
    default=None,
    help="Dataset for rows that carry no data_row.details (created if new).",
)
@media_type_option
@org_option
def import_labelbox(
    file: str, dataset: str | None, media_type: str | None, org: str | None
) -> None:
    """Import Labelbox export-v2 NDJSON rows (FILE, or - for stdin).

    Every field of the export is kept: data row and details, media attributes, attachments,
    metadata, embeddings, projects (labels, label and performance details, project details with
    workflow history) and experiments (model runs with labels, predictions and splits). Datasets,
    projects, ontologies, users, batches and model runs are created as needed; ids are kept.

    \b
    Example:
      labelport import labelbox export.ndjson --dataset "fallback dataset"
    """
    _run(
        file,
        org,
        lambda stream, progress, org_id: services.import_labelbox(
            store(),
            org_id,
            stream,
            file=file,
            dataset=dataset,
            media_type=media_type,
            on_progress=progress,
        ),
    )


@import_group.command("vertex")
@click.argument("file", metavar="FILE")
@click.option("--dataset", metavar="NAME", required=True, help="Dataset to import into.")
@click.option(
    "--annotation-set",
    metavar="NAME",
    default=None,
    help="Display name of the annotation set (default: <dataset>_<objective>).",
)
@click.option(
    "--objective",
    default=None,
    metavar="OBJECTIVE",
    help="One of the eleven Vertex objectives (default: detected from the file).",
)
@org_option
def import_vertex(
    file: str, dataset: str, annotation_set: str | None, objective: str | None, org: str | None
) -> None:
    """Import Vertex AI JSON Lines (any of the eleven objectives).

    \b
    Objectives: image_classification_single_label, image_classification_multi_label,
    image_bounding_box, image_segmentation, text_classification_single_label,
    text_classification_multi_label, text_extraction, text_sentiment, video_classification,
    video_action_recognition, video_object_tracking.

    \b
    Example:
      labelport import vertex flowers.jsonl --dataset flowers --annotation-set "flowers v1"
    """
    _run(
        file,
        org,
        lambda stream, progress, org_id: services.import_vertex(
            store(),
            org_id,
            stream,
            file=file,
            dataset=dataset,
            annotation_set=annotation_set,
            objective=objective,
            on_progress=progress,
        ),
    )


@import_group.command("diffgram")
@click.argument("file", metavar="FILE")
@click.option(
    "--dataset",
    metavar="NAME",
    default=None,
    help="Dataset to import into (default: the export's directory or project name).",
)
@org_option
def import_diffgram(file: str, dataset: str | None, org: str | None) -> None:
    """Import a Diffgram JSON export (image, video and text files) into a dataset and project.

    \b
    Example:
      labelport import diffgram 42_diffgram_annotations.json --dataset street-scenes
    """
    _run(
        file,
        org,
        lambda stream, progress, org_id: services.import_diffgram(
            store(), org_id, stream, file=file, dataset=dataset, on_progress=progress
        ),
    )


@import_group.command("rows")
@click.argument("file", metavar="FILE")
@click.option("--dataset", metavar="NAME", required=True, help="Dataset to import into.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="File format (default: from the file name; .csv is CSV, anything else JSONL).",
)
@media_type_option
@org_option
def import_rows(
    file: str, dataset: str, file_format: str | None, media_type: str | None, org: str | None
) -> None:
    """Import a plain list of data rows (JSONL or CSV).

    Fields: row_data (required), global_key, external_id, media_type, metadata, attachments.
    CSV cells of metadata/attachments hold JSON; a column metadata.<name> sets one field.

    \b
    Example:
      labelport import rows images.csv --dataset street-scenes
    """
    _run(
        file,
        org,
        lambda stream, progress, org_id: services.import_rows(
            store(),
            org_id,
            stream,
            file=file,
            dataset=dataset,
            file_format=file_format,
            media_type=media_type,
            on_progress=progress,
        ),
    )
