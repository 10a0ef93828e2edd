"""The executable schema: :mod:`.sdl` bound to resolvers over labelport's services (ariadne).

Resolvers get a :class:`Caller` as the context value: the server's context, the HTTP request
(for absolute signed links) and the API key's principal. Queries need any key (viewer); the
export mutations need the editor role. Tasks are visible only to the user who created them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ariadne import MutationType, ObjectType, QueryType, ScalarType, make_executable_schema
from graphql import GraphQLResolveInfo, GraphQLSchema, StringValueNode, ValueNode
from graphql.language import IntValueNode
from graphql.utilities import value_from_ast_untyped
from starlette.requests import Request

from labelport.errors import InvalidInput, NotFound
from labelport.server.auth import check_role
from labelport.server.compat.labelbox import catalog, exports, streams
from labelport.server.compat.labelbox.sdl import SDL
from labelport.server.context import Context
from labelport.server.downloads import range_path, stream_reader
from labelport.services import Principal, export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.times import parse_timestamp

UINT64_MAX = 2**64 - 1
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Caller:
    ctx: Context
    request: Request
    principal: Principal


Info = GraphQLResolveInfo[Caller]


def _caller(info: Info) -> Caller:
    return info.context


# ----------------------------------------------------------------------------------- scalars

datetime_scalar = ScalarType("DateTime")


@datetime_scalar.serializer
def serialize_datetime(value: Any) -> str:
    """``2024-01-05T08:00:00.000Z``: the form the SDK parses (``%Y-%m-%dT%H:%M:%S.%fZ``)."""
    moment = parse_timestamp(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@datetime_scalar.value_parser
def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime takes an ISO 8601 string")
    return parse_timestamp(value)


json_scalar = ScalarType("Json")


@json_scalar.serializer
def serialize_json(value: Any) -> Any:
    return value


@json_scalar.value_parser
def parse_json(value: Any) -> Any:
    return value


@json_scalar.literal_parser
def parse_json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


uint64_scalar = ScalarType("UInt64")


@uint64_scalar.serializer
def serialize_uint64(value: int) -> int:
    return value


def parse_uint64(value: Any) -> int:
    """A non-negative whole number below 2**64, given as a JSON number or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise ValueError(
            f"UInt64 takes a non-negative whole number, as a number or a string of digits, "
            f"not {value!r}"
        )
    if not 0 <= number <= UINT64_MAX:
        raise ValueError(f"{value!r} is outside UInt64 (0 to {UINT64_MAX})")
    return number


def parse_uint64_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return parse_uint64(node.value if isinstance(node, StringValueNode) else int(node.value))
    raise ValueError("UInt64 takes a number or a string of digits")


uint64_scalar.set_value_parser(parse_uint64)
uint64_scalar.set_literal_parser(parse_uint64_literal)


# ----------------------------------------------------------------------------------- queries

query = QueryType()


def _read(info: Info, read: Any, *args: Any) -> Any:
    caller = _caller(info)
    with caller.ctx.store.read() as conn:
        return read(conn, caller.principal.org_id, *args)


@query.field("project")
def resolve_project(_: Any, info: Info, where: dict[str, Any]) -> Any:
    return _read(info, catalog.project, where["id"])


project_type = ObjectType("Project")


@project_type.field("workstreamStateCounts")
def resolve_workstream_counts(
    project: dict[str, Any], info: Info, batchIds: list[str] | None = None
) -> list[dict[str, Any]]:
    with _caller(info).ctx.store.read() as conn:
        return catalog.workstream_counts(conn, project["id"], batchIds)


@project_type.field("taskQueues")
def resolve_task_queues(project: dict[str, Any], _: Info) -> list[dict[str, Any]]:
    return [
        {"queueType": kind, "name": name, "_project": project["id"], "_status": status}
        for kind, name, status in catalog.TASK_QUEUES
    ]


@project_type.field("issues")
def resolve_issues(*_: Any) -> dict[str, Any]:
    return {"totalCount": None}  # labelport keeps no issues: unknown, not zero


@project_type.field("completedDataRowCount")
def resolve_completed(project: dict[str, Any], info: Info) -> int:
    with _caller(info).ctx.store.read() as conn:
        return catalog.queue_count(conn, project["id"], "DONE", None)


queue_type = ObjectType("TaskQueue")


@queue_type.field("dataRowCount")
def resolve_queue_count(
    queue: dict[str, Any], info: Info, input: dict[str, Any] | None = None
) -> int:
    search = None if input is None else input.get("searchQuery")
    with _caller(info).ctx.store.read() as conn:
        return catalog.queue_count(conn, queue["_project"], queue["_status"], search)


@query.field("dataset")
def resolve_dataset(_: Any, info: Info, where: dict[str, Any]) -> Any:
    return _read(info, catalog.dataset, where["id"])


@query.field("modelRun")
def resolve_model_run(_: Any, info: Info, where: dict[str, Any]) -> Any:
    return _read(info, catalog.model_run, where["id"])


@query.field("dataRow")
def resolve_data_row(_: Any, info: Info, where: dict[str, Any]) -> Any:
    return _read(info, catalog.data_row, where["id"])


@query.field("getSavedQuery")
def resolve_saved_query(_: Any, info: Info, id: str) -> Any:
    return _read(info, catalog.saved_query, id)


@query.field("catalogSavedQueries")
def resolve_saved_queries(_: Any, info: Info) -> Any:
    return _read(info, catalog.saved_queries)


@query.field("customMetadataOntology")
def resolve_metadata_ontology(_: Any, info: Info) -> Any:
    return _read(info, catalog.metadata_ontology)


