"""A gcp-storage-emulator subprocess on a free loopback port, for gs:// tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BUCKET = "bkt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command() -> list[str]:
    script = Path(sys.executable).with_name("gcp-storage-emulator")
    if script.exists():
        return [str(script)]
    found = shutil.which("gcp-storage-emulator")
    if found:
        return [found]
    pytest.skip("gcp-storage-emulator is not installed (pip install 'labelport[dev]')")
    raise AssertionError  # unreachable


@contextmanager
def running_emulator() -> Iterator[str]:
    """Start the emulator with bucket ``bkt``; yield its URL; stop it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        *_command(),
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--in-memory",
        "--default-bucket",
        BUCKET,
    ]
    with serving(args, f"{url}/storage/v1/b", "gcp-storage-emulator", timeout=20):
        yield url


@contextmanager
def serving(args: list[str], probe: str, name: str, *, timeout: float) -> Iterator[None]:
    """Run ``args`` until the block ends, once ``probe`` answers 200 (its output is shown
    when it fails to start within ``timeout`` seconds)."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(args, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + timeout
            while not _answers(probe):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    err = log.read().decode(errors="replace")
                    raise RuntimeError(f"{name} did not start: {err[-2000:]}")
                time.sleep(0.1)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    with running_emulator() as url:
        yield url


def gcs_files(url: str, prefix: str = "") -> dict[str, bytes]:
    """Every object of the bucket under ``prefix``: name → bytes (read with gcsfs)."""
    import gcsfs  # type: ignore[import-untyped]

    fs = gcsfs.core.GCSFileSystem(endpoint_url=url, token="anon", skip_instance_cache=True)
    names = fs.find(f"{BUCKET}/{prefix}")
    return {name.removeprefix(f"{BUCKET}/"): fs.cat(name) for name in names}
