"""The plugin's extension-point hooks (apps.py only forwards to these)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from marketplace.accounts.models import Role
from marketplace.core.extensions import HomePanel, MenuEntry

READERS = frozenset({Role.STATION_STAFF, Role.FARMER})
COUNTY = frozenset({Role.COUNTY_STAFF, Role.AGRONOMIST, Role.OPERATOR})


def menu_entries(request: HttpRequest) -> list[MenuEntry]:
    return [
        MenuEntry(_("通知"), reverse("info:notices"), READERS | COUNTY, order=30),
        MenuEntry(_("价格"), reverse("info:prices"), READERS | COUNTY, order=31),
        MenuEntry(_("备耕调查"), reverse("info:surveys"), frozenset({Role.STATION_STAFF}) | COUNTY, order=32),
        MenuEntry(
            _("专家问答"), reverse("info:questions"), frozenset({Role.STATION_STAFF}) | COUNTY, order=33
        ),
    ]


def home_panels(request: HttpRequest) -> list[HomePanel]:
    from . import access, services

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    if access.is_county_user(user):
        open_questions = access.questions_for(user).filter(status="open").count()
        return [
            HomePanel("village_info/_home_panel_county.html", {"open_questions": open_questions}, order=25)
        ]
    receipts = services.visible_notices(user)
    unread = receipts.filter(read_at__isnull=True).count()
    latest = list(receipts[:3])
    if not latest:
        return []
    return [HomePanel("village_info/_home_panel.html", {"unread": unread, "receipts": latest}, order=12)]


def periodic_tasks() -> dict[str, dict[str, Any]]:
    return {
        "village-info.publish-due-notices": {
            "task": "plugins.village_info.tasks.publish_due_notices",
            "schedule": timedelta(minutes=1).total_seconds(),
        },
        "village-info.snapshot-input-prices": {
            "task": "plugins.village_info.tasks.snapshot_input_prices",
            "schedule": crontab(minute=15, hour=23),
        },
    }
