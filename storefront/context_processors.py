from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext

from marketplace.accounts.models import Role
from marketplace.core.extensions import MenuEntry, menu_entries

# Settings shown in the shell, translated at render time ({% translate shop_name %},
# {% translate shop_tagline %}); listed here so that makemessages extracts them.
SETTINGS_MESSAGES = (gettext_noop("益农直采"), gettext_noop("农资直购 · 村站团购"))

STAFF_ROLES = frozenset({Role.STATION_STAFF, Role.OPERATOR})
READ_STATION_ROLES = frozenset({Role.STATION_STAFF, Role.OPERATOR, Role.AGRONOMIST, Role.COUNTY_STAFF})
DASHBOARD_ROLES = frozenset({Role.SUPPLIER, Role.COOPERATIVE, Role.OPERATOR})
SUPPLIER_ROLES = frozenset({Role.SUPPLIER, Role.COOPERATIVE})
OPERATOR_ROLES = frozenset({Role.OPERATOR})


def core_menu(request: HttpRequest) -> list[MenuEntry]:
    return [
        MenuEntry(_("首页"), reverse("storefront:home"), order=0),
        MenuEntry(pgettext("menu", "农户"), reverse("storefront:households"), READ_STATION_ROLES, order=10),
        MenuEntry(_("订单"), reverse("storefront:orders"), order=20),
        MenuEntry(_("为农户下单"), reverse("storefront:station-orders"), STAFF_ROLES, order=15),
        MenuEntry(_("商城"), reverse("storefront:catalogue"), order=30),
        MenuEntry(_("供应商中心"), reverse("storefront:supplier-portal"), SUPPLIER_ROLES, order=80),
        MenuEntry(_("供应商审核"), reverse("storefront:operator-suppliers"), OPERATOR_ROLES, order=70),
        MenuEntry(_("管理后台"), reverse("dashboard:index"), DASHBOARD_ROLES, order=90),
    ]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_entries": []}
    role = user.role
    is_op = user.is_superuser or role == Role.OPERATOR
    entries = [e for e in core_menu(request) if not e.roles or role in e.roles or is_op]
    entries += menu_entries(request)
    return {"nav_entries": sorted(entries, key=lambda e: (e.order, e.label))}
