"""How big, deep and costly a GraphQL document may be: checked after parsing, before validation.

Without limits one request can keep the server busy for seconds: 2,000 aliased fields took
2.25 s (each a resolver), and validation is quadratic where fields share a response name or
fragments sit side by side (graphql-core's "overlapping fields" rule compares every pair: 300
``organization { id }`` in one selection set took 0.5 s to validate, 300 fragments spread
there 0.4 s). So :func:`parse_document` refuses a query text of more than
:data:`MAX_QUERY_LENGTH` characters or :data:`MAX_TOKENS` tokens (comments included:
graphql-core's ``max_tokens``), and :func:`measure` counts, over the operations of a document:

* **depth** — the longest chain of nested fields: ``{ user { id } }`` is 2; fragments and inline
  fragments add no level of their own;
* **aliases** — field selections with an alias (``a: user { id }``);
* **fields** — field selections;
* **repeats** — the most fields answered under one name in one selection set, with the fields
  of its inline fragments and of the fragments it spreads (what the validator compares
  pairwise);
* **cost** — each field selection costs 1, and what is selected under a field whose type is a
  list counts as many times as the list is expected to be long: its ``first`` argument (a
  literal or a variable), else :data:`LIST_WEIGHT`; nested lists multiply. Lists of
  introspection types weigh 1: they read this small schema, whose types nest no cycle;
* **fragments** — fragment definitions (the validator compares the fragments spread into one
  selection set pairwise).

A fragment counts wherever it is spread (spread twice, counted twice), but is measured once:
fragments are measured in dependency order, so a chain of fragments that each spread the next
twice (a "fragment bomb") is a huge count found in linear time, and a long chain needs no deep
recursion. A spread of a fragment on a cycle (which validation refuses afterwards) or of an
unknown fragment counts nothing, so a cycle cannot loop.

The limits leave wide margins to every query the ``labelbox`` SDK 7.17.0 sends to this surface
(recorded over the compatibility tests: depth at most 4, no alias, at most 17 fields, 2
repeats — ``status status`` in its task query —, a cost of at most 1,102 — the task list with
``first: 100`` —, 76 tokens) and to the other query texts of the SDK (the 263 that parse, its
ORM's included: depth at most 6, at most 25 fields, 2 repeats, no alias, no fragment, 97 tokens,
1,173 characters; ``test_limits`` checks them all against half of each limit). The depth limit
is 20 rather than 15 for the standard introspection query (graphql-core's, as GraphiQL sends
it), which has depth 15, 229 fields, 3 fragments and a cost of 229.

What the SDK does with the answer (``lbox.request_client.RequestClient.execute``): an error with
code ``GRAPHQL_VALIDATION_FAILED`` is ``lbox.exceptions.ValidationFailedError`` ("a query that
is too expensive, or depth is too deep") if its message is exactly ``Query complexity limit
exceeded`` (the message the SDK expects from Labelbox), and ``InvalidQueryError`` for any other
message; neither is retried (the SDK retries only ``InternalServerError`` and ``TimeoutError``).
So :data:`MESSAGE` is the whole message of the error, and what was exceeded is in its
``extensions`` (:attr:`Exceeded.extensions`): ``reason``, e.g. "the number of aliases is 2000,
the limit is 50", and ``limit``: ``{"name", "value", "max"}``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

MESSAGE = "Query complexity limit exceeded"

MAX_QUERY_LENGTH = 100_000  # characters of the query text
MAX_TOKENS = 10_000  # tokens of the query text, comments included
MAX_DEPTH = 20
MAX_ALIASES = 50
MAX_FIELDS = 1_000
MAX_REPEATS = 20
MAX_COST = 5_000
MAX_FRAGMENTS = 100
LIST_WEIGHT = 10
"""The assumed length of a list without a ``first`` argument."""
MAX_LIST_WEIGHT = 1_000
"""The longest a list is assumed to be (``createdTasks`` answers at most 1,000 tasks)."""

_TOKEN_LIMIT = f"Document contains more than {MAX_TOKENS} tokens."


@dataclass(frozen=True, slots=True)
class Measure:
    """What :func:`measure` counts of a document, or of a part of one."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0
    repeats: int = 0
    cost: int = 0
    fragments: int = 0

    def __add__(self, other: Measure) -> Measure:
        """Two parts side by side: the greater depth and repeats, the sums of the others."""
        return Measure(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.fields + other.fields,
            max(self.repeats, other.repeats),
            self.cost + other.cost,
            self.fragments + other.fragments,
        )


