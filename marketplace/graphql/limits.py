"""Query limits checked before a GraphQL request runs: tokens, aliases, depth and cost.

They run as a separate validation pass *before* graphql-core's standard rules, so a hostile document
(thousands of aliases) is refused before the quadratic rules (overlapping fields) see it.

The cost model follows Saleor's ``CostValidator`` (saleor/graphql/core/validators/query_cost.py):
every object-typed field costs 1 (scalars 0) unless ``COST_MAP`` names it, and a field's children
are multiplied by its ``first`` argument (a page of N items costs N times one item). Expensive root
fields (search, token creation with its password hash, solves, closes) carry their own cost.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from graphene.validation import depth_limit_validator
from graphql import (
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values
from graphql.language.ast import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ValidationContext, ValidationRule

# "Type.field": cost of the field itself (its children are added on top).
COST_MAP: dict[str, int] = {
    "Query.search": 20,
    "Query.products": 10,
    "Query.stations": 5,
    "Query.households": 5,
    "Query.countyDemand": 50,
    "Query.cashSummary": 10,
    "Mutation.tokenCreate": 100,
    "Mutation.planCreate": 300,
    "Mutation.planReoptimise": 300,
    "Mutation.groupBuyCampaignClose": 300,
    "Mutation.soilTestImport": 100,
    "Mutation.recommendationCreate": 20,
}
DEFAULT_MUTATION_COST = 10


class QueryLimitError(GraphQLError):
    """A document over one of the limits; ``extensions.code`` says which."""

    def __init__(self, message: str, code: str, **details: Any) -> None:
        super().__init__(message, extensions={"code": code, **details})


class AliasLimitRule(ValidationRule):
    """At most ``GRAPHQL_MAX_ALIASES`` aliased fields in the whole document (1,000 aliased ``search``
    fields or 100 aliased ``tokenCreate`` guesses are refused before anything runs)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.aliases = 0
        self.reported = False

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.alias is None:
            return
        self.aliases += 1
        limit = settings.GRAPHQL_MAX_ALIASES
        if self.aliases > limit and not self.reported:
            self.reported = True
            self.report_error(
                QueryLimitError(
                    f"The query uses more than {limit} aliases.", "TOO_MANY_ALIASES", maximum=limit
                )
            )


def cost_rule(variables: dict[str, Any] | None) -> type[ValidationRule]:
    """A validation rule class bound to this request's variables (for ``first: $n``)."""

    class CostRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            schema = self.context.schema
            root = {
                "query": schema.query_type,
                "mutation": schema.mutation_type,
                "subscription": schema.subscription_type,
            }[node.operation.value]
            if root is None:
                return
            cost = _selection_cost(self.context, node.selection_set, root, variables or {}, set())
            limit = settings.GRAPHQL_MAX_COST
            if cost > limit:
                self.report_error(
                    QueryLimitError(
                        f"The query costs {cost}, more than the maximum of {limit}.",
                        "QUERY_TOO_COMPLEX",
                        cost=cost,
                        maximum=limit,
                    )
                )

    return CostRule


def _selection_cost(
    context: ValidationContext,
    selection_set: SelectionSetNode | None,
    parent: Any,
    variables: dict[str, Any],
    fragments_seen: set[str],
) -> int:
    if selection_set is None or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            field = parent.fields.get(selection.name.value)
            if field is None:
                continue  # an unknown field: the standard rules report it
            field_type = get_named_type(field.type)
            key = f"{parent.name}.{selection.name.value}"
            if key in COST_MAP:
                own = COST_MAP[key]
            elif parent.name == "Mutation":
                own = DEFAULT_MUTATION_COST
            else:
                own = 0 if is_leaf_type(field_type) else 1
            multiplier = 1
            if "first" in field.args:
                try:
                    args = get_argument_values(field, selection, variables)
                except GraphQLError:
                    args = {}  # a bad argument: the standard rules report it
                first = args.get("first") or 20
                multiplier = min(max(int(first), 1), settings.GRAPHQL_MAX_PAGE_SIZE)
            children = _selection_cost(
                context, selection.selection_set, field_type, variables, fragments_seen
            )
            total += own + multiplier * children
        elif isinstance(selection, InlineFragmentNode):
            cond = selection.type_condition
            target = context.schema.get_type(cond.name.value) if cond else parent
            total += _selection_cost(context, selection.selection_set, target, variables, fragments_seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is None or name in fragments_seen:
                continue  # unknown or cyclic: the standard rules report it
            target = context.schema.get_type(fragment.type_condition.name.value)
            total += _selection_cost(
                context, fragment.selection_set, target, variables, fragments_seen | {name}
            )
    return total


def limits_in_force() -> tuple[int, ...]:
    """The query limits as configured now: part of every cache key of a checked document or of an
    answer, so that a change of limits is never answered from a cache made under the old ones."""
    return (
        settings.GRAPHQL_MAX_TOKENS,
        settings.GRAPHQL_MAX_ALIASES,
        settings.GRAPHQL_MAX_DEPTH,
        settings.GRAPHQL_MAX_COST,
        settings.GRAPHQL_MAX_PAGE_SIZE,
    )


def limit_rules(variables: dict[str, Any] | None) -> list[type[ValidationRule]]:
    return [
        AliasLimitRule,
        depth_limit_validator(max_depth=settings.GRAPHQL_MAX_DEPTH),
        cost_rule(variables),
    ]
