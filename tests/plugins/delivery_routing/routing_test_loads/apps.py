"""A test-only plugin that produces loads through the ``delivery_requests`` extension point,
the way group orders does with consolidated purchase orders.  Tests fill ``LOADS``."""

from __future__ import annotations

from marketplace.core.extensions import DeliveryRequest, MarketplacePlugin

LOADS: list[DeliveryRequest] = []


class RoutingTestLoadsConfig(MarketplacePlugin):
    default = True
    name = "routing_test_loads"
    label = "routing_test_loads"
    plugin_slug = "routing-test-loads"

    def delivery_requests(self, ready_by=None):
        return [r for r in LOADS if ready_by is None or r.ready_on is None or r.ready_on <= ready_by]
