"""Supplier portal in Oscar's dashboard: the 供应商中心 menu, partner-restricted products and orders."""

from __future__ import annotations

from decimal import Decimal

import pytest
from catalogue_helpers import make_fertilizer, warehouse
from django.urls import reverse

from marketplace.apps.order.models import Line, Order
from marketplace.apps.partner.services import _dashboard_permission

pytestmark = pytest.mark.django_db


@pytest.fixture
def dashboard_supplier(client, supplier, supplier_user):
    supplier_user.user_permissions.add(_dashboard_permission())  # what approval grants
    client.force_login(supplier_user)
    return client


def add_order(number: str, partner, station, household) -> Order:
    order = Order.objects.create(
        number=number,
        station=station,
        household=household,
        currency="CNY",
        total_incl_tax=Decimal("100"),
        total_excl_tax=Decimal("100"),
        status="Pending",
    )
    Line.objects.create(
        order=order,
        partner=partner,
        partner_name=partner.name,
        title=f"{number} 商品",
        quantity=1,
        partner_sku=f"{number}-1",
        line_price_incl_tax=Decimal("100"),
        line_price_excl_tax=Decimal("100"),
        line_price_before_discounts_incl_tax=Decimal("100"),
        line_price_before_discounts_excl_tax=Decimal("100"),
        num_allocated=0,
    )
    return order


def test_dashboard_menu_links_supplier_pages(dashboard_supplier, supplier, wh):
    response = dashboard_supplier.get(reverse("dashboard:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "供应商中心" in html
    for name in (
        "dashboard:catalogue-product-list",
        "dashboard:order-list",
        "storefront:supplier-licences",
        "storefront:supplier-warehouses",
        "storefront:supplier-import",
    ):
        assert f'href="{reverse(name)}"' in html, name
    for name in (
        "storefront:supplier-licences",
        "storefront:supplier-warehouses",
        "storefront:supplier-import",
    ):
        page = dashboard_supplier.get(reverse(name))
        assert page.status_code == 200 and supplier.name in page.content.decode()
    warehouses_page = dashboard_supplier.get(reverse("storefront:supplier-warehouses")).content.decode()
    assert 'id="warehouses"' in warehouses_page and 'id="licences"' not in warehouses_page


def test_menu_hidden_without_dashboard_access(client, supplier_user):
    from marketplace.core.dashboard_menu import supplier_portal_access

    assert not supplier_portal_access(supplier_user)
    client.force_login(supplier_user)
    assert client.get(reverse("dashboard:index")).status_code in (302, 403)


def test_partner_restricted_products_and_orders(
    dashboard_supplier, product_classes, supplier, other_supplier, station_a, household_a
):
    mine = make_fertilizer(product_classes, supplier, "MINE-1", "本公司复合肥", warehouse=warehouse(supplier))
    theirs = make_fertilizer(
        product_classes, other_supplier, "THEIRS-1", "别家复合肥", warehouse=warehouse(other_supplier, "WH9")
    )
    listing = dashboard_supplier.get(reverse("dashboard:catalogue-product-list"))
    assert listing.status_code == 200
    assert "本公司复合肥" in listing.content.decode() and "别家复合肥" not in listing.content.decode()
    assert dashboard_supplier.get(reverse("dashboard:catalogue-product", args=[mine.pk])).status_code == 200
    refused = dashboard_supplier.get(reverse("dashboard:catalogue-product", args=[theirs.pk]))
    assert refused.status_code in (403, 404)
    refused = dashboard_supplier.post(
        reverse("dashboard:catalogue-product-delete", args=[theirs.pk]), {"confirm": "1"}
    )
    assert refused.status_code in (403, 404)
    assert type(theirs).objects.filter(pk=theirs.pk).exists()

    add_order("MINE-ORDER", supplier, station_a, household_a)
    theirs_order = add_order("THEIRS-ORDER", other_supplier, station_a, household_a)
    orders = dashboard_supplier.get(reverse("dashboard:order-list"))
    assert orders.status_code == 200
    assert "MINE-ORDER" in orders.content.decode() and "THEIRS-ORDER" not in orders.content.decode()
    refused = dashboard_supplier.get(reverse("dashboard:order-detail", args=[theirs_order.number]))
    assert refused.status_code in (403, 404)
