"""The limits on GraphQL documents: the counters of :mod:`labelport.server.compat.labelbox.limits`
(depth, aliases, fields, repeats, cost, fragments, cycles), the 400 that ``/graphql`` answers
beyond them, and what the real ``labelbox`` SDK makes of that answer."""

from __future__ import annotations

import ast
import contextlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLSyntaxError, get_introspection_query, parse, validate

from labelport.server.compat.labelbox import limits
from labelport.server.compat.labelbox.limits import Measure
from labelport.server.compat.labelbox.schema import SCHEMA

from .conftest import Site

lb = pytest.importorskip("labelbox")
lbox_exceptions = pytest.importorskip("lbox.exceptions")

ALIASES_2000 = "{" + " ".join(f"a{n}: __typename" for n in range(2000)) + "}"
ORGANIZATION = "query GetOrganizationPyApi{organization{createdAt name id updatedAt}}"


def deep(levels: int) -> str:
    """An introspection query ``levels`` fields deep (this schema's own types nest 4 deep)."""
    inner = "name"
    for _ in range(levels - 4):
        inner = f"ofType {{ {inner} }}"
    return f'{{ __type(name: "Query") {{ fields {{ type {{ {inner} }} }} }} }}'


def measured(query: str, variables: dict[str, Any] | None = None) -> Measure:
    return limits.measure(parse(query), SCHEMA, variables)


# ---------------------------------------------------------------------------------- counters


def test_depth_counts_fields_not_fragments() -> None:
    assert measured("{ organization { id } }").depth == 2
    assert measured("{ user { createdTasks { id } } }").depth == 3
    inline = "{ user { ... on User { createdTasks { ... { id } } } } }"
    assert measured(inline).depth == 3
    spread = "{ user { ...Tasks } } fragment Tasks on User { createdTasks { id } }"
    assert measured(spread).depth == 3
    assert measured(deep(25)).depth == 25
    assert limits.measure(parse("{ a { b { c } } }")).depth == 3  # no schema needed


def test_aliases_and_fields_count_each_spread() -> None:
    found = measured("{ a: organization { id } b: organization { n: name } user { id } }")
    assert (found.aliases, found.fields) == (3, 6)
    twice = "{ ...Org x: user { ...Org2 } } fragment Org on Query { o: organization { id } }"
    twice += " fragment Org2 on User { ...Org3 ...Org3 } fragment Org3 on User { i: id }"
    found = measured(twice)
    assert (found.aliases, found.fields, found.fragments) == (4, 5, 3)
    assert measured(ALIASES_2000).aliases == 2000


def test_repeats_merge_inline_fragments_and_spreads() -> None:
    assert measured("{ organization { id name } }").repeats == 1
    assert measured("{ organization { id id } }").repeats == 2
    merged = "{ organization { id ... on Organization { id } ...Ids } }"
    merged += " fragment Ids on Organization { id ... { id } }"
    assert measured(merged).repeats == 4
    assert measured("{" + " organization { id }" * 300 + "}").repeats == 300


def test_cost_weighs_lists_by_first_or_ten() -> None:
    assert measured("{ organization { id name } }").cost == 3
    # customMetadataOntology and its options are lists: 1 + 10 × (1 + 1 + 10 × 1)
    assert measured("{ customMetadataOntology { id options { id } } }").cost == 121
    tasks = "query($n: Int) { user { createdTasks(first: $n) { id name } } }"
    assert measured(tasks).cost == 1 + 1 + 10 * 2
    assert measured(tasks, {"n": 3}).cost == 1 + 1 + 3 * 2
    assert measured(tasks, {"n": 10**9}).cost == 1 + 1 + 1000 * 2
    literal = "{ user { createdTasks(first: 0) { id } } }"
    assert measured(literal).cost == 1 + 1 + 1
    huge = "{ user { createdTasks(first: " + "9" * 5000 + ") { id } } }"
    assert measured(huge).cost == 1 + 1 + 1000
    # without a schema no field is known to be a list
    assert limits.measure(parse("{ customMetadataOntology { id options { id } } }")).cost == 4
    # introspection lists read the schema: they weigh 1
    assert measured("{ __schema { types { fields { name } } } }").cost == 4


def test_a_fragment_cycle_is_counted_once_and_refused_by_validation() -> None:
    cycle = "{ ...A } fragment A on Query { organization { id } ...B }"
    cycle += " fragment B on Query { user { id } ...A }"
    document = parse(cycle)
    found = limits.measure(document, SCHEMA)
    assert found == Measure(depth=2, aliases=0, fields=4, repeats=1, cost=4, fragments=2)
    assert validate(SCHEMA, document)  # "Cannot spread fragment 'A' within itself via 'B'."
    itself = limits.measure(parse("{ ...A } fragment A on Query { __typename ...A }"), SCHEMA)
    assert itself.fields == 1
    unknown = limits.measure(parse("{ ...Nowhere __typename }"), SCHEMA)
    assert unknown.fields == 1


