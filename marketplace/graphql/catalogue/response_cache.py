"""Cached catalogue reads: a GraphQL answer made only of ``products``, ``search``, ``product`` and
``categories`` is kept (``GRAPHQL_LISTING_CACHE_SECONDS``) and served again without parsing,
validating or resolving anything.

Key: the catalogue generation (``marketplace.search.sync.current_generation`` — advanced by every
price, stock, sellability, image, category or product change, through the same hooks that keep
the search index and the listing total current), the document, variables and operation name, the
active language, and the viewer's price context (``partner.strategy.viewer_price_context``: the
anonymous public share one context, every signed-in user has their own, so no station ever gets
another station's answer). Reading the generation is one SQL statement on PostgreSQL (a sequence,
shared by every process), so a change committed anywhere shows in the very next response of every
gunicorn worker even with the per-process ``LocMemCache``. Only answers without errors are kept.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import translation
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
)

from marketplace.apps.partner.strategy import viewer_price_context
from marketplace.search.sync import current_generation

from ..limits import limits_in_force
from ..views import MarketplaceGraphQLView

#: Root fields whose answers depend only on the catalogue, the language and the viewer.
CACHEABLE_ROOT_FIELDS = frozenset({"products", "search", "product", "categories", "__typename"})
KEY_PREFIX = "gql-catalogue"
#: A catalogue page's read is a small document with a few root fields; anything bigger (e.g. a
#: document of hundreds of aliased searches, which the edge limits refuse) is not parsed here twice
#: nor looked up: it goes straight to the view's limits.
MAX_DOCUMENT_CHARS = 4_000
MAX_ROOT_FIELDS = 5
_DECISIONS: OrderedDict[tuple[str, str | None], bool] = OrderedDict()
_DECISIONS_MAX = 512


def cacheable_document(query: str, operation_name: str | None) -> bool:
    """True when the operation run is a query selecting only catalogue root fields (memoised per
    document text, so a repeated document is parsed once per process)."""
    key = (query, operation_name)
    decision = _DECISIONS.get(key)
    if decision is None:
        decision = _decide(query, operation_name)
        _DECISIONS[key] = decision
        if len(_DECISIONS) > _DECISIONS_MAX:
            _DECISIONS.popitem(last=False)
    return decision


def _decide(query: str, operation_name: str | None) -> bool:
    if len(query) > MAX_DOCUMENT_CHARS:
        return False
    try:
        document = parse(query, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    return 0 < len(selections) <= MAX_ROOT_FIELDS and all(
        isinstance(s, FieldNode) and s.name.value in CACHEABLE_ROOT_FIELDS for s in selections
    )


def cache_key(
    request: HttpRequest, query: str | None, variables: Any, operation_name: str | None
) -> str | None:
    """The cache key of this request's answer, or None when it must not be cached."""
    if (
        settings.GRAPHQL_LISTING_CACHE_SECONDS <= 0
        or not query
        or not cacheable_document(query, operation_name)
    ):
        return None
    try:
        material = json.dumps(
            [
                query,
                variables or {},
                operation_name,
                translation.get_language(),
                viewer_price_context(request.user),
                limits_in_force(),
            ],
            sort_keys=True,
            default=str,
        )
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(material.encode()).hexdigest()
    return f"{KEY_PREFIX}:{current_generation()}:{digest}"


class CachingGraphQLView(MarketplaceGraphQLView):
    """The GraphQL endpoint with the catalogue response cache in front of execution. Authentication,
    CSRF, body limits and the request budget stay in :class:`MarketplaceGraphQLView.dispatch`,
    which runs first; a cached answer skips parsing, validation and resolvers."""

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        key = None if show_graphiql else cache_key(request, query, variables, operation_name)
        if key is not None:
            cached = cache.get(key)
            if cached is not None:
                request.graphql_cache = "hit"
                return ExecutionResult(data=cached)
        result = super().execute_graphql_request(
            request, data, query, variables, operation_name, show_graphiql
        )
        if key is not None and result is not None and not result.errors and result.data is not None:
            cache.set(key, result.data, settings.GRAPHQL_LISTING_CACHE_SECONDS)
            request.graphql_cache = "miss"
        return result
