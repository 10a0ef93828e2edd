"""``labelport serve``: the HTTP server (REST API, Vertex and Diffgram surfaces)."""

from __future__ import annotations

import ipaddress
import logging
import sys

import click

from labelport.cli.common import settings


def public_url_warning(host: str, public_url: str | None) -> str | None:
    """Why signed links may point somewhere a client should not trust, or None.

    Without ``LABELPORT_PUBLIC_URL`` the server builds absolute links (signed downloads, Vertex
    and Diffgram export URLs) from each request's ``Host`` header, which a client chooses. On
    the loopback interface only this machine can ask; on any other it is worth setting.
    """
    if public_url:
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"LABELPORT_PUBLIC_URL is not set and the server listens on {host}: links are built "
        "from each request's Host header. Set it to the address clients use, e.g. "
        "LABELPORT_PUBLIC_URL=https://labelport.example.com"
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Task worker threads (default: LABELPORT_WORKERS, 4).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def serve(host: str, port: int, workers: int | None, log_level: str) -> None:
    """Serve the REST API, the Vertex AI and Diffgram surfaces, and run export tasks.

    With LABELPORT_RUNNER=celery the server only queues tasks and sends them to the broker
    (LABELPORT_BROKER_URL); `labelport worker` processes run them.

    \b
    OpenAPI:   http://HOST:PORT/docs
    Health:    http://HOST:PORT/health
    Vertex:    aiplatform.init(api_endpoint="http://HOST:PORT/vertex", api_transport="rest")
    Diffgram:  diffgram.Project(..., host="http://HOST:PORT/diffgram")

    Access logs are JSON lines on stderr.

    \b
    Example:
      labelport serve --port 8000
    """
    import uvicorn

    from labelport.server.app import create_app

    logging.basicConfig(
        level=log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    cfg = settings()
    cfg.home.mkdir(parents=True, exist_ok=True)
    warning = public_url_warning(host, cfg.public_url)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    app = create_app(cfg, workers=workers)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
