"""The server: one FastAPI app, every surface mounted on the same services and task pool.

``create_app(settings)`` opens the catalog, the task pool (started with the app, stopped with it;
with ``LABELPORT_RUNNER=celery`` it only sends tasks to ``labelport worker`` processes) and the
link signer, and mounts the native REST API (``/api/v1``) and the compatibility surfaces
(``/vertex``, ``/diffgram``). OpenAPI is at ``/openapi.json`` and ``/docs``; ``/health`` answers
without a key.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from labelport import __version__
from labelport.export.artifacts import Artifacts
from labelport.server import errors
from labelport.server.context import Context
from labelport.server.signing import Signer, load_secret
from labelport.settings import Settings
from labelport.store import Store, open_store, waiting_at_most
from labelport.tasks.pool import Dispatch, TaskPool

access_log = logging.getLogger("labelport.access")

DESCRIPTION = """\
labelport's native REST API. Authenticate with an API key: `Authorization: Bearer lp_…`
(`labelport keys create`). Errors are `{"error": {"type", "message", "status", "field"}}`.
The Vertex AI (`/vertex`) and Diffgram (`/diffgram`) surfaces answer those vendors' SDKs.
"""


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    workers: int | None = None,
    start_pool: bool = True,
    pool_options: dict[str, float] | None = None,
) -> FastAPI:
    """The app for ``settings``. ``start_pool=False`` queues tasks without running them."""
    own_store = store is None
    st = store if store is not None else open_store(settings.database_url)
    artifacts = Artifacts.for_settings(settings)
    options = {
        "stale_after": float(settings.stale_after),
        "resend_after": float(settings.resend_after),
        **(pool_options or {}),
    }
    pool = TaskPool(
        st,
        settings,
        artifacts,
        workers=workers or settings.workers,
        dispatch=runner_dispatch(settings),
        **options,  # type: ignore[arg-type]
    )
    signer = Signer(load_secret(settings.secret_key, settings.home), ttl=settings.link_ttl)
    ctx = Context(
        settings=settings,
        store=st,
        pool=pool,
        signer=signer,
        exports_root=artifacts.root,
        artifacts=artifacts,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_pool:
            pool.start()
        try:
            yield
        finally:
            pool.shutdown(wait=False)
            if own_store:
                st.dispose()

    app = FastAPI(
        title="labelport",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)
    app.middleware("http")(_access_log)
    app.add_middleware(_WriteWait, seconds=settings.write_wait)
    app.add_middleware(errors.RefuseNul)

    @app.get("/health", tags=["health"], summary="Is the server up and its catalog reachable?")
    def health() -> dict[str, object]:
        return {"status": "ok", "version": __version__, "schema": st.version()}

    from labelport.server import downloads, native, web
    from labelport.server.compat import diffgram, labelbox, vertex

    for surface in (native, downloads, vertex, diffgram, labelbox, web):  # web last: it has `/`
        app.include_router(surface.router)
    return app


def runner_dispatch(settings: Settings) -> Dispatch | None:
    """How the server's pool hands tasks over: None runs them on its own threads (``inline``);
    with ``LABELPORT_RUNNER=celery`` they are sent to ``labelport worker`` processes."""
    if settings.runner != "celery":
        return None
    from labelport.tasks import celery  # Celery loads only when it is the runner

    return celery.dispatcher(celery.make_app(settings))


class _WriteWait:
    """Each request's writes wait for the catalog's lock at most ``seconds``, then answer 503
    with ``Retry-After`` (:class:`labelport.errors.Busy`) instead of hanging the client."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with waiting_at_most(self.seconds):
            await self.app(scope, receive, send)


async def _access_log(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """One JSON line per request: method, path, status, duration, who asked."""
    started = time.perf_counter()
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        response.headers["x-request-id"] = request_id
        return response
    finally:
        principal = getattr(request.state, "principal", None)
        access_log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.url.path,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": request.client.host if request.client else None,
                    "user": getattr(principal, "email", None),
                    "org": getattr(principal, "org_id", None),
                }
            )
        )