@query.field("user")
def resolve_user(_: Any, info: Info, where: dict[str, Any] | None = None) -> Any:
    caller = _caller(info)
    user_id = caller.principal.user_id if where is None else where["id"]
    return _read(info, catalog.user, user_id)


@query.field("organization")
def resolve_organization(_: Any, info: Info) -> Any:
    return _read(info, lambda conn, org_id: catalog.organization(conn, org_id))


def visible_task(caller: Caller, task_id: str) -> TaskInfo:
    """An export task of the caller's organization that the caller created."""
    task = export_tasks.get(caller.ctx.store, caller.principal.org_id, task_id)
    if task.created_by != caller.principal.email:
        raise NotFound("task", task_id)
    return task


@query.field("task")
def resolve_task(_: Any, info: Info, where: dict[str, Any] | None = None) -> Any:
    if where is None:
        raise exports.malformed("task needs where: {id: <task id>}", "where")
    return exports.task_json(visible_task(_caller(info), where["id"]))


user_type = ObjectType("User")


@user_type.field("createdTasks")
def resolve_created_tasks(
    user: dict[str, Any],
    info: Info,
    where: dict[str, Any] | None = None,
    skip: int | None = None,
    first: int | None = None,
) -> list[dict[str, Any]]:
    caller = _caller(info)
    if user["id"] != caller.principal.user_id:
        return []  # tasks are visible only to their creator
    if (skip is not None and skip < 0) or (first is not None and first < 0):
        raise exports.malformed("skip and first must not be negative")
    with caller.ctx.store.read() as conn:
        ids = catalog.created_task_ids(
            conn,
            caller.principal.org_id,
            caller.principal.user_id,
            task_id=(where or {}).get("id"),
            skip=skip or 0,
            first=min(first if first is not None else 100, 1000),
        )
        tasks = [export_tasks.get_in(conn, caller.principal.org_id, i) for i in ids]
    return [exports.task_json(t) for t in tasks]


# ------------------------------------------------------------------------------------ tasks

task_type = ObjectType("Task")


def _stream_name(stream_type: str) -> str:
    return "result" if stream_type == "RESULT" else "errors"


@task_type.field("exportMetadataHeader")
def resolve_header(task_json: dict[str, Any], info: Info, streamType: str) -> dict[str, int] | None:
    """Null before the task is COMPLETE (the SDK memoises the answer) and for an empty stream."""
    task: TaskInfo = task_json["_task"]
    if task.status != "COMPLETE":
        return None
    if streamType == "RESULT":
        size, lines = task.result_bytes, task.result_lines
    else:
        size, lines = task.error_bytes, task.error_lines
    if not size:
        return None
    return {"totalSize": size, "totalLines": lines or 0}


def _file_info(info: Info, task: TaskInfo, stream_type: str, at: Any) -> Any:
    caller = _caller(info)
    if task.status != "COMPLETE":
        raise InvalidInput(
            f"export task {task.id} is {exports.sdk_status(task.status)}; "
            "its streams can be read once it is COMPLETE"
        )
    name = _stream_name(stream_type)
    reader = stream_reader(caller.ctx, task, name)
    chunk = at(reader)
    path = quote(range_path(task.id, name, chunk.first_byte, chunk.last_byte))
    return {
        "offsets": {"start": chunk.first_byte, "end": chunk.last_byte},
        "lines": {"start": chunk.first_line, "end": chunk.last_line},
        "file": caller.ctx.signed_url(caller.request, path),
    }


@task_type.field("exportFileFromOffset")
def resolve_file_from_offset(
    task_json: dict[str, Any], info: Info, streamType: str, offset: int
) -> Any:
    return _file_info(
        info,
        task_json["_task"],
        streamType,
        lambda reader: streams.chunk_at_offset(reader, offset, streams.CHUNK_BYTES),
    )


@task_type.field("exportFileFromLine")
def resolve_file_from_line(
    task_json: dict[str, Any], info: Info, streamType: str, line: int
) -> Any:
    return _file_info(
        info,
        task_json["_task"],
        streamType,
        lambda reader: streams.chunk_from_line(reader, line, streams.CHUNK_BYTES),
    )


# ---------------------------------------------------------------------------------- mutations

mutation = MutationType()


def _export(info: Info, request: exports.Request) -> dict[str, Any]:
    caller = _caller(info)
    task = exports.start(caller.ctx.store, caller.principal, request, caller.ctx.pool.wake)
    return {"taskId": task.id, "isStreamable": True}


def _editor(info: Info) -> None:
    check_role(_caller(info).principal, "editor")


@mutation.field("exportDataRowsInProject")
def resolve_export_project(_: Any, info: Info, input: dict[str, Any]) -> Any:
    _editor(info)
    return _export(info, exports.project_request(input))


@mutation.field("exportDataRowsInCatalog")
def resolve_export_catalog(_: Any, info: Info, input: dict[str, Any]) -> Any:
    _editor(info)
    return _export(info, exports.catalog_request(input))


@mutation.field("exportDataRowsInModelRun")
def resolve_export_model_run(_: Any, info: Info, input: dict[str, Any]) -> Any:
    _editor(info)
    return _export(info, exports.model_run_request(input))


@mutation.field("exportDataRowsInSlice")
def resolve_export_slice(_: Any, info: Info, input: dict[str, Any]) -> Any:
    _editor(info)
    return _export(info, exports.slice_request(input))


def build_schema() -> GraphQLSchema:
    return make_executable_schema(
        SDL,
        query,
        mutation,
        user_type,
        task_type,
        project_type,
        queue_type,
        datetime_scalar,
        json_scalar,
        uint64_scalar,
    )


SCHEMA = build_schema()
