"""Household credit (赊销) accounts: limit, used, owed, repayments with receipts, the aged list, and the
pages and GraphQL station staff use — refusals included."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from testkit import make_user

from marketplace.accounts.models import Role
from marketplace.payments import credit
from marketplace.payments import services as pay
from marketplace.payments.models import CreditRepayment, LedgerEntry
from marketplace.stations.models import StationStaff

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_a(station_a):
    """Station A staff who is not the manager (站长)."""
    user = make_user("clerk_a", Role.STATION_STAFF)
    StationStaff.objects.create(station=station_a, user=user, is_manager=False)
    return user


def _credit_sale(staff, household, amount, key, days_ago=0):
    payment = pay.authorise_credit(staff, household, Decimal(amount), "GB1", key)
    pay.capture(payment, Decimal(amount))
    if days_ago:
        LedgerEntry.objects.filter(payment=payment).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return payment


def test_limit_is_approved_by_the_manager_or_an_operator_only(
    staff_a, clerk_a, staff_b, operator, household_a
):
    for refused in (clerk_a, staff_b):
        with pytest.raises(PermissionDenied):
            credit.set_credit_limit(refused, household_a, Decimal("3000"))
    with pytest.raises(ValidationError) as err:
        credit.set_credit_limit(staff_a, household_a, Decimal("-1"))
    assert "credit_limit" in err.value.message_dict
    assert credit.set_credit_limit(staff_a, household_a, Decimal("3000")).credit_limit == Decimal("3000.00")
    assert credit.set_credit_limit(operator, household_a, Decimal("2500")).credit_limit == Decimal("2500.00")


def test_account_figures_and_the_limit_in_the_one_place_credit_is_booked(staff_a, household_a):
    credit.set_credit_limit(staff_a, household_a, Decimal("1000"))
    household_a.refresh_from_db()
    _credit_sale(staff_a, household_a, "600", "s-1")
    pay.authorise_credit(staff_a, household_a, Decimal("300"), "GB2", "hold-1")  # a pledge, not settled
    account = credit.credit_account(household_a)
    assert (account.limit, account.owed, account.reserved, account.used, account.available) == (
        Decimal("1000.00"), Decimal("600.00"), Decimal("300.00"), Decimal("900.00"), Decimal("100.00"),
    )  # fmt: skip
    with pytest.raises(ValidationError) as err:
        pay.authorise_credit(staff_a, household_a, Decimal("100.01"), "GB3", "hold-2")
    assert err.value.error_dict["paymentMethod"][0].code == "limit_exceeded"
    # lowering the limit below what is used stops new credit; what is owed stays owed
    credit.set_credit_limit(staff_a, household_a, Decimal("500"))
    household_a.refresh_from_db()
    account = credit.credit_account(household_a)
    assert account.over_limit and account.available == Decimal("0.00") and account.owed == Decimal("600.00")


def test_repayment_is_idempotent_receipted_and_never_above_what_is_owed(staff_a, staff_b, household_a):
    credit.set_credit_limit(staff_a, household_a, Decimal("1000"))
    household_a.refresh_from_db()
    with pytest.raises(ValidationError) as err:  # nothing owed yet
        credit.record_repayment(staff_a, household_a, Decimal("10"), "r-0")
    assert "amount" in err.value.message_dict
    _credit_sale(staff_a, household_a, "800", "s-1")
    with pytest.raises(PermissionDenied):
        credit.record_repayment(staff_b, household_a, Decimal("100"), "r-x")
    with pytest.raises(ValidationError) as err:
        credit.record_repayment(staff_a, household_a, Decimal("800.01"), "r-1")
    assert "800.00" in err.value.message_dict["amount"][0]
    with pytest.raises(ValidationError):
        credit.record_repayment(staff_a, household_a, Decimal("0"), "r-1")
    first, created = credit.record_repayment(staff_a, household_a, Decimal("300"), "r-1", "春耕前")
    again, created_again = credit.record_repayment(staff_a, household_a, Decimal("300"), "r-1")
    assert created and not created_again and first.pk == again.pk
    assert CreditRepayment.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="credit_repayment").count() == 1
    assert (first.owed_before, first.owed_after) == (Decimal("800.00"), Decimal("500.00"))
    assert first.entry.reference == first.receipt_no
    assert pay.balance(pay.station_cash(household_a.station_id)) == Decimal("300.00")  # cash in the drawer
    assert credit.credit_account(household_a).owed == Decimal("500.00")


def test_aged_list_buckets_by_age_and_repayments_settle_the_oldest_first(
    staff_a, staff_b, household_a, station_a
):
    credit.set_credit_limit(staff_a, household_a, Decimal("10000"))
    household_a.refresh_from_db()
    _credit_sale(staff_a, household_a, "100", "s-old", days_ago=120)
    _credit_sale(staff_a, household_a, "200", "s-75", days_ago=75)
    _credit_sale(staff_a, household_a, "400", "s-40", days_ago=40)
    _credit_sale(staff_a, household_a, "800", "s-now")
    credit.record_repayment(
        staff_a, household_a, Decimal("150"), "r-1"
    )  # clears the 120-day sale, 50 of the next
    aged = credit.aged_list(staff_a, station_a)
    (row,) = aged.rows
    assert row.buckets == [Decimal("800.00"), Decimal("400.00"), Decimal("150.00"), Decimal("0.00")]
    assert (
        row.owed == Decimal("1350.00") == aged.total == pay.balance(pay.household_receivable(household_a.pk))
    )
    assert row.oldest_days == 75
    with pytest.raises(PermissionDenied):
        credit.aged_list(staff_b, station_a)


def test_pages_list_repay_print_and_refuse_other_stations(client, staff_a, staff_b, household_a, station_a):
    credit.set_credit_limit(staff_a, household_a, Decimal("2000"))
    household_a.refresh_from_db()
    _credit_sale(staff_a, household_a, "500", "s-1", days_ago=45)
    client.force_login(staff_a)
    aged = client.get(reverse("storefront:station-credit", args=[station_a.pk])).content.decode()
    assert household_a.name in aged and "¥500.00" in aged
    page = client.get(reverse("storefront:household-credit", args=[household_a.pk])).content.decode()
    assert 'data-testid="repay-form"' in page and "¥2,000.00" in page
    r = client.post(
        reverse("storefront:household-repay", args=[household_a.pk]),
        {"amount": "9999", "key": "k1"},
        follow=True,
    )
    assert "不超过欠款 ¥500.00" in r.content.decode() and not CreditRepayment.objects.exists()
    r = client.post(
        reverse("storefront:household-repay", args=[household_a.pk]), {"amount": "120", "key": "k2"}
    )
    repayment = CreditRepayment.objects.get()
    assert r.status_code == 302 and r.url == reverse("storefront:credit-repayment", args=[repayment.pk])
    client.post(reverse("storefront:household-repay", args=[household_a.pk]), {"amount": "120", "key": "k2"})
    assert CreditRepayment.objects.count() == 1  # a double submit books once
    pdf = client.get(reverse("storefront:credit-receipt", args=[repayment.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert (
        "赊销还款收据" in text
        and repayment.receipt_no in text
        and "120.00" in text
        and household_a.name in text
    )
    client.force_login(staff_b)
    assert client.get(reverse("storefront:household-credit", args=[household_a.pk])).status_code in (403, 404)
    assert client.get(reverse("storefront:credit-receipt", args=[repayment.pk])).status_code == 404
    assert client.get(reverse("storefront:station-credit", args=[station_a.pk])).status_code == 404
    r = client.post(
        reverse("storefront:household-repay", args=[household_a.pk]), {"amount": "1", "key": "k3"}
    )
    assert r.status_code in (403, 404) and CreditRepayment.objects.count() == 1


def test_clerk_may_take_repayments_but_not_set_limits_on_the_page(client, staff_a, clerk_a, household_a):
    credit.set_credit_limit(staff_a, household_a, Decimal("2000"))
    household_a.refresh_from_db()
    client.force_login(clerk_a)
    client.post(reverse("storefront:household-credit-limit", args=[household_a.pk]), {"credit_limit": "9000"})
    household_a.refresh_from_db()
    assert household_a.credit_limit == Decimal("2000.00")


def test_graphql_credit_account_and_repayment(gql, staff_a, staff_b, household_a):
    credit.set_credit_limit(staff_a, household_a, Decimal("2000"))
    household_a.refresh_from_db()
    _credit_sale(staff_a, household_a, "500", "s-1")
    query = "query($id: ID!) { household(id: $id) { credit { limit { amount } owed { amount } available { amount } } } }"
    data = gql(staff_a)(query, {"id": household_a.pk})["data"]["household"]["credit"]
    assert (data["limit"]["amount"], data["owed"]["amount"], data["available"]["amount"]) == (
        "2000.00",
        "500.00",
        "1500.00",
    )
    repay = """mutation($id: ID!, $a: MoneyAmount!, $k: String!) { householdRecordRepayment(id: $id, amount: $a,
      idempotencyKey: $k) { repayment { receiptNo amount { amount } ownedAfter: owedAfter { amount } }
      errors { field code message } } }"""
    out = gql(staff_a)(repay, {"id": household_a.pk, "a": "600", "k": "g1"})["data"][
        "householdRecordRepayment"
    ]
    assert out["repayment"] is None and out["errors"][0]["field"] == "amount"
    out = gql(staff_a)(repay, {"id": household_a.pk, "a": "200", "k": "g1"})["data"][
        "householdRecordRepayment"
    ]
    assert out["errors"] == [] and out["repayment"]["ownedAfter"]["amount"] == "300.00"
    out = gql(staff_a)(repay, {"id": household_a.pk, "a": "200", "k": "g1"})["data"][
        "householdRecordRepayment"
    ]
    assert out["errors"] == [] and CreditRepayment.objects.count() == 1
    out = gql(staff_b)(repay, {"id": household_a.pk, "a": "10", "k": "g2"})["data"][
        "householdRecordRepayment"
    ]
    assert out["repayment"] is None and out["errors"]
    assert gql(staff_b)(query, {"id": household_a.pk})["data"]["household"] is None


def test_credit_and_household_pages_are_english(staff_a, household_a, station_a):
    from django.conf import settings
    from testkit import CJK, data_strings, english_client, ui_outside_data

    def check_english(client, url, data, expect=()):
        html = client.get(url).content.decode()
        assert '<html lang="en">' in html, url
        left = ui_outside_data(html, data)
        assert not CJK.findall(left), f"{url}: Chinese outside data: {''.join(CJK.findall(left))}"
        for label in expect:
            assert label in html, f"{url}: {label!r} missing"
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
        assert CJK.search(ui_outside_data(client.get(url).content.decode(), data)), url  # the check can fail
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    credit.set_credit_limit(staff_a, household_a, Decimal("2000"))
    household_a.refresh_from_db()
    _credit_sale(staff_a, household_a, "500", "s-1", days_ago=40)
    repayment, _ = credit.record_repayment(staff_a, household_a, Decimal("100"), "en-1")
    client = english_client(staff_a)
    data = data_strings(staff_a, station_a, household_a)
    check_english(client, reverse("storefront:station-credit", args=[station_a.pk]), data, ("31–60 days",))
    check_english(
        client,
        reverse("storefront:household-credit", args=[household_a.pk]),
        data,
        ("Credit limit", "Record a repayment", "Approve credit limit"),
    )
    check_english(
        client, reverse("storefront:credit-repayment", args=[repayment.pk]), [*data, repayment.receipt_no]
    )
    check_english(client, reverse("storefront:households"), data, ("Name, village or last digits of mobile",))
    check_english(client, reverse("storefront:household", args=[household_a.pk]), data, ("Credit account",))
