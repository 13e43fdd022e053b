"""Server-rendered catalogue pages and the supplier portal (tenancy: own partner only)."""

from __future__ import annotations

import io

import pytest
from catalogue_helpers import PASSWORD, make_fertilizer
from django.http import HttpRequest  # axes' backend needs the request

from marketplace.apps.partner.models import StockRecord

pytestmark = pytest.mark.django_db


def test_search_and_product_pages(client, product_classes, supplier, wh):
    product = make_fertilizer(product_classes, supplier, "F1", "复合肥 15-15-15 硫酸钾型", warehouse=wh)
    page = client.get("/catalogue/", {"q": "复合肥"}).content.decode()
    assert "复合肥 15-15-15 硫酸钾型" in page and "共 1 个商品" in page
    assert "共 0 个商品" in client.get("/catalogue/", {"q": "水稻"}).content.decode()
    detail = client.get(f"/catalogue/{product.pk}/").content.decode()
    assert "甲农资公司WH1仓" in detail
    StockRecord.objects.update(compliance_blocked=True)
    assert client.get(f"/catalogue/{product.pk}/").status_code == 404


def test_supplier_portal_import_and_refusals(
    client, product_classes, supplier, supplier_user, other_supplier, buyer
):
    client.login(request=HttpRequest(), username=supplier_user.username, password=PASSWORD)
    upload = io.BytesIO("SKU,商品类型,商品名称,价格,库存\nX-1,农资用品,喷雾器,120,5\n".encode("utf-8-sig"))
    upload.name = "a.csv"
    page = client.post("/supplier/", {"partner": other_supplier.pk, "file": upload}).content.decode()
    assert "导入完成" in page
    assert StockRecord.objects.get(partner_sku="X-1").partner == supplier  # not other_supplier
    client.logout()
    client.login(request=HttpRequest(), username=buyer.username, password=PASSWORD)
    assert client.get("/supplier/").status_code == 404
