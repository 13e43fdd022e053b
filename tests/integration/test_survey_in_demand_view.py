"""Planting-survey totals (village information plugin) reach the county demand view (fertilizer
plugin) through the core demand_figures extension point — neither plugin imports the other."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from plugins.village_info import services

pytestmark = pytest.mark.django_db


def test_survey_totals_show_beside_recommendations(county, agronomist, staff_a, household_a, station_a):
    today = timezone.localdate()
    survey = services.create_survey(agronomist, county, "春耕意向", "春播", today, today + timedelta(days=9), ["玉米"])
    services.save_answers(staff_a, survey, household_a, [services.AnswerRow("玉米", "20", "900", "50")], "phone")
    client = Client()
    client.force_login(agronomist)
    html = client.get(reverse("fertilizer:demand", args=[county.pk])).content.decode()
    planned = html[html.index('data-testid="planned"') :].split("</table>")[0]
    assert "备耕调查：玉米" in planned and "20 亩" in planned and "900 kg" in planned
