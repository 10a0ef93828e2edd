"""Task runners: the database task pool (:mod:`.pool`), Celery workers (:mod:`.celery`), shards
(:mod:`.shards`), and the records of export and import tasks (:mod:`.records`, :mod:`.imports`)."""
