"""What every request handler shares: settings, the store, the task pool and the link signer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from labelport.export.artifacts import Artifacts
from labelport.server.signing import Signer
from labelport.settings import Settings
from labelport.store import Store
from labelport.tasks.pool import TaskPool


@dataclass(frozen=True)
class Context:
    settings: Settings
    store: Store
    pool: TaskPool
    signer: Signer
    exports_root: Path  # where exports are written (for an object store: the local spool)
    artifacts: Artifacts

    def public_url(self, request: Request) -> str:
        """The base URL for absolute links: LABELPORT_PUBLIC_URL, else the request's own."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    def signed_url(self, request: Request, path: str, ttl: int | None = None) -> str:
        """An absolute signed link to ``path`` (a path on this server, starting with ``/``)."""
        return self.public_url(request) + self.signer.sign(path, ttl)
