"""Traceability: public trace page from the GS1 Digital Link URL with the inputs the lot's growers
bought (found through the core's orders), no farmer personal data, pre-harvest-interval check,
EPCIS 2.0 export, 承诺达标合格证 PDF kept two years, packing list and QR labels."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from oscar.core.loading import get_model
from produce_kit import ADDRESS, delivery_slot, unit_of
from testkit import CARD_PLAIN, make_fertilizer, stripe_card_token

from plugins.produce import services, trace
from plugins.produce.models import CommitmentCertificate, InputApplication

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
Line = get_model("order", "Line")


def _bought(household, product, partner, when, number):
    order = Order.objects.create(
        number=number, station=household.station, household=household, currency="CNY",
        total_incl_tax=Decimal("150"), total_excl_tax=Decimal("150"), status="已完成",
    )  # fmt: skip
    Order.objects.filter(pk=order.pk).update(date_placed=when)
    Line.objects.create(
        order=order, partner=partner, partner_name=partner.name, title=product.title, product=product, quantity=2,
        partner_sku=f"{number}-1", line_price_incl_tax=Decimal("150"), line_price_excl_tax=Decimal("150"),
        line_price_before_discounts_incl_tax=Decimal("150"), line_price_before_discounts_excl_tax=Decimal("150"),
        num_allocated=0,
    )  # fmt: skip
    return order


@pytest.fixture
def traced_lot(coop_user, coop, household_a, household_b, product_classes, supplier):
    from produce_kit import confirmed_member, lot_input

    confirmed_member(coop, household_a)
    lot = services.create_lot(coop_user, coop, lot_input(household_ids=[household_a.pk]))
    fert = make_fertilizer(product_classes, supplier, "TR-1", "复合肥 15-15-15")
    start = timezone.make_aware(datetime.combine(lot.harvest_date - timedelta(days=90), time(10)))
    _bought(household_a, fert, supplier, start, "TR-A")
    other = make_fertilizer(product_classes, supplier, "TR-2", "别人的肥料")
    _bought(household_b, other, supplier, start, "TR-B")  # not a grower of this lot
    return lot


def test_trace_page_shows_inputs_and_no_personal_data(client, traced_lot, household_a):
    url = trace.digital_link(traced_lot)
    assert url == f"/p/produce/01/{traced_lot.gtin}/10/{traced_lot.code}"
    page = client.get(url).content.decode()
    assert "复合肥 15-15-15" in page and "REG-TR-1" in page and "别人的肥料" not in page
    assert "齐家镇有机大米专业合作社" in page and "LB-18-2101" in page and "齐家镇齐家村" in page
    for secret in (household_a.name, household_a.phone, household_a.id_number):
        if secret:
            assert secret not in page
    assert client.get(f"/p/produce/trace/?code={traced_lot.code}")["Location"] == url
    assert client.get("/p/produce/01/00000000000000/10/NOPE").status_code == 404


def test_phi_check_flags_application_inside_interval(coop_user, traced_lot, product_classes, supplier):
    pesticide = make_fertilizer(product_classes, supplier, "TR-P", "吡虫啉 (示例)")
    trace.record_application(
        coop_user, traced_lot, pesticide, traced_lot.harvest_date - timedelta(days=30), 14
    )
    assert trace.public_facts(traced_lot)["phi_ok"] is True
    trace.record_application(
        coop_user, traced_lot, pesticide, traced_lot.harvest_date - timedelta(days=5), 14
    )
    facts = trace.public_facts(traced_lot)
    assert facts["phi_ok"] is False and [c.ok for c in facts["phi"]] == [True, False]
    with pytest.raises(ValidationError):
        trace.record_application(
            coop_user, traced_lot, pesticide, traced_lot.harvest_date + timedelta(days=1), 7
        )
    assert InputApplication.objects.count() == 2


def test_epcis_export_and_certificate(client, coop_user, traced_lot):
    client.force_login(coop_user)
    r = client.get(f"/p/produce/coop/lots/{traced_lot.pk}/epcis.jsonld")
    doc = r.json()
    assert r["Content-Type"] == "application/ld+json" and doc["type"] == "EPCISDocument"
    event = doc["epcisBody"]["eventList"][0]
    assert (event["type"], event["bizStep"], event["action"]) == ("ObjectEvent", "commissioning", "ADD")
    assert event["quantityList"][0]["epcClass"].endswith(f"/01/{traced_lot.gtin}/10/{traced_lot.code}")
    r = client.post(f"/p/produce/coop/lots/{traced_lot.pk}/", {"action": "certificate", "quantity_kg": "200"})
    assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    cert = CommitmentCertificate.objects.get()
    assert cert.number == f"{traced_lot.code}-C001" and cert.retain_until > timezone.now() + timedelta(
        days=700
    )
    with pytest.raises(ValidationError):
        cert.delete()
    r = client.post(
        f"/p/produce/coop/lots/{traced_lot.pk}/", {"action": "certificate", "quantity_kg": "5000"}
    )
    assert r.status_code == 200 and CommitmentCertificate.objects.count() == 1


@pytest.mark.stripe
def test_packing_list_and_labels(stripe_settings, client, coop_user, city_buyer, rnd, lot, other_coop_user):
    services.start_checkout(
        city_buyer, rnd, {unit_of(lot).pk: 2}, delivery_slot(rnd).pk, ADDRESS, "card", "lab-1",
        token=stripe_card_token(CARD_PLAIN),
    )  # fmt: skip
    client.force_login(coop_user)
    page = client.get(f"/p/produce/coop/rounds/{rnd.pk}/").content.decode()
    assert "王女士" in page and "× 2" in page
    for suffix in ("packing.pdf", "labels.pdf"):
        r = client.get(f"/p/produce/coop/rounds/{rnd.pk}/{suffix}")
        assert r["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    client.force_login(other_coop_user)
    assert client.get(f"/p/produce/coop/rounds/{rnd.pk}/").status_code == 404
    assert client.get(f"/p/produce/coop/rounds/{rnd.pk}/labels.pdf").status_code == 404
