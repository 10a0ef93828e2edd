"""Alembic's environment for the catalog (see :mod:`labelport.store.migrations`).

The revisions run on the connection passed in ``config.attributes["connection"]``, inside the
transaction its caller holds (``Store.write()``): no ``alembic.ini``, no URL, no logging set-up.
"""

from __future__ import annotations

from alembic import context

if context.is_offline_mode():
    raise RuntimeError("labelport's revisions run on a connection: there is no offline mode")

_attributes = context.config.attributes
context.configure(
    connection=_attributes["connection"],
    on_version_apply=_attributes.get("on_version_apply", ()),
)
with context.begin_transaction():
    context.run_migrations()