def test_a_fragment_bomb_and_a_long_chain_are_measured_at_once() -> None:
    """Each fragment is measured once, without recursing along a chain of fragments."""
    bomb = "{ ...F0 } " + " ".join(
        f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(60)
    )
    bomb = parse(bomb + " fragment F60 on Query { __typename }")
    chain = "{ ...F0 } " + " ".join(
        f"fragment F{n} on Query {{ ...F{n + 1} }}" for n in range(3000)
    )
    chain = parse(chain + " fragment F3000 on Query { organization { id } }")
    assert limits.measure(bomb, SCHEMA).fields == 2**60  # counted, not expanded
    assert limits.measure(chain, SCHEMA).depth == 2  # no RecursionError along 3,000 fragments
    assert limits.check(bomb, SCHEMA) == limits.Exceeded(
        "fields", 2**60, limits.MAX_FIELDS, "the number of fields"
    )


def test_check_names_the_first_limit_exceeded() -> None:
    exceeded = limits.check(parse(ALIASES_2000), SCHEMA)
    assert exceeded is not None
    assert exceeded.reason == "the number of aliases is 2000, the limit is 50"
    assert exceeded.extensions == {
        "reason": exceeded.reason,
        "limit": {"name": "aliases", "value": 2000, "max": limits.MAX_ALIASES},
    }
    assert limits.check(parse(deep(limits.MAX_DEPTH)), SCHEMA) is None
    too_deep = limits.check(parse(deep(limits.MAX_DEPTH + 1)), SCHEMA)
    assert too_deep is not None and too_deep.reason == "the depth is 21, the limit is 20"
    ontology = "{" + " ".join(
        f"o{n}: customMetadataOntology {{ options {{ id }} }}" for n in range(46)
    )
    costly = limits.check(parse(ontology + "}"), SCHEMA)
    assert costly is not None and (costly.name, costly.value) == ("cost", 46 * 111)
    fragments = "{ __typename } " + " ".join(f"fragment F{n} on Query {{}}" for n in range(101))
    many = limits.check(parse(fragments), SCHEMA)
    assert many is not None and many.reason == "the number of fragments is 101, the limit is 100"


def test_parse_document_limits_length_and_tokens() -> None:
    assert limits.parse_document(ORGANIZATION).definitions
    with pytest.raises(limits.LimitExceeded) as tokens:
        limits.parse_document("{" + " a" * 10_000 + "}")
    assert (
        tokens.value.exceeded.reason
        == "the number of tokens is more than 10000, the limit is 10000"
    )
    with pytest.raises(limits.LimitExceeded) as commented:  # comments count as tokens
        limits.parse_document("{ __typename }\n" + "#\n" * 10_000)
    assert commented.value.exceeded.name == "tokens"
    with pytest.raises(limits.LimitExceeded) as long:
        limits.parse_document('{ user(where: {id: "' + "x" * 100_000 + '"}) { id } }')
    assert long.value.exceeded.name == "length"
    assert str(long.value).startswith("Query complexity limit exceeded: the length of the query is")
    with pytest.raises(GraphQLSyntaxError):
        limits.parse_document("{ organization { id ")


# --------------------------------------------------------------- what the SDK and tools send


