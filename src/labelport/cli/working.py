"""``labelport worker``: a Celery worker that runs export and import tasks (RUNNER=celery)."""

from __future__ import annotations

import logging
import sys

import click

from labelport.cli.common import settings, store
from labelport.errors import ConfigurationError


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 64),
    default=None,
    help="Tasks this worker runs at once, on threads (default: LABELPORT_WORKERS, 4).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def worker(concurrency: int | None, log_level: str) -> None:
    """Run export and import tasks sent by `labelport serve` through the Celery broker.

    Needs LABELPORT_RUNNER=celery and LABELPORT_BROKER_URL (redis://… or amqp://…), the same
    catalog (LABELPORT_DATABASE_URL) and the same artifact store (LABELPORT_HOME /
    LABELPORT_BLOB_URL) as the server. Start as many workers as you like, on any machine.

    \b
    Example:
      LABELPORT_RUNNER=celery LABELPORT_BROKER_URL=redis://127.0.0.1:6379/0 \\
        labelport worker --concurrency 4
    """
    from labelport.tasks.celery import run_worker

    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    cfg = settings()
    if cfg.runner != "celery":
        raise ConfigurationError("labelport worker needs LABELPORT_RUNNER=celery")
    cfg.home.mkdir(parents=True, exist_ok=True)
    code = run_worker(
        store(), cfg, concurrency=concurrency or cfg.workers, loglevel=log_level.upper()
    )
    sys.exit(code)
