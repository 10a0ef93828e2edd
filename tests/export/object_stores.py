"""Object stores for tests: moto in server mode (a subprocess) for s3://, the GCS emulator for gs://.

``blob_store(kind)`` gives settings overrides for an export artifact location of its own
(``LABELPORT_BLOB_URL`` and the endpoint) in a fresh bucket (S3) or prefix (GCS).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .gcs_emulator import BUCKET, free_port, serving

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """``moto`` in server mode, in a process of its own (its memory is not the test's)."""
    pytest.importorskip("moto.server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with serving(args, f"{url}/moto-api/", "moto", timeout=30):
        yield url


@dataclass(frozen=True)
class BlobStore:
    kind: str  # "s3" | "gs"
    url: str  # the LABELPORT_BLOB_URL
    endpoint: str
    fs: Any  # an fsspec file system on it, for looking

    @property
    def overrides(self) -> dict[str, str]:
        key = "s3_endpoint" if self.kind == "s3" else "gcs_endpoint"
        return {"blob_url": self.url, key: self.endpoint}

    @property
    def root(self) -> str:
        """The bucket/prefix path of the blob URL, as the file system names it."""
        return self.url.split("://", 1)[1]

    def files(self, under: str = "") -> dict[str, bytes]:
        """Every object under the blob URL (or below ``under``): relative name → bytes."""
        self.fs.invalidate_cache()
        base = f"{self.root}/{under}".rstrip("/")
        return {
            str(name)[len(self.root) + 1 :]: self.fs.cat_file(name)
            for name in self.fs.find(base + "/")
        }


def make_blob_store(kind: str, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    token = secrets.token_hex(4)
    if kind == "s3":
        for key, value in AWS_ENV.items():
            monkeypatch.setenv(key, value)
        import s3fs  # type: ignore[import-untyped]

        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
        bucket = f"lp-{token}"
        fs.mkdir(bucket)
        return BlobStore("s3", f"s3://{bucket}/artifacts", endpoint, fs)
    import gcsfs  # type: ignore[import-untyped]

    fs = gcsfs.core.GCSFileSystem(endpoint_url=endpoint, token="anon")
    return BlobStore("gs", f"gs://{BUCKET}/lp-{token}", endpoint, fs)


@pytest.fixture(params=["s3", "gs"])
def blob_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    """A fresh artifact location on moto (S3) or the GCS emulator."""
    kind = request.param
    fixture = "moto_server" if kind == "s3" else "gcs_emulator"
    endpoint = request.getfixturevalue(fixture)
    return make_blob_store(kind, endpoint, monkeypatch)
