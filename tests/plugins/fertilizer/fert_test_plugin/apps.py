"""A test-only plugin standing in for a group-buy campaign: it offers one fertilizer product cheaper
than core stock and takes the plan lines it offered (records them in ``TAKEN``)."""

from __future__ import annotations

from decimal import Decimal

from marketplace.core.extensions import AcceptedLine, MarketplacePlugin, PurchasableOffer

#: product id offered through the "campaign" (set by the test)
CAMPAIGN: dict[str, object] = {
    "product_id": None,
    "price": Decimal("90.00"),
    "available": 500,  # the campaign's remaining supply cap
    "household_limit": None,  # per-household limit (None = none)
}
DEFAULTS = dict(CAMPAIGN)
TAKEN: list = []
LINES: list = []  # every plan line offered to this plugin (to check its payment method)


class FertTestPluginConfig(MarketplacePlugin):
    default = True
    name = "fert_test_plugin"
    label = "fert_test_plugin"
    plugin_slug = "fert-test"

    def purchasable_offers(self, station, product_ids=None):
        pid = CAMPAIGN["product_id"]
        if pid is None or (product_ids is not None and pid not in product_ids):
            return []
        return [
            PurchasableOffer(
                product_id=pid,
                sku="CAMPAIGN-UREA",
                title="团购尿素",
                partner_id=0,
                unit_price=CAMPAIGN["price"],
                available=CAMPAIGN["available"],
                source="fert-test",
                source_ref="campaign-7",
                available_pool="campaign-7",
                household_limit=CAMPAIGN["household_limit"],
            )
        ]

    def accept_plan_lines(self, station, household, lines, user=None):
        out = []
        LINES.extend(lines)
        for line in lines:
            if line.source == "fert-test":
                TAKEN.append((station.pk, household.pk, line.product_id, line.quantity))
                out.append(AcceptedLine(line, "fert-test", f"campaign-7:{household.pk}", line.quantity))
        return out
