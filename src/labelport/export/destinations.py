"""Export destinations: a folder of files published atomically to ``gs://``, ``s3://`` or ``file://``.

:func:`resolve` turns a destination URI into a :class:`Destination`; :func:`publish_folder` opens a
new folder in it, lets the caller stream files into it and publishes them all at once::

    destination = resolve("gs://bkt/exports", settings)
    with publish_folder(destination, "export-data-flowers-2024-…") as folder:
        with folder.open("set/a.jsonl") as out:
            out.write(b"...\\n")
    folder.uris  # the final URIs of every file written, in the order they were opened

Nothing appears under the final folder until every file is written, and a failure leaves nothing
behind:

* ``file://`` (only inside ``settings.destination_roots``, after resolving symlinks and ``..``):
  files are written into a hidden staging folder ``.labelport-staging-<random>`` next to the final
  one (same file system), which is then renamed into place — a single atomic step.
* object stores have no rename: files are written under a hidden staging prefix
  ``<prefix>/.labelport-staging-<random>/``, copied into place (server-side copies) once all are
  written, and the staging prefix is deleted. If a copy fails, the copies already made are
  deleted too.

Files are streamed: an object-store file buffers at most one upload block
(:data:`BLOCK_SIZE`), a local one Python's write buffer, never a whole file.

``gs://`` goes through gcsfs (``settings.gcs_endpoint`` with anonymous access when set, e.g. a
storage emulator), ``s3://`` through s3fs (``settings.s3_endpoint``; credentials from the usual
AWS environment).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlparse

from labelport.errors import ConfigurationError, Conflict, InvalidSpec, PermissionDenied
from labelport.settings import Settings

SCHEMES = ("gs", "s3", "file")
STAGING_PREFIX = ".labelport-staging-"
BLOCK_SIZE = 8 * 2**20  # object-store upload block: the most one open file buffers


class FileSystem(Protocol):
    """The part of an fsspec file system destinations use."""

    def open(self, path: str, mode: str = ..., **kwargs: Any) -> Any: ...
    def copy(self, path1: str, path2: str, **kwargs: Any) -> Any: ...
    def rm(self, path: str, recursive: bool = ..., **kwargs: Any) -> Any: ...
    def exists(self, path: str, **kwargs: Any) -> bool: ...
    def find(self, path: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Destination:
    """A place export folders go: ``uri`` as given (ending in ``/``) and where it is.

    ``local`` is the resolved folder for ``file://``; ``fs``/``path`` the fsspec file system and
    ``bucket/prefix`` path for object stores.
    """

    uri: str
    scheme: str
    local: Path | None = None
    fs: FileSystem | None = field(default=None, compare=False)
    path: str = ""
    roots: tuple[Path, ...] = ()  # file://: the folders it may write into

    def child_uri(self, relative: str) -> str:
        return self.uri + relative


def resolve(uri: str, settings: Settings, *, connect: bool = True) -> Destination:
    """The destination of a URI; raises InvalidSpec for a bad URI, PermissionDenied for a
    ``file://`` location outside the destination roots. ``connect=False`` only checks the URI
    (no object-store client is made: nothing is asked of the network)."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidSpec("the destination URI is empty")
    if "\x00" in uri or "%00" in uri:
        raise InvalidSpec(f"destination {uri.replace(chr(0), '')!r}: contains a NUL character")
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidSpec(f"destination {uri!r}: unsupported scheme; use gs://, s3:// or file://")
    base = uri if uri.endswith("/") else uri + "/"
    if scheme == "file":
        roots = tuple(Path(os.path.realpath(root)) for root in settings.destination_roots)
        local = _local_root(parsed.netloc, parsed.path, roots)
        return Destination(base, scheme, local=local, roots=roots)
    if not parsed.netloc:
        raise InvalidSpec(f"destination {uri!r} names no bucket")
    path = (parsed.netloc + parsed.path).rstrip("/")
    if not connect:
        return Destination(base, scheme, path=path)
    return Destination(base, scheme, fs=object_store(scheme, settings), path=path)


def _local_root(netloc: str, raw_path: str, roots: tuple[Path, ...]) -> Path:
    if netloc not in ("", "localhost"):
        raise InvalidSpec(f"file:// destinations must be local, not on host {netloc!r}")
    given = unquote(raw_path)
    if not given.startswith("/"):
        raise InvalidSpec(f"file:// destination {given!r} must be an absolute path")
    target = Path(os.path.realpath(given))
    check_inside_roots(target, roots, given)
    return target


def check_inside_roots(target: Path, roots: tuple[Path, ...], given: str | None = None) -> None:
    """PermissionDenied unless ``target`` (already resolved) lies in one of ``roots``."""
    if not any(target == root or target.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots) or "(none configured)"
        shown = given if given is not None else str(target)
        raise PermissionDenied(
            f"file:// destination {shown} resolves to {target}, which is outside the allowed "
            f"destination roots ({allowed}; set LABELPORT_DESTINATION_ROOTS)"
        )


