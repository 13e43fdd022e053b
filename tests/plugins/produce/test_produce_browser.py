"""The produce journey in Debian's Chromium at 360 px: a cooperative lists a lot and opens a round,
a buyer signs up, buys and pays by card (localstripe's Stripe.js), the cooperative packs, the load
reaches the delivery planner, delivery is confirmed with the buyer's code (payment captured), and the
public trace page shows the inputs the growers bought. Pages do not overflow 360 px; the market page
stays light."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from browserkit import fill_card, fits, login
from django.utils import timezone
from testkit import CARD_PLAIN, make_fertilizer

from marketplace.core.extensions import delivery_requests
from marketplace.payments import gateway
from marketplace.settings import content_security_policy
from plugins.produce.models import Lot, ProduceOrder

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.stripe
@pytest.mark.django_db(transaction=True)
def test_cooperative_to_buyer_to_delivery_to_trace(
    live_server,
    page,
    stripe_settings,
    localstripe_url,
    coop_user,
    coop,
    household_a,
    staff_a,
    operator,
    product_classes,
    supplier,
):
    from test_produce_trace import _bought

    stripe_settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"

    stripe_settings.CONTENT_SECURITY_POLICY = content_security_policy(stripe_settings.STRIPE_JS_URL)
    base = live_server.url
    fert = make_fertilizer(product_classes, supplier, "BR-1", "玉米专用复合肥 26-10-12")
    _bought(household_a, fert, supplier, timezone.now() - timedelta(days=60), "BR-A")

    # Cooperative lists a lot and opens a round.
    login(page, base, coop_user.username, sign_out=True)
    page.goto(base + "/p/produce/coop/lots/new/")
    fits(page)
    today = timezone.localdate()
    for name, value in {"code": "BR2026-001", "variety": "稻花香", "grade": "特级", "origin_village": "齐家镇齐家村",
                        "latitude": "43.471", "longitude": "125.739", "quantity_kg": "500", "su0_pack_kg": "10",
                        "su0_price": "128", "su0_units": "30"}.items():  # fmt: skip
        page.fill(f"#{name}", value)
    page.fill("#harvest_date", today.isoformat())
    page.select_option("#su0_unit", "bag")
    page.click("main button[type=submit]")
    page.wait_for_url("**/p/produce/coop/lots/*/")
    lot = Lot.objects.get(code="BR2026-001")

    # The cooperative asks for its member (name, mobile, station number as the farmer gave them) ...
    page.goto(base + "/p/produce/coop/members/")
    fits(page)
    page.fill("#name", household_a.name)
    page.fill("#phone", household_a.phone)
    page.fill("#station", household_a.station.code)
    page.click("[data-testid=member-request] button[type=submit]")
    page.wait_for_load_state()
    assert "待站点确认" in page.inner_text("[data-testid=members]")
    assert household_a.name not in page.content() and household_a.phone not in page.content()
    # ... the farmer's station confirms it by picking the household ...
    login(page, base, staff_a.username, sign_out=True)
    page.goto(base + "/p/produce/station/members/")
    fits(page)
    page.select_option("[data-testid=member-requests] select", str(household_a.pk))
    page.click("[data-testid=member-requests] button[value=confirm]")
    page.wait_for_load_state()
    assert "没有待确认的申请" in page.inner_text("[data-testid=member-requests]")
    # ... and the cooperative picks it, per lot, as a grower (masked name only).
    login(page, base, coop_user.username, sign_out=True)
    page.goto(base + f"/p/produce/coop/lots/{lot.pk}/")
    fits(page)
    assert household_a.name not in page.content()
    page.check(f"[data-testid=growers] input[value='{household_a.pk}']")
    page.click("[data-testid=growers] button[type=submit]")
    page.wait_for_load_state()
    assert list(lot.households.values_list("pk", flat=True)) == [household_a.pk]
    page.goto(base + "/p/produce/coop/rounds/new/")
    page.fill("#title", "本周新米")
    page.fill("#cutoff_at", (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    page.check(f"input[name=lots][value='{lot.pk}']")
    page.select_option("#slot0_kind", "delivery")
    page.fill("#slot0_day", (today + timedelta(days=3)).isoformat())
    page.fill("#slot0_start", "09:00")
    page.fill("#slot0_end", "12:00")
    page.click("main button[type=submit]")
    page.wait_for_url("**/p/produce/coop/rounds/*/")
    round_url = page.url

    # A new buyer signs up, buys and pays by card.
    page.context.clear_cookies()
    weights: list[int] = []
    page.on(
        "response", lambda r: weights.append(int(r.headers.get("content-length") or len(r.body() or b"")))
    )
    page.goto(base + "/p/produce/")
    market_bytes = sum(weights)
    assert market_bytes < 300_000, market_bytes
    fits(page)
    page.click("text=注册采购账号")
    page.fill("#phone", "13812340000")
    page.fill("#password", "xiangmi-2026-long")
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/p/produce/")
    with page.expect_navigation():
        page.click("text=本周新米")
    fits(page)
    unit = lot.sale_units.get()
    page.fill(f"input[name=qty_{unit.pk}]", "2")
    page.click("text=加入购物车")
    with page.expect_navigation():
        page.click("text=去结算")
    fits(page)
    page.select_option("#city", "长春市")
    page.select_option("#district", "朝阳区")
    page.fill("#street", "红旗街 100 号")
    page.fill("#contact_name", "王女士")
    page.fill("#contact_phone", "13812340000")
    fill_card(page, CARD_PLAIN)
    page.click("[data-testid=pay]")
    page.wait_for_url("**/p/produce/orders/*/", timeout=30_000)
    fits(page)
    code = page.inner_text("[data-testid=delivery-code]")
    po = ProduceOrder.objects.get()
    assert (
        po.amount == 256 and gateway.retrieve(po.payment.stripe_payment_intent).status == "requires_capture"
    )

    # Cooperative packs; the load reaches the planner; delivery confirmed with the code.
    login(page, base, coop_user.username, sign_out=True)
    page.goto(round_url)
    page.click("text=标记已打包")
    page.wait_for_load_state()
    [req] = [r for r in delivery_requests() if r.source == "produce"]
    assert req.destination_kind == "buyer" and req.window_end.hour == 12
    page.fill(f"#code-{po.pk}", code)
    page.click("text=确认送达")
    page.wait_for_load_state()
    assert "已签收并结算" in page.inner_text("ul.messages")
    po.refresh_from_db()
    assert (
        po.state == "delivered" and gateway.retrieve(po.payment.stripe_payment_intent).status == "succeeded"
    )

    # The public trace page (from the label's QR URL) shows what the growers bought.
    page.context.clear_cookies()
    page.goto(base + f"/p/produce/01/{lot.gtin}/10/{lot.code}")
    fits(page)
    text = page.inner_text("[data-testid=inputs]")
    assert "玉米专用复合肥 26-10-12" in text and "REG-BR-1" in text
    assert household_a.name not in page.content()

    # The operator pays the cooperative what it is owed (a run, keyed: sending it again pays nothing
    # twice); the cooperative's monthly statement shows the payout.
    login(page, base, operator.username, sign_out=True)
    page.goto(base + "/p/produce/operator/payouts/")
    fits(page)
    assert "243.20" in page.inner_text("[data-testid=coop-owed-total]")
    run = page.get_attribute("input[name=run]", "value")
    token = page.get_attribute("form input[name=csrfmiddlewaretoken]", "value")
    page.click("[data-testid=coop-payout]")
    page.wait_for_load_state()
    assert "暂无支付批次" not in page.inner_text("[data-testid=coop-payout-runs]")
    page.request.post(  # the same run submitted again (a double click, a resent form)
        base + "/p/produce/operator/payouts/",
        form={"run": run, "csrfmiddlewaretoken": token},
        headers={"Referer": base + "/p/produce/operator/payouts/"},
    )
    from marketplace.payments.models import LedgerEntry

    assert LedgerEntry.objects.filter(kind="produce_payout").count() == 1
    login(page, base, coop_user.username, sign_out=True)
    page.goto(base + "/p/produce/coop/statement/")
    fits(page)
    statement = page.inner_text("[data-testid=statement]")
    assert "243.20" in statement and "¥0.00" in statement.split("期末应付")[1]
    assert "货款支付" in page.inner_text("[data-testid=statement-entries]")
