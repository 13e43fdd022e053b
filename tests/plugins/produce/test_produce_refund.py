"""Refunds after delivery: one rule (``services.check_refund`` / ``refund_order``) behind the
operator's refund pages and GraphQL ``produceOrderRefund``. Only operators (and, through the API, the
selling cooperative) refund; never more than is left; a reason is required; a double submit (same
key) refunds once, also when the two submits race. The buyer sees the refund on their order page;
the cooperative's payable drops by the refund less the commission given back (after a payout, it
owes the difference). Against localstripe."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from produce_kit import ADDRESS, delivered_order, delivery_slot, unit_of
from testkit import CARD_PLAIN, english_client, make_user, stripe_card_token

from marketplace.accounts.models import Role
from marketplace.payments import services as pay
from marketplace.payments.models import LedgerEntry, Refund
from plugins.produce import services, views
from plugins.produce.models import ProduceOrder
from plugins.produce.services import coop_payable

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


def delivered(buyer, rnd, lot, coop_user, qty=2, key="rf1") -> ProduceOrder:
    return delivered_order(buyer, rnd, lot, coop_user, qty, key)


def codes(exc: ValidationError) -> dict[str, str]:
    return {name: errors[0].code for name, errors in exc.error_dict.items()}


def refunded(po: ProduceOrder) -> Decimal:
    po.payment.refresh_from_db()
    return po.payment.amount_refunded


def test_refund_rule(
    stripe_settings, city_buyer, rnd, lot, coop_user, coop, other_coop_user, operator, staff_a
):
    other_buyer = make_user("13800000099", Role.CITY_BUYER, phone="13800000099")
    paid = services.start_checkout(
        city_buyer, rnd, {unit_of(lot).pk: 1}, delivery_slot(rnd).pk, ADDRESS, "card", "rf-paid",
        token=stripe_card_token(CARD_PLAIN),
    ).order  # fmt: skip
    po = delivered(city_buyer, rnd, lot, coop_user)
    for user in (city_buyer, other_buyer, other_coop_user, staff_a):  # tenancy: not theirs to refund
        with pytest.raises(PermissionDenied):
            services.refund_order(user, po, "10", "t", "破损")
    with pytest.raises(ValidationError) as exc:
        services.refund_order(operator, paid, "10", "t", "破损")
    assert codes(exc.value) == {"order": "invalid_state"}  # not delivered: cancel it instead
    for amount, reason, expected in (
        ("10", "  ", {"reason": "required"}),
        ("0", "破损", {"amount": "invalid"}),
        ("-5", "破损", {"amount": "invalid"}),
        ("abc", "破损", {"amount": "invalid"}),
        ("256.01", "破损", {"amount": "limit_exceeded"}),
        ("", "", {"amount": "invalid", "reason": "required"}),
    ):
        with pytest.raises(ValidationError) as exc:
            services.refund_order(operator, po, amount, "t", reason)
        assert codes(exc.value) == expected, amount
    with pytest.raises(ValidationError) as exc:
        services.refund_order(operator, po, "10", "", "破损")
    assert codes(exc.value) == {"key": "required"}
    assert refunded(po) == 0 and not Refund.objects.exists()

    services.refund_order(operator, po, "100", "k1", "破损")
    services.refund_order(operator, po, "50", "k1", "破损")  # the same submit again: nothing more
    assert refunded(po) == Decimal("100.00")
    assert services.refundable_amount(po) == Decimal("156.00")
    with pytest.raises(ValidationError) as exc:
        services.refund_order(operator, po, "156.01", "k2", "破损")
    assert codes(exc.value) == {"amount": "limit_exceeded"} and "156.00" in exc.value.messages[0]
    services.refund_order(coop_user, po, "156", "k3", "少一袋")  # the selling cooperative may too
    assert refunded(po) == Decimal("256.00")
    with pytest.raises(ValidationError) as exc:
        services.refund_order(operator, po, "1", "k4", "破损")
    assert codes(exc.value) == {"amount": "invalid_state"}
    services.refund_order(operator, po, "100", "k1", "破损")  # a late resend of the first: still once
    assert Refund.objects.count() == 2 and refunded(po) == Decimal("256.00")
    assert len({r.stripe_refund_id for r in Refund.objects.all()} - {""}) == 2  # two Stripe refunds
    # The sale and the commission are reversed in full: the cooperative is owed nothing for it.
    assert pay.balance(coop_payable(coop.pk)) == Decimal("0.00")
    assert services.refundable_orders().count() == 0
    assert list(services.refundable_orders(po.order.number)) == [po]  # found by number, says it is done


@pytest.mark.django_db(transaction=True)
def test_racing_submits_refund_once(stripe_settings, city_buyer, rnd, lot, coop_user, operator):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL (row locks)")
    po = delivered(city_buyer, rnd, lot, coop_user)
    results: list = [None] * 4
    barrier = threading.Barrier(4)

    def submit(i: int, amount: str, key: str) -> None:
        try:
            barrier.wait()
            results[i] = services.refund_order(operator, po, amount, key, "破损")
        except Exception as exc:  # collected and checked below
            results[i] = exc
        finally:
            connection.close()

    # Two double-clicks of one form (same key) and two operators refunding 200 each (different keys).
    args = [(0, "30", "same"), (1, "30", "same"), (2, "200", "op-a"), (3, "200", "op-b")]
    threads = [threading.Thread(target=submit, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, ProduceOrder) for r in results[:2]), results
    refused = [r for r in results[2:] if isinstance(r, ValidationError)]
    assert len(refused) == 1 and codes(refused[0]) == {"amount": "limit_exceeded"}, results
    assert Refund.objects.filter(idempotency_key=services.refund_key(po, "same")).count() == 1
    assert refunded(po) == Decimal("230.00")


REFUND = """mutation($id: ID!, $amount: Decimal!, $reason: String!, $key: String!) {
  produceOrderRefund(orderId: $id, amount: $amount, reason: $reason, idempotencyKey: $key) {
    order { state amountRefunded { amount } } errors { field code message } } }"""


def test_graphql_refund_is_the_same_rule(
    stripe_settings, gql, city_buyer, rnd, lot, coop_user, other_coop_user, operator
):
    po = delivered(city_buyer, rnd, lot, coop_user)
    args = {"id": po.pk, "amount": "40", "reason": "破损", "key": "g1"}

    def call(user, **extra):
        return gql(user)(REFUND, {**args, **extra})["data"]["produceOrderRefund"]

    assert call(city_buyer)["errors"][0]["code"] == "PERMISSION_DENIED"  # declared: operator or partner
    assert call(other_coop_user)["errors"][0]["code"] == "NOT_FOUND"  # not its order
    assert call(operator, amount="999")["errors"] == [
        {"field": "amount", "code": "LIMIT_EXCEEDED", "message": "退款金额不能超过可退金额 ¥256.00"}
    ]
    assert call(operator, reason="")["errors"][0]["field"] == "reason"
    for _ in range(2):
        assert call(operator) == {
            "order": {"state": "delivered", "amountRefunded": {"amount": "40.00"}},
            "errors": [],
        }
    assert call(coop_user, key="g2", amount="16")["order"]["amountRefunded"]["amount"] == "56.00"


def test_refund_pages_are_for_operators_only(
    stripe_settings, client, city_buyer, rnd, lot, coop_user, staff_a, operator
):
    po = delivered(city_buyer, rnd, lot, coop_user)
    other_buyer = make_user("13800000099", Role.CITY_BUYER, phone="13800000099")
    form = {"amount": "10", "reason": "破损", "key": "x1", "step": "confirm"}
    for user in (coop_user, city_buyer, other_buyer, staff_a):  # the selling cooperative included
        client.force_login(user)
        assert client.get("/p/produce/operator/refunds/").status_code == 403
        assert client.get(f"/p/produce/operator/refunds/{po.pk}/").status_code == 403
        assert client.post(f"/p/produce/operator/refunds/{po.pk}/", form).status_code == 403
    client.logout()
    assert client.get("/p/produce/operator/refunds/").status_code == 302  # to the login page
    assert client.post(f"/p/produce/operator/refunds/{po.pk}/", form).status_code == 302
    assert refunded(po) == 0
    client.force_login(operator)
    assert client.get("/p/produce/operator/refunds/999999/").status_code == 404


def test_operator_refunds_on_the_page(
    stripe_settings, client, monkeypatch, city_buyer, rnd, lot, coop_user, coop, operator
):
    first = delivered(city_buyer, rnd, lot, coop_user, qty=1, key="p1")
    po = delivered(city_buyer, rnd, lot, coop_user, qty=2, key="p2")
    client.force_login(operator)
    # The list: refundable orders, newest first, paged; search by order number.
    monkeypatch.setattr(views, "REFUND_PAGE_SIZE", 1)
    page = client.get("/p/produce/operator/refunds/").content.decode()
    assert po.order.number in page and first.order.number not in page and "1 / 2" in page
    assert first.order.number in client.get("/p/produce/operator/refunds/?page=2").content.decode()
    page = client.get(f"/p/produce/operator/refunds/?q={first.order.number}").content.decode()
    assert first.order.number in page and f'href="/p/produce/operator/refunds/{po.pk}/"' not in page
    assert "没有找到该订单" in client.get("/p/produce/operator/refunds/?q=NOPE").content.decode()

    url = f"/p/produce/operator/refunds/{po.pk}/"
    page = client.get(url).content.decode()
    assert 'value="256.00"' in page  # full refund offered by default
    key = page.split('name="key" value="')[1].split('"')[0]
    # Refusals are field errors next to the field; nothing is refunded.
    page = client.post(
        url, {"amount": "300", "reason": "破损", "key": key, "step": "preview"}
    ).content.decode()
    assert 'data-testid="error-amount"' in page and "¥256.00" in page
    page = client.post(url, {"amount": "50", "reason": "", "key": key, "step": "preview"}).content.decode()
    assert 'data-testid="error-reason"' in page and "请填写退款原因" in page
    page = client.post(
        url, {"amount": "300", "reason": "破损", "key": key, "step": "confirm"}
    ).content.decode()
    assert 'data-testid="error-amount"' in page
    assert refunded(po) == 0
    # The confirmation step says what happens, then the refund; a double submit refunds once.
    page = client.post(
        url, {"amount": "56", "reason": "少发一袋", "key": key, "step": "preview"}
    ).content.decode()
    assert 'data-testid="refund-confirm"' in page and "¥56.00" in page and "¥200.00" in page
    assert "¥2.80" in page  # the commission given back (5 %)
    assert 'data-testid="claw-back"' not in page
    assert refunded(po) == 0  # nothing happens before the confirmation
    confirm = {"amount": "56", "reason": "少发一袋", "key": key, "step": "confirm"}
    assert client.post(url, confirm).status_code == 302
    assert client.post(url, confirm).status_code == 302
    assert refunded(po) == Decimal("56.00") and Refund.objects.count() == 1
    assert Refund.objects.get().requested_by == operator  # who asked is kept with the refund
    page = client.get(url).content.decode()
    assert "少发一袋" in page and 'value="200.00"' in page
    assert operator.username in page.split('data-testid="refund-history"')[1]
    owed = services.COOPERATIVE_PAYABLE.owed_to(coop.pk)
    assert owed == Decimal("364.80") - Decimal("53.20")  # 2 sales less 5 %, less 56 − 2.80 commission back

    # The buyer sees it on their order page (and another buyer cannot open it).
    client.force_login(city_buyer)
    page = client.get(f"/p/produce/orders/{po.pk}/").content.decode()
    assert "少发一袋" in page and "已退款 ¥56.00" in page
    client.force_login(make_user("13800000099", Role.CITY_BUYER, phone="13800000099"))
    assert client.get(f"/p/produce/orders/{po.pk}/").status_code == 404

    # After the cooperative was paid out, a refund makes it owe the platform: the page says so first.
    services.run_cooperative_payouts(operator, "r-1")
    client.force_login(operator)
    page = client.get(url).content.decode()
    key = page.split('name="key" value="')[1].split('"')[0]
    page = client.post(
        url, {"amount": "200", "reason": "退货", "key": key, "step": "preview"}
    ).content.decode()
    assert 'data-testid="claw-back"' in page
    client.post(url, {"amount": "200", "reason": "退货", "key": key, "step": "confirm"})
    assert services.COOPERATIVE_PAYABLE.owed_to(coop.pk) == Decimal("-190.00")
    assert services.cooperatives_owed() == []  # nothing paid out until new sales cover it
    assert LedgerEntry.objects.filter(kind="produce_payout").count() == 1
    page = client.get(url).content.decode()
    assert "该订单已全额退款" in page and 'data-testid="refund-form"' not in page


def test_refund_pages_in_english(stripe_settings, city_buyer, rnd, lot, coop_user, coop, operator):
    from testkit import CJK, data_strings, ui_outside_data

    po = delivered(city_buyer, rnd, lot, coop_user)
    services.refund_order(operator, po, "6", "k", "破损")
    data = [*data_strings(coop, lot, rnd), coop.name, po.contact_name, "破损", str(operator), str(city_buyer)]
    client = english_client(operator)
    for url, form, expect in (
        ("/p/produce/operator/refunds/", None, ("Produce refunds", "Order number", "Refundable ¥250.00")),
        (f"/p/produce/operator/refunds/{po.pk}/", None, ("Refund amount", "Next: check the refund")),
        (
            f"/p/produce/operator/refunds/{po.pk}/",
            {"amount": "999", "reason": "", "key": "e", "step": "preview"},
            ("Enter the reason for the refund", "cannot exceed the refundable ¥250.00"),
        ),
        (
            f"/p/produce/operator/refunds/{po.pk}/",
            {"amount": "10", "reason": "破损", "key": "e", "step": "preview"},
            ("Confirm the refund", "Refund ¥10.00"),
        ),
    ):
        response = client.post(url, form) if form else client.get(url)
        html = response.content.decode()
        assert response.status_code == 200
        left = ui_outside_data(html, data)
        assert not CJK.findall(left), f"{url}: {''.join(CJK.findall(left))}"
        for label in expect:
            assert label in html, (url, label)
    buyer = english_client(city_buyer)
    html = buyer.get(f"/p/produce/orders/{po.pk}/").content.decode()
    assert "Refunded ¥6.00" in html and "back to the original payment" in html
