"""Station money in Debian's Chromium at 360 px: a credit repayment with its receipt, and a fertilizer
plan handed over to a group buy with a payment choice per line (pages only, no GraphQL, no admin)."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from browserkit import fits, login
from django.db import transaction
from django.utils import timezone
from testkit import make_fertilizer

from marketplace.payments import credit
from marketplace.payments import services as pay
from marketplace.payments.models import CreditRepayment
from plugins.fertilizer import services as fert
from plugins.fertilizer.models import FarmField, PlanStatus, SoilTest
from plugins.group_orders import services as group
from plugins.group_orders.models import Pledge

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_station_staff_takes_a_credit_repayment_and_prints_the_receipt(
    live_server, page, staff_a, household_a
):
    credit.set_credit_limit(staff_a, household_a, Decimal("3000"))
    household_a.refresh_from_db()
    with transaction.atomic():
        payment = pay.authorise_credit(staff_a, household_a, Decimal("850"), "GB1", "sale-1")
        pay.capture(payment, Decimal("850"))
    login(page, live_server.url, "staff_a")
    page.goto(live_server.url + "/households/")
    page.click(f"text={household_a.name}")
    fits(page)
    page.click("[data-testid=credit-link]")
    assert page.inner_text("[data-testid=credit-owed]") == "¥850.00"
    fits(page)
    page.fill("#id_amount", "900")  # more than owed: refused with the reason, nothing booked
    page.click("[data-testid=repay-submit]")
    assert "不超过欠款 ¥850.00" in page.inner_text("ul.messages")
    assert not CreditRepayment.objects.exists()
    page.fill("#id_amount", "350")
    page.click("[data-testid=repay-submit]")
    page.wait_for_selector("[data-testid=receipt]")
    fits(page)
    assert page.inner_text("[data-testid=receipt-amount]") == "¥350.00"
    receipt_no = page.inner_text("[data-testid=receipt-no]")
    assert CreditRepayment.objects.get().receipt_no == receipt_no
    with page.expect_response(lambda r: r.url.endswith("receipt.pdf")) as pdf:
        page.evaluate(
            "url => fetch(url)",
            live_server.url + f"/credit/repayments/{CreditRepayment.objects.get().pk}/receipt.pdf",
        )
    assert pdf.value.headers["content-type"] == "application/pdf"
    page.goto(live_server.url + "/credit/")
    fits(page)
    assert "¥500.00" in page.inner_text("[data-testid=aged-list]")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_plan_hand_over_asks_how_each_line_is_paid(
    live_server, page, staff_a, household_a, product_classes, supplier, supplier_user, operator
):
    catalogue = {
        sku: make_fertilizer(product_classes, supplier, sku, title, npk, price, stock=1000)
        for sku, title, npk, price in (
            ("UREA", "尿素", (46, 0, 0), "105.00"),
            ("DAP", "磷酸二铵", (18, 46, 0), "185.00"),
            ("K2SO4", "硫酸钾", (0, 0, 50), "210.00"),
            ("S151515", "硫基复合肥", (15, 15, 15), "150.00"),
        )
    }
    campaign = group.create_campaign(
        supplier_user,
        partner=supplier,
        title="尿素团购",
        cutoff_at=timezone.now() + timedelta(days=3),
        delivery_from=timezone.localdate() + timedelta(days=5),
        delivery_until=timezone.localdate() + timedelta(days=10),
        min_total_quantity=10,
        items=[group.ItemSpec(catalogue["UREA"].pk, Decimal("90.00"))],  # cheaper than stock urea
    )
    group.review_campaign(operator, campaign, True)
    field = FarmField.objects.create(
        household=household_a, name="东大地", area_mu=Decimal("15"), crop="spring_maize_ne",
        zone="semi_humid", yield_1=Decimal("650"), yield_2=Decimal("700"), yield_3=Decimal("680"),
    )  # fmt: skip
    SoilTest.objects.create(
        field=field, lab="土肥站", sample_date="2026-04-10", ph=Decimal("6.4"), organic_matter_g_kg=Decimal("24.5"),
        alkali_n_mg_kg=Decimal("125"), olsen_p_mg_kg=Decimal("18"), available_k_mg_kg=Decimal("140"),
    )  # fmt: skip
    rec = fert.create_recommendation(staff_a, field)
    plan = fert.create_plan(staff_a, rec)
    assert any(x.source == "group-buy" for x in plan.lines.all()), plan.error
    login(page, live_server.url, "staff_a")
    page.goto(live_server.url + f"/p/fertilizer/recommendations/{rec.pk}/")
    fits(page)
    page.click("[data-testid=add-to-order]")
    page.wait_for_selector("[data-testid=handover-form]")
    fits(page)
    lines = page.locator("[data-testid=handover-line]")
    assert lines.count() >= 2
    cash_before = pay.balance(pay.station_cash(household_a.station_id))
    group_line = page.locator("[data-testid=handover-line]", has_text="团购")
    group_line.locator("input[value=credit]").check()  # no credit limit: refused by name, nothing booked
    page.click("[data-testid=handover-submit]")
    assert "赊销" in page.inner_text("ul.messages")
    assert not Pledge.objects.exists()
    group_line = page.locator("[data-testid=handover-line]", has_text="团购")
    group_line.locator("input[value=cash]").check()
    page.click("[data-testid=handover-submit]")
    page.wait_for_selector("ul.messages li.success")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ORDERED
    pledge = Pledge.objects.get(household=household_a)
    assert pledge.payment.method == "cash"
    # exactly the cash the staff member said they collected, nothing more
    assert (
        pay.balance(pay.station_cash(household_a.station_id)) - cash_before
        == pledge.payment.amount_authorised
    )
