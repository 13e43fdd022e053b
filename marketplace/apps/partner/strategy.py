"""Purchase strategy: only sellable stock (approved supplier, licences in order) can be bought;
among several suppliers the cheapest sellable record with free stock wins."""

from __future__ import annotations

from typing import Any

from oscar.apps.partner import strategy
from oscar.apps.partner.availability import Unavailable

from .models import VerificationStatus


def _sellable(record: Any) -> bool:
    return (
        record is not None
        and not record.compliance_blocked
        and record.partner.verification_status == VerificationStatus.APPROVED
    )


class MarketplaceStrategy(strategy.StockRequired, strategy.NoTax, strategy.Structured):
    def select_stockrecord(self, product: Any) -> Any:
        records = [r for r in product.stockrecords.all() if _sellable(r)]
        if not records:
            return None
        in_stock = [r for r in records if r.net_stock_level > 0 and r.price is not None]
        pool = in_stock or records
        return min(pool, key=lambda r: (r.price is None, r.price or 0, r.pk))

    def availability_policy(self, product: Any, stockrecord: Any) -> Any:
        if not _sellable(stockrecord) or not product.is_public:
            return Unavailable()
        return super().availability_policy(product, stockrecord)


class Selector:
    def strategy(self, request: Any = None, user: Any = None, **kwargs: Any) -> MarketplaceStrategy:
        return MarketplaceStrategy(request)
