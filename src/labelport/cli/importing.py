"""``labelport import``: bring Labelbox, Vertex AI, Diffgram or plain row files into the catalog."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

import click

from labelport import services
from labelport.cli.common import file_progress, org_option, settings, store
from labelport.imports.load import ImportResult
from labelport.vocab import MEDIA_TYPES

media_type_option = click.option(
    "--media-type",
    type=click.Choice(MEDIA_TYPES),
    default=None,
    help="Media type of every row (default: inferred per row).",
)
strict_option = click.option(
    "--strict",
    is_flag=True,
    default=False,
    help="Make every warning (an unknown field or value, kept verbatim) an error.",
)


@click.group("import")
def import_group() -> None:
    """Import a file into the catalog.

    Every import is all-or-nothing per file (a file with a bad record leaves no trace; the error
    names the file, line, field and reason), streams (memory stays flat) and is idempotent
    (importing again updates by id or global key and never duplicates). Unknown fields and
    values are kept verbatim and listed as warnings after the summary; --strict makes them
    errors. Lines longer than LABELPORT_MAX_LINE_BYTES (default 16 MiB) are errors.
    """


def _run(
    path: str,
    org: str | None,
    call: Callable[[IO[bytes], Callable[[int], None], str], ImportResult],
    *,
    dataset: str | None = None,
) -> None:
    """Run an import and print its summary; ``dataset`` is the one the user named, if any."""
    st = store()
    organization = services.find_organization(st, org)
    with file_progress(path, "importing") as (stream, progress):
        result = call(stream, progress, organization.id)
    parts = [_count(result.rows, "row")]
    if result.labels:
        parts.append(_count(result.labels, "label"))
    if result.predictions:
        parts.append(_count(result.predictions, "prediction"))
    if result.model_runs:
        parts.append(_count(result.model_runs, "model run"))
    if result.model_run_labels:
        parts.append(_count(result.model_run_labels, "model-run label"))
    if result.annotation_sets:  # Vertex: the set, and the objective the file was read as
        read_as = f" (objective {result.objective})" if result.objective else ""
        parts.append(f"annotation set {', '.join(sorted(set(result.annotation_sets)))}{read_as}")
    click.echo(
        f"imported {', '.join(parts)} from {path} in {result.seconds:.2f}s "
        f"({result.rows_per_second:,.0f} rows/s)"
    )
    _print_notes(result, dataset)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _print_notes(result: ImportResult, dataset: str | None) -> None:
    """What the summary line does not say: the dataset the import named itself, warnings."""
    if result.dataset is not None and dataset is None:
        click.echo(
            f"rows without data_row.details went to dataset {result.dataset} (named after the file)"
        )
    if result.warnings:
        count = len(result.warnings)
        click.echo(f"{count} warning{'s' if count != 1 else ''} (--strict makes them errors):")
    for warning in result.warnings:
        lines = ", ".join(str(n) for n in warning.lines)
        more = ", …" if warning.count > len(warning.lines) else ""
        click.echo(
            f"  warning: {warning.field}: {warning.reason} "
            f"({warning.count:,}×; line{'s' if len(warning.lines) != 1 else ''} {lines}{more})"
        )


@import_group.command("labelbox")
@click.argument("file", metavar="FILE")
@click.option(
    "--dataset",
    metavar="NAME",
    default=None,
    help="Dataset for rows that carry no data_row.details (created if new; "
    "default: named after FILE, without its extension).",
)
@media_type_option
@strict_option
@org_option
def import_labelbox(
    file: str, dataset: str | None, media_type: str | None, strict: bool, org: str | None
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
            strict=strict,
            max_line_bytes=settings().max_line_bytes,
            on_progress=progress,
        ),
        dataset=dataset,
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
@strict_option
@org_option
def import_vertex(
    file: str,
    dataset: str,
    annotation_set: str | None,
    objective: str | None,
    strict: bool,
    org: str | None,
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
            strict=strict,
            max_line_bytes=settings().max_line_bytes,
            on_progress=progress,
        ),
        dataset=dataset,
    )


@import_group.command("diffgram")
@click.argument("file", metavar="FILE")
@click.option(
    "--dataset",
    metavar="NAME",
    default=None,
    help="Dataset to import into (default: the export's directory or project name).",
)
@strict_option
@org_option
def import_diffgram(file: str, dataset: str | None, strict: bool, org: str | None) -> None:
    """Import a Diffgram JSON export (image, video and text files) into a dataset and project.

    \b
    Example:
      labelport import diffgram 42_diffgram_annotations.json --dataset street-scenes
    """
    _run(
        file,
        org,
        lambda stream, progress, org_id: services.import_diffgram(
            store(), org_id, stream, file=file, dataset=dataset, strict=strict, on_progress=progress
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
@strict_option
@org_option
def import_rows(
    file: str,
    dataset: str,
    file_format: str | None,
    media_type: str | None,
    strict: bool,
    org: str | None,
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
            strict=strict,
            max_line_bytes=settings().max_line_bytes,
            on_progress=progress,
        ),
        dataset=dataset,
    )
