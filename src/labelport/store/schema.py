"""The catalog schema: one SQLAlchemy Core definition for SQLite and PostgreSQL.

Every top-level entity carries ``org_id``; the shells scope every lookup to the caller's
organization. Indexes exist for each export filter: global key, data-row id, last activity, label
creation time, workflow status and batch.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from labelport import vocab
from labelport.store.types import ID, JsonText, Timestamp

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _org() -> sa.Column[Any]:
    return sa.Column("org_id", ID, sa.ForeignKey("organization.id"), nullable=False)


def _created() -> sa.Column[Any]:
    return sa.Column("created_at", Timestamp(), nullable=False)


schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", Timestamp, nullable=False),
)

organization = sa.Table(
    "organization",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    _created(),
)

user = sa.Table(
    "app_user",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("role", sa.String(16), nullable=False, server_default="editor"),
    _created(),
    sa.UniqueConstraint("org_id", "email"),
)

api_key = sa.Table(
    "api_key",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("user_id", ID, sa.ForeignKey("app_user.id"), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    _created(),
    sa.Column("last_used_at", Timestamp),
    sa.Column("revoked_at", Timestamp),
)

dataset = sa.Table(
    "dataset",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("description", sa.Text),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("created_by_id", ID, sa.ForeignKey("app_user.id")),
    # Vertex-facing facts: resource labels ({key: value}) and the dataset kind
    # (image | text | video | tabular | time_series; NULL = inferred from its data rows).
    sa.Column("labels", JsonText),
    sa.Column("kind", sa.String(16)),
    sa.Index(None, "org_id", "name"),
)

# The metadata schema: typed fields; enum options are child fields (parent_id) of their enum.
metadata_field = sa.Table(
    "metadata_field",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("parent_id", ID, sa.ForeignKey("metadata_field.id")),
    sa.Column("name", sa.String(500), nullable=False),
    # string | number | datetime | enum | option | embedding
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reserved", sa.Boolean, nullable=False, server_default=sa.false()),
    _created(),
    sa.Index(None, "org_id", "name"),
)

embedding = sa.Table(
    "embedding",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("dimensions", sa.Integer, nullable=False),
    sa.Column("is_custom", sa.Boolean, nullable=False),
    _created(),
)

data_row = sa.Table(
    "data_row",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("dataset_id", ID, sa.ForeignKey("dataset.id"), nullable=False),
    sa.Column("global_key", sa.String(1024)),
    sa.Column("external_id", sa.String(1024)),
    sa.Column("row_data", sa.Text, nullable=False),
    sa.Column("media_type", sa.String(32), nullable=False),
    sa.Column("media_attributes", JsonText),
    sa.Column("attachments", JsonText),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("created_by_id", ID, sa.ForeignKey("app_user.id")),
    sa.Column("last_activity_at", Timestamp, nullable=False),
    sa.Column("shape", JsonText),  # the source's shape (store/shapes.py); NULL: labelport's own
    sa.UniqueConstraint("org_id", "global_key"),
    sa.Index(None, "org_id", "last_activity_at"),
)


# Export order is created_at, then id in byte order. On PostgreSQL the id part of these indexes
# is COLLATE "C" (the database's own collation would not give that order), so an export of a
# whole scope walks the index in order and never sorts — even when many rows share one
# created_at (rows imported without one). SQLite compares text bytewise already.
EXPORT_ORDER_INDEXES: dict[str, dict[str, sa.Index]] = {}  # name -> dialect -> index
for _first in ("dataset_id", "org_id"):
    _name = f"ix_data_row_{_first}_created_at_id"
    _c = data_row.c
    EXPORT_ORDER_INDEXES[_name] = {
        "postgresql": sa.Index(_name, _c[_first], _c.created_at, _c.id.collate("C")).ddl_if(
            dialect="postgresql"
        ),
        "sqlite": sa.Index(_name, _c[_first], _c.created_at, _c.id).ddl_if(dialect="sqlite"),
    }

data_row_metadata = sa.Table(
    "data_row_metadata",
    metadata,
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("schema_id", ID, sa.ForeignKey("metadata_field.id"), nullable=False),
    sa.Column("value", JsonText, nullable=False),
    sa.Index(None, "schema_id"),
)

data_row_embedding = sa.Table(
    "data_row_embedding",
    metadata,
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), primary_key=True),
    sa.Column("embedding_id", ID, sa.ForeignKey("embedding.id"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("vectors", JsonText, nullable=False),
)

ontology = sa.Table(
    "ontology",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("media_type", sa.String(32)),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Tools, classifications and options of an ontology; nesting through parent_id.
feature = sa.Table(
    "feature",
    metadata,
    sa.Column("ontology_id", ID, sa.ForeignKey("ontology.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),  # the feature_schema_id
    sa.Column("parent_id", ID),
    sa.Column("kind", sa.String(16), nullable=False),  # tool | classification | option
    sa.Column(
        "type", sa.String(64), nullable=False
    ),  # ImageBoundingBox, radio, checklist, text, ...
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("value", sa.String(500)),
    sa.Column("position", sa.Integer, nullable=False),
)

project = sa.Table(
    "project",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("media_type", sa.String(32)),
    sa.Column("ontology_id", ID, sa.ForeignKey("ontology.id")),
    sa.Column("tags", JsonText),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "org_id", "name"),
)

batch = sa.Table(
    "batch",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("project_id", ID, sa.ForeignKey("project.id"), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    _created(),
    sa.Index(None, "project_id"),
)

project_data_row = sa.Table(
    "project_data_row",
    metadata,
    sa.Column("project_id", ID, sa.ForeignKey("project.id"), primary_key=True),
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), primary_key=True),
    # vocab.WORKFLOW_STATUSES; NULL: unknown (the source carried none, or no known value)
    sa.Column("workflow_status", sa.String(16)),
    sa.Column("priority", sa.Integer),
    sa.Column("batch_id", ID, sa.ForeignKey("batch.id")),
    sa.Column("task_id", ID),
    sa.Column("task_name", sa.String(500)),
    sa.Column("consensus_expected_label_count", sa.Integer),
    sa.Column("selected_label_id", ID),
    sa.Column("position", sa.Integer, nullable=False),  # order of projects within the row
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("shape", JsonText),
    sa.Index(None, "project_id", "workflow_status"),
    sa.Index(None, "batch_id"),
    sa.Index(None, "data_row_id"),
)

workflow_history = sa.Table(
    "workflow_history",
    metadata,
    sa.Column("project_id", ID, sa.ForeignKey("project.id"), primary_key=True),
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", Timestamp),
    sa.Column("entry", JsonText, nullable=False),
)

label = sa.Table(
    "label",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("project_id", ID, sa.ForeignKey("project.id"), nullable=False),
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("label_kind", sa.String(32), nullable=False),
    sa.Column("version", sa.String(16), nullable=False),
    sa.Column("annotations", JsonText, nullable=False),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("created_by_id", ID, sa.ForeignKey("app_user.id")),
    sa.Column("content_last_updated_at", Timestamp),
    sa.Column("reviews", JsonText, nullable=False),
    # performance details
    sa.Column("seconds_to_create", sa.Float),
    sa.Column("seconds_to_review", sa.Float),
    sa.Column("skipped", sa.Boolean),
    sa.Column("performance_v2", JsonText),  # seconds_to_create/review/rework, seconds_total
    sa.Column("benchmark_reference_label", ID),
    sa.Column("benchmark_score", sa.Float),
    sa.Column("consensus_score", sa.Float),
    sa.Column("consensus_label_count", sa.Integer),
    sa.Column("consensus_labels", JsonText),
    sa.Column("shape", JsonText),
    sa.Index(None, "project_id", "data_row_id"),
    sa.Index(None, "org_id", "created_at"),
    sa.Index(None, "project_id", "created_at"),  # label_created_at in a project export
    sa.Index(None, "data_row_id"),
)

model = sa.Table(
    "model",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("ontology_id", ID, sa.ForeignKey("ontology.id")),
    _created(),
)

model_run = sa.Table(
    "model_run",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("model_id", ID, sa.ForeignKey("model.id"), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("training_metadata", JsonText),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("created_by_id", ID, sa.ForeignKey("app_user.id")),
    sa.Index(None, "model_id"),
)

model_run_data_row = sa.Table(
    "model_run_data_row",
    metadata,
    sa.Column("model_run_id", ID, sa.ForeignKey("model_run.id"), primary_key=True),
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), primary_key=True),
    sa.Column("run_data_row_id", ID, nullable=False),
    sa.Column("split", sa.String(16)),  # vocab.SPLITS or NULL (none, or no known value)
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("shape", JsonText),
    sa.Index(None, "data_row_id"),
)

# Ground-truth labels as versioned into a model run (a snapshot, kept apart from project labels).
model_run_label = sa.Table(
    "model_run_label",
    metadata,
    sa.Column("model_run_id", ID, sa.ForeignKey("model_run.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("label_kind", sa.String(32), nullable=False),
    sa.Column("version", sa.String(16), nullable=False),
    sa.Column("annotations", JsonText, nullable=False),
    sa.Column("shape", JsonText),
    sa.Index(None, "model_run_id", "data_row_id"),
)

prediction = sa.Table(
    "prediction",
    metadata,
    sa.Column("model_run_id", ID, sa.ForeignKey("model_run.id"), primary_key=True),
    sa.Column("id", ID, primary_key=True),
    sa.Column("data_row_id", ID, sa.ForeignKey("data_row.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("label_kind", sa.String(32), nullable=False),
    sa.Column("version", sa.String(16), nullable=False),
    sa.Column("annotations", JsonText, nullable=False),
    sa.Column("shape", JsonText),
    sa.Index(None, "model_run_id", "data_row_id"),
)

catalog_slice = sa.Table(
    "catalog_slice",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("filters", JsonText, nullable=False),  # the export filters dict it stands for
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("created_by_id", ID, sa.ForeignKey("app_user.id")),
)

annotation_set = sa.Table(
    "annotation_set",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("display_name", sa.String(500), nullable=False),
    sa.Column("objective", sa.String(64), nullable=False),
    sa.Column("dataset_id", ID, sa.ForeignKey("dataset.id")),
    sa.Column("project_id", ID, sa.ForeignKey("project.id")),
    sa.Column("model_run_id", ID, sa.ForeignKey("model_run.id")),
    sa.Column("settings", JsonText),  # objective settings, e.g. sentiment_max
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.CheckConstraint(
        "(project_id IS NULL) <> (model_run_id IS NULL)", name="annotation_set_one_source"
    ),
)

TASK_STATUSES = vocab.TASK_STATUSES

export_task = sa.Table(
    "export_task",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("created_by_id", ID, sa.ForeignKey("app_user.id")),
    sa.Column("name", sa.String(500)),
    sa.Column("scope_kind", sa.String(32), nullable=False),
    sa.Column("scope_id", ID),
    sa.Column("scope", JsonText),  # the whole scope (data row ids / global keys for a selection)
    sa.Column("timezone", sa.String(64)),  # the timezone the request's local dates were read in
    sa.Column("params", JsonText, nullable=False),
    sa.Column("filters", JsonText, nullable=False),
    sa.Column("format", sa.String(32), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # equal requests, equal fingerprint
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("progress_done", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("progress_total", sa.BigInteger),
    sa.Column("result_bytes", sa.BigInteger),
    sa.Column("result_lines", sa.BigInteger),
    sa.Column("error_bytes", sa.BigInteger),
    sa.Column("error_lines", sa.BigInteger),
    sa.Column("location", sa.Text),  # where the artifacts are
    sa.Column("manifest", JsonText),
    sa.Column("error_message", sa.Text),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp),
    sa.Column("finished_at", Timestamp),
    # What the output format needs besides the rows (a Vertex destination and split, a
    # Diffgram source...) and what it produced (exported files, data stats, file counts).
    sa.Column("options", JsonText),
    sa.Column("output", JsonText),
    # Crash recovery: a running task's worker beats; a stale beat means the worker died.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("heartbeat_at", Timestamp),
    sa.Index(None, "org_id", "scope_kind", "scope_id", "created_at"),
    sa.Index(None, "status"),
    sa.Index(None, "fingerprint"),
)

# The shards of a sharded export (RUNNER=celery on PostgreSQL), while it runs: the coordinator
# (the worker running the task) writes them, any worker claims one, exports its key range from
# the coordinator's snapshot into a part folder and records it here; the coordinator stitches
# the parts in order. ``run`` is the task's attempt they belong to: a re-run makes new ones.
export_shard = sa.Table(
    "export_shard",
    metadata,
    sa.Column("task_id", ID, primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),  # 0-based position in export order
    sa.Column("run", sa.Integer, nullable=False),
    sa.Column("shards", sa.Integer, nullable=False),  # how many the export has
    sa.Column("snapshot", sa.String(64), nullable=False),  # pg_export_snapshot() of the run
    sa.Column("snapshot_at", Timestamp, nullable=False),
    sa.Column("low", JsonText),  # [created_at, id] the range starts after (null: the start)
    sa.Column("high", JsonText),  # [created_at, id] it ends with (null: the end)
    sa.Column("status", sa.String(16), nullable=False),  # TASK_STATUSES
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker", sa.String(255)),
    sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("location", sa.Text),  # the finished part folder
    sa.Column("part", JsonText),  # the part's manifest
    sa.Column("error_message", sa.Text),
    sa.Column("heartbeat_at", Timestamp),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Export-ready rows (see labelport.export.cache): each data row's export, encoded in pieces.
# Triggers (store/triggers.py) delete an entry when anything it is made of changes.
export_cache = sa.Table(
    "export_cache",
    metadata,
    sa.Column("data_row_id", ID, primary_key=True),
    sa.Column("org_id", ID, nullable=False),
    sa.Column("tally", sa.LargeBinary, nullable=False),  # what the check values count
    sa.Column("layout", sa.LargeBinary, nullable=False),  # where the parts are in the line
    sa.Column("line", sa.LargeBinary, nullable=False),  # the export line with every part
    # the digest of the import record the row was written from (None: not from an import): a
    # re-import of the same record finds the row unchanged while its entry lives
    sa.Column("source", sa.LargeBinary),
)

IMPORT_SOURCES = ("labelbox", "vertex", "diffgram", "rows")

import_task = sa.Table(
    "import_task",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _org(),
    sa.Column("created_by_id", ID, sa.ForeignKey("app_user.id")),
    sa.Column("source", sa.String(16), nullable=False),  # IMPORT_SOURCES
    sa.Column("options", JsonText, nullable=False),  # the source's options (dataset, set, ...)
    sa.Column("file_name", sa.String(1000), nullable=False),  # as uploaded, for messages
    sa.Column("location", sa.Text, nullable=False),  # the uploaded bytes, kept until done
    sa.Column("status", sa.String(16), nullable=False),  # TASK_STATUSES
    sa.Column("bytes_total", sa.BigInteger, nullable=False),
    sa.Column("bytes_done", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("summary", JsonText),  # counts of what was imported
    sa.Column("errors", JsonText),  # [{line, field, reason}], the first 1,000
    sa.Column("error_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("heartbeat_at", Timestamp),
    _created(),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp),
    sa.Column("finished_at", Timestamp),
    sa.Index(None, "org_id", "created_at"),
    sa.Index(None, "status"),
)

# Other systems' ids for labelport entities, per organization (labelport.imports.aliases): a
# Diffgram project's project_string_id and its job ids, so that the Diffgram SDK finds them by
# the ids it knows. ``kind`` is one of ALIAS_KINDS; one alias names one entity in an organization.
ALIAS_KINDS = ("diffgram_project", "diffgram_job")

external_alias = sa.Table(
    "external_alias",
    metadata,
    _org(),
    sa.Column("kind", sa.String(32), nullable=False),  # ALIAS_KINDS
    sa.Column("alias", sa.String(255), nullable=False),  # the other system's id, as text
    sa.Column("target_id", ID, nullable=False),  # the labelport entity it names
    sa.PrimaryKeyConstraint("org_id", "kind", "alias"),
    sa.Index(None, "org_id", "kind", "target_id"),  # an entity's aliases (the way back)
)
