"""labelport's Python SDK: export from a labelport server over its REST API.

    from labelport.sdk import Client

    client = Client("http://127.0.0.1:8000", "lp_…")      # or LABELPORT_URL / LABELPORT_API_KEY
    task = client.get_project("ckx…").export(params={"label_details": True})
    task.wait_till_done(timeout=600)                        # raises ExportTimeout, ExportFailed
    for row in task.rows():                                 # rows as they arrive
        ...
    task.download("project.ndjson")                         # resumes; checked against the manifest

It needs only httpx (rich or tqdm for a progress bar, if present): importing it loads nothing of
the server (no FastAPI, SQLAlchemy, store or export engine). See docs/sdk.md.
"""

from __future__ import annotations

from labelport.sdk.client import (
    Catalog,
    Client,
    DataRows,
    Dataset,
    ModelRun,
    Project,
    Resource,
    Slice,
)
from labelport.sdk.errors import (
    AuthenticationError,
    ChecksumMismatch,
    ConfigurationError,
    ConflictError,
    ExportCanceled,
    ExportFailed,
    ExportNotReady,
    ExportTimeout,
    GoneError,
    InvalidRequestError,
    LabelportSDKError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)
from labelport.sdk.streams import RowStream
from labelport.sdk.tasks import Download, ExportTask, Progress

__all__ = [
    "AuthenticationError",
    "Catalog",
    "ChecksumMismatch",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "DataRows",
    "Dataset",
    "Download",
    "ExportCanceled",
    "ExportFailed",
    "ExportNotReady",
    "ExportTask",
    "ExportTimeout",
    "GoneError",
    "InvalidRequestError",
    "LabelportSDKError",
    "ModelRun",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "Progress",
    "Project",
    "Resource",
    "RowStream",
    "ServerError",
    "Slice",
]
