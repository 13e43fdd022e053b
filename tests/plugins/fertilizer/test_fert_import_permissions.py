"""Soil-test import: the page and ``soilTestImport`` take the same declared permission
(station staff for their own households' fields, agronomists for their counties', operators)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from plugins.fertilizer.models import SoilTest

pytestmark = pytest.mark.django_db

HEADER = "地块编号,检测机构,采样日期,pH,有机质,碱解氮,有效磷,速效钾\n"
IMPORT = "mutation($csv: String) { soilTestImport(csv: $csv) { imported errors { code } rowErrors { row column code } } }"


def _csv(field, day: str) -> str:
    return HEADER + f"{field.pk},站,{day},6.5,25,125,18,140\n"


def _page(client, user, text: str):
    client.force_login(user)
    return client.post(reverse("fertilizer:import"), {"file": SimpleUploadedFile("lab.csv", text.encode())})


def test_station_staff_import_their_own_fields_on_page_and_graphql(client, gql, staff_a, field_a, field_b):
    client.force_login(staff_a)
    assert client.get(reverse("fertilizer:import")).status_code == 200
    r = _page(client, staff_a, _csv(field_a, "2026-04-01"))
    assert r.status_code == 302 and SoilTest.objects.filter(field=field_a).count() == 1
    out = gql(staff_a)(IMPORT, {"csv": _csv(field_a, "2026-04-02")})["data"]["soilTestImport"]
    assert out["imported"] == 1 and out["errors"] == []
    # another station's field: refused row by row on both paths, nothing written
    r = _page(client, staff_a, _csv(field_b, "2026-04-01"))
    assert r.status_code == 200 and 'data-testid="import-errors"' in r.content.decode()
    out = gql(staff_a)(IMPORT, {"csv": _csv(field_b, "2026-04-01")})["data"]["soilTestImport"]
    assert out["imported"] == 0 and out["rowErrors"][0]["row"] == 2
    assert not SoilTest.objects.filter(field=field_b).exists()


def test_farmers_and_suppliers_are_refused_on_both_paths(client, gql, farmer_a, supplier_user, field_a):
    for user in (farmer_a, supplier_user):
        client.force_login(user)
        assert client.get(reverse("fertilizer:import")).status_code == 403
        assert _page(client, user, _csv(field_a, "2026-04-01")).status_code == 403
        out = gql(user)(IMPORT, {"csv": _csv(field_a, "2026-04-01")})["data"]["soilTestImport"]
        assert out["errors"] == [{"code": "PERMISSION_DENIED"}] and out["imported"] == 0
    assert not SoilTest.objects.exists()