def object_store(scheme: str, settings: Settings) -> FileSystem:
    """The fsspec file system of ``gs`` or ``s3`` with the endpoint the settings give."""
    if scheme == "gs":
        # gcsfs' core file system, not the experimental one its package exports by default
        # (gcsfs >= 2026 asks a gRPC API for the bucket layout first; against an emulator each
        # call hangs for a minute), chosen without touching the process environment.
        try:
            from gcsfs.core import GCSFileSystem  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigurationError(
                "gs:// destinations need gcsfs (pip install 'labelport[cloud]')"
            ) from None
        if settings.gcs_endpoint:
            fs: FileSystem = GCSFileSystem(endpoint_url=settings.gcs_endpoint, token="anon")
        else:
            fs = GCSFileSystem()
        return fs
    try:
        import s3fs  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigurationError(
            "s3:// destinations need s3fs (pip install 'labelport[cloud]')"
        ) from None
    options: dict[str, Any] = {}
    if settings.s3_endpoint:
        options["endpoint_url"] = settings.s3_endpoint
    s3: FileSystem = s3fs.S3FileSystem(client_kwargs=options)
    return s3


# ------------------------------------------------------------------------------------ folders


class Folder:
    """A folder being written: :meth:`open` files in it; published by :func:`publish_folder`."""

    def __init__(self, destination: Destination, name: str) -> None:
        _check_name(name)
        self.destination = destination
        self.name = name
        self.token = STAGING_PREFIX + secrets.token_hex(8)
        self.relatives: list[str] = []

    @property
    def uri(self) -> str:
        """The final folder's URI, ending in ``/``."""
        return self.destination.child_uri(self.name + "/")

    @property
    def uris(self) -> list[str]:
        """The final URIs of the files written, in the order they were opened."""
        return [self.uri + relative for relative in self.relatives]

    def open(self, relative: str) -> IO[bytes]:
        """A new file of the folder, opened for binary writing (the caller closes it)."""
        _check_relative(relative)
        if relative in self.relatives:
            raise Conflict(f"{relative} is written twice in {self.uri}")
        self.relatives.append(relative)
        return self._open(relative)

    # overridden per kind of store
    def _open(self, relative: str) -> IO[bytes]:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class LocalFolder(Folder):
    def __init__(self, destination: Destination, name: str) -> None:
        super().__init__(destination, name)
        assert destination.local is not None
        self.final = destination.local / name
        self.staging = destination.local / self.token / name

    def begin(self) -> None:
        # the prefix may have changed since it was resolved (a link put in its place)
        check_inside_roots(Path(os.path.realpath(self.final.parent)), self.destination.roots)
        if self.final.exists():
            raise Conflict(f"{self.uri} already exists")
        self.staging.mkdir(parents=True)
        try:  # the folders now exist: check again that nothing on the way was a link out
            check_inside_roots(Path(os.path.realpath(self.staging)), self.destination.roots)
        except PermissionDenied:
            shutil.rmtree(self.staging.parent, ignore_errors=True)
            raise

    def _open(self, relative: str) -> IO[bytes]:
        path = self.staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("xb")

    def commit(self) -> None:
        try:
            os.rename(self.staging, self.final)
        except OSError as exc:
            if self.final.exists():
                raise Conflict(f"{self.uri} already exists") from None
            raise ConfigurationError(f"cannot publish {self.uri}: {exc}") from None
        finally:
            shutil.rmtree(self.staging.parent, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.staging.parent, ignore_errors=True)


class ObjectFolder(Folder):
    def __init__(self, destination: Destination, name: str) -> None:
        super().__init__(destination, name)
        assert destination.fs is not None
        self.fs = destination.fs
        self.final = f"{destination.path}/{name}"
        self.staging_root = f"{destination.path}/{self.token}"
        self.staging = f"{self.staging_root}/{name}"
        self.copied: list[str] = []

    def begin(self) -> None:
        if self.fs.find(self.final + "/"):
            raise Conflict(f"{self.uri} already exists")

    def _open(self, relative: str) -> IO[bytes]:
        handle: IO[bytes] = self.fs.open(f"{self.staging}/{relative}", "wb", block_size=BLOCK_SIZE)
        return handle

    def commit(self) -> None:
        for relative in self.relatives:
            target = f"{self.final}/{relative}"
            self.fs.copy(f"{self.staging}/{relative}", target)
            self.copied.append(target)
        self._remove_staging()

    def abort(self) -> None:
        for target in self.copied:
            _quietly(self.fs.rm, target)
        self.copied.clear()
        self._remove_staging()

    def _remove_staging(self) -> None:
        if self.relatives:
            _quietly(self.fs.rm, self.staging_root, recursive=True)


def _quietly(call: Any, *args: Any, **kwargs: Any) -> None:
    # best effort: what is left is under a hidden staging name
    with contextlib.suppress(OSError, ValueError):
        call(*args, **kwargs)


@contextmanager
def publish_folder(destination: Destination, name: str) -> Iterator[Folder]:
    """A new folder ``name`` in ``destination``; its files appear all at once when the block
    ends without an exception, and nothing is left behind when it raises."""
    folder: Folder
    if destination.local is not None:
        folder = LocalFolder(destination, name)
    elif destination.fs is not None:
        folder = ObjectFolder(destination, name)
    else:
        raise ValueError(f"{destination.uri} was resolved without connecting")
    folder.begin()
    try:
        yield folder
        folder.commit()
    except BaseException:
        folder.abort()
        raise


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or name.startswith(STAGING_PREFIX):
        raise InvalidSpec(f"not a valid export folder name: {name!r}")


def _check_relative(relative: str) -> None:
    parts = relative.split("/")
    if not relative or relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidSpec(f"not a valid file name inside an export folder: {relative!r}")
