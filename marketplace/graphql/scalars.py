from __future__ import annotations

import graphene


class MoneyAmount(graphene.Decimal):
    """An amount of CNY given as input: at most 2 decimal places, 0 ≤ amount < 10¹⁰.

    The bounds are checked at the edge (marketplace/graphql/middleware.py), which refuses
    ``100.123456`` or ``-50`` with a typed error naming the field instead of rounding it."""
