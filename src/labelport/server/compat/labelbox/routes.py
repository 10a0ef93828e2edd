"""``POST /graphql``: Labelbox's GraphQL endpoint, as the ``labelbox`` SDK calls it.

The body is ``{"query", "variables", "operationName"}``. Answers (``reference/labelbox-export.md``
§1), each a JSON body the SDK parses:

* 200 ``{"data": {...}}`` — success;
* 200 ``{"data": null, "errors": [{"message", "locations", "path", "extensions": {"code"}}]}`` —
  a resolver refused: ``RESOURCE_NOT_FOUND`` (unknown or another organization's id, another
  user's task), ``MALFORMED_REQUEST`` (bad params/filters/offsets; the error also carries
  ``errors: [{"error": <message>, "field"?}]``, which the SDK raises as
  ``MalformedQueryException``), ``AUTHORIZATION_ERROR`` (a viewer key exporting),
  ``RESOURCE_CONFLICT``, or ``INTERNAL_SERVER_ERROR`` with ``extensions.exception.status`` 422
  (an export's files are gone);
* 400 with ``GRAPHQL_PARSE_FAILED`` / ``GRAPHQL_VALIDATION_FAILED`` (also for variables that do
  not fit their types, e.g. a ``UInt64`` that is not a number, and for a document beyond the
  limits of :mod:`.limits`: the message ``Query complexity limit exceeded``, which the SDK
  raises as ``ValidationFailedError``, what was exceeded in ``extensions.reason``) or
  ``BAD_REQUEST`` (not JSON);
* 401 with ``AUTHENTICATION_ERROR`` — no key, or an unknown one;
* 500 with ``INTERNAL_SERVER_ERROR`` only for faults of the server (the SDK retries those).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    OperationType,
    StringValueNode,
    Visitor,
    execute_sync,
    get_operation_ast,
    validate,
    visit,
)

from labelport import services
from labelport.errors import (
    AuthenticationFailed,
    Busy,
    Conflict,
    Gone,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from labelport.server.auth import bearer_principal, context
from labelport.server.compat.labelbox import limits
from labelport.server.compat.labelbox.schema import SCHEMA, Caller
from labelport.server.context import Context
from labelport.server.errors import UNSTORABLE
from labelport.server.errors import unstorable as unstorable_error
from labelport.store.types import unstorable

log = logging.getLogger("labelport.server")

router = APIRouter(tags=["labelbox"])

Body = dict[str, Any]


def error_object(message: str, code: str, **extra: Any) -> Body:
    return {"message": message, "extensions": {"code": code}, **extra}


def answer(status: int, errors: list[Body], data: Any = None, **headers: str) -> JSONResponse:
    body: Body = {"data": data}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers or None)


@dataclass(frozen=True, slots=True)
class Classified:
    code: str
    errors: list[Body] | None = None  # MALFORMED_REQUEST: the SDK raises these
    exception_status: int | None = None  # INTERNAL_SERVER_ERROR: the SDK picks its exception
    fault: bool = False  # a fault of the server: answered 500 (the SDK retries)
    retry_after: int | None = None  # the catalog is busy: answered 503 (the SDK retries)


def classify(exc: BaseException | None) -> Classified:
    """What a resolver's error is, in Labelbox's codes."""
    if isinstance(exc, AuthenticationFailed):
        return Classified("AUTHENTICATION_ERROR")
    if isinstance(exc, PermissionDenied):
        return Classified("AUTHORIZATION_ERROR")
    if isinstance(exc, NotFound):
        return Classified("RESOURCE_NOT_FOUND")
    if isinstance(exc, InvalidInput):
        item: Body = {"error": exc.message}
        if exc.field is not None:
            item["field"] = exc.field
        return Classified("MALFORMED_REQUEST", errors=[item])
    if isinstance(exc, Conflict):
        return Classified("RESOURCE_CONFLICT")
    if exc is not None and unstorable_error(exc):  # a value no catalog column can hold
        return Classified("MALFORMED_REQUEST", errors=[{"error": UNSTORABLE}])
    if isinstance(exc, Busy):
        return Classified(
            "INTERNAL_SERVER_ERROR", exception_status=503, retry_after=exc.retry_after
        )
    if isinstance(exc, Gone):  # an export whose files are no longer here
        return Classified("INTERNAL_SERVER_ERROR", exception_status=422)
    return Classified("INTERNAL_SERVER_ERROR", exception_status=500, fault=True)


def format_error(error: GraphQLError) -> tuple[Body, bool]:
    """The error object of one resolver error, and whether it is a fault of the server."""
    kind = classify(error.original_error)
    formatted = error.formatted
    message = formatted["message"]
    if kind.fault:
        log.error("GraphQL resolver failed", exc_info=error.original_error)
        message = "internal error; the server log has the details"
    body: Body = {"message": message}
    for key in ("locations", "path"):
        if key in formatted:
            body[key] = formatted[key]
    body["extensions"] = {"code": kind.code}
    if kind.exception_status is not None:
        body["extensions"]["exception"] = {"status": kind.exception_status}
    if kind.errors is not None:
        body["errors"] = kind.errors
    return body, kind.fault


def _unstorable_string(document: DocumentNode, variables: dict[str, Any] | None) -> str | None:
    """Where a string no catalog column can hold is, in the variables or the document's
    literals (``variables.id``, ``argument "taskName"``), or None."""
    found = unstorable(variables or {}, "variables")
    if found is not None:
        return found
    literals: list[str] = []

    class Strings(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            if unstorable(node.value) is not None:
                line = node.loc.start_token.line if node.loc else 0
                literals.append(f"the string literal on line {line}")

    visit(document, Strings())
    return literals[0] if literals else None


def _principal(ctx: Context, request: Request) -> services.Principal:
    principal = bearer_principal(ctx.store, request)
    request.state.principal = principal
    return principal


def _request_error(message: str, code: str, status: int = 400) -> JSONResponse:
    return answer(status, [error_object(message, code)])


def _too_complex(exceeded: limits.Exceeded) -> JSONResponse:
    log.info("GraphQL document refused: %s", exceeded.reason)
    error = error_object(limits.MESSAGE, "GRAPHQL_VALIDATION_FAILED")
    error["extensions"].update(exceeded.extensions)
    return answer(400, [error])


def run(ctx: Context, request: Request, raw: bytes) -> JSONResponse:
    """Authenticate, parse, validate and execute one GraphQL request."""
    try:
        principal = _principal(ctx, request)
    except AuthenticationFailed as exc:
        return answer(
            401,
            [error_object(exc.message, "AUTHENTICATION_ERROR")],
            **{"WWW-Authenticate": "Bearer"},
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return _request_error(f"the request body is not JSON: {exc}", "BAD_REQUEST")
    if not isinstance(body, dict):
        return _request_error("the request body must be {query, variables}", "BAD_REQUEST")
    query, variables = body.get("query"), body.get("variables")
    operation_name = body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        return _request_error("query: a GraphQL document string is required", "BAD_REQUEST")
    if variables is not None and not isinstance(variables, dict):
        return _request_error("variables must be an object", "BAD_REQUEST")
    if operation_name is not None and not isinstance(operation_name, str):
        return _request_error("operationName must be a string", "BAD_REQUEST")
    try:
        document = limits.parse_document(query)
    except limits.LimitExceeded as exc:
        return _too_complex(exc.exceeded)
    except GraphQLSyntaxError as exc:
        return _request_error(exc.message, "GRAPHQL_PARSE_FAILED")
    exceeded = limits.check(document, SCHEMA, variables)
    if exceeded is not None:
        return _too_complex(exceeded)
    where = _unstorable_string(document, variables)
    if where is not None:
        message = f"{where}: contains a NUL character or an unpaired surrogate"
        return answer(
            400, [error_object(message, "MALFORMED_REQUEST", errors=[{"error": message}])]
        )
    problems = validate(SCHEMA, document)
    if problems:
        return answer(400, [error_object(p.message, "GRAPHQL_VALIDATION_FAILED") for p in problems])
    operation = get_operation_ast(document, operation_name)
    if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
        return _request_error("subscriptions are not supported", "GRAPHQL_VALIDATION_FAILED")
    result = execute_sync(
        SCHEMA,
        document,
        context_value=Caller(ctx, request, principal),
        variable_values=variables,
        operation_name=operation_name,
    )
    errors = result.errors or []
    if result.data is None and errors and all(e.path is None for e in errors):
        # variables that do not fit their types, an unknown operation name
        return answer(400, [error_object(e.message, "GRAPHQL_VALIDATION_FAILED") for e in errors])
    formatted = [format_error(e) for e in errors]
    status = 500 if any(fault for _, fault in formatted) else 200
    busy = [k.retry_after for k in map(classify, (e.original_error for e in errors))]
    waits = [wait for wait in busy if wait is not None]
    data = None if errors else result.data
    if waits and status == 200:
        response = answer(503, [body for body, _ in formatted], data)
        response.headers["Retry-After"] = str(max(waits))
        return response
    return answer(status, [body for body, _ in formatted], data)


@router.post(
    "/graphql",
    summary="Labelbox GraphQL (the labelbox SDK's export flows)",
    response_model=None,
)
@router.post(
    "/_gql",
    summary="Labelbox GraphQL, the SDK's experimental endpoint (the same schema)",
    response_model=None,
)
async def graphql_endpoint(request: Request) -> JSONResponse:
    ctx = context(request)
    raw = await request.body()
    return await run_in_threadpool(run, ctx, request, raw)
