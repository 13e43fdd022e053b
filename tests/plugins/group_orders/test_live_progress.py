"""Live campaign progress: campaign pages poll progress.json and swap in the widget without a
full reload; a closed campaign shows its result (status, final price), not time left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from testkit import logged_in, make_fertilizer, make_group_buy

from plugins.group_orders import services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Campaign, CampaignStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(product_classes, supplier, supplier_user, operator):
    product = make_fertilizer(product_classes, supplier, "NPK-LIVE", "复合肥 15-15-15 40kg")
    return make_group_buy(supplier_user, operator, supplier, [product], min_total_quantity=10)


def login(user) -> Client:
    return logged_in(user)


def test_open_campaign_polls_and_sees_new_pledges(campaign, staff_a, household_a):
    client = login(staff_a)
    page = client.get(f"/p/group-buy/c/{campaign.pk}/").content.decode()
    url = f"/p/group-buy/c/{campaign.pk}/progress.json"
    assert f'data-live-progress="{url}"' in page and "group_orders/live-progress.js" in page
    assert "剩余时间" in page
    before = client.get(url).json()
    assert (
        before["open"] is True
        and before["total_quantity"] == 0
        and 'data-testid="time-left"' in before["html"]
    )

    services.place_pledge(staff_a, campaign.items.get(), household_a, 12, "cash")
    after = client.get(url).json()
    assert after["total_quantity"] == 12 and "<strong>12</strong>" in after["html"]
    assert "已达成团量" in after["html"] and after["open"] is True
    listing = client.get("/p/group-buy/").content.decode()
    assert f'data-live-progress="{url}"' in listing


def test_closed_campaign_shows_its_result_not_time_left(campaign, staff_a, household_a):
    services.place_pledge(staff_a, campaign.items.get(), household_a, 12, "cash")
    Campaign.objects.filter(pk=campaign.pk).update(cutoff_at=timezone.now() - timedelta(minutes=1))
    client = login(staff_a)
    url = f"/p/group-buy/c/{campaign.pk}/progress.json"
    waiting = client.get(url).json()
    assert (
        waiting["open"] is False
        and "已截单，等待结算" in waiting["html"]
        and "剩余时间" not in waiting["html"]
    )

    closed = close_campaign(campaign.pk)
    assert closed.status == CampaignStatus.SUCCEEDED
    page = client.get(f"/p/group-buy/c/{campaign.pk}/").content.decode()
    widget = page[page.index('data-testid="progress"') :].split("</div>\n</div>")[0]
    assert "已成团" in widget and "成交价 ¥150.00" in widget and "剩余时间" not in widget
    assert "data-live-progress" not in page  # nothing left to poll
    result = client.get(url).json()
    assert result["open"] is False and result["status"] == "succeeded" and "成交价" in result["html"]


def test_failed_campaign_says_so(campaign, staff_a, household_a):
    services.place_pledge(staff_a, campaign.items.get(), household_a, 3, "cash")
    Campaign.objects.filter(pk=campaign.pk).update(cutoff_at=timezone.now() - timedelta(minutes=1))
    assert close_campaign(campaign.pk).status == CampaignStatus.FAILED
    html = login(staff_a).get(f"/p/group-buy/c/{campaign.pk}/progress.json").json()["html"]
    assert "未成团" in html and "预付款已退回" in html and "剩余时间" not in html


def test_progress_endpoint_needs_a_login_and_access(campaign, farmer_a):
    url = f"/p/group-buy/c/{campaign.pk}/progress.json"
    assert Client().get(url).status_code == 302
    assert login(farmer_a).get("/p/group-buy/c/999999/progress.json").status_code == 404


def test_result_widget_is_english(campaign, staff_a, household_a):
    from testkit import CJK, english_client

    services.place_pledge(staff_a, campaign.items.get(), household_a, 12, "cash")
    Campaign.objects.filter(pk=campaign.pk).update(cutoff_at=timezone.now() - timedelta(minutes=1))
    client = english_client(staff_a)
    waiting = client.get(f"/p/group-buy/c/{campaign.pk}/progress.json").json()["html"]
    assert "awaiting settlement" in waiting and not CJK.search(waiting)
    close_campaign(campaign.pk)
    html = client.get(f"/p/group-buy/c/{campaign.pk}/progress.json").json()["html"]
    title = campaign.items.get().product.title
    assert "Final price ¥150.00" in html and "Total pledged" in html
    assert not CJK.search(html.replace(title, "")), html
