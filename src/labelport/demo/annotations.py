"""The annotations of the demo rows: every annotation kind of every media type, from a seed.

:class:`AnnotationBuilder` draws, with its own seeded random generator, the canonical annotations
of one data row of a media type (objects with nested classifications, radio, checklist and text
answers, relationships, video tracks, DICOM groups, geo shapes, ...); :func:`demo_id` derives the
id of every demo entity from its parts, so the same seed gives the same ids.
"""

from __future__ import annotations

import random
from typing import Any

from labelport.ids import derived_id


def demo_id(*parts: object) -> str:
    return derived_id("demo", *map(str, parts))


class AnnotationBuilder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.n = 0

    def fid(self) -> str:
        self.n += 1
        return demo_id(self.seed, "feature", self.n)

    def schema(self, *path: str) -> str:
        return demo_id("schema", *path)

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
