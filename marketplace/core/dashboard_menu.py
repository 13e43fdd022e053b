"""Supplier portal entries in Oscar's dashboard menu (``settings.OSCAR_DASHBOARD_NAVIGATION``).

Suppliers with ``partner.dashboard_access`` (granted on approval) reach, from one menu: Oscar's
partner-restricted product list (products, prices and stock per stock record), low-stock alerts
and orders, plus the storefront supplier pages for licences, warehouses and bulk import.

Imported from settings, so this module must not import models.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


def supplier_portal_access(
    user: Any, url_name: str | None = None, url_args: Any = None, url_kwargs: Any = None
) -> bool:
    """Menu access for the storefront supplier pages (they are not Oscar dashboard URLs, so
    Oscar's default access function cannot resolve their permissions)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_staff or user.has_perm("partner.dashboard_access"))


SUPPLIER_MENU: dict[str, Any] = {
    "label": _("供应商中心"),
    "icon": "fas fa-store",
    "children": [
        {"label": _("商品、价格与库存"), "url_name": "dashboard:catalogue-product-list"},
        {"label": _("库存预警"), "url_name": "dashboard:stock-alert-list"},
        {"label": _("订单"), "url_name": "dashboard:order-list"},
        {
            "label": _("资质证照"),
            "url_name": "storefront:supplier-licences",
            "access_fn": supplier_portal_access,
        },
        {
            "label": _("仓库"),
            "url_name": "storefront:supplier-warehouses",
            "access_fn": supplier_portal_access,
        },
        {
            "label": _("批量导入"),
            "url_name": "storefront:supplier-import",
            "access_fn": supplier_portal_access,
        },
    ],
}


def with_supplier_menu(navigation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oscar's navigation with the supplier group right after the dashboard home entry."""
    if any(item is SUPPLIER_MENU for item in navigation):  # labels are lazy: compare identity
        return navigation
    return [*navigation[:1], SUPPLIER_MENU, *navigation[1:]]