def sdk_texts() -> list[str]:
    """Every GraphQL document among the string literals of the installed SDK (f-string
    fields and %-placeholders filled with a name), and the queries of its ORM."""
    from labelbox.orm import query
    from labelbox.orm.model import Entity

    texts: list[str] = []
    for path in Path(lb.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                parts = [v.value if isinstance(v, ast.Constant) else "x" for v in node.values]
                texts.append("".join(str(p) for p in parts))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append(node.value)
    for entity in vars(Entity).values():
        if isinstance(entity, type) and issubclass(entity, Entity):
            texts.append(query.get_single(entity, "x")[0])
            texts.append(query.get_all(entity, None)[0])
            for relationship in entity.relationships():
                # Project.resource_tagss names an entity the SDK lacks: it is never sent
                with contextlib.suppress(AttributeError):
                    texts.append(query.relationship(entity, relationship, None, None)[0])
    documents = set()
    for text in texts:
        if re.search(r"\b(query|mutation)\b", text) and "{" in text:
            filled = re.sub(r"%[sd]", "100", text)
            documents.add(filled)
            if "{{" in filled:  # a str.format template
                documents.add(filled.replace("{{", "{").replace("}}", "}"))
    return sorted(documents)


def test_every_query_text_of_the_sdk_passes_with_margin() -> None:
    """The SDK's queries (also those this surface does not serve) stay within half of each
    limit; so does the standard introspection query, in depth within three quarters."""
    found = []
    for text in sdk_texts():
        try:
            found.append((limits.measure(limits.parse_document(text)), text))
        except GraphQLSyntaxError:
            continue  # a fragment of a query built in pieces
    assert len(found) > 200
    for measure, text in found:
        assert measure.depth <= limits.MAX_DEPTH // 2, text
        assert measure.aliases <= limits.MAX_ALIASES // 2, text
        assert measure.fields <= limits.MAX_FIELDS // 2, text
        assert measure.repeats <= limits.MAX_REPEATS // 2, text
        assert measure.fragments <= limits.MAX_FRAGMENTS // 2, text
    introspection = measured(get_introspection_query(descriptions=True))
    assert introspection.depth <= limits.MAX_DEPTH * 3 // 4
    assert limits.exceeded(introspection) is None
    assert introspection.cost <= limits.MAX_COST // 2
    # the most costly query the SDK sends here: its task list, 100 tasks of 11 fields
    tasks = """query GetUserCreatedTasksPyApi($param_0: ID!, $param_1: ID!)
{user(where: {id: $param_1}){createdTasks(where: {id: $param_0} skip: 0 first: 100)
{completionPercentage createdAt errors metadata name result status status type id updatedAt}}}"""
    assert measured(tasks) == Measure(depth=3, fields=13, repeats=2, cost=1102)
    assert limits.MAX_COST > 4 * 1102


# -------------------------------------------------------------------------------- /graphql


def post(site: Site, query: str, variables: Any = None) -> httpx.Response:
    return httpx.post(
        f"{site.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {site.live.keys['viewer']}"},
        timeout=30,
    )


def refused(response: httpx.Response, name: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == "Query complexity limit exceeded"
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["extensions"]["limit"]["name"] == name
    return dict(error)


def test_2000_aliases_are_refused_at_once(site: Site) -> None:
    post(site, ORGANIZATION)  # a warm connection pool and server
    error = refused(post(site, ALIASES_2000), "aliases")  # refused before it is executed
    assert error["extensions"]["reason"] == "the number of aliases is 2000, the limit is 50"
    assert error["extensions"]["limit"] == {"name": "aliases", "value": 2000, "max": 50}


def test_deep_wide_and_long_documents_are_refused(site: Site) -> None:
    error = refused(post(site, deep(30)), "depth")
    assert error["extensions"]["reason"] == "the depth is 30, the limit is 20"
    refused(post(site, "{" + " organization { id }" * 500 + "}"), "repeats")  # before validation
    tasks = (
        "query($n: Int) { user { createdTasks(first: $n) { id name status type errors result } } }"
    )
    refused(post(site, tasks, {"n": 5000}), "cost")
    assert post(site, tasks, {"n": 100}).status_code == 200
    error = refused(post(site, "{" + " a" * 12_000 + "}"), "tokens")
    assert error["extensions"]["reason"].startswith("the number of tokens is more than 10000")
    # a syntax error, or an unknown field within the limits, is what it was
    response = post(site, "{ organization { id ")
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    response = post(site, "{ organization { nope } }")
    assert response.status_code == 400
    assert "nope" in response.json()["errors"][0]["message"]


def test_queries_within_the_limits_are_answered(site: Site) -> None:
    response = post(site, ORGANIZATION)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["organization"]["name"] == "acme"
    aliases = "{" + " ".join(f"a{n}: organization {{ id }}" for n in range(50)) + "}"
    assert len(post(site, aliases).json()["data"]) == 50
    response = post(site, get_introspection_query(descriptions=True))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert post(site, deep(20)).status_code == 200


def test_the_sdk_raises_validation_failed_and_does_not_retry(site: Site) -> None:
    client = site.client("viewer")
    with pytest.raises(lbox_exceptions.ValidationFailedError) as raised:
        client.execute(ALIASES_2000)
    assert raised.value.message == "Query complexity limit exceeded"
    with pytest.raises(lbox_exceptions.ValidationFailedError):
        client.execute(deep(30))
    # a 400 is not retried (the SDK retries only 5xx and timeouts): both raised at once
    assert client.execute("query CurrentUserPyApi { user { timezone } }")["user"]["timezone"]
