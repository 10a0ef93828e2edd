"""A Vertex AI ``ExportDataConfig``, validated, and the export job it makes.

Pure: :func:`parse_export_config` checks a request's ``exportConfig`` (field names in lowerCamelCase
or snake_case, enums as numbers or names) and raises :class:`~labelport.errors.InvalidSpec` naming
the field; :func:`select_sets` picks the annotation sets to export; :class:`VertexJob` is what the
``vertex`` publisher needs, stored as JSON in the export task's options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from labelport.errors import InvalidSpec, NotFound
from labelport.export.formats import vertex_schemas as schemas
from labelport.export.formats.vertex_split import Split, parse_split
from labelport.vertex_vocab import OBJECTIVES, SET_NAME_LABEL

EXPORT_USES = {0: "EXPORT_USE_UNSPECIFIED", 6: "CUSTOM_CODE_TRAINING"}
CUSTOM_CODE_TRAINING = 6
CONFIG_FIELDS = (
    "gcsDestination",
    "annotationsFilter",
    "fractionSplit",
    "filterSplit",
    "savedQueryId",
    "annotationSchemaUri",
    "exportUse",
)
_CUSTOM_ONLY = ("fractionSplit", "filterSplit", "savedQueryId", "annotationSchemaUri")
_SET_FILTER = re.compile(
    r"^labels\." + re.escape(SET_NAME_LABEL) + r"\s*=\s*(?P<value>\"[^\"]*\"|'[^']*'|\S+)$"
)
# The objective of the file written for a dataset without annotation sets (Vertex writes its
# items with empty annotations; the multi-label form shows that as an empty list).
PLAIN_OBJECTIVE = {
    "image": "image_classification_multi_label",
    "text": "text_classification_multi_label",
    "video": "video_classification",
}
PLAIN_SET_ID = ""


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_keys(value: Any) -> Any:
    """Proto JSON accepts the proto's snake_case names too; use lowerCamelCase throughout."""
    if isinstance(value, dict):
        return {camel(key): _camel_keys(item) for key, item in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class ExportConfig:
    output_uri_prefix: str
    export_use: int = 0
    annotation_set_id: str | None = None  # from annotationsFilter
    saved_query_id: str | None = None
    annotation_schema_uri: str | None = None
    split: Split | None = None  # custom training only (the 80/10/10 default when not given)
    raw: dict[str, Any] = field(default_factory=dict)  # as given, keys in lowerCamelCase

    @property
    def custom_training(self) -> bool:
        return self.export_use == CUSTOM_CODE_TRAINING


def parse_export_config(value: Any, where: str = "exportConfig") -> ExportConfig:
    """Validate an ``exportConfig``; every mistake is an InvalidSpec naming the field."""
    if not isinstance(value, dict):
        raise InvalidSpec(f"{where}: expected an object, got {_describe(value)}")
    config = _camel_keys(value)
    for key in config:
        if key not in CONFIG_FIELDS:
            raise InvalidSpec(
                f"{where}.{key}: unknown field; ExportDataConfig has {', '.join(CONFIG_FIELDS)}"
            )
    prefix = _output_prefix(config.get("gcsDestination"), f"{where}.gcsDestination")
    export_use = _export_use(config.get("exportUse", 0), f"{where}.exportUse")
    if export_use != CUSTOM_CODE_TRAINING:
        for key in _CUSTOM_ONLY:
            if config.get(key) not in (None, "", {}):
                raise InvalidSpec(
                    f"{where}.{key}: only used when exportUse is CUSTOM_CODE_TRAINING (6)"
                )
    set_id = _annotations_filter(config.get("annotationsFilter", ""), f"{where}.annotationsFilter")
    saved_query = _optional_string(config.get("savedQueryId"), f"{where}.savedQueryId")
    schema_uri = _optional_string(config.get("annotationSchemaUri"), f"{where}.annotationSchemaUri")
    if schema_uri is not None and not schemas.objectives_of_annotation_schema(schema_uri):
        known = sorted({schemas.annotation_schema_uri(o) for o in OBJECTIVES})
        raise InvalidSpec(
            f"{where}.annotationSchemaUri: unknown annotation schema {schema_uri!r}; "
            f"expected one of {', '.join(known)}"
        )
    split = parse_split(config, where) if export_use == CUSTOM_CODE_TRAINING else None
    return ExportConfig(
        output_uri_prefix=prefix,
        export_use=export_use,
        annotation_set_id=set_id,
        saved_query_id=saved_query,
        annotation_schema_uri=schema_uri,
        split=split,
        raw=config,
    )


def _output_prefix(value: Any, where: str) -> str:
    if value is None:
        raise InvalidSpec(f"{where}: missing; set gcsDestination.outputUriPrefix")
    if not isinstance(value, dict):
        raise InvalidSpec(f"{where}: expected an object, got {_describe(value)}")
    for key in value:
        if key != "outputUriPrefix":
            raise InvalidSpec(f"{where}.{key}: unknown field; GcsDestination has outputUriPrefix")
    prefix = value.get("outputUriPrefix")
    if not isinstance(prefix, str) or not prefix.strip():
        raise InvalidSpec(f"{where}.outputUriPrefix: expected a gs:// URI, got {_describe(prefix)}")
    return prefix.strip()


def _export_use(value: Any, where: str) -> int:
    if isinstance(value, str):
        for number, name in EXPORT_USES.items():
            if value == name:
                return number
        if value.isdigit():
            value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in EXPORT_USES:
        return value
    names = ", ".join(f"{name} ({number})" for number, name in EXPORT_USES.items())
    raise InvalidSpec(f"{where}: unknown export use {value!r}; expected {names}")


def _annotations_filter(value: Any, where: str) -> str | None:
    if not isinstance(value, str):
        raise InvalidSpec(f"{where}: expected a filter string, got {_describe(value)}")
    text = value.strip()
    if not text:
        return None
    match = _SET_FILTER.match(text)
    if match is None:
        raise InvalidSpec(
            f"{where}: unsupported filter {value!r}; use "
            f"labels.{SET_NAME_LABEL}=ANNOTATION_SET_ID, or leave it empty for every set"
        )
    found = match["value"]
    if found[:1] in "\"'":
        found = found[1:-1]
    if not found:
        raise InvalidSpec(f"{where}: the annotation set id is empty")
    return found


def _optional_string(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidSpec(f"{where}: expected a string, got {_describe(value)}")
    return value.strip()


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


# -------------------------------------------------------------------------- annotation sets


@dataclass(frozen=True, slots=True)
class AnnotationSetRef:
    """An annotation set to export: where its annotations come from and how to write them.

    ``project_id`` (labels) or ``model_run_id`` (predictions); neither for the plain set of a
    dataset without annotation sets (items without annotations).
    """

    id: str
    display_name: str
    objective: str
    project_id: str | None = None
    model_run_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "objective": self.objective,
            "project_id": self.project_id,
            "model_run_id": self.model_run_id,
            "settings": self.settings,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnnotationSetRef:
        return cls(
            id=data["id"],
            display_name=data["display_name"],
            objective=data["objective"],
            project_id=data.get("project_id"),
            model_run_id=data.get("model_run_id"),
            settings=dict(data.get("settings") or {}),
        )

    @property
    def folder(self) -> str:
        """The subfolder of the export that holds this set's files."""
        if self.id == PLAIN_SET_ID:
            return "data_items"
        return f"{safe_name(self.display_name)}_{self.id}"


def plain_set(kind: str, objective: str | None = None) -> AnnotationSetRef:
    return AnnotationSetRef(PLAIN_SET_ID, "data items", objective or PLAIN_OBJECTIVE[kind])


def select_sets(
    config: ExportConfig, sets: Sequence[AnnotationSetRef], kind: str
) -> list[AnnotationSetRef]:
    """The sets ``config`` exports out of a dataset's ``sets`` (a dataset of ``kind``).

    A regular export takes every set, or the one named by ``annotationsFilter``; a dataset
    without sets gives the plain set (items without annotations). A custom-training export
    needs exactly one set after ``annotationsFilter``, ``savedQueryId`` and
    ``annotationSchemaUri`` (which must fit the dataset's kind).
    """
    if kind not in PLAIN_OBJECTIVE:
        raise InvalidSpec(f"{kind} datasets cannot be exported (only image, text and video)")
    chosen = list(sets)
    for wanted, what in (
        (config.annotation_set_id, "annotationsFilter"),
        (config.saved_query_id, "savedQueryId"),
    ):
        if wanted is not None:
            if not any(s.id == wanted for s in sets):
                raise NotFound("annotation set", f"{wanted} (exportConfig.{what})")
            chosen = [s for s in chosen if s.id == wanted]
    schema_objectives: tuple[str, ...] = ()
    if config.annotation_schema_uri is not None:
        schema_objectives = schemas.objectives_of_annotation_schema(config.annotation_schema_uri)
        if not schema_objectives[0].startswith(kind + "_"):
            raise InvalidSpec(
                f"exportConfig.annotationSchemaUri: {config.annotation_schema_uri} does not fit "
                f"a {kind} dataset (its metadata schema is {schemas.metadata_schema_uri(kind)})"
            )
        chosen = [s for s in chosen if s.objective in schema_objectives]
    for aset in chosen:
        _check_settings(aset)
    if not sets:
        objective = _plain_objective(kind, schema_objectives)
        return [plain_set(kind, objective)]
    if not config.custom_training:
        return chosen
    if len(chosen) != 1:
        names = ", ".join(f"{s.id} ({s.display_name}, {s.objective})" for s in chosen)
        which = f"{len(chosen)} annotation sets match ({names})" if chosen else "none matches"
        raise InvalidSpec(
            f"a custom-training export takes one annotation set, but {which}; choose one with "
            "exportConfig.savedQueryId, annotationsFilter or annotationSchemaUri"
        )
    return chosen


def _plain_objective(kind: str, schema_objectives: tuple[str, ...]) -> str:
    if not schema_objectives or PLAIN_OBJECTIVE[kind] in schema_objectives:
        return PLAIN_OBJECTIVE[kind]
    return schema_objectives[-1]


def _check_settings(aset: AnnotationSetRef) -> None:
    if aset.objective == "text_sentiment" and not isinstance(
        aset.settings.get("sentiment_max"), int
    ):
        raise InvalidSpec(
            f"annotation set {aset.id} ({aset.display_name}) is text_sentiment but has no "
            "sentiment_max setting, so its sentimentMax cannot be written"
        )


# ------------------------------------------------------------------------------------ the job


def safe_name(text: str) -> str:
    """``text`` usable as one path segment: separators, spaces and controls become ``_``."""
    cleaned = re.sub(r"[\s/\\\x00-\x1f\x7f]+", "_", text).strip("._")
    return cleaned or "_"


def folder_name(display_name: str, when: datetime) -> str:
    """``export-data-<display name>-<YYYY-MM-DDThh:mm:ss.sssZ>`` (the proto's form)."""
    moment = when.astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return f"export-data-{safe_name(display_name)}-{stamp}"


def output_directory(prefix: str, folder: str) -> str:
    return (prefix if prefix.endswith("/") else prefix + "/") + folder + "/"


@dataclass(frozen=True, slots=True)
class VertexJob:
    """Everything the publisher needs besides the rows."""

    output_uri_prefix: str
    folder: str
    sets: tuple[AnnotationSetRef, ...]
    custom_training: bool = False
    split: Split | None = None

    @property
    def output_directory(self) -> str:
        return output_directory(self.output_uri_prefix, self.folder)

    def to_json(self) -> dict[str, Any]:
        return {
            "output_uri_prefix": self.output_uri_prefix,
            "folder": self.folder,
            "sets": [s.to_json() for s in self.sets],
            "custom_training": self.custom_training,
            "split": self.split.to_json() if self.split is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VertexJob:
        split = parse_split(data["split"], "split") if data.get("split") else None
        return cls(
            output_uri_prefix=data["output_uri_prefix"],
            folder=data["folder"],
            sets=tuple(AnnotationSetRef.from_json(s) for s in data["sets"]),
            custom_training=bool(data.get("custom_training")),
            split=split,
        )


def make_job(
    config: ExportConfig,
    sets: Sequence[AnnotationSetRef],
    *,
    kind: str,
    display_name: str,
    when: datetime,
) -> VertexJob:
    """The job of an export request on a dataset (its display name, kind and sets)."""
    chosen = select_sets(config, sets, kind)
    return VertexJob(
        output_uri_prefix=config.output_uri_prefix,
        folder=folder_name(display_name, when),
        sets=tuple(chosen),
        custom_training=config.custom_training,
        split=config.split,
    )
