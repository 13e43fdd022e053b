"""Supplier and operator pages of a season (issue 12): sign-up, review queues, campaign form /
preview / submit / approve, manual close, purchase orders and shipping, sales, payout runs and the
overview — and the refusals behind them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from testkit import logged_in, make_group_buy, make_user, supplier_signup_data

from marketplace.accounts.models import Role, User
from marketplace.apps.order import statuses as order_status
from marketplace.apps.partner.models import LicenceKind, Partner, PartnerLicence, VerificationStatus
from marketplace.core.money import format_cny
from marketplace.payments import services as payments
from marketplace.payments.models import LedgerEntry
from plugins.group_orders import services
from plugins.group_orders.models import Campaign, CampaignStatus, DeliveryStatus, Pledge, StationDelivery

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    return logged_in(user, with_password=True)


def signup_data(**extra):
    """The sign-up with a pesticide business licence besides the business licence scan."""
    return supplier_signup_data(
        licence_kind="pesticide_business",
        licence_number="农药经许(吉)22070000001",
        licence_valid_from="2026-01-01",
        licence_valid_until="2029-12-31",
        **extra,
    )


def test_business_signs_up_and_operator_reviews_with_documents(operator, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    c = Client()
    r = c.post("/supplier/signup/", signup_data())
    assert r.status_code == 302, r.content.decode()[:2000]
    partner = Partner.objects.get(name="松原丰田农资有限公司")
    user = User.objects.get(username="fengtian")
    assert partner.verification_status == VerificationStatus.PENDING and user.role == Role.SUPPLIER
    assert set(partner.licences.values_list("kind", flat=True)) == {
        LicenceKind.BUSINESS_LICENCE,
        LicenceKind.PESTICIDE_BUSINESS,
    }
    portal = c.get("/supplier/").content.decode()
    assert "审核中" in portal

    # The scan is served to its supplier and operators only.
    scan = partner.licences.get(kind=LicenceKind.BUSINESS_LICENCE)
    assert c.get(f"/supplier/licences/{scan.pk}/file/").status_code == 200
    other = make_user("nosy", Role.SUPPLIER)
    assert login(other).get(f"/supplier/licences/{scan.pk}/file/").status_code == 404

    op = login(operator)
    queue = op.get("/operator/suppliers/").content.decode()
    assert partner.name in queue
    detail = op.get(f"/operator/suppliers/{partner.pk}/").content.decode()
    assert partner.credit_code in detail and f"/supplier/licences/{scan.pk}/file/" in detail
    # Rejecting needs a reason; the page says so and nothing changes.
    op.post(f"/operator/suppliers/{partner.pk}/", {"action": "reject", "reason": ""})
    partner.refresh_from_db()
    assert partner.verification_status == VerificationStatus.PENDING
    op.post(f"/operator/suppliers/{partner.pk}/", {"action": "approve"})
    partner.refresh_from_db()
    assert partner.verification_status == VerificationStatus.APPROVED
    op.post(f"/operator/suppliers/{partner.pk}/", {"action": "suspend", "reason": "证照过期"})
    partner.refresh_from_db()
    assert partner.verification_status == VerificationStatus.SUSPENDED
    assert partner.status_changes.filter(reason="证照过期").exists()


def test_signup_errors_name_the_field(db):
    c = Client()
    r = c.post("/supplier/signup/", signup_data(credit_code="123", mobile="12", password="short"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "请输入11位中国大陆手机号码" in html
    assert not Partner.objects.exists() and not User.objects.filter(username="fengtian").exists()
    r = c.post(
        "/supplier/signup/",
        signup_data(
            business_licence=SimpleUploadedFile("x.exe", b"MZ", content_type="application/x-msdownload")
        ),
    )
    assert "文件类型不支持" in r.content.decode() and not Partner.objects.exists()


def test_station_staff_and_suppliers_cannot_review(staff_a, supplier_user, supplier):
    for user in (staff_a, supplier_user):
        c = login(user)
        assert c.get("/operator/suppliers/").status_code == 403
        assert (
            c.post(f"/operator/suppliers/{supplier.pk}/", {"action": "suspend", "reason": "x"}).status_code
            == 403
        )
        assert c.get("/p/group-buy/review/").status_code == 403
        assert c.get("/p/group-buy/payouts/").status_code == 403
    assert login(supplier_user).get("/p/group-buy/overview/").status_code == 403


def test_supplier_warehouse_licence_and_stock_pages(supplier_user, supplier, fertilizer, wh):
    c = login(supplier_user)
    page = c.get("/supplier/warehouses/").content.decode()
    assert 'id="warehouses"' in page and "<svg" in page and wh.name in page
    r = c.post(
        "/supplier/warehouses/",
        {"code": "WH2", "name": "双阳二号库", "latitude": "43.51", "longitude": "125.70", "is_active": "on"},
    )
    assert r.status_code == 302 and supplier.warehouses.filter(code="WH2").exists()
    r = c.post(
        "/supplier/warehouses/", {"code": "WH3", "name": "坏坐标", "latitude": "123", "longitude": "1"}
    )
    assert r.status_code == 200 and not supplier.warehouses.filter(code="WH3").exists()

    r = c.post(
        "/supplier/licences/",
        {
            "kind": "seed_business",
            "number": "C(吉)农种许字(2026)第0001号",
            "valid_from": "2025-01-01",
            "valid_until": "2025-06-30",
        },
    )
    licence = PartnerLicence.objects.get(number="C(吉)农种许字(2026)第0001号")
    page = c.get("/supplier/licences/").content.decode()
    assert "已失效" in page
    c.post(f"/supplier/licences/{licence.pk}/renew/", {"valid_until": "2028-06-30"})
    licence.refresh_from_db()
    assert str(licence.valid_until) == "2028-06-30"

    record = fertilizer.stockrecords.get()
    wh2 = supplier.warehouses.get(code="WH2")
    c.post(
        "/supplier/stock/",
        {"record": record.pk, "num_in_stock": "250", "price": "149.50", "warehouse": wh2.pk},
    )
    record.refresh_from_db()
    assert (record.num_in_stock, record.price, record.warehouse_id) == (250, Decimal("149.50"), wh2.pk)
    c.post("/supplier/stock/", {"record": record.pk, "num_in_stock": "-5", "price": "1"})
    record.refresh_from_db()
    assert record.num_in_stock == 250


def _campaign_post(product, **extra):
    cutoff = timezone.localtime() + timedelta(days=3)
    data = {
        "title": "春耕尿素团购",
        "cutoff_at": cutoff.strftime("%Y-%m-%dT%H:%M"),
        "delivery_from": (cutoff.date() + timedelta(days=2)).isoformat(),
        "delivery_until": (cutoff.date() + timedelta(days=7)).isoformat(),
        "min_total_quantity": "50",
        "max_total_quantity": "500",
        "per_household_limit": "40",
        "commission_rate": "3",
        "uncollected_days": "14",
        "item0_product": str(product.pk),
        "item0_base": "150",
        "item0_tier0_qty": "100",
        "item0_tier0_price": "140",
        "item0_tier1_qty": "300",
        "item0_tier1_price": "130",
    }
    data.update(extra)
    return data


def test_campaign_form_preview_submit_review_close_and_ship(
    django_capture_on_commit_callbacks,
    supplier_user,
    supplier,
    other_supplier,
    operator,
    staff_a,
    fertilizer,
    wh,
    households_a,
    county,
    station_a,
):
    record = fertilizer.stockrecords.get()
    record.warehouse = wh
    record.save()
    c = login(supplier_user)
    # A bad tier (price going up) is refused, naming the items.
    r = c.post("/p/group-buy/supplier/new/", _campaign_post(fertilizer, item0_tier1_price="160"))
    assert (
        r.status_code == 200 and "阶梯价须随数量递减" in r.content.decode() and not Campaign.objects.exists()
    )
    r = c.post("/p/group-buy/supplier/new/", _campaign_post(fertilizer, counties=[county.pk]))
    campaign = Campaign.objects.get()
    assert r.status_code == 302 and campaign.status == CampaignStatus.DRAFT
    preview = c.get(f"/p/group-buy/supplier/c/{campaign.pk}/").content.decode()
    assert "站点看到的团购" in preview and "≥100 ¥140.00" in preview and county.name in preview
    # Stations do not see drafts.
    assert login(staff_a).get(f"/p/group-buy/c/{campaign.pk}/").status_code == 404
    # Edit the draft.
    c.post(
        f"/p/group-buy/supplier/c/{campaign.pk}/edit/", _campaign_post(fertilizer, title="春耕尿素团购（改）")
    )
    campaign.refresh_from_db()
    assert campaign.title == "春耕尿素团购（改）" and campaign.counties.count() == 0
    # Another supplier can neither see nor submit it.
    rival = make_user("rival", Role.SUPPLIER)
    other_supplier.users.add(rival)
    assert login(rival).get(f"/p/group-buy/supplier/c/{campaign.pk}/").status_code == 404
    assert login(rival).post(f"/p/group-buy/supplier/c/{campaign.pk}/submit/").status_code == 404
    c.post(f"/p/group-buy/supplier/c/{campaign.pk}/submit/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING

    op = login(operator)
    assert campaign.title in op.get("/p/group-buy/review/").content.decode()
    op.post(f"/p/group-buy/review/c/{campaign.pk}/", {"decision": "changes", "note": ""})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PENDING  # a request for changes needs a note
    op.post(f"/p/group-buy/review/c/{campaign.pk}/", {"decision": "changes", "note": "请降低起订量"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and campaign.review_note == "请降低起订量"
    c.post(f"/p/group-buy/supplier/c/{campaign.pk}/submit/")
    op.post(f"/p/group-buy/review/c/{campaign.pk}/", {"decision": "approve"})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN

    item = campaign.items.get()
    staff = login(staff_a)
    for h in households_a[:3]:
        staff.post(
            f"/p/group-buy/c/{campaign.pk}/pledge/",
            {"household": h.pk, "item": item.pk, "quantity": "20", "payment_method": "cash"},
        )
    assert Pledge.objects.filter(campaign=campaign).count() == 3
    # Only operators close by hand.
    assert c.post(f"/p/group-buy/c/{campaign.pk}/close/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):  # the close task is queued on commit
        op.post(f"/p/group-buy/c/{campaign.pk}/close/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUCCEEDED and campaign.close_phase == "done"
    assert "已完成" in op.get(f"/p/group-buy/supplier/c/{campaign.pk}/").content.decode()

    orders = c.get("/p/group-buy/supplier/orders/").content.decode()
    po = campaign.purchase_orders.get()
    assert po.number in orders and "待发货 1" in orders
    delivery = StationDelivery.objects.get(purchase_order=po)
    assert login(rival).post(f"/p/group-buy/supplier/delivery/{delivery.pk}/ship/").status_code == 404
    c.post(f"/p/group-buy/supplier/delivery/{delivery.pk}/ship/")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SHIPPED
    order = campaign.pickups.first().order
    assert order.status == order_status.SHIPPED and set(order.lines.values_list("status", flat=True)) == {
        order_status.SHIPPED
    }
    sales = c.get("/p/group-buy/supplier/sales/").content.decode()
    assert format_cny(po.total_amount) in sales and "<svg" in sales


def test_payout_run_pays_each_station_once(operator, station_a, station_b):
    payments.credit_commission(station_a.pk, Decimal("12.30"), "c-a", "GB1")
    payments.credit_commission(station_b.pk, Decimal("4.50"), "c-b", "GB1")
    op = login(operator)
    page = op.get("/p/group-buy/payouts/").content.decode()
    assert "¥16.80" in page and station_a.name in page
    op.post("/p/group-buy/payouts/", {"run": "run-1"})
    op.post("/p/group-buy/payouts/", {"run": "run-1"})  # the same form again: nothing paid twice
    assert LedgerEntry.objects.filter(kind="commission_payout").count() == 2
    assert payments.commission_balance(station_a) == 0 and payments.commission_balance(station_b) == 0
    page = op.get("/p/group-buy/payouts/").content.decode()
    assert "PAYOUT-run-1" in page and "没有应付佣金" in page


def test_overview_province_county_station_figures(
    operator,
    staff_a,
    agronomist,
    supplier_user,
    supplier,
    fertilizer,
    households_a,
    county,
    station_a,
    station_far,
):
    campaign = make_group_buy(supplier_user, operator, supplier, [fertilizer])
    item = campaign.items.get()
    services.place_pledge(staff_a, item, households_a[0], 10, "cash")
    services.place_pledge(staff_a, item, households_a[1], 5, "cash")
    op = login(operator)
    html = op.get("/p/group-buy/overview/").content.decode()
    assert f"?county={county.pk}" in html and "<svg" in html and campaign.title in html
    html = op.get(f"/p/group-buy/overview/?county={county.pk}").content.decode()
    assert station_a.name in html and "2 / 15" in html and station_far.name not in html
    # County staff / agronomists see their county only; the other county is not reachable.
    agro = login(agronomist)
    assert station_a.name in agro.get(f"/p/group-buy/overview/?county={county.pk}").content.decode()
    assert agro.get(f"/p/group-buy/overview/?county={station_far.county_id}").status_code == 404


def test_season_pages_are_english_after_switching(
    operator, supplier_user, supplier, fertilizer, wh, county, station_a
):
    """Apart from data (names, titles), the supplier and operator pages have no Chinese in English."""
    import re

    from testkit import CJK, english_client

    campaign = make_group_buy(supplier_user, operator, supplier, [fertilizer], title="Spring NPK")
    data = {
        supplier.name,
        fertilizer.title,
        county.name,
        station_a.name,
        wh.name,
        county.city,
        "长春市双阳区",
    }

    def strip(html: str) -> str:
        main = re.search(r"<main>.*?</main>", html, re.S).group(0)
        main = re.sub(r"<(option|title)[^>]*>.*?</\1>", "", main, flags=re.S)
        for text in sorted(data, key=len, reverse=True):
            main = main.replace(text, "")
        return main

    pages = {
        supplier_user: [
            "/supplier/warehouses/",
            "/supplier/licences/",
            "/supplier/stock/",
            "/p/group-buy/supplier/",
            "/p/group-buy/supplier/new/",
            f"/p/group-buy/supplier/c/{campaign.pk}/",
            "/p/group-buy/supplier/orders/",
            "/p/group-buy/supplier/sales/",
        ],
        operator: [
            "/operator/suppliers/",
            f"/operator/suppliers/{supplier.pk}/",
            "/p/group-buy/review/",
            "/p/group-buy/payouts/",
            "/p/group-buy/overview/",
            f"/p/group-buy/overview/?county={county.pk}",
        ],
        None: ["/supplier/signup/"],
    }
    seen: dict[str, str] = {}
    for user, urls in pages.items():
        client = english_client(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            main = strip(response.content.decode())
            assert not CJK.search(main), (url, CJK.findall(main)[:20], main[:3000])
            seen[url] = main
    assert "Save warehouse" in seen["/supplier/warehouses/"]
    assert "What a station sees" in seen[f"/p/group-buy/supplier/c/{campaign.pk}/"]
    assert "Money collected by method" in seen["/p/group-buy/overview/"]
    assert "Send application" in seen["/supplier/signup/"]
