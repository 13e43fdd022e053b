"""A whole group-buy season through the product's own pages only (no GraphQL, no admin), in
Debian's Chromium at 360 px: a business signs up with its licence scan, the operator approves it,
the supplier adds a warehouse (map pin), imports a product, adds its fertilizer registration,
creates a campaign with tiers, previews and submits it; the operator approves it; two stations
pledge; the operator closes it by hand; the supplier ships each station delivery and sees its
sales; the operator reads the overview and the commission page. Then the shipped deliveries
reach the stations: the supplier makes its warehouse a depot, adds its truck, plans the delivery
day (the loads come in through ``delivery_requests``) and publishes; each station sees its ETA and
receives (one records a shortage); a farmer reads its pickup code on its own page and the station
hands the goods out; the operator pays the commissions and the station sees them paid. Every page
is checked for horizontal overflow at 360 px and its first-load weight (HTML + CSS + JS + images)
is printed."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from browserkit import WEIGHT_JS, fits, phone_context
from django.utils import timezone
from testkit import PASSWORD, PDF, make_user

from marketplace.accounts.models import Role
from marketplace.apps.partner.credit_code import make_credit_code
from marketplace.apps.partner.models import Partner, VerificationStatus
from marketplace.core.money import format_cny
from marketplace.stations.models import Household
from plugins.delivery_routing.models import DeliveryPlan
from plugins.group_orders.models import Campaign, CampaignStatus, DeliveryStatus, Pledge, StationDelivery

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

WEIGHT_LIMIT = 300_000  # bytes on first load: "a few hundred KB at most"


class Visitor:
    """One role's browser context; records each page's first-load weight and checks its width."""

    def __init__(self, browser, base: str, name: str, weights: dict[str, int]) -> None:
        self.context = phone_context(browser)
        self.page = self.context.new_page()
        self.base, self.name, self.weights = base, name, weights

    def check(self, label: str) -> None:
        fits(self.page, label)
        size = self.page.evaluate(WEIGHT_JS)
        assert 1000 < size < WEIGHT_LIMIT, f"{label}: {size} bytes"
        self.weights[f"{self.name}: {label}"] = size

    def go(self, path: str, label: str) -> None:
        self.page.goto(self.base + path)
        self.check(label)

    def submit(self, selector: str, label: str) -> None:
        """Click a submit button and check the page the form lands on (after its redirect)."""
        with self.page.expect_navigation():
            self.page.click(selector)
        self.check(label)

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.go("/login/", "login")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.submit("main button[type=submit]", "home")

    def main(self) -> str:
        return self.page.inner_text("main")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_whole_season_through_the_pages(
    live_server,
    browser,
    tmp_path,
    settings,
    operator,
    staff_a,
    staff_b,
    households_a,
    household_b,
    county,
    product_classes,
):
    settings.MEDIA_ROOT = tmp_path
    settings.ROUTING_SOLVE_IN_THREAD = True  # as in the embedded default: the plan page does not wait
    scan = tmp_path / "yyzz.pdf"
    scan.write_bytes(PDF)
    csv = tmp_path / "products.csv"
    csv.write_text(
        "SKU,商品类型,商品名称,价格,库存,仓库编号,n_pct,p2o5_pct,k2o_pct,chloride_class,bag_kg,registration_no\n"
        "CH-NPK,化肥,春禾复合肥 15-15-15 40kg,150.00,5000,CH1,15,15,15,none,40,吉农肥(2026)准字0001号\n",
        encoding="utf-8",
    )
    weights: dict[str, int] = {}
    _season(browser, live_server.url, weights, scan, csv, households_a, household_b, county)
    print("\nfirst-load weight per page (bytes, 360 px, no horizontal overflow):")
    for label, size in weights.items():
        print(f"  {size:>8,}  {label}")
    assert len(weights) >= 50


def _season(browser, base, weights, scan, csv, households_a, household_b, county) -> None:
    # 1. A business signs up from the landing page, with its business licence scan.
    sup = Visitor(browser, base, "supplier", weights)
    sup.go("/", "landing")
    sup.page.click("text=供应商、合作社入驻")
    sup.check("sign-up")
    f = sup.page
    f.fill("#id_name", "春禾农资有限公司")
    f.fill("#id_credit_code", make_credit_code("91220112MA0Y0009A"))
    f.fill("#id_legal_representative", "刘春禾")
    f.fill("#id_contact_name", "刘经理")
    f.fill("#id_contact_mobile", "13904319999")
    f.fill("#id_bank_name", "中国农业银行双阳支行")
    f.fill("#id_bank_account_name", "春禾农资有限公司")
    f.fill("#id_bank_account_number", "622848000099990001")
    f.set_input_files("#id_business_licence", str(scan))
    f.fill("#id_username", "chunhe")
    f.fill("#id_mobile", "13904318888")
    f.fill("#id_password", "chunhe-spring-2026")
    sup.submit("[data-testid=signup-form] button[type=submit]", "supplier centre (pending)")
    assert "审核中" in sup.main()
    partner = Partner.objects.get(name="春禾农资有限公司")
    assert partner.verification_status == VerificationStatus.PENDING

    # 2. The operator reviews the documents and approves the business.
    op = Visitor(browser, base, "operator", weights)
    op.login("op")
    op.page.click("nav.main >> text=供应商审核")
    op.check("supplier review queue")
    op.page.click(f"[data-testid=supplier-queue] >> text={partner.name}")
    op.check("supplier documents")
    assert "营业执照" in op.main() and "查看 PDF" in op.main()
    op.submit("[data-testid=review-form] button[value=approve]", "supplier approved")
    assert op.page.inner_text("[data-testid=partner-status]") == "已通过"

    # 3. The supplier adds a warehouse by clicking the map, imports a product, registers it.
    sup.go(f"/supplier/warehouses/?partner={partner.pk}", "warehouses")
    box = sup.page.locator("[data-map-picker] svg").bounding_box()
    sup.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert sup.page.input_value("#id_latitude") and sup.page.input_value("#id_longitude")
    sup.page.fill("#id_code", "CH1")
    sup.page.fill("#id_name", "春禾双阳仓")
    sup.submit("main form button[type=submit]", "warehouse saved")
    assert "春禾双阳仓" in sup.page.inner_text("[data-testid=warehouse-list]")
    sup.go(f"/supplier/import/?partner={partner.pk}", "import")
    sup.page.set_input_files("input[name=file]", str(csv))
    sup.submit("#import ~ form button[type=submit]", "import done")
    assert "导入完成" in sup.main(), sup.main()
    sup.go(f"/supplier/licences/?partner={partner.pk}", "licences")
    sup.page.select_option("#id_kind", "fertilizer_registration")
    sup.page.fill("#id_number", "吉农肥(2026)准字0001号")
    sup.page.fill("#id_valid_from", "2026-01-01")
    sup.page.fill("#id_valid_until", "2030-12-31")
    sup.page.select_option("#id_product", label="春禾复合肥 15-15-15 40kg")
    sup.submit("main > form button[type=submit]", "licence added")
    assert "肥料登记证" in sup.page.inner_text("[data-testid=licence-list]")
    sup.go(f"/supplier/stock/?partner={partner.pk}", "stock per warehouse")
    assert "CH-NPK" in sup.main() and "资质不符停售" not in sup.main()

    # 4. The supplier creates the campaign, previews what a station sees and submits it.
    sup.page.click("nav.main >> text=团购管理")
    sup.check("supplier campaigns")
    sup.page.click("main >> a.btn:has-text('发起团购')")
    sup.check("campaign form")
    cutoff = timezone.localtime() + timedelta(days=5)
    c = sup.page
    c.fill("#id_title", "春禾复合肥春耕团购")
    c.fill("#id_cutoff_at", cutoff.strftime("%Y-%m-%dT%H:%M"))
    c.fill("#id_delivery_from", (cutoff.date() + timedelta(days=2)).isoformat())
    c.fill("#id_delivery_until", (cutoff.date() + timedelta(days=8)).isoformat())
    c.fill("#id_min_total_quantity", "50")
    c.fill("#id_max_total_quantity", "1000")
    c.fill("#id_per_household_limit", "50")
    c.select_option("#item0_product", label="春禾复合肥 15-15-15 40kg (CH-NPK) · ¥150.00")
    c.fill("#item0_base", "150")
    c.fill("input[name=item0_tier0_qty]", "60")
    c.fill("input[name=item0_tier0_price]", "142")
    c.fill("input[name=item0_tier1_qty]", "200")
    c.fill("input[name=item0_tier1_price]", "135")
    c.check(f"input[name=counties][value='{county.pk}']")
    sup.submit("[data-testid=campaign-form] button[type=submit]", "campaign preview")
    preview = sup.page.inner_text("[data-testid=station-preview]")
    assert "春禾复合肥春耕团购" in preview and "≥60 ¥142.00" in preview and "还差 50" in preview
    sup.submit("main form[action$='/submit/'] button", "campaign submitted")
    assert sup.page.inner_text("[data-testid=campaign-status]") == "待审核"
    campaign = Campaign.objects.get(title="春禾复合肥春耕团购")

    # 5. The operator approves the campaign from the review queue.
    op.page.click("nav.main >> text=团购审核")
    op.check("campaign review queue")
    op.page.click("[data-testid=campaign-queue] >> text=春禾复合肥春耕团购")
    op.check("campaign under review")
    op.submit("[data-testid=campaign-review] button[value=approve]", "campaign approved")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN

    # 6. Two stations pledge for their farmers (cash at the station).
    for username, household, quantity in (("staff_a", households_a[0], "40"), ("staff_b", household_b, "30")):
        st = Visitor(browser, base, username, weights)
        st.login(username)
        st.go(f"/p/group-buy/c/{campaign.pk}/", "campaign page")
        st.page.select_option("select[name=household]", str(household.pk))
        st.page.fill("input[name=quantity]", quantity)
        st.page.select_option("select[name=payment_method]", "cash")
        st.submit("[data-pledge-form] button[type=submit]", "pledged")
        assert household.name in st.main()
        st.context.close()
    assert Pledge.objects.filter(campaign=campaign).count() == 2
    campaign.refresh_from_db()
    assert campaign.total_quantity == 70

    # 7. The operator closes the campaign by hand and sees the close's result.
    op.go(f"/p/group-buy/supplier/c/{campaign.pk}/", "campaign to close")
    op.submit("main form[action$='/close/'] button", "campaign closed")
    assert "已完成" in op.page.inner_text("[data-testid=close-status]")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUCCEEDED

    # 8. The supplier ships each station delivery of the consolidated purchase order.
    sup.page.click("nav.main >> text=采购单与发货")
    sup.check("purchase orders")
    po = campaign.purchase_orders.get()
    sup.page.click(f"[data-testid=po-list] >> text={po.number}")
    sup.check("purchase order deliveries")
    for _ in range(2):
        sup.submit("[data-testid=delivery-list] form button", "delivery shipped")
    assert StationDelivery.objects.filter(purchase_order=po, status=DeliveryStatus.SHIPPED).count() == 2
    assert "登记发货" not in sup.page.inner_text("[data-testid=delivery-list]")
    sup.go(f"/p/group-buy/supplier/sales/?partner={partner.pk}", "sales and commission")
    assert format_cny(po.total_amount) in sup.page.inner_text("[data-testid=total-sales]")

    # 9. The operator's province → county overview and the commission page.
    op.page.click("nav.main >> text=全省总览")
    op.check("province overview")
    op.page.click(f"[data-testid=overview-rows] >> text={county.name}")
    op.check("county overview")
    assert "70" in op.page.inner_text("[data-testid=overview-totals]")
    op.go("/p/group-buy/payouts/", "commission payouts")

    _after_shipping(browser, base, weights, sup, op, campaign, households_a[0], household_b, county)
    sup.context.close()
    op.context.close()


def _after_shipping(browser, base, weights, sup, op, campaign, household, household_b, county) -> None:
    """From the shipped deliveries to the paid commission: the supplier dispatches them from its
    warehouse (its first truck), plans and publishes; the stations see the ETA and receive (one
    with a shortage); a farmer shows the pickup code and collects; the operator pays the commission
    and the station sees it paid."""
    station_a, station_b = household.station, household_b.station
    farmer = make_user("chunhe_farmer", Role.FARMER)
    Household.objects.filter(pk=household.pk).update(user=farmer)

    # 10. The supplier's warehouse becomes a depot with one click, then gets its truck.
    sup.page.click("nav.main >> text=配送调度")
    sup.check("dispatch")
    sup.page.click("[data-testid=fleet-link]")
    sup.check("fleet")
    assert "春禾双阳仓" in sup.page.inner_text("[data-testid=warehouses-to-use]")
    sup.submit("[data-testid=warehouses-to-use] button", "first truck")
    v = sup.page
    v.fill("#id_name", "春禾一号车")
    v.fill("#id_plate", "吉A55667")
    v.fill("#id_capacity_kg", "8000")
    v.fill("#id_fixed_cost", "300")
    v.fill("#id_cost_per_km", "3")
    v.fill("#id_driver_name", "赵师傅")
    v.fill("#id_driver_phone", "13700000088")
    sup.submit("main button[type=submit]", "fleet with the truck")
    assert "春禾一号车" in sup.main() and not sup.page.locator("[data-testid=warehouses-to-use]").count()

    # 11. Plan the delivery day: the shipped loads come in through delivery_requests; the solve
    #     runs in the background and the page shows the result by itself; publish.
    sup.page.click("text=返回配送调度")
    sup.check("dispatch (with a truck)")
    sup.page.fill("#plan-date", campaign.delivery_from.isoformat())
    sup.page.fill("#plan-seconds", "2")
    with sup.page.expect_navigation():
        sup.page.click("main form[action$='/new/'] button[type=submit]")
    sup.page.wait_for_selector("text=发布计划", timeout=90_000)
    sup.check("plan drafted")
    legend = sup.page.inner_text("[data-testid=map-legend]")
    assert station_a.name in legend and station_b.name in legend
    sup.submit("main form[action$='/publish/'] button", "plan published")
    assert "已发布" in sup.page.inner_text("h1")
    plan = DeliveryPlan.objects.get(partner=campaign.partner)
    assert plan.status == DeliveryPlan.Status.PUBLISHED and plan.stops.count() == 2

    # 12. Each station sees its ETA and receives; station B records a shortage of 2.
    for username, station, received in (("staff_a", station_a, None), ("staff_b", station_b, 28)):
        st = Visitor(browser, base, username, weights)
        st.login(username)
        st.page.click("nav.main >> text=到货预告")
        st.check("expected deliveries")
        eta = plan.stops.get(station=station).eta
        board = st.main()
        assert station.name in board and f"预计 {eta}" in board and "春禾一号车" in board
        st.go(f"/p/group-buy/c/{campaign.pk}/", "campaign (goods on the way)")
        st.page.click("main >> a:has-text('确认收货')")
        st.check("receive")
        if received is not None:
            st.page.fill("main input[name^=received_]", str(received))
            st.page.fill("main input[name=notes]", "少到2袋")
        st.submit("main form button[type=submit]", "received")
        assert "已确认收货" in st.page.inner_text("ul.messages")
        delivery = StationDelivery.objects.get(campaign=campaign, station=station)
        assert delivery.status == DeliveryStatus.RECEIVED
        if received is not None:
            line = delivery.lines.get()
            assert (line.expected, line.received, line.shortage) == (30, 28, 2)
            st.go(f"/p/group-buy/delivery/{delivery.pk}/receive/", "delivery received")
            assert "短缺 2" in st.main()
            st.context.close()
        else:
            staff_a = st

    # 13. The farmer reads the pickup code on its own page; the station hands the goods out.
    fa = Visitor(browser, base, "farmer", weights)
    fa.login(farmer.username)
    fa.go(f"/p/group-buy/c/{campaign.pk}/", "farmer: campaign")
    fa.page.click(f"main >> a:has-text('{household.name}')")
    fa.check("farmer: pickup code")
    code = fa.page.inner_text("main strong.stat").strip()
    assert len(code) == 6 and code.isdigit() and "待取货" in fa.main()
    staff_a.page.click("nav.main >> text=取货核销")
    staff_a.check("pickup check")
    staff_a.page.fill("main input[name=code]", code)
    staff_a.submit("main form button[type=submit]", "pickup found")
    assert household.name in staff_a.page.inner_text("h1")
    staff_a.submit("main form button[type=submit]", "handed out")
    assert "已登记取货" in staff_a.page.inner_text("ul.messages")
    fa.page.reload()
    fa.check("farmer: collected")
    assert "已取货" in fa.main() and "已取 40" in fa.main()
    fa.context.close()

    # 14. The operator pays the station commissions; the station sees its commission paid.
    op.go("/p/group-buy/payouts/", "commission payouts (owed)")
    owed = op.page.inner_text("[data-testid=commission-list]")
    assert station_a.name in owed
    op.submit("main form button[type=submit]", "commission paid")
    assert "没有应付佣金" in op.page.inner_text("[data-testid=commission-list]")
    assert "PAYOUT-" in op.page.inner_text("[data-testid=payout-runs]")
    staff_a.page.click("nav.main >> text=站点佣金")
    staff_a.check("station commission (paid)")
    page = staff_a.main()
    assert "应付佣金余额 ¥0.00" in page.replace("\n", " ")
    paid = staff_a.page.inner_text("main table tbody tr:first-child td:nth-child(4)")
    assert Decimal(paid) > 0
    staff_a.context.close()
