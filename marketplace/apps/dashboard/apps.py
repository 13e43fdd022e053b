"""Oscar's dashboard, forked (Oscar's documented way) only so that ``dashboard.reports.reports``
resolves to marketplace/apps/dashboard/reports/reports.py: formula-safe CSV reports."""

from oscar.apps.dashboard import apps


class DashboardConfig(apps.DashboardConfig):
    name = "marketplace.apps.dashboard"