@dataclass(frozen=True, slots=True)
class Exceeded:
    """A limit a document exceeds: its ``name``, the document's ``value``, the ``limit``."""

    name: str
    value: int
    limit: int
    what: str  # "the number of aliases"
    at_least: bool = False  # ``value`` is where parsing stopped, not all of it

    @property
    def reason(self) -> str:
        value = f"more than {self.value}" if self.at_least else str(self.value)
        return f"{self.what} is {value}, the limit is {self.limit}"

    @property
    def extensions(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "limit": {"name": self.name, "value": self.value, "max": self.limit},
        }


class LimitExceeded(Exception):
    """The query text is too long, or has too many tokens, to be parsed."""

    def __init__(self, exceeded: Exceeded) -> None:
        super().__init__(f"{MESSAGE}: {exceeded.reason}")
        self.exceeded = exceeded


def parse_document(query: str) -> DocumentNode:
    """Parse ``query`` within :data:`MAX_QUERY_LENGTH` and :data:`MAX_TOKENS`.

    Raises :class:`LimitExceeded` beyond them, ``GraphQLSyntaxError`` if it is no GraphQL."""
    if len(query) > MAX_QUERY_LENGTH:
        exceeded = Exceeded("length", len(query), MAX_QUERY_LENGTH, "the length of the query")
        raise LimitExceeded(exceeded)
    try:
        return parse(query, max_tokens=MAX_TOKENS)
    except GraphQLSyntaxError as exc:
        if _TOKEN_LIMIT not in exc.message:
            raise
    tokens = Exceeded("tokens", MAX_TOKENS, MAX_TOKENS, "the number of tokens", at_least=True)
    raise LimitExceeded(tokens)


def field_type(
    schema: GraphQLSchema | None, parent: GraphQLNamedType | None, name: str
) -> tuple[GraphQLNamedType | None, bool]:
    """The type that field ``name`` of ``parent`` selects from, and whether it is a list that
    weighs in the cost; ``(None, False)`` for a field not in the schema (validation refuses
    it later) or without one."""
    if schema is None or parent is None:
        return None, False
    if name == "__schema" and parent is schema.query_type:
        definition = SchemaMetaFieldDef
    elif name == "__type" and parent is schema.query_type:
        definition = TypeMetaFieldDef
    elif isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) and name in parent.fields:
        definition = parent.fields[name]
    else:
        return None, False
    named = get_named_type(definition.type)
    listed = is_list_type(get_nullable_type(definition.type))
    return named, listed and not named.name.startswith("__")


def list_length(node: FieldNode, variables: Mapping[str, Any]) -> int:
    """How long the list a field answers is assumed to be: its ``first`` argument, else
    :data:`LIST_WEIGHT`; at least 1, at most :data:`MAX_LIST_WEIGHT`."""
    first: Any = None
    for argument in node.arguments or ():
        if argument.name.value == "first":
            value = argument.value
            if isinstance(value, IntValueNode):
                digits = value.value.lstrip("-")
                first = int(value.value) if len(digits) <= 9 else MAX_LIST_WEIGHT
            elif isinstance(value, VariableNode):
                first = variables.get(value.name.value)
    if not isinstance(first, int) or isinstance(first, bool):
        return LIST_WEIGHT
    return max(1, min(first, MAX_LIST_WEIGHT))


@dataclass(slots=True)
class _Part:
    """A measured selection set and the number of its fields under each response name."""

    measure: Measure = field(default_factory=Measure)
    names: Counter[str] = field(default_factory=Counter)


