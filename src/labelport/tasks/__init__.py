"""Task runners only: the database task pool (:mod:`.pool`) and Celery workers (:mod:`.celery`).

What a task *does* is a use case and lives in :mod:`labelport.services`
(:mod:`~labelport.services.export_tasks`, :mod:`~labelport.services.import_tasks`, and the shard
board of sharded exports, :mod:`~labelport.services.sharding`); runners claim tasks and call it.
"""
