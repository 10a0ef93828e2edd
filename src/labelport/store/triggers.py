"""Triggers that forget a data row's export-ready entry (``export_cache``) when anything its export
is made of changes (see :mod:`labelport.export.cache`).

Row tables (the row, its metadata, embeddings, project memberships, labels, workflow history,
model-run rows, labels and predictions) forget the rows they touch; name tables (dataset,
project, batch, metadata field, embedding, model, model run, user) forget every row that shows
a name that changed. SQLite gets row triggers; PostgreSQL gets statement triggers with
transition tables for the row tables (one DELETE per statement, whatever a COPY batch holds)
and row triggers for the rare renames.
"""

from __future__ import annotations

import sqlalchemy as sa

# Tables whose rows belong to one data row: (table, the column naming it).
_ROW_TABLES = (
    ("data_row", "id"),
    ("data_row_metadata", "data_row_id"),
    ("data_row_embedding", "data_row_id"),
    ("project_data_row", "data_row_id"),
    ("label", "data_row_id"),
    ("workflow_history", "data_row_id"),
    ("model_run_data_row", "data_row_id"),
    ("model_run_label", "data_row_id"),
    ("prediction", "data_row_id"),
)
# Names that appear in exported rows: (table, columns, the rows using a given id).
_NAME_TABLES = (
    ("dataset", ("name",), "SELECT id FROM data_row WHERE dataset_id = {}"),
    (
        "project",
        ("name", "ontology_id", "tags"),
        "SELECT data_row_id FROM project_data_row WHERE project_id = {}",
    ),
    ("batch", ("name",), "SELECT data_row_id FROM project_data_row WHERE batch_id = {}"),
    ("metadata_field", ("name",), "SELECT data_row_id FROM data_row_metadata WHERE schema_id = {}"),
    (
        "embedding",
        ("name", "dimensions", "is_custom"),
        "SELECT data_row_id FROM data_row_embedding WHERE embedding_id = {}",
    ),
    (
        "model",
        ("name",),
        "SELECT mr.data_row_id FROM model_run_data_row mr JOIN model_run r"
        " ON r.id = mr.model_run_id WHERE r.model_id = {}",
    ),
    (
        "model_run",
        ("name", "model_id"),
        "SELECT data_row_id FROM model_run_data_row WHERE model_run_id = {}",
    ),
    (
        "app_user",
        ("email",),
        "SELECT id FROM data_row WHERE created_by_id = {0}"
        " UNION SELECT data_row_id FROM label WHERE created_by_id = {0}",
    ),
)


def install(conn: sa.Connection) -> None:
    """Create (or re-create) the triggers that forget a row's entry when what it is made of
    changes."""
    if conn.dialect.name == "postgresql":
        _install_postgres(conn)
    else:
        _install_sqlite(conn)


def _install_sqlite(conn: sa.Connection) -> None:
    forget = "DELETE FROM export_cache WHERE data_row_id"
    for table, column in _ROW_TABLES:
        for event, rows in (("INSERT", "= NEW.{0}"), ("DELETE", "= OLD.{0}")):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS export_cache_{table}_{event.lower()}"
                f" AFTER {event} ON {table} BEGIN {forget} {rows.format(column)}; END"
            )
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS export_cache_{table}_update AFTER UPDATE ON {table}"
            f" BEGIN {forget} IN (OLD.{column}, NEW.{column}); END"
        )
    for table, columns, users in _NAME_TABLES:
        changed = " OR ".join(f"OLD.{col} IS NOT NEW.{col}" for col in columns)
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS export_cache_{table}_rename"
            f" AFTER UPDATE OF {', '.join(columns)} ON {table} WHEN {changed}"
            f" BEGIN {forget} IN ({users.format('NEW.id')}); END"
        )


_PG_FORGET_ROWS = """
CREATE OR REPLACE FUNCTION export_cache_forget_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE 'DELETE FROM export_cache c USING (SELECT DISTINCT ' || quote_ident(TG_ARGV[0])
      || ' AS k FROM new_rows) n WHERE c.data_row_id = n.k';
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    EXECUTE 'DELETE FROM export_cache c USING (SELECT DISTINCT ' || quote_ident(TG_ARGV[0])
      || ' AS k FROM old_rows) n WHERE c.data_row_id = n.k';
  END IF;
  RETURN NULL;
END $$
"""
_PG_FORGET_USERS = """
CREATE OR REPLACE FUNCTION export_cache_forget_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'DELETE FROM export_cache WHERE data_row_id IN (' || TG_ARGV[0] || ')' USING NEW.id;
  RETURN NULL;
END $$
"""


def _install_postgres(conn: sa.Connection) -> None:
    # Keep entries (a few kB) in the table's own pages, uncompressed: the TOAST default would
    # compress each and store it aside, and every export would pay to read it back.
    conn.exec_driver_sql("ALTER TABLE export_cache SET (toast_tuple_target = 8160)")
    conn.exec_driver_sql(_PG_FORGET_ROWS)
    conn.exec_driver_sql(_PG_FORGET_USERS)
    for table, column in _ROW_TABLES:
        for event, tables in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            name = f"export_cache_{table}_{event.lower()}"
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION export_cache_forget_rows('{column}')"
            )
    for table, columns, users in _NAME_TABLES:
        name = f"export_cache_{table}_rename"
        changed = " OR ".join(f"OLD.{col} IS DISTINCT FROM NEW.{col}" for col in columns)
        query = users.format("$1").replace("'", "''")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        conn.exec_driver_sql(
            f"CREATE TRIGGER {name} AFTER UPDATE OF {', '.join(columns)} ON {table}"
            f" FOR EACH ROW WHEN ({changed})"
            f" EXECUTE FUNCTION export_cache_forget_users('{query}')"
        )
