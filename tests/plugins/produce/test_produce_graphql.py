"""GraphQL: checkout with typed errors, my orders, cancel, cooperative pack/deliver refusals, trace."""

from __future__ import annotations

import pytest
from produce_kit import delivery_slot, unit_of
from testkit import CARD_PLAIN, stripe_card_token

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]

CHECKOUT = """mutation($round: ID!, $slot: ID!, $unit: ID!, $qty: Int!, $token: String, $address: ProduceAddressInput!) {
  produceCheckout(roundId: $round, slotId: $slot, lines: [{saleUnitId: $unit, quantity: $qty}], address: $address,
                  onlineType: "card", stripeToken: $token, idempotencyKey: "gq-1") {
    order { id number state paymentState amount { amount } } errors { field code message } } }"""
ADDRESS = {"province": "吉林省", "city": "长春市", "district": "朝阳区", "street": "红旗街 1 号",
           "contactName": "王", "contactPhone": "13800000011"}  # fmt: skip


def test_checkout_cancel_and_refusals(stripe_settings, gql, city_buyer, coop_user, other_coop_user, rnd, lot):
    variables = {"round": rnd.pk, "slot": delivery_slot(rnd).pk, "unit": unit_of(lot).pk, "qty": 21,
                 "token": stripe_card_token(CARD_PLAIN), "address": ADDRESS}  # fmt: skip
    data = gql(city_buyer)(CHECKOUT, variables)["data"]["produceCheckout"]
    assert data["order"] is None and data["errors"][0]["code"] == "OUT_OF_STOCK"
    data = gql(city_buyer)(CHECKOUT, {**variables, "qty": 2, "address": {**ADDRESS, "contactPhone": "1"}})
    assert data["data"]["produceCheckout"]["errors"][0]["field"] == "contactPhone"
    data = gql(coop_user)(CHECKOUT, {**variables, "qty": 2})["data"]["produceCheckout"]
    assert data["errors"][0]["code"] == "PERMISSION_DENIED"
    order = gql(city_buyer)(CHECKOUT, {**variables, "qty": 2})["data"]["produceCheckout"]["order"]
    assert (order["state"], order["paymentState"], order["amount"]["amount"]) == (
        "paid",
        "authorised",
        "256.00",
    )
    mine = gql(city_buyer)("{ myProduceOrders { number canCancel } }")["data"]["myProduceOrders"]
    assert mine == [{"number": order["number"], "canCancel": True}]
    pack = "mutation($id: ID!){ produceOrderPack(orderId: $id){ order { state } errors { code } } }"
    assert (
        gql(other_coop_user)(pack, {"id": order["id"]})["data"]["produceOrderPack"]["errors"][0]["code"]
        == "NOT_FOUND"
    )
    cancel = "mutation($id: ID!){ produceOrderCancel(orderId: $id){ order { state paymentState } errors { code } } }"
    result = gql(city_buyer)(cancel, {"id": order["id"]})["data"]["produceOrderCancel"]
    assert result == {"order": {"state": "cancelled", "paymentState": "cancelled"}, "errors": []}
    trace = gql()(
        "query($g: String!, $l: String!){ produceTrace(gtin: $g, lot: $l){ growerCount phiOk lot { code cooperative } } }",
        {"g": lot.gtin, "l": lot.code},
    )["data"]["produceTrace"]
    assert trace == {
        "growerCount": 0,
        "phiOk": True,
        "lot": {"code": lot.code, "cooperative": lot.partner.name},
    }
