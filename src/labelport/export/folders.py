"""An export's folder, read the same way on a local disk and in an object store.

:class:`LocalFolder` is a directory; :class:`RemoteFolder` a prefix of an fsspec file system
(``s3://``, ``gs://``). Both offer what the readers of a finished export need: which files there
are, their size, a ranged read (a line index entry is an 8-byte read, one request on an object
store), and a seekable binary file whose ``readline(limit)`` works (an object-store file is
wrapped in :class:`io.BufferedReader`, so a read is a ranged GET of at most one buffer).

Names are ``/``-separated paths relative to the folder; a name that would leave it is the
caller's to refuse (see :func:`labelport.server.downloads.inside`).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

READ_BUFFER = 1 << 20  # bytes one object-store read asks for (a ranged GET)


class Folder(Protocol):
    """The read side of an export folder."""

    @property
    def location(self) -> str:
        """Where it is: a local path, or an ``s3://``/``gs://`` URL."""
        ...

    @property
    def local(self) -> Path | None:
        """The directory, when the folder is on this machine's disk."""
        ...

    def open(self, name: str, size: int | None = None) -> BinaryIO:
        """The file for reading (seekable); ``FileNotFoundError`` when it is not there.
        ``size``, when the caller knows it, spares an object store a metadata request."""
        ...

    def read_range(self, name: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a file (fewer at its end); ``FileNotFoundError``."""
        ...

    def stat(self, name: str) -> tuple[int, str]:
        """Size and a validator that changes when the file does; ``FileNotFoundError``."""
        ...

    def names(self) -> list[str]:
        """Every file in the folder (sub-folders included), sorted; [] when there is none."""
        ...

    def missing(self, names: list[str]) -> list[str]:
        """Those of ``names`` that are not files of the folder."""
        ...


class LocalFolder:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def location(self) -> str:
        return str(self.directory)

    @property
    def local(self) -> Path | None:
        return self.directory

    def _path(self, name: str) -> Path:
        return self.directory.joinpath(*name.split("/"))

    def open(self, name: str, size: int | None = None) -> BinaryIO:
        return self._path(name).open("rb")

    def read_range(self, name: str, start: int, end: int) -> bytes:
        with self._path(name).open("rb") as f:
            f.seek(start)
            return f.read(max(0, end - start))

    def stat(self, name: str) -> tuple[int, str]:
        path = self._path(name)
        if not path.is_file():
            raise FileNotFoundError(name)
        st = path.stat()
        return st.st_size, f'"{st.st_size:x}-{st.st_mtime_ns:x}"'

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            path.relative_to(self.directory).as_posix()
            for path in self.directory.rglob("*")
            if path.is_file()
        )

    def missing(self, names: list[str]) -> list[str]:
        return [name for name in names if not self._path(name).is_file()]


class RemoteFS(Protocol):
    """The part of an fsspec file system the remote folder uses."""

    def open(self, path: str, mode: str = ..., **kwargs: Any) -> Any: ...
    def cat_file(self, path: str, **kwargs: Any) -> bytes: ...
    def info(self, path: str, **kwargs: Any) -> dict[str, Any]: ...
    def find(self, path: str, **kwargs: Any) -> Any: ...
    def invalidate_cache(self, path: str | None = None) -> None: ...
    def rm(self, path: str, recursive: bool = ..., **kwargs: Any) -> Any: ...


class RemoteFolder:
    """A folder in an object store: ``fs`` and the ``bucket/prefix`` path of the folder."""

    def __init__(self, fs: RemoteFS, path: str, url: str) -> None:
        self.fs = fs
        self.path = path.rstrip("/")
        self.url = url

    @property
    def location(self) -> str:
        return self.url

    @property
    def local(self) -> Path | None:
        return None

    def _key(self, name: str) -> str:
        return f"{self.path}/{name}"

    def open(self, name: str, size: int | None = None) -> BinaryIO:
        options: dict[str, Any] = {"block_size": READ_BUFFER, "cache_type": "none"}
        if size is not None:
            options["size"] = size
        raw = self.fs.open(self._key(name), "rb", **options)
        return io.BufferedReader(raw, buffer_size=READ_BUFFER)

    def read_range(self, name: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        return bytes(self.fs.cat_file(self._key(name), start=start, end=end))

    def stat(self, name: str) -> tuple[int, str]:
        info = self.fs.info(self._key(name))
        if info.get("type") == "directory":
            raise FileNotFoundError(name)
        size = int(info["size"])
        version = next(
            (
                str(info[key])
                for key in ("ETag", "etag", "md5Hash", "generation", "LastModified", "mtime")
                if info.get(key)
            ),
            "",
        )
        digest = hashlib.sha256(version.encode()).hexdigest()[:16]
        return size, f'"{size:x}-{digest}"'

    def names(self) -> list[str]:
        self.fs.invalidate_cache(self.path)  # a listing cached before publication is stale
        found = self.fs.find(self.path + "/")
        prefix = self.path + "/"
        return sorted(str(p)[len(prefix) :] for p in found if str(p).startswith(prefix))

    def missing(self, names: list[str]) -> list[str]:
        there = set(self.names())
        return [name for name in names if name not in there]


def copy_file(source: IO[bytes], target: IO[bytes], chunk: int) -> int:
    """Copy ``source`` to ``target`` a chunk at a time; returns the bytes copied."""
    total = 0
    while data := source.read(chunk):
        target.write(data)
        total += len(data)
    return total
