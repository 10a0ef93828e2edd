"""Other systems' ids for labelport entities (see :class:`labelport.imports.base.AliasSpec`).

An alias is ``(organization, kind, alias) -> target id`` in ``external_alias``: a Diffgram
project's ``project_string_id`` names the labelport project it was imported into, a Diffgram job
id the batch holding the job's files. Aliases belong to the organization that imported them:
another organization may hold the same alias for its own entity, and never learns of this one.

Within one organization an alias names one entity. Writing it again for the same target does
nothing (re-imports are idempotent); writing it for another target is refused with a
:class:`~labelport.imports.base.Problem` that the loader turns into a line-numbered error - unless
the entity it named is gone (deleted), in which case the alias moves to the new target.

Diffgram *file* ids need no rows here: an imported file's data row has the global key
``diffgram:<project_string_id>:<file id>``, unique per organization and indexed, which already
is that alias (and one statement per file would slow large imports down).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from labelport.imports.base import AliasSpec, Problem
from labelport.store import schema as s

MAX_ALIAS = 255  # characters (external_alias.alias)


@dataclass(frozen=True, slots=True)
class Kind:
    """What an alias kind names: the entity's table, a word for messages, the source field."""

    table: sa.Table
    what: str
    field: str


DIFFGRAM_PROJECT = "diffgram_project"
DIFFGRAM_JOB = "diffgram_job"

KINDS: dict[str, Kind] = {
    DIFFGRAM_PROJECT: Kind(s.project, "Diffgram project", "export_info.project.project_string_id"),
    DIFFGRAM_JOB: Kind(s.batch, "Diffgram job", "export_info.job.id"),
}

t = s.external_alias


def write(conn: sa.Connection, org_id: str, spec: AliasSpec) -> None:
    """Record ``spec`` for ``org_id`` in the import's transaction; Problem if it is ambiguous."""
    kind = KINDS.get(spec.kind)
    if kind is None:
        raise Problem("", f"unknown alias kind {spec.kind!r} (known: {', '.join(KINDS)})")
    alias = spec.alias
    if not alias or len(alias) > MAX_ALIAS:
        raise Problem(kind.field, f"{kind.what} id must have 1 to {MAX_ALIAS} characters")
    key = (t.c.org_id == org_id) & (t.c.kind == spec.kind) & (t.c.alias == alias)
    found = conn.execute(sa.select(t.c.target_id).where(key)).scalar_one_or_none()
    if found == spec.target_id:
        return
    if found is None:
        inserted = conn.execute(_insert_new(conn, org_id, spec))
        if inserted.rowcount == 1:
            return
        # another import of this organization wrote it meanwhile
        found = conn.execute(sa.select(t.c.target_id).where(key)).scalar_one_or_none()
        if found is None:
            raise Problem(
                kind.field,
                f"{kind.what} {alias} is being imported by another import of this organization "
                "right now; try again when it is done",
            )
        if found == spec.target_id:
            return
    if not _exists(conn, kind.table, org_id, found):  # what it named was deleted: it moves
        conn.execute(t.update().where(key), {"target_id": spec.target_id})
        return
    raise Problem(
        kind.field,
        f"{kind.what} {alias} already names {_describe(conn, kind, found)} in this "
        f"organization, and this file's {kind.what} {alias} is another one: one id cannot name "
        "two of them (exports of different Diffgram servers belong in different organizations)",
    )


def _insert_new(conn: sa.Connection, org_id: str, spec: AliasSpec) -> sa.Insert:
    values = {"org_id": org_id, "kind": spec.kind, "alias": spec.alias, "target_id": spec.target_id}
    keys = ["org_id", "kind", "alias"]
    if conn.dialect.name == "postgresql":
        return postgresql.insert(t).values(values).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(t).values(values).on_conflict_do_nothing(index_elements=keys)


def _exists(conn: sa.Connection, table: sa.Table, org_id: str, entity_id: str) -> bool:
    query = sa.select(table.c.id).where(table.c.id == entity_id, table.c.org_id == org_id)
    return conn.execute(query).first() is not None


def _describe(conn: sa.Connection, kind: Kind, entity_id: str) -> str:
    """The entity an alias names, as a person recognizes it."""
    if kind.table is s.batch:
        b, p = s.batch, s.project
        row = conn.execute(
            sa.select(b.c.name, p.c.name.label("project"))
            .select_from(b.join(p, p.c.id == b.c.project_id))
            .where(b.c.id == entity_id)
        ).first()
        if row is not None:
            return f"batch {row.name!r} ({entity_id}) of project {row.project!r}"
        return entity_id
    name = conn.execute(
        sa.select(kind.table.c.name).where(kind.table.c.id == entity_id)
    ).scalar_one_or_none()
    return entity_id if name is None else f"project {name!r} ({entity_id})"


def resolve(conn: sa.Connection, org_id: str, kind: str, alias: str) -> str | None:
    """The id of the entity ``alias`` names in ``org_id`` (that still exists), else None."""
    table = KINDS[kind].table
    return conn.execute(
        sa.select(table.c.id)
        .select_from(t.join(table, table.c.id == t.c.target_id))
        .where(
            t.c.org_id == org_id,
            t.c.kind == kind,
            t.c.alias == alias,
            table.c.org_id == org_id,
        )
    ).scalar_one_or_none()


def aliases_of(conn: sa.Connection, org_id: str, kind: str, target_id: str) -> list[str]:
    """The aliases of one entity in ``org_id`` (usually one), in order."""
    return list(
        conn.execute(
            sa.select(t.c.alias)
            .where(t.c.org_id == org_id, t.c.kind == kind, t.c.target_id == target_id)
            .order_by(t.c.alias)
        ).scalars()
    )