class _Counter:
    """Measures the selection sets of one document, each fragment once."""

    def __init__(
        self,
        document: DocumentNode,
        schema: GraphQLSchema | None,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, _Part] = {}

    def type_named(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name) if self.schema is not None else None

    def selection_set(
        self, node: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> Measure:
        part = self.part(node, parent)
        repeats = max(part.names.values(), default=0)
        return part.measure + Measure(repeats=repeats)

    def part(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None) -> _Part:
        """The selections of ``node``: measured, and their response names (with those of
        inline fragments and spread fragments, which the validator merges into this set)."""
        part = _Part()
        for selection in node.selections if node is not None else ():
            if isinstance(selection, FieldNode):
                child, listed = field_type(self.schema, parent, selection.name.value)
                inner = self.selection_set(selection.selection_set, child)
                weight = list_length(selection, self.variables) if listed else 1
                part.measure += Measure(
                    inner.depth + 1,
                    inner.aliases + (selection.alias is not None),
                    inner.fields + 1,
                    inner.repeats,
                    1 + weight * inner.cost,
                )
                part.names[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.type_named(condition.name.value) if condition is not None else parent
                inline = self.part(selection.selection_set, on)
                part.measure += inline.measure
                part.names.update(inline.names)
            elif isinstance(selection, FragmentSpreadNode):
                # measured before (dependency order); absent: on a cycle, or unknown
                spread = self.measured.get(selection.name.value)
                if spread is not None:
                    part.measure += spread.measure
                    part.names.update(spread.names)
        return part

    def measure_fragments(self) -> None:
        """Measure every fragment after the fragments it spreads, iteratively (a long chain
        of fragments needs no deep recursion), leaving out a spread back into the chain
        being measured (a cycle)."""
        spreads = {name: _spread_names(d.selection_set) for name, d in self.fragments.items()}
        started: set[str] = set()
        for first in self.fragments:
            if first in started:
                continue
            started.add(first)
            stack = [(first, iter(spreads[first]))]
            while stack:
                name, pending = stack[-1]
                for used in pending:
                    if used in self.fragments and used not in started:
                        started.add(used)
                        stack.append((used, iter(spreads[used])))
                        break
                else:
                    stack.pop()
                    definition = self.fragments[name]
                    on = self.type_named(definition.type_condition.name.value)
                    self.measured[name] = self.part(definition.selection_set, on)


def _spread_names(node: SelectionSetNode) -> list[str]:
    """The fragments spread in a selection set, at any level."""
    names: list[str] = []
    stack = [node]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return names


def _root(schema: GraphQLSchema | None, operation: OperationType) -> GraphQLNamedType | None:
    if schema is None:
        return None
    if operation == OperationType.QUERY:
        return schema.query_type
    if operation == OperationType.MUTATION:
        return schema.mutation_type
    return schema.subscription_type


def measure(
    document: DocumentNode,
    schema: GraphQLSchema | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Measure:
    """Depth, aliases, fields, repeats and cost of the operations of ``document`` together
    (the greatest depth and repeats, the sums of the others). Without ``schema`` no field
    counts as a list; ``variables`` give the ``first`` arguments that are variables."""
    counter = _Counter(document, schema, variables or {})
    counter.measure_fragments()
    defined = sum(isinstance(d, FragmentDefinitionNode) for d in document.definitions)
    total = Measure(fragments=defined)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = _root(schema, definition.operation)
            total += counter.selection_set(definition.selection_set, root)
    return total


def exceeded(found: Measure) -> Exceeded | None:
    """The first limit that ``found`` exceeds, or None."""
    checks = (
        ("depth", found.depth, MAX_DEPTH, "the depth"),
        ("aliases", found.aliases, MAX_ALIASES, "the number of aliases"),
        ("fields", found.fields, MAX_FIELDS, "the number of fields"),
        ("repeats", found.repeats, MAX_REPEATS, "the most fields under one name"),
        ("cost", found.cost, MAX_COST, "the cost"),
        ("fragments", found.fragments, MAX_FRAGMENTS, "the number of fragments"),
    )
    for name, value, limit, what in checks:
        if value > limit:
            return Exceeded(name, value, limit, what)
    return None


def check(
    document: DocumentNode,
    schema: GraphQLSchema | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Exceeded | None:
    """The first limit that ``document`` exceeds, or None."""
    return exceeded(measure(document, schema, variables))
