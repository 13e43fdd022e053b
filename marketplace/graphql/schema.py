"""The GraphQL root: core queries and mutations plus whatever the installed plugins contribute."""

from __future__ import annotations

import graphene

from marketplace.core.extensions import collect

from .accounts.schema import AccountMutations, AccountQueries
from .catalogue.mutations import CatalogueMutations
from .catalogue.schema import CatalogueQueries
from .orders.mutations import OrderMutations
from .orders.schema import OrderQueries
from .stations.schema import StationMutations, StationQueries

CORE_QUERIES: list[type] = [AccountQueries, StationQueries, CatalogueQueries, OrderQueries]
CORE_MUTATIONS: list[type] = [AccountMutations, StationMutations, CatalogueMutations, OrderMutations]


def build_schema() -> graphene.Schema:
    queries = [*CORE_QUERIES, *collect("graphql_queries")]
    mutations = [*CORE_MUTATIONS, *collect("graphql_mutations")]
    query = type("Query", (*queries, graphene.ObjectType), {})
    mutation = type("Mutation", (*mutations, graphene.ObjectType), {})
    return graphene.Schema(query=query, mutation=mutation)


schema = build_schema()
