"""Where finished exports live: one folder per task under ``<LABELPORT_BLOB_URL>/exports/``.

``file://`` (the default)
    The engine writes straight into ``<root>/<task id>`` (as ``<task id>.partial``, renamed when
    complete) and the task's ``location`` is that path — exactly as before object storage.
``s3://`` and ``gs://``
    The engine writes the same files into a local spool, ``<LABELPORT_HOME>/spool/exports``
    (same ``.partial`` rename), and the output format's publisher runs over them there. Then
    :meth:`Artifacts.publish` uploads the folder to ``<blob URL>/exports/<task id>/`` through
    :func:`labelport.export.destinations.publish_folder`: each file streamed in blocks
    (multipart / resumable uploads; memory holds one block per file, never a file), staged under
    a hidden prefix and copied into place once every file is up, the manifest last; a failure
    removes what was written. The spool copy is deleted and the task's ``location`` is the
    folder's URL. The task only turns COMPLETE after that, so no reader ever sees a partial
    folder.

Readers get a :class:`~labelport.export.folders.Folder` for a location from
:meth:`Artifacts.folder` (or :func:`open_folder`): the same reads on a disk and in a bucket
(streams through the line index, files by name, ranged reads for HTTP ``Range``).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from labelport.errors import ConfigurationError, LabelportError
from labelport.export.destinations import (
    BLOCK_SIZE,
    Destination,
    object_store,
    publish_folder,
    resolve,
)
from labelport.export.folders import Folder, LocalFolder, RemoteFolder, copy_file
from labelport.export.manifest import MANIFEST
from labelport.settings import Settings

OBJECT_STORES = ("s3", "gs")


class StorageError(LabelportError):
    """The object store refused or failed a write; the export task fails with this message."""


@dataclass
class Artifacts:
    """The export folders of one blob location, and where the engine writes before publishing.

    ``root`` is the local folder the engine writes task folders into: the exports folder itself
    for ``file://``, the spool for an object store (``remote`` is then that store's ``exports``
    prefix). ``settings`` give the object-store endpoints for reading locations back.
    """

    root: Path
    remote_url: str | None = None
    settings: Settings | None = None
    _remote: Destination | None = field(default=None, repr=False, compare=False)

    @classmethod
    def local(cls, root: Path, settings: Settings | None = None) -> Artifacts:
        return cls(Path(root), None, settings)

    @classmethod
    def for_settings(cls, settings: Settings) -> Artifacts:
        """The artifacts of ``settings.blob_url`` (``file://``, ``s3://`` or ``gs://``)."""
        url = settings.blob_url
        parsed = urlparse(url)
        scheme = parsed.scheme.lower()
        if scheme == "file":
            return cls(Path(unquote(parsed.path)) / "exports", None, settings)
        if scheme not in OBJECT_STORES:
            raise ConfigurationError(f"LABELPORT_BLOB_URL {url!r}: use file://, s3:// or gs://")
        if not parsed.netloc:
            raise ConfigurationError(f"LABELPORT_BLOB_URL {url!r} names no bucket")
        spool = (settings.home / "spool" / "exports").resolve()
        return cls(spool, url.rstrip("/") + "/exports", settings)

    @property
    def is_local(self) -> bool:
        return self.remote_url is None

    def directory(self, task_id: str) -> Path:
        """Where the engine writes the task's folder (the final one for ``file://``)."""
        return self.root / task_id

    def partial(self, task_id: str) -> Path:
        """What an export that died while writing leaves behind."""
        return self.root / f"{task_id}.partial"

    def location(self, task_id: str) -> str:
        """The task's location once published."""
        if self.remote_url is None:
            return str(self.directory(task_id))
        return f"{self.remote_url}/{task_id}"

    def publish(self, task_id: str, directory: Path) -> str:
        """Make the finished folder ``directory`` the task's artifacts; returns the location.

        ``file://``: nothing to do, the folder is in place. An object store: upload it (see the
        module's description) and delete the local copy.
        """
        if self.remote_url is None:
            return str(directory)
        names = sorted(
            (p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()),
            key=lambda name: (name == MANIFEST, name),  # the manifest last
        )
        try:
            destination = self._destination()
            assert destination.fs is not None
            final = f"{destination.path}/{task_id}"
            # A run of this task that died after uploading left a folder no record points to.
            if destination.fs.find(final + "/"):
                destination.fs.rm(final, recursive=True)
            with publish_folder(destination, task_id) as folder:
                for name in names:
                    with (directory / name).open("rb") as source, folder.open(name) as target:
                        copy_file(source, target, BLOCK_SIZE)
        except LabelportError:
            raise
        except Exception as exc:  # the store's own errors (network, permission, quota...)
            raise StorageError(
                f"cannot publish the export to {self.location(task_id)}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        finally:
            shutil.rmtree(directory, ignore_errors=True)  # the spool copy
        return self.location(task_id)

    def discard(self, location: str) -> None:
        """Delete a task's artifacts (an export canceled at the last instant)."""
        if not _is_remote(location):
            shutil.rmtree(location, ignore_errors=True)
            return
        folder = self.folder(location)
        assert isinstance(folder, RemoteFolder)
        with suppress(OSError, ValueError):
            folder.fs.rm(folder.path, recursive=True)

    def folder(self, location: str) -> Folder:
        return open_folder(location, self.settings)

    def _destination(self) -> Destination:
        if self._remote is None:
            assert self.remote_url is not None and self.settings is not None
            self._remote = resolve(self.remote_url, self.settings)
        return self._remote


def _is_remote(location: str) -> bool:
    return urlparse(location).scheme.lower() in OBJECT_STORES


def open_folder(location: str, settings: Settings | None) -> Folder:
    """The folder at a task's ``location``: a local path (or ``file://`` URL), or a bucket URL."""
    parsed = urlparse(location)
    scheme = parsed.scheme.lower()
    if scheme in OBJECT_STORES:
        if settings is None:
            raise ConfigurationError(f"reading {location} needs the server's settings")
        fs = object_store(scheme, settings)
        return RemoteFolder(fs, f"{parsed.netloc}{parsed.path}", location)  # type: ignore[arg-type]
    if scheme == "file":
        return LocalFolder(Path(unquote(parsed.path)))
    return LocalFolder(Path(location))


@contextmanager
def local_copy(folder: Folder) -> Iterator[Path]:
    """A local directory with the folder's files: itself when on disk, else a temporary copy
    (downloaded a block at a time), removed afterwards."""
    if folder.local is not None:
        yield folder.local
        return
    with tempfile.TemporaryDirectory(prefix="labelport-export-") as tmp:
        root = Path(tmp)
        for name in folder.names():
            target = root.joinpath(*name.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            with folder.open(name) as source, target.open("wb") as out:
                copy_file(source, out, BLOCK_SIZE)
        yield root
