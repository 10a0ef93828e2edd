"""What changes a catalog's schema: the Alembic revisions and, before them, the legacy steps.

- ``versions/``: the Alembic revisions, one file each, ``NNNN_<slug>.py`` with revision id
  ``NNNN``. The first, ``0010_baseline``, makes the whole catalog as schema version 10 had it
  (its DDL frozen in ``0010_baseline.<dialect>.sql`` beside it).
- ``legacy.py``: the migrations from before Alembic, frozen, which bring a catalog stamped 1–9 in
  its ``schema_version`` table to version 10 (then the baseline is stamped, not run).
- ``env.py``: Alembic's environment; it runs on the connection that
  :mod:`labelport.store.migrations` hands it.

Nothing here imports :mod:`labelport.store.schema`: every revision is the change it made, written
out, so that later edits of the live schema never change what an old revision builds
(``tests/store/test_migrations.py`` checks this, and that old catalogs end up like new ones).
See ``docs/dev/migrations.md``.
"""
