"""Storefront pages for station staff and farmers, PDFs, and the refusals behind them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from testkit import logged_in

from marketplace.payments.models import CashReconciliation
from plugins.group_orders import documents, services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Pickup, PickupStatus, Pledge, PurchaseOrder, StationDelivery

pytestmark = pytest.mark.django_db

PASSWORD = "test-pass-123456"


def login(user) -> Client:
    return logged_in(user, with_password=True)


def test_staff_sees_progress_and_pledges_through_the_page(staff_a, campaign, item, households_a):
    c = login(staff_a)
    page = c.get("/p/group-buy/").content.decode()
    assert campaign.title in page and "还差 100" in page
    home = c.get("/").content.decode()
    assert "进行中的团购" in home and "团购" in home
    detail = c.get(f"/p/group-buy/c/{campaign.pk}/").content.decode()
    assert "代农户认购" in detail and households_a[0].name in detail
    r = c.post(
        f"/p/group-buy/c/{campaign.pk}/pledge/",
        {
            "household": households_a[0].pk,
            "item": item.pk,
            "quantity": "30",
            "payment_method": "cash",
            "idempotency_key": "form-1",
        },
    )
    assert r.status_code == 302
    c.post(
        f"/p/group-buy/c/{campaign.pk}/pledge/",
        {
            "household": households_a[0].pk,
            "item": item.pk,
            "quantity": "30",
            "payment_method": "cash",
            "idempotency_key": "form-1",
        },
    )  # resubmitted form: still one pledge
    assert Pledge.objects.count() == 1
    detail = c.get(f"/p/group-buy/c/{campaign.pk}/").content.decode()
    assert "还差 70" in detail


def test_other_station_is_refused(staff_b, campaign, item, households_a, station_a):
    c = login(staff_b)
    r = c.post(
        f"/p/group-buy/c/{campaign.pk}/pledge/",
        {"household": households_a[0].pk, "item": item.pk, "quantity": "3", "payment_method": "cash"},
    )
    assert r.status_code == 404
    assert c.get(f"/p/group-buy/c/{campaign.pk}/station/{station_a.pk}/").status_code == 404
    assert c.get(f"/p/group-buy/c/{campaign.pk}/station/{station_a.pk}/picklist.pdf").status_code == 404
    assert not Pledge.objects.exists()


def test_anonymous_redirected_to_login(campaign):
    assert Client().get("/p/group-buy/").status_code == 302


@pytest.fixture
def delivered(staff_a, item, campaign, households_a, farmer_a, household_a, expire):
    services.place_pledge(staff_a, item, households_a[0], 80, "cash")
    household_a.credit_limit = Decimal("10000")
    household_a.save()
    services.place_pledge(staff_a, item, household_a, 30, "credit")
    expire(campaign)
    close_campaign(campaign.pk)
    services.receive_delivery(staff_a, StationDelivery.objects.get(), {item.pk: (110, 0)})
    return campaign


def test_pick_list_pdf_and_html(staff_a, delivered, station_a, households_a, household_a):
    c = login(staff_a)
    r = c.get(f"/p/group-buy/c/{delivered.pk}/station/{station_a.pk}/picklist.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    pledges = services.station_pledges(staff_a, delivered, station_a)
    html = documents.html("pick_list", documents.pick_list_context(delivered, station_a, pledges))
    assert "团购站点配货单" in html and households_a[0].name in html and household_a.name in html
    assert html.count('class="row"') == 2 and "赊销应收 4500.00" in html and "签字" in html
    assert "16500.00" in html  # 110 bags × ¥150 (below the first tier)


def test_pickup_verification_and_receipt(staff_a, staff_b, farmer_a, delivered, household_a):
    pickup = Pickup.objects.get(household=household_a)
    staff = login(staff_a)
    r = staff.post("/p/group-buy/pickup/", {"code": pickup.code})
    assert r.status_code == 302 and r["Location"].endswith(f"/pickup/{pickup.pk}/")
    page = staff.get(r["Location"]).content.decode()
    assert "确认发放" in page
    pledge = Pledge.objects.get(household=household_a)
    staff.post(
        f"/p/group-buy/pickup/{pickup.pk}/",
        {"code": pickup.code, f"qty_{pledge.pk}": "10", "idempotency_key": "k"},
    )
    pickup.refresh_from_db()
    assert pickup.status == PickupStatus.PARTIAL
    # Other station: the code finds nothing, the page is not theirs.
    other = login(staff_b)
    assert "未找到" in other.post("/p/group-buy/pickup/", {"code": pickup.code}, follow=True).content.decode()
    assert other.get(f"/p/group-buy/pickup/{pickup.pk}/").status_code == 404
    # The farmer sees their own code and QR, and can download the receipt.
    farmer = login(farmer_a)
    page = farmer.get(f"/p/group-buy/pickup/{pickup.pk}/").content.decode()
    assert pickup.code in page and "取货二维码" in page
    r = farmer.get(f"/p/group-buy/pickup/{pickup.pk}/receipt.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    html = documents.html("receipt", documents.receipt_context(pickup))
    assert (
        "团购收据" in html
        and pickup.code in html
        and "data:image/svg+xml;charset=utf-8,%3Csvg%20xmlns" in html
    )
    assert other.get(f"/p/group-buy/pickup/{pickup.pk}/receipt.pdf").status_code == 404


def test_purchase_order_pdf_only_for_its_supplier(supplier_user, staff_a, delivered):
    po = PurchaseOrder.objects.get()
    r = login(supplier_user).get(f"/p/group-buy/po/{po.pk}.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    html = documents.html("purchase_order", documents.purchase_order_context(po))
    assert po.number in html and "按站点配送" in html and "东岗益农信息社" in html
    assert login(staff_a).get(f"/p/group-buy/po/{po.pk}.pdf").status_code == 404


def test_cash_page_reconciles(staff_a, staff_b, delivered, station_a):
    c = login(staff_a)
    page = c.get("/p/group-buy/cash/").content.decode()
    assert "¥12,000.00" in page  # 80 bags × ¥150 taken in cash today
    c.post("/p/group-buy/cash/", {"station": station_a.pk, "action": "reconcile", "counted": "12000"})
    rec = CashReconciliation.objects.get(station=station_a)
    assert rec.difference == Decimal("0.00")
    # Station B cannot reconcile station A: its own station is used instead.
    login(staff_b).post(
        "/p/group-buy/cash/", {"station": station_a.pk, "action": "reconcile", "counted": "1"}
    )
    assert CashReconciliation.objects.get(station=station_a).counted == Decimal("12000.00")


def test_commission_page_after_pickup(staff_a, staff_b, delivered, household_a, station_a):
    pickup = Pickup.objects.get(household=household_a)
    services.collect(staff_a, pickup, pickup.code)
    page = login(staff_a).get("/p/group-buy/commission/").content.decode()
    assert "站点佣金" in page and "¥135.00" in page  # 30 bags × ¥150 × 3%
    assert "¥0" in login(staff_b).get("/p/group-buy/commission/").content.decode()
