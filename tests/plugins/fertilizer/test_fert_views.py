"""Storefront pages and the printable recommendation card (A4 / A5 PDFs)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from oscar.core.loading import get_model
from pypdf import PdfReader

from plugins.fertilizer import services
from plugins.fertilizer.models import BagPlan, FarmField, ParameterSetVersion, PlanStatus, SoilTest


def _login(client, user):
    client.force_login(user)
    return client


def test_station_staff_flow(client, staff_a, household_a, fert_catalogue):
    c = _login(client, staff_a)
    page = c.get(reverse("fertilizer:index"))
    assert page.status_code == 200 and household_a.name in page.content.decode()
    r = c.post(
        reverse("fertilizer:household", args=[household_a.pk]),
        {
            "name": "后岗地",
            "area_mu": "18",
            "crop": "spring_maize_ne",
            "zone": "semi_humid",
            "yield_1": "650",
            "yield_2": "690",
        },
    )
    field = FarmField.objects.get(name="后岗地")
    assert r.status_code == 302 and r.url == reverse("fertilizer:field", args=[field.pk])
    detail = c.get(r.url).content.decode()
    assert "18.00 亩（1.20 公顷）" in detail
    r = c.post(
        reverse("fertilizer:field", args=[field.pk]),
        {
            "lab": "土肥站",
            "sample_date": "2026-04-01",
            "ph": "6.3",
            "organic_matter_g_kg": "26",
            "alkali_n_mg_kg": "130",
            "olsen_p_mg_kg": "22",
            "available_k_mg_kg": "160",
        },
    )
    assert r.status_code == 302 and SoilTest.objects.filter(field=field).count() == 1
    r = c.post(reverse("fertilizer:field-recommend", args=[field.pk]))
    assert r.status_code == 302
    rec_page = c.get(r.url).content.decode()
    assert (
        "区域大配方＋测土分级" in rec_page
        and 'data-testid="plan"' in rec_page
        and "加入团购/购物篮" in rec_page
    )
    plan = BagPlan.objects.get(recommendation__field=field, is_current=True)
    r = c.post(reverse("fertilizer:plan-order", args=[plan.pk]), follow=True)
    assert "已加入购物篮" in r.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ORDERED
    Basket = get_model("basket", "Basket")
    assert Basket.objects.get(owner=staff_a).lines.count() >= 1


def test_card_pdfs_a4_and_a5(client, staff_a, fert_catalogue, field_a, soil_a):
    rec = services.create_recommendation(staff_a, field_a)
    services.create_plan(staff_a, rec)
    c = _login(client, staff_a)
    sizes = {}
    for size in ("A4", "A5"):
        r = c.get(reverse("fertilizer:card", args=[rec.pk]) + f"?size={size}")
        assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
        reader = PdfReader(io.BytesIO(r.content))
        box = reader.pages[0].mediabox
        sizes[size] = (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4))
        text = "".join(p.extract_text() for p in reader.pages)
        for needle in (
            "测土配方施肥建议卡",
            "张国华",
            "东大地",
            "区域大配方＋测土分级",
            "碱解氮",
            "基肥",
            "追肥",
            "合计",
        ):
            assert needle in text, (size, needle)
    assert sizes == {"A4": (210, 297), "A5": (148, 210)}


def test_tenancy_on_pages(client, staff_b, farmer_a, field_a, soil_a, staff_a, fert_catalogue):
    rec = services.create_recommendation(staff_a, field_a)
    c = _login(client, staff_b)
    for url in (
        reverse("fertilizer:field", args=[field_a.pk]),
        reverse("fertilizer:recommendation", args=[rec.pk]),
        reverse("fertilizer:card", args=[rec.pk]),
        reverse("fertilizer:household", args=[field_a.household_id]),
    ):
        assert c.get(url).status_code == 404, url
    assert c.post(reverse("fertilizer:field-recommend", args=[field_a.pk])).status_code == 404
    c = _login(client, farmer_a)
    index = c.get(reverse("fertilizer:index")).content.decode()
    assert "东大地" in index
    page = c.get(reverse("fertilizer:recommendation", args=[rec.pk])).content.decode()
    assert "区域大配方＋测土分级" in page
    assert c.get(reverse("fertilizer:import")).status_code == 403


def test_import_page(client, agronomist, field_a):
    c = _login(client, agronomist)
    assert c.get(reverse("fertilizer:import")).status_code == 200
    bad = (
        "地块编号,检测机构,采样日期,pH,有机质,碱解氮,有效磷,速效钾\n"
        f"{field_a.pk},站,2026-04-01,6.5,25,125,18,99999\n"
    )
    r = c.post(reverse("fertilizer:import"), {"file": SimpleUploadedFile("lab.csv", bad.encode())})
    html = r.content.decode()
    assert r.status_code == 200 and 'data-testid="import-errors"' in html and "速效钾" in html
    assert not SoilTest.objects.exists()
    good = bad.replace("99999", "140")
    r = c.post(
        reverse("fertilizer:import"), {"file": SimpleUploadedFile("lab.csv", good.encode())}, follow=True
    )
    assert "已导入 1 条测土结果" in r.content.decode() and SoilTest.objects.count() == 1


def test_parameter_pages(client, agronomist, staff_a):
    c = _login(client, agronomist)
    assert "东北春玉米" in c.get(reverse("fertilizer:parameter-sets")).content.decode()
    url = reverse("fertilizer:parameter-set", args=["spring_maize_ne", "cool"])
    form = c.get(url).context["form"]
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data.update(util_n=0.36, note="县级试验", chloride_sensitive="")
    r = c.post(url, data)
    assert r.status_code == 302
    latest = (
        ParameterSetVersion.objects.filter(crop="spring_maize_ne", zone="cool").order_by("-version").first()
    )
    assert latest.version == 2 and latest.data["utilisation_rate"]["N"] == 0.36 and latest.note == "县级试验"
    c = _login(client, staff_a)
    assert c.get(url).status_code == 200
    assert c.post(url, data).status_code == 403


def test_demand_page_full_and_supplier(
    client, agronomist, supplier_user, staff_a, county, fert_catalogue, field_a, soil_a
):
    services.create_plan(staff_a, services.create_recommendation(staff_a, field_a))
    c = _login(client, agronomist)
    html = c.get(reverse("fertilizer:demand", args=[county.pk])).content.decode()
    assert (
        "<svg" in html
        and 'class="fert-map"' in html
        and "东岗益农信息社" in html
        and 'data-testid="rows"' in html
    )
    assert "http" not in html.split("<svg", 1)[1].split("</svg>")[0].replace("http://www.w3.org/2000/svg", "")
    c = _login(client, supplier_user)
    html = c.get(reverse("fertilizer:demand", args=[county.pk])).content.decode()
    assert 'class="fert-chart"' in html and "东岗益农信息社" not in html and "张国华" not in html
    assert 'data-testid="rows"' not in html
    c = _login(client, staff_a)
    assert c.get(reverse("fertilizer:demand", args=[county.pk])).status_code == 404


@pytest.mark.parametrize("width", [360])
def test_pages_have_mobile_viewport(client, staff_a, width):
    html = _login(client, staff_a).get(reverse("fertilizer:index")).content.decode()
    assert 'name="viewport" content="width=device-width' in html
