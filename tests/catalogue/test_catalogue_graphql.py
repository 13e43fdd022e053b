"""GraphQL catalogue: search with filters/facets/sort, product detail by warehouse, supplier
mutations with typed errors and tenancy refusals, bounded query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from catalogue_helpers import make_fertilizer, make_pesticide, warehouse
from testkit import licensed

from marketplace.apps.partner.models import StockRecord, VerificationStatus

pytestmark = pytest.mark.django_db

SEARCH = """query($q: String, $f: SearchFilterInput, $s: SearchSort, $first: Int){
  search(query: $q, filters: $f, sort: $s, first: $first){
    totalCount engine
    items{ id title minPrice{ amount } available
      stockRecords{ sku available warehouse{ code latitude } partner{ name } } }
    facets{ productTypes{ value label count } suppliers{ value label count } chlorideClasses{ value count } }
  }
}"""
PRODUCT = "query($id: ID!){ product(id: $id){ title stockRecords{ sku available warehouse{ name } } } }"
CREATE = """mutation($p: ID!, $i: ProductInput!){ productCreate(partnerId: $p, input: $i){
  product{ id title attributes } errors{ field code message } } }"""
UPDATE = """mutation($id: ID!, $i: ProductInput!){ productUpdate(id: $id, input: $i){
  product{ id title } errors{ field code message } } }"""
STOCK = """mutation($i: StockInput!){ stockUpdate(input: $i){
  created stockRecord{ sku available price{ amount } } errors{ field code message } } }"""
MINE = "{ myStockRecords(first: 50){ totalCount items{ sku partner{ name } } } }"

FERT = {
    "n_pct": 15,
    "p2o5_pct": 15,
    "k2o_pct": 15,
    "chloride_class": "none",
    "bag_kg": 40,
    "registration_no": "吉肥2024-9",
}


@pytest.fixture
def catalogue(product_classes, supplier, other_supplier, wh, other_wh):
    make_fertilizer(product_classes, supplier, "F1", "复合肥 15-15-15 硫酸钾型", price="150", warehouse=wh)
    p2 = make_fertilizer(
        product_classes,
        other_supplier,
        "F2",
        "玉米专用肥 15-18-12",
        npk=(15, 18, 12),
        price="142",
        warehouse=other_wh,
    )
    p2.attr.chloride_class = "low"
    p2.save()
    make_fertilizer(
        product_classes, supplier, "F3", "氯化钾 60%", npk=(0, 0, 60), price="160", stock=0, warehouse=wh
    )
    Product = p2.__class__
    seed = Product(title="吉单27 玉米种子", product_class=product_classes["seed"], upc="SEED-1")
    for k, v in {
        "crop": "玉米",
        "variety": "吉单27",
        "variety_approval_no": "吉审玉2003001",
        "licence_no": "C1",
        "germination_pct": 93.0,
        "net_content_kg": 10.0,
    }.items():
        setattr(seed.attr, k, v)
    seed.save()
    licensed(supplier, seed)
    StockRecord.objects.create(
        product=seed, partner=supplier, partner_sku="S1", price=Decimal("260"), num_in_stock=5, warehouse=wh
    )


def ids_titles(data):
    return [i["title"] for i in data["items"]]


def test_chinese_search_and_grade(gql, catalogue):
    data = gql()(SEARCH, {"q": "复合肥 15-15-15"})["data"]["search"]
    assert ids_titles(data) == ["复合肥 15-15-15 硫酸钾型"]
    from django.db import connection

    assert data["engine"] == ("postgresql" if connection.vendor == "postgresql" else "sqlite")
    data = gql()(SEARCH, {"q": "玉米 种子 吉单"})["data"]["search"]
    assert ids_titles(data) == ["吉单27 玉米种子"]
    data = gql()(SEARCH, {"q": "玉米"})["data"]["search"]
    assert set(ids_titles(data)) == {"吉单27 玉米种子", "玉米专用肥 15-18-12"}
    assert gql()(SEARCH, {"q": "水稻"})["data"]["search"]["totalCount"] == 0


def test_filters_facets_and_sort(gql, catalogue, supplier):
    data = gql()(SEARCH, {"f": {"productTypes": ["fertilizer"]}, "s": "PRICE_ASC"})["data"]["search"]
    assert ids_titles(data) == ["玉米专用肥 15-18-12", "复合肥 15-15-15 硫酸钾型", "氯化钾 60%"]
    assert {f["value"]: f["count"] for f in data["facets"]["chlorideClasses"]} == {"none": 2, "low": 1}
    assert data["facets"]["productTypes"] == [{"value": "fertilizer", "label": "化肥", "count": 3}]
    data = gql()(SEARCH, {"f": {"pMin": "16", "kMax": "20"}})["data"]["search"]
    assert ids_titles(data) == ["玉米专用肥 15-18-12"]
    data = gql()(SEARCH, {"f": {"supplierIds": [str(supplier.pk)], "inStock": True}, "s": "PRICE_DESC"})[
        "data"
    ]["search"]
    assert ids_titles(data) == ["吉单27 玉米种子", "复合肥 15-15-15 硫酸钾型"]
    facets = gql()(SEARCH, {})["data"]["search"]["facets"]["suppliers"]
    assert {f["label"]: f["count"] for f in facets} == {"甲农资公司": 3, "乙农资公司": 1}


def test_near_station_filter(gql, catalogue, station_a):
    # station_a is at 43.5,125.6; supplier's warehouse ~6 km away, other supplier's ~150 km away
    data = gql()(SEARCH, {"f": {"stationId": str(station_a.pk), "radiusKm": 30}})["data"]["search"]
    assert set(ids_titles(data)) == {"复合肥 15-15-15 硫酸钾型", "吉单27 玉米种子"}  # 氯化钾 has no stock
    data = gql()(SEARCH, {"f": {"stationId": str(station_a.pk), "radiusKm": 300}})["data"]["search"]
    assert data["totalCount"] == 3
    bad = gql()(SEARCH, {"f": {"radiusKm": 30}})
    assert "radius_km" in bad["errors"][0]["message"]


def test_unapproved_and_blocked_stock_hidden(gql, catalogue, other_supplier):
    other_supplier.verification_status = VerificationStatus.SUSPENDED
    other_supplier.save()
    StockRecord.objects.filter(partner_sku="S1").update(compliance_blocked=True, blocked_reason="x")
    titles = ids_titles(gql()(SEARCH, {"first": 50})["data"]["search"])
    assert titles == ["复合肥 15-15-15 硫酸钾型", "氯化钾 60%"]


def test_product_detail_stock_by_warehouse(gql, catalogue, product_classes, supplier):
    product = StockRecord.objects.get(partner_sku="F1").product
    second = warehouse(supplier, "WH2", lat="43.60", lon="125.70")
    StockRecord.objects.create(
        product=product,
        partner=supplier,
        partner_sku="F1-B",
        price=Decimal("151"),
        num_in_stock=7,
        warehouse=second,
    )
    data = gql()(PRODUCT, {"id": str(product.pk)})["data"]["product"]
    assert [(r["sku"], r["warehouse"]["name"], r["available"]) for r in data["stockRecords"]] == [
        ("F1", "甲农资公司WH1仓", 100),
        ("F1-B", "甲农资公司WH2仓", 7),
    ]


@pytest.mark.parametrize("size", [10, 100])
def test_search_query_count_bounded(gql, product_classes, supplier, wh, django_assert_max_num_queries, size):
    for i in range(size):
        make_fertilizer(
            product_classes, supplier, f"B{i}", f"复合肥 批次{i}", price=str(100 + i), warehouse=wh
        )
    client = gql()
    with django_assert_max_num_queries(12):
        data = client(SEARCH, {"q": "复合肥", "first": size})["data"]["search"]
    assert len(data["items"]) == size


def test_product_create_update_typed_errors_and_tenancy(
    gql, product_classes, supplier, supplier_user, other_supplier
):
    client = gql(supplier_user)
    bad = client(
        CREATE,
        {
            "p": str(supplier.pk),
            "i": {"productType": "fertilizer", "title": "复合肥", "attributes": FERT | {"n_pct": 150}},
        },
    )
    errs = bad["data"]["productCreate"]["errors"]
    assert {"field": "nPct", "code": "INVALID"} == {k: errs[0][k] for k in ("field", "code")}
    ok = client(
        CREATE,
        {
            "p": str(supplier.pk),
            "i": {"productType": "fertilizer", "title": "复合肥 15-15-15", "attributes": FERT},
        },
    )
    payload = ok["data"]["productCreate"]
    assert payload["errors"] == []
    assert payload["product"]["attributes"]["n_pct"] == 15.0
    refused = client(CREATE, {"p": str(other_supplier.pk), "i": {"productType": "fertilizer", "title": "x"}})
    assert refused["data"]["productCreate"]["errors"][0]["code"] == "NOT_FOUND"
    foreign = make_fertilizer(product_classes, other_supplier, "OX", "乙的肥")
    foreign.owner = other_supplier
    foreign.save()
    res = client(UPDATE, {"id": str(foreign.pk), "i": {"title": "改名"}})["data"]["productUpdate"]
    assert res["errors"][0]["code"] == "NOT_FOUND"
    foreign.refresh_from_db()
    assert foreign.title == "乙的肥"


def test_stock_update_and_my_stock_records(
    gql, product_classes, supplier, supplier_user, other_supplier, wh, other_wh
):
    make_fertilizer(product_classes, other_supplier, "OX", "乙的肥", warehouse=other_wh)
    platform = make_fertilizer(product_classes, other_supplier, "OY", "平台肥")
    client = gql(supplier_user)
    res = client(
        STOCK,
        {
            "i": {
                "partnerId": str(supplier.pk),
                "productId": str(platform.pk),
                "sku": "MY-1",
                "price": "99",
                "numInStock": 5,
                "warehouseId": str(wh.pk),
            }
        },
    )["data"]["stockUpdate"]
    assert res["errors"] == [] and res["created"] is True
    neg = client(
        STOCK,
        {
            "i": {
                "partnerId": str(supplier.pk),
                "productId": str(platform.pk),
                "sku": "MY-1",
                "price": "99",
                "numInStock": -1,
            }
        },
    )
    assert neg["data"]["stockUpdate"]["errors"][0]["field"] == "numInStock"
    other_wh_use = client(
        STOCK,
        {
            "i": {
                "partnerId": str(supplier.pk),
                "productId": str(platform.pk),
                "sku": "MY-1",
                "price": "99",
                "numInStock": 1,
                "warehouseId": str(other_wh.pk),
            }
        },
    )
    assert other_wh_use["data"]["stockUpdate"]["errors"][0]["code"] == "NOT_FOUND"
    into_other = client(
        STOCK,
        {
            "i": {
                "partnerId": str(other_supplier.pk),
                "productId": str(platform.pk),
                "sku": "Z",
                "price": "1",
                "numInStock": 1,
            }
        },
    )
    assert into_other["data"]["stockUpdate"]["errors"][0]["code"] == "NOT_FOUND"
    mine = client(MINE)["data"]["myStockRecords"]
    assert mine["totalCount"] == 1 and mine["items"][0]["sku"] == "MY-1"
    assert gql()(MINE)["data"]["myStockRecords"]["totalCount"] == 0


def test_restricted_pesticide_listed_but_offers_respect_station_licence(product_classes, supplier, station_a):
    from catalogue_helpers import licence

    from marketplace.apps.partner.models import LicenceKind
    from marketplace.core.extensions import purchasable_offers

    licence(supplier, LicenceKind.PESTICIDE_BUSINESS, number="PB-1", restricted=True)  # the seller is licensed
    make_pesticide(product_classes, supplier, "P1", restricted=True)
    make_pesticide(product_classes, supplier, "P2", restricted=False)
    skus = {o.sku for o in purchasable_offers(station_a) if o.source == "stock"}
    assert skus == {"P2"}
