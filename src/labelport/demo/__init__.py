"""The demo catalog: deterministic, realistic, every media type and annotation kind.

:func:`write_labelbox` writes Labelbox export-v2 rows (the same bytes for the same seed);
:func:`run` writes the demo files into ``<home>/demo``, imports them through the import services
(the path ``labelport import`` takes), adds slices and annotation sets, and reports what is there.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from labelport import services
from labelport.errors import NotFound
from labelport.export.artifacts import Artifacts, local_copy, open_folder
from labelport.export.manifest import read_manifest, verify
from labelport.export.spec import Scope, every_param
from labelport.ids import derived_id
from labelport.services import export_tasks
from labelport.settings import Settings
from labelport.store import Store
from labelport.store import schema as s
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


def _id(*parts: object) -> str:
    return derived_id("demo", *map(str, parts))


def _ts(rng: random.Random, start: datetime, hours: float) -> datetime:
    return start + timedelta(milliseconds=rng.randrange(int(hours * 3_600_000)))


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.n = 0

    def fid(self) -> str:
        self.n += 1
        return _id(self.seed, "feature", self.n)

    def schema(self, *path: str) -> str:
        return _id("schema", *path)

    def answer(self, question: str, name: str, nested: list[Any] | None = None) -> dict[str, Any]:
        return {
            "feature_id": self.fid(),
            "feature_schema_id": self.schema(question, name),
            "name": name,
            "value": name.lower().replace(" ", "_"),
            "classifications": nested or [],
        }

    def radio(self, question: str, options: list[str], nested: bool = False) -> dict[str, Any]:
        choice = self.rng.choice(options)
        inner = [self.text("note")] if nested and self.rng.random() < 0.5 else []
        return {
            "feature_id": self.fid(),
            "feature_schema_id": self.schema(question),
            "name": question,
            "value": question,
            "radio_answer": self.answer(question, choice, inner),
        }

    def checklist(self, question: str, options: list[str]) -> dict[str, Any]:
        picked = self.rng.sample(options, self.rng.randint(1, len(options)))
        return {
            "feature_id": self.fid(),
            "feature_schema_id": self.schema(question),
            "name": question,
            "value": question,
            "checklist_answers": [self.answer(question, p) for p in picked],
        }

    def text(self, question: str) -> dict[str, Any]:
        content = self.rng.choice(["looks fine", "partly occluded", "check again", "low light"])
        return {
            "feature_id": self.fid(),
            "feature_schema_id": self.schema(question),
            "name": question,
            "value": question,
            "text_answer": {"content": content},
        }

    def obj(self, name: str, kind: str, **geometry: Any) -> dict[str, Any]:
        return {
            "feature_id": self.fid(),
            "feature_schema_id": self.schema("tool", name),
            "name": name,
            "value": name.lower().replace(" ", "_"),
            "annotation_kind": kind,
            "classifications": [self.radio("occlusion", ["none", "partial", "heavy"], nested=True)]
            if kind.startswith(("Image", "Video"))
            else [],
            **geometry,
        }

    def box(self, w: float = 1920, h: float = 1080) -> dict[str, float]:
        r = self.rng
        left, top = round(r.uniform(0, w * 0.8), 1), round(r.uniform(0, h * 0.8), 1)
        return {
            "top": top,
            "left": left,
            "height": round(r.uniform(20, h - top), 1),
            "width": round(r.uniform(20, w - left), 1),
        }

    def pts(self, n: int) -> list[dict[str, float]]:
        return [
            {"x": round(self.rng.uniform(0, 1920), 1), "y": round(self.rng.uniform(0, 1080), 1)}
            for _ in range(n)
        ]

    # ------------------------------------------------------------------ annotations per media type

    def annotations(self, media: str, n: int) -> dict[str, Any]:
        return getattr(self, f"_{media.lower()}")(n)  # type: ignore[no-any-return]

    def _flat(
        self, objects: list[Any], classes: list[Any], rels: list[Any] | None = None
    ) -> dict[str, Any]:
        return {"objects": objects, "classifications": classes, "relationships": rels or []}

    def _image(self, n: int) -> dict[str, Any]:
        car, person = (
            self.obj("Car", "ImageBoundingBox", bounding_box=self.box()),
            self.obj("Pedestrian", "ImageBoundingBox", bounding_box=self.box()),
        )
        objects = [
            car,
            person,
            self.obj("Road", "ImagePolygon", polygon=self.pts(5)),
            self.obj("Lane line", "ImagePolyline", line=self.pts(3)),
            self.obj("Traffic light", "ImagePoint", point=self.pts(1)[0]),
            self.obj(
                "Sky",
                "ImageSegmentationMask",
                composite_mask={
                    "url": f"https://demo.labelport.test/masks/{n:05d}.png",
                    "color_rgb": [70, 130, 180],
                },
            ),
        ]
        rel = {
            "feature_id": self.fid(),
            "feature_schema_id": self.schema("rel", "follows"),
            "name": "follows",
            "value": "follows",
            "annotation_kind": "ImageUnidirectionalRelationship",
            "relationship": {
                "source": person["feature_id"],
                "target": car["feature_id"],
                "type": "unidirectional",
            },
        }
        classes = [
            self.radio("weather", ["clear", "rain", "fog", "snow"], nested=True),
            self.checklist("scene", ["urban", "highway", "night", "construction"]),
            self.text("labeler notes"),
        ]
        return self._flat(objects, classes, [rel])

    def _video(self, n: int) -> dict[str, Any]:
        frames: dict[str, Any] = {}
        segments: dict[str, Any] = {}
        key_map: dict[str, Any] = {}
        for track in ("Car", "Cyclist"):
            fid = self.fid()
            start = self.rng.randint(1, 20)
            keys = sorted(
                {start, start + self.rng.randint(3, 12), start + self.rng.randint(13, 30)}
            )
            box = self.box()
            for k in keys:
                moved = {**box, "left": round(box["left"] + 4.0 * (k - start), 1)}
                obj = self.obj(track, "VideoBoundingBox", bounding_box=moved)
                obj["feature_id"] = fid
                frames.setdefault(str(k), {"objects": {}, "classifications": []})["objects"][
                    fid
                ] = obj
            segments[fid] = [[keys[0], keys[-1]]]
            key_map[fid] = {str(k): True for k in keys}
        first = min(frames, key=int)
        frames[first]["classifications"].append(
            self.checklist("frame events", ["braking", "turning", "overtaking"])
        )
        return {
            "frames": dict(sorted(frames.items(), key=lambda kv: int(kv[0]))),
            "segments": segments,
            "key_frame_feature_map": key_map,
            "classifications": [self.radio("road type", ["city", "rural", "motorway"])],
        }

    def _text(self, n: int) -> dict[str, Any]:
        start = self.rng.randint(0, 40)
        objects = [
            self.obj(
                "Product",
                "TextEntity",
                location={"start": start, "end": start + 11, "token": "thermostat"},
            ),
            self.obj(
                "Order number", "TextEntity", location={"start": start + 30, "end": start + 37}
            ),
        ]
        return self._flat(
            objects,
            [
                self.radio("sentiment", ["negative", "neutral", "positive"]),
                self.checklist("topics", ["billing", "delivery", "defect"]),
            ],
        )

    def _pdf(self, n: int) -> dict[str, Any]:
        objects = [
            self.obj(
                "Total",
                "DocumentBoundingBox",
                page_number=1,
                bounding_box=self.box(612, 792),
                page_dimensions={"height": 792.0, "width": 612.0},
            ),
            self.obj(
                "Vendor",
                "DocumentEntityToken",
                location={
                    "groups": [
                        {
                            "id": self.fid(),
                            "page_number": 1,
                            "tokens": [self.fid(), self.fid()],
                            "text": "Acme Supplies GmbH",
                        }
                    ]
                },
            ),
        ]
        return self._flat(
            objects, [self.radio("document type", ["invoice", "credit note", "receipt"])]
        )

    def _tms_geo(self, n: int) -> dict[str, Any]:
        lng, lat = round(self.rng.uniform(5, 15), 5), round(self.rng.uniform(45, 55), 5)
        d = 0.01
        ring = [[lng, lat], [lng, lat + d], [lng + d, lat + d], [lng + d, lat], [lng, lat]]
        objects = [
            self.obj("Field", "GeoBoundingBox", geojson={"type": "Polygon", "coordinates": [ring]}),
            self.obj(
                "Well",
                "GeoPoint",
                geojson={"type": "Point", "coordinates": [lng + d / 2, lat + d / 2]},
            ),
            self.obj(
                "Track", "GeoPolyline", geojson={"type": "LineString", "coordinates": ring[:3]}
            ),
        ]
        return self._flat(objects, [self.radio("crop", ["wheat", "maize", "fallow"])])

    def _audio(self, n: int) -> dict[str, Any]:
        return {
            "classifications": [
                self.radio("intent", ["cancel", "upgrade", "complaint"]),
                self.text("transcript note"),
            ],
            "segments": {},
            "timestamp": {},
        }

    def _dicom(self, n: int) -> dict[str, Any]:
        fid = self.fid()
        obj = self.obj("Lesion", "DICOMPolyline", line=self.pts(4))
        obj["feature_id"] = fid
        frame = str(self.rng.randint(1, 40))
        groups: dict[str, dict[str, Any]] = {
            p: {"name": p, "classifications": [], "frames": {}}
            for p in ("Axial", "Sagittal", "Coronal")
        }
        groups["Axial"]["frames"] = {frame: {"objects": {fid: obj}, "classifications": []}}
        return {
            "groups": groups,
            "segments": {"Axial": {fid: [[int(frame), int(frame)]]}, "Sagittal": {}, "Coronal": {}},
            "classifications": [],
            "key_frame_feature_map": {fid: {"Axial": {frame: True}, "Coronal": {}, "Sagittal": {}}},
        }

    def _html(self, n: int) -> dict[str, Any]:
        return self._flat(
            [],
            [self.text("summary"), self.checklist("issues", ["broken link", "outdated", "spam"])],
        )

    def _conversational(self, n: int) -> dict[str, Any]:
        objects = [
            self.obj(
                "Account id",
                "ConversationalTextEntity",
                conversational_location={"message_id": "0", "location": {"start": 8, "end": 15}},
            )
        ]
        cls = self.radio("message intent", ["question", "answer", "escalation"])
        cls["message_id"] = "1"
        cls["conversational_radio_answer"] = cls.pop("radio_answer")
        return self._flat(objects, [cls])

    def _llm(self, n: int) -> dict[str, Any]:
        return self._flat(
            [],
            [
                self.text("prompt-text"),
                self.radio("radio-response", ["helpful", "unhelpful"]),
                self.checklist("checklist-response", ["factual", "polite", "concise"]),
            ],
        )


def _label(
    b: _Builder, media: str, n: int, when: datetime, labeler: str, seq: int
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
            "id": _id("review", media, n, seq, i),
            "score": r.choice([1, 1, 1, -1]),
            "created_at": format_timestamp(_ts(r, created, 12)),
            "created_by": r.choice(REVIEWERS),
        }
        for i in range(r.randint(0, 2))
    ]
    return {
        "id": _id("label", b.seed, media, n, seq),
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
    b = _Builder(seed)
    model_id, run_id = _id("model", "detector"), _id("run", "detector", "v1")
    for media, (dataset, project, mime, pattern) in MEDIA.items():
        dataset_id, project_id = _id("dataset", dataset), _id("project", project)
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
                    "id": _id("row", media, n),
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
                        "id": _id("att", media, n),
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
                        "id": _id("embedding", "clip"),
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
                            "ontology_id": _id("ontology", project),
                            "task_id": _id("task", project, status),
                            "task_name": status.replace("_", " ").title(),
                            "batch_id": _id("batch", project, batch),
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
                    "id": _id("prediction", n),
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
                                "run_data_row_id": _id("run-row", n),
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
        services.save_slice(store, org_id, name, filters, slice_id=_id("slice", name))
        yield f"saved catalog slice {name!r} {filters}"
    run_id = _id("run", "detector", "v1")
    services.save_annotation_set(
        store,
        org_id,
        set_id="8066716590760001536",
        display_name="detector v1 predictions",
        objective="image_bounding_box",
        model_run_id=run_id,
    )
    yield "saved annotation set 'detector v1 predictions' (source: model run detector v1)"
