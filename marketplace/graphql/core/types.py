from __future__ import annotations

import graphene
from django.conf import settings
from django.db.models import QuerySet


class Money(graphene.ObjectType):
    amount = graphene.Decimal(required=True)
    currency = graphene.String(required=True)


def money(amount) -> Money | None:
    if amount is None:
        return None
    return Money(amount=amount, currency=settings.OSCAR_DEFAULT_CURRENCY)


def page(qs: QuerySet, first: int | None, offset: int | None) -> tuple[QuerySet, int]:
    """Offset pagination with a hard cap (settings.GRAPHQL_MAX_PAGE_SIZE)."""
    limit = min(max(first or 20, 1), settings.GRAPHQL_MAX_PAGE_SIZE)
    start = max(offset or 0, 0)
    return qs[start : start + limit], qs.count()


def page_args() -> dict[str, graphene.Argument]:
    return {
        "first": graphene.Int(description=f"Page size, at most {settings.GRAPHQL_MAX_PAGE_SIZE}."),
        "offset": graphene.Int(),
    }
