"""A live ``labelport serve`` for tests: uvicorn on a free 127.0.0.1 port, in a thread.

The vendors' SDKs talk HTTP, so their tests need a real server; native API tests use it too.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from labelport import services
from labelport.server.app import create_app
from labelport.settings import Settings, load_settings
from labelport.store import Store, open_store

ROLES = ("admin", "editor", "viewer")


@dataclass
class LiveServer:
    url: str
    store: Store
    settings: Settings
    org: services.Organization
    keys: dict[str, str]
    key_pairs: dict[str, tuple[str, str]]
    other_org_key: str
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def client(self, role: str = "admin", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    @property
    def pool(self) -> Any:
        return self._server.config.app.state.ctx.pool  # type: ignore[union-attr]

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self.store.dispose()


def _pair(key: str) -> tuple[str, str]:
    key_id, secret = key.removeprefix(services.KEY_PREFIX).split("_", 1)
    return key_id, secret


def start_server(database_url: str, home: Path, **overrides: str) -> LiveServer:
    """Start a server on ``database_url`` with an organization 'acme' (a key per role) and
    an organization 'other' (one admin key)."""
    settings = load_settings({}, home=str(home), database_url=database_url, **overrides)
    home.mkdir(parents=True, exist_ok=True)
    store = open_store(database_url)
    org = services.create_organization(store, "acme")
    keys = {}
    for role in ROLES:
        uid = services.ensure_user(store, org.id, f"{role}@acme.test", role)
        keys[role] = services.create_api_key(store, org.id, uid, f"{role} key")
    other = services.create_organization(store, "other")
    other_uid = services.ensure_user(store, other.id, "admin@other.test", "admin")
    other_key = services.create_api_key(store, other.id, other_uid, "other org")
    app = create_app(settings, store=store, pool_options={"poll_interval": 0.2})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without, each small answer waits ~40 ms for delayed ACKs
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(
        url=f"http://127.0.0.1:{port}",
        store=store,
        settings=settings,
        org=org,
        keys=keys,
        key_pairs={role: _pair(key) for role, key in keys.items()},
        other_org_key=other_key,
        _server=server,
        _thread=thread,
    )
