"""A tiny TCP proxy in front of the live server that can misbehave on purpose.

It forwards bytes both ways and notes each request's head. For the next ``cut(n)`` requests whose
first line contains ``marker`` (default ``/streams/``), it forwards only the first ``after`` bytes
of the answer and then closes both sockets: a connection dropped in the middle of a body. With
``hold(after)``, the next such answer stops after ``after`` bytes until :attr:`released` is set:
a slow network, to see what a client does with the bytes it has so far.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class _Plan:
    after: int
    hold: bool


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    sent: int = 0
    stop_at: int | None = None
    hold: bool = False
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class Proxy:
    def __init__(self, target_url: str, marker: bytes = b"/streams/") -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.marker = marker
        self.heads: list[bytes] = []
        self.cuts = 0
        self.released = threading.Event()
        self._plans: list[_Plan] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._running = True
        self._conns: list[_Conn] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, times: int = 1, after: int = 4000) -> None:
        """Drop the next ``times`` marked answers after ``after`` bytes (head included)."""
        with self._lock:
            self._plans += [_Plan(after, hold=False) for _ in range(times)]

    def hold(self, after: int) -> None:
        """Stall the next marked answer after ``after`` bytes until ``released`` is set."""
        with self._lock:
            self._plans.append(_Plan(after, hold=True))

    def marked_heads(self) -> list[str]:
        return [h.decode("latin-1") for h in self.heads if self.marker in h.split(b"\r\n")[0]]

    def close(self) -> None:
        self._running = False
        self.released.set()
        self._listener.close()
        for conn in self._conns:
            self._close(conn)

    # ------------------------------------------------------------------------------ inside

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(client, upstream)
            self._conns.append(conn)
            threading.Thread(target=self._requests, args=(conn,), daemon=True).start()
            threading.Thread(target=self._answers, args=(conn,), daemon=True).start()

    def _requests(self, conn: _Conn) -> None:
        while True:
            try:
                data = conn.client.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._close(conn)
                return
            first = data.split(b"\r\n", 1)[0]
            if first.split(b" ", 1)[0] in (b"GET", b"HEAD", b"POST", b"PUT", b"PATCH"):
                self.heads.append(data.split(b"\r\n\r\n", 1)[0])
                if self.marker in first:
                    with self._lock:
                        plan = self._plans.pop(0) if self._plans else None
                    if plan is not None:
                        with conn.lock:
                            conn.stop_at = conn.sent + plan.after
                            conn.hold = plan.hold
            try:
                conn.upstream.sendall(data)
            except OSError:
                self._close(conn)
                return

    def _answers(self, conn: _Conn) -> None:
        while True:
            try:
                data = conn.upstream.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._close(conn)
                return
            with conn.lock:
                stop_at, hold = conn.stop_at, conn.hold
            if stop_at is not None and conn.sent + len(data) > stop_at:
                head, rest = data[: stop_at - conn.sent], data[stop_at - conn.sent :]
                if not self._send(conn, head):
                    return
                if not hold:
                    self.cuts += 1
                    self._close(conn)
                    return
                with conn.lock:
                    conn.stop_at = None
                self.released.wait(30)
                data = rest
            if not self._send(conn, data):
                return

    def _send(self, conn: _Conn, data: bytes) -> bool:
        # Counted before the client can see them: once the client has an answer's last byte it
        # may send its next request at once, and that request's plan is measured from ``sent``.
        with conn.lock:
            conn.sent += len(data)
        try:
            conn.client.sendall(data)
        except OSError:
            self._close(conn)
            return False
        return True

    def _close(self, conn: _Conn) -> None:
        with conn.lock:
            if conn.closed:
                return
            conn.closed = True
        for sock in (conn.client, conn.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
