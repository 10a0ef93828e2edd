"""The demo rows: Labelbox export-v2 rows of every media type, the same bytes for the same seed.

:func:`iter_rows` makes ``rows_per_type`` data rows for each media type of :data:`MEDIA` (data
row details, attachments, metadata, embeddings, labels with reviews and performance details,
workflow statuses and history, and model run predictions for images); :func:`write_labelbox`
writes them as NDJSON and :func:`annotation_kinds` counts the annotation kinds they hold.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import orjson

from labelport.demo.annotations import AnnotationBuilder, demo_id
from labelport.times import format_timestamp

BASE = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LABELERS = ["ana@demo.test", "bao@demo.test", "chidi@demo.test", "dana@demo.test"]
REVIEWERS = ["rev.eli@demo.test", "rev.fay@demo.test"]
STATUSES = ["TO_LABEL", "IN_REVIEW", "IN_REWORK", "DONE", "DONE", "DONE"]

# media type -> (dataset, project, mime type, row data pattern)
MEDIA: dict[str, tuple[str, str, str, str]] = {
    "IMAGE": (
        "street-images",
        "Street objects",
        "image/jpeg",
        "https://demo.labelport.test/street/{n:05d}.jpg",
    ),
    "VIDEO": (
        "dashcam-clips",
        "Vehicle tracking",
        "video/mp4",
        "https://demo.labelport.test/clips/{n:05d}.mp4",
    ),
    "TEXT": (
        "support-tickets",
        "Ticket entities",
        "text/plain",
        "https://demo.labelport.test/tickets/{n:05d}.txt",
    ),
    "PDF": (
        "invoices",
        "Invoice fields",
        "application/pdf",
        "https://demo.labelport.test/invoices/{n:05d}.pdf",
    ),
    "TMS_GEO": (
        "field-tiles",
        "Field boundaries",
        "application/json",
        "https://demo.labelport.test/tiles/{n:05d}.json",
    ),
    "AUDIO": (
        "call-audio",
        "Call intents",
        "audio/mpeg",
        "https://demo.labelport.test/calls/{n:05d}.mp3",
    ),
    "DICOM": (
        "ct-scans",
        "Lesion outlines",
        "application/dicom",
        "https://demo.labelport.test/ct/{n:05d}.dcm",
    ),
    "HTML": (
        "product-pages",
        "Page quality",
        "text/html",
        "https://demo.labelport.test/pages/{n:05d}.html",
    ),
    "CONVERSATIONAL": (
        "chat-logs",
        "Chat intents",
        "application/vnd.labelbox.conversational",
        "https://demo.labelport.test/chats/{n:05d}.json",
    ),
    "LLM": (
        "assistant-replies",
        "Reply ratings",
        "application/vnd.labelbox.llm",
        "https://demo.labelport.test/llm/{n:05d}.json",
    ),
}


def _ts(rng: random.Random, start: datetime, hours: float) -> datetime:
    return start + timedelta(milliseconds=rng.randrange(int(hours * 3_600_000)))


def _label(
    b: AnnotationBuilder, media: str, n: int, when: datetime, labeler: str, seq: int
) -> dict[str, Any]:
    r = b.rng
    created = _ts(r, when, 24)
    create_s, review_s, rework_s = (
        round(r.uniform(20, 400), 1),
        round(r.uniform(5, 90), 1),
        round(r.uniform(0, 60), 1),
    )
    reviews = [
        {
            "id": demo_id("review", media, n, seq, i),
            "score": r.choice([1, 1, 1, -1]),
            "created_at": format_timestamp(_ts(r, created, 12)),
            "created_by": r.choice(REVIEWERS),
        }
        for i in range(r.randint(0, 2))
    ]
    return {
        "id": demo_id("label", b.seed, media, n, seq),
        "label_kind": "Video" if media == "VIDEO" else "Default",
        "version": "1.0.0",
        "label_details": {
            "created_at": format_timestamp(created),
            "updated_at": format_timestamp(created),
            "created_by": labeler,
            "content_last_updated_at": format_timestamp(created),
            "reviews": reviews,
        },
        "performance_details": {
            "seconds_to_create": create_s,
            "seconds_to_review": review_s,
            "skipped": False,
            "benchmark_reference_label": None,
            "benchmark_score": None,
            "consensus_score": round(r.uniform(0.6, 1.0), 3) if seq else None,
            "consensus_label_count": 2 if seq else None,
            "consensus_labels": None,
            "performance_details_v2": {
                "seconds_to_create": create_s,
                "seconds_to_review": review_s,
                "seconds_to_rework": rework_s,
                "seconds_total": round(create_s + review_s + rework_s, 1),
            },
        },
        "annotations": b.annotations(media, n),
    }


def iter_rows(rows_per_type: int, seed: int) -> Iterator[dict[str, Any]]:
    """The demo rows: ``rows_per_type`` data rows for each media type."""
    b = AnnotationBuilder(seed)
    model_id, run_id = demo_id("model", "detector"), demo_id("run", "detector", "v1")
    for media, (dataset, project, mime, pattern) in MEDIA.items():
        dataset_id, project_id = demo_id("dataset", dataset), demo_id("project", project)
        for n in range(rows_per_type):
            r = b.rng
            created = BASE + timedelta(minutes=10 * n)
            status = STATUSES[n % len(STATUSES)]
            labels = []
            if status != "TO_LABEL":
                labels.append(_label(b, media, n, created + timedelta(days=1), LABELERS[n % 4], 0))
                if n % 5 == 0:  # consensus: a second labeler
                    labels.append(
                        _label(b, media, n, created + timedelta(days=1), LABELERS[(n + 1) % 4], 1)
                    )
            batch = n * 2 // rows_per_type
            history = []
            if status != "TO_LABEL":
                history.append(
                    {
                        "action": "Submit",
                        "created_at": format_timestamp(created + timedelta(days=2)),
                        "created_by": LABELERS[n % 4],
                    }
                )
            if status in ("DONE", "IN_REWORK"):
                history.append(
                    {
                        "action": "Approve" if status == "DONE" else "Reject",
                        "created_at": format_timestamp(created + timedelta(days=3)),
                        "created_by": REVIEWERS[n % 2],
                    }
                )
            row: dict[str, Any] = {
                "data_row": {
                    "id": demo_id("row", media, n),
                    "global_key": f"{dataset}/{n:05d}",
                    "external_id": f"{media.lower()}-{n:05d}",
                    "row_data": pattern.format(n=n),
                    "details": {
                        "dataset_id": dataset_id,
                        "dataset_name": dataset,
                        "created_at": format_timestamp(created),
                        "updated_at": format_timestamp(created),
                        "created_by": "ingest@demo.test",
                    },
                },
                "media_type": media,
                "media_attributes": _media_attributes(media, mime, r),
                "attachments": [
                    {
                        "id": demo_id("att", media, n),
                        "type": "RAW_TEXT",
                        "value": f"source batch {batch}",
                        "name": "provenance",
                    }
                ]
                if n % 3 == 0
                else [],
                "metadata_fields": [
                    {
                        "schema_name": "site",
                        "value": r.choice(["berlin", "lagos", "osaka", "lima"]),
                    },
                    {"schema_name": "quality", "value": round(r.uniform(0, 1), 3)},
                    {
                        "schema_name": "captured_at",
                        "value": format_timestamp(created - timedelta(days=30)),
                    },
                    {
                        "schema_name": "split",
                        "value": {"schema_name": r.choice(["train", "valid", "test"])},
                    },
                ],
                "embeddings": [
                    {
                        "id": demo_id("embedding", "clip"),
                        "name": "CLIP ViT-B/32 (demo)",
                        "dimensions": 4,
                        "is_custom": False,
                        "values": [{"value": [round(r.uniform(-1, 1), 4) for _ in range(4)]}],
                    }
                ],
                "projects": {
                    project_id: {
                        "name": project,
                        "labels": labels,
                        "project_details": {
                            "ontology_id": demo_id("ontology", project),
                            "task_id": demo_id("task", project, status),
                            "task_name": status.replace("_", " ").title(),
                            "batch_id": demo_id("batch", project, batch),
                            "batch_name": f"{project} batch {batch + 1}",
                            "workflow_status": status,
                            "priority": r.randint(1, 5),
                            "selected_label_id": labels[0]["id"] if labels else None,
                            "consensus_expected_label_count": 2 if n % 5 == 0 else 1,
                            "workflow_history": history,
                        },
                    }
                },
            }
            if media == "IMAGE" and labels:
                split = ("TRAINING", "TRAINING", "TRAINING", "VALIDATION", "TEST")[n % 5]
                prediction = {
                    "id": demo_id("prediction", n),
                    "label_kind": "Default",
                    "version": "1.0.0",
                    "annotations": b.annotations("IMAGE", n),
                }
                ground = {k: labels[0][k] for k in ("id", "label_kind", "version", "annotations")}
                row["experiments"] = {
                    model_id: {
                        "name": "Street detector",
                        "runs": {
                            run_id: {
                                "name": "detector v1",
                                "run_data_row_id": demo_id("run-row", n),
                                "labels": [ground],
                                "predictions": [prediction],
                                "split": split,
                            }
                        },
                    }
                }
            yield row


def _media_attributes(media: str, mime: str, r: random.Random) -> dict[str, Any]:
    attrs: dict[str, Any] = {"mime_type": mime}
    if media in ("IMAGE", "VIDEO"):
        attrs.update(width=1920, height=1080)
    if media == "VIDEO":
        attrs.update(frame_rate=30, frame_count=r.randint(90, 900))
    if media == "PDF":
        attrs["text_layer_url"] = "https://demo.labelport.test/layers/text.json"
    if media == "CONVERSATIONAL":
        attrs.update(asset_type="conversational", labelable_ids=["0", "1"], message_count=2)
    return attrs


def write_labelbox(out: IO[bytes], rows_per_type: int, seed: int) -> int:
    count = 0
    for row in iter_rows(rows_per_type, seed):
        out.write(orjson.dumps(row) + b"\n")
        count += 1
    return count


def annotation_kinds(rows: Iterator[dict[str, Any]]) -> Counter[str]:
    """How many objects of each annotation kind the rows hold (video and DICOM frames included)."""
    kinds: Counter[str] = Counter()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("annotation_kind"), str):
                kinds[node["annotation_kind"]] += 1
            for key in (
                "radio_answer",
                "checklist_answers",
                "text_answer",
                "conversational_radio_answer",
            ):
                if key in node and "name" in node:
                    kinds[
                        f"classification: {key.replace('conversational_', '').split('_')[0]}"
                    ] += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for row in rows:
        walk(row.get("projects"))
    return kinds
