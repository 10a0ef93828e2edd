"""Bad input never crashes the server: schemathesis against our own OpenAPI finds no 5xx.

Every operation of every surface in ``/openapi.json`` gets a bounded number of generated requests
(valid and invalid), sent with an admin key to a live server on a catalog with data in it. The
check is the one the issue states: no answer is a 5xx.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from labelport import demo, services
from labelport.settings import load_settings

EXAMPLES = 25  # per operation: bounded, so the run stays in the suite's time budget


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def fuzz_server(request, tmp_path_factory):
    from tests.conftest import Database
    from tests.live import start_server

    home = tmp_path_factory.mktemp("fuzz")
    db = Database(request.param, home)
    request.addfinalizer(db.drop)
    live = start_server(db.url, home / "server-home")
    demo.run(live.store, load_settings({}, home=str(home)), rows_per_type=3, seed=7)
    # fuzz as an admin of the demo organization, so generated ids meet real data
    org = services.find_organization(live.store, "demo")
    uid = services.ensure_user(live.store, org.id, "fuzz@demo.test", "admin")
    live.keys["admin"] = services.create_api_key(live.store, org.id, uid, "fuzz")
    yield live
    live.stop()


def _operations(live) -> list:
    loaded = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    return [result.ok() for result in loaded.get_all_operations()]


def test_no_operation_answers_5xx(fuzz_server):
    operations = _operations(fuzz_server)
    assert len(operations) >= 2
    headers = {"Authorization": f"Bearer {fuzz_server.keys['admin']}"}
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def probe(case) -> None:
            response = case.call(base_url=fuzz_server.url, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        probe()
    assert not failures, "\n".join(failures[:20])
    assert statuses[200] > 0, statuses  # the requests did reach the routes


def _poisoned(value, bad: str):
    """``value`` with every string (and key) carrying ``bad``: NUL or a lone surrogate."""
    if isinstance(value, str):
        return value + bad
    if isinstance(value, dict):
        return {(k + bad if isinstance(k, str) else k): _poisoned(v, bad) for k, v in value.items()}
    if isinstance(value, list):
        return [_poisoned(v, bad) for v in value]
    return value


def test_nul_and_lone_surrogates_in_any_field_never_answer_5xx(fuzz_server):
    import json
    from urllib.parse import quote

    import httpx

    operations = _operations(fuzz_server)
    headers = {"Authorization": f"Bearer {fuzz_server.keys['admin']}"}
    failures: list[str] = []
    sent = 0
    with httpx.Client(base_url=fuzz_server.url, headers=headers, timeout=30) as http:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=3,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def probe(case) -> None:
                nonlocal sent
                for bad in ("\x00", "\ud800"):
                    # a lone surrogate cannot be UTF-8 encoded, so the URL carries its
                    # "surrogatepass" bytes percent-encoded, as a hostile client would send them
                    raw = bad.encode("utf-8", "surrogatepass")
                    path = case.formatted_path
                    for value in (case.path_parameters or {}).values():
                        if value:
                            path = path.replace(str(value), f"{value}{quote(raw)}", 1)
                    query = "&".join(
                        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass') + raw)}"
                        for k, v in (case.query or {}).items()
                        if isinstance(v, str)
                    )
                    body = case.body if isinstance(case.body, (dict, list)) else None
                    content = None if body is None else json.dumps(_poisoned(body, bad))
                    response = http.request(
                        case.method,
                        f"{path}?{query}" if query else path,
                        content=content,
                        headers={"content-type": "application/json"} if content else {},
                    )
                    sent += 1
                    if response.status_code >= 500:
                        failures.append(
                            f"{case.method} {path!r} {bad!r} -> {response.status_code}: "
                            f"{response.text[:200]}"
                        )

            probe()
    assert not failures, "\n".join(failures[:20])
    assert sent > 0
