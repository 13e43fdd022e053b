"""Fixtures live in routing_fixtures.py (importable by the tests for their helpers)."""

from routing_fixtures import (  # noqa: F401
    depot,
    geo_stations,
    loads_plugin,
    other_dispatcher,
    short_shift_truck,
    standard_loads,
    trucks,
    warehouse,
)
