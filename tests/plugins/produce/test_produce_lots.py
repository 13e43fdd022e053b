"""Lots and rounds: one validation for pages, GraphQL and import; cooperative tenancy; verified only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from produce_kit import lot_input

from marketplace.apps.partner.models import VerificationStatus
from plugins.produce import services
from plugins.produce.models import Lot, LotEvent

pytestmark = pytest.mark.django_db


def test_lot_creates_oscar_product_and_stock_with_harvest_event(coop_user, coop):
    lot = services.create_lot(coop_user, coop, lot_input())
    unit = lot.sale_units.get()
    record = unit.product.stockrecords.get()
    assert (record.partner_id, record.num_in_stock, record.price) == (coop.pk, 20, unit.price)
    assert unit.product.attr.lot_code == lot.code
    assert services.valid_gtin(lot.gtin) and lot.gtin.startswith("02")
    assert LotEvent.objects.filter(lot=lot, kind="harvest").count() == 1
    assert lot.certifications.get().number == "LB-18-2101"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"harvest_date": (timezone.localdate() + timedelta(days=1)).isoformat()}, "harvest_date"),
        ({"code": "x!"}, "code"),
        ({"latitude": "95"}, "latitude"),
        ({"quantity_kg": "abc"}, "quantity_kg"),
        ({"gtin": "12345678901234"}, "gtin"),
        ({"sale_units": [{"unit": "crate", "pack_kg": "5", "price": "1", "units": 1}]}, "sale_units.0.unit"),
        ({"sale_units": [{"unit": "box", "pack_kg": "5", "price": "-1", "units": 1}]}, "sale_units.0.price"),
        ({"sale_units": [{"unit": "box", "pack_kg": "10", "price": "9", "units": 101}]}, "sale_units"),
        (
            {"certifications": [{"kind": "green", "number": "X", "expires_on": "2020-01-01"}]},
            "certifications.0.expires_on",
        ),
    ],
)
def test_bad_values_name_the_field_and_write_nothing(coop_user, coop, changes, field):
    with pytest.raises(ValidationError) as err:
        services.create_lot(coop_user, coop, lot_input(**changes))
    assert field in err.value.message_dict
    assert not Lot.objects.exists()


def test_only_members_of_a_verified_cooperative_can_list(coop_user, coop, other_coop_user):
    with pytest.raises(PermissionDenied):
        services.create_lot(other_coop_user, coop, lot_input())
    coop.verification_status = VerificationStatus.PENDING
    coop.save()
    with pytest.raises(PermissionDenied):
        services.create_lot(coop_user, coop, lot_input())


def test_graphql_uses_the_same_validation(gql, coop_user, coop):
    query = """mutation($input: ProduceLotInput!) { produceLotCreate(input: $input) {
        lot { code gtin } errors { field code message } } }"""
    variables = {
        "input": {
            "partnerId": str(coop.pk), "code": "GQ-2026-01", "crop": "rice", "variety": "稻花香", "grade": "一级",
            "harvestDate": (timezone.localdate() + timedelta(days=5)).isoformat(), "originVillage": "齐家村",
            "latitude": "43.4", "longitude": "125.7", "quantityKg": "100",
            "saleUnits": [{"unit": "bag", "packKg": "5", "price": "60", "units": 10}],
        }
    }  # fmt: skip
    data = gql(coop_user)(query, variables)["data"]["produceLotCreate"]
    assert data["lot"] is None
    assert data["errors"][0]["field"] == "harvestDate" and data["errors"][0]["code"] == "INVALID"
    variables["input"]["harvestDate"] = timezone.localdate().isoformat()
    data = gql(coop_user)(query, variables)["data"]["produceLotCreate"]
    assert data["errors"] == [] and data["lot"]["code"] == "GQ-2026-01"


def test_csv_import_is_all_or_nothing_with_row_numbers(coop_user, coop):
    header = ",".join(services.IMPORT_COLUMNS)
    ok = f"IMP-001,rice,稻花香,一级,{timezone.localdate()},齐家村,43.4,125.7,100,bag,10,120,5,,,"
    bad = f"IMP-002,rice,稻花香,一级,{timezone.localdate() + timedelta(days=3)},齐家村,43.4,125.7,100,bag,10,120,5,,,"
    lots, problems = services.import_lots(coop_user, coop, f"{header}\n{ok}\n{bad}\n".encode())
    assert lots == [] and any("第3行" in str(p) and "harvest_date" in str(p) for p in problems)
    assert not Lot.objects.exists()
    lots, problems = services.import_lots(coop_user, coop, f"{header}\n{ok}\n".encode())
    assert problems == [] and [lot.code for lot in lots] == ["IMP-001"]


def test_round_needs_future_cutoff_own_lots_and_windows(coop_user, coop, lot, other_coop_user):
    day = (timezone.localtime() + timedelta(days=3)).date()
    with pytest.raises(ValidationError) as err:
        services.open_round(
            coop_user, coop, "轮次", timezone.now() - timedelta(hours=1), [lot.pk],
            [{"kind": "pickup", "day": day, "start": "10:00", "end": "09:00"}],
        )  # fmt: skip
    fields = set(err.value.message_dict)
    assert {"cutoff_at", "slots.0.end", "slots.0.place_name"} <= fields
    with pytest.raises(PermissionDenied):
        services.open_round(other_coop_user, coop, "轮次", timezone.now() + timedelta(days=1), [lot.pk], [])
    slots = [{"kind": "delivery", "day": day, "start": "09:00", "end": "12:00"}]
    first = services.open_round(coop_user, coop, "A", timezone.now() + timedelta(days=1), [lot.pk], slots)
    second = services.open_round(coop_user, coop, "B", timezone.now() + timedelta(days=2), [lot.pk], slots)
    assert set(services.open_rounds()) == {first, second}  # several rounds at once
    assert services.close_due_rounds(timezone.now() + timedelta(days=1, hours=1)) == 1
    assert list(services.open_rounds()) == [second]


def test_pages_list_a_lot_and_open_a_round(client, coop_user, coop):
    client.force_login(coop_user)
    today = timezone.localdate()
    r = client.post(
        "/p/produce/coop/lots/new/",
        {"partner": coop.pk, "code": "PG-2026-01", "crop": "corn", "variety": "黏玉米", "grade": "一级",
         "harvest_date": (today + timedelta(days=2)).isoformat(), "origin_village": "奢岭村", "latitude": "43.6",
         "longitude": "125.5", "quantity_kg": "300", "su0_unit": "box", "su0_pack_kg": "3", "su0_price": "49",
         "su0_units": "50"},
    )  # fmt: skip
    assert r.status_code == 200 and "采收日期不能晚于今天" in r.content.decode()
    r = client.post(
        "/p/produce/coop/lots/new/",
        {"partner": coop.pk, "code": "PG-2026-01", "crop": "corn", "variety": "黏玉米", "grade": "一级",
         "harvest_date": today.isoformat(), "origin_village": "奢岭村", "latitude": "43.6", "longitude": "125.5",
         "quantity_kg": "300", "su0_unit": "box", "su0_pack_kg": "3", "su0_price": "49", "su0_units": "50"},
    )  # fmt: skip
    lot = Lot.objects.get(code="PG-2026-01")
    assert r.status_code == 302 and r["Location"] == f"/p/produce/coop/lots/{lot.pk}/"
    cutoff = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    r = client.post(
        "/p/produce/coop/rounds/new/",
        {"partner": coop.pk, "title": "周末轮", "cutoff_at": cutoff, "lots": [lot.pk], "slot0_kind": "delivery",
         "slot0_day": day, "slot0_start": "09:00", "slot0_end": "12:00"},
    )  # fmt: skip
    assert r.status_code == 302
    assert services.open_rounds().get().title == "周末轮"
    market = client.get("/p/produce/").content.decode()
    assert "黏玉米" in market
