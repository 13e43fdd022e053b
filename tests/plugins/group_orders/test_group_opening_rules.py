"""A campaign's opening rule (no restriction / listed stations / listed counties) answered for one
loaded campaign (``access.open_to_stations``, the pledge path) must equal the queryset form
(``access.eligible_for_stations``, lists and pages) in every combination; for no stations at all
the one-campaign answer is "not open"."""

import itertools

from plugins.group_orders import access
from plugins.group_orders.models import Campaign


def test_one_campaign_answer_equals_the_queryset_rule(
    campaign, station_a, station_b, station_far, county, other_county
):
    station_rules = [[], [station_a], [station_far], [station_a, station_far]]
    county_rules = [[], [county], [other_county]]
    asked = [[station_a.pk], [station_b.pk], [station_far.pk], [station_b.pk, station_far.pk]]
    checked = 0
    for listed_stations, listed_counties in itertools.product(station_rules, county_rules):
        campaign.stations.set(listed_stations)
        campaign.counties.set(listed_counties)
        for ids in asked:
            fresh = Campaign.objects.get(pk=campaign.pk)  # no memo from an earlier rule set
            expected = access.eligible_for_stations(Campaign.objects.filter(pk=campaign.pk), ids).exists()
            assert access.open_to_stations(fresh, ids) == expected, (listed_stations, listed_counties, ids)
            checked += expected
            assert not access.open_to_stations(fresh, [])  # no stations: nothing is open to them
    assert 0 < checked < len(station_rules) * len(county_rules) * len(asked)  # both answers occur


def test_listed_county_opens_only_its_stations(campaign, station_a, station_far, other_county):
    campaign.counties.set([other_county])
    assert access.open_to_stations(Campaign.objects.get(pk=campaign.pk), [station_far.pk])
    assert not access.open_to_stations(Campaign.objects.get(pk=campaign.pk), [station_a.pk])
