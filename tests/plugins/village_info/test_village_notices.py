"""Notices: audience rules, fan-out to stations and SMS (dedupe, opt-in, daily cap), receipts,
scheduling, and tenancy (a station sees only what is addressed to it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from testkit import make_station, make_user

from marketplace.accounts.models import Role
from marketplace.core.models import Notification
from marketplace.stations.models import CountyAssignment, Household
from plugins.village_info import services
from plugins.village_info.models import (
    FanoutStatus,
    Notice,
    NoticeReceipt,
    NoticeSms,
    NoticeStatus,
    SmsPreference,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def publish(committed):
    def run(user, data, notice=None):
        with committed():
            return services.save_notice(user, data, notice)

    return run


def notice_input(**extra):
    data = {"title": "春耕施肥技术要点", "body": "底肥亩施配方肥40公斤。", "kind": "guidance"}
    data.update(extra)
    return services.NoticeInput(**data)


def opt_in(*households):
    for h in households:
        SmsPreference.objects.update_or_create(household=h, defaults={"opted_in": True})


def test_county_notice_reaches_only_its_stations_and_opted_in_households(
    publish, county_staff, county, station_a, station_b, station_far, household_a, household_b, staff_a
):
    far = Household.objects.create(
        station=station_far, village=station_far.village, name="远户", phone="13700000001"
    )
    opt_in(household_a, far)  # household_b has not agreed to SMS
    notice = publish(
        county_staff, notice_input(county_ids=[county.pk], send_sms=True, sms_text="春耕施肥要点已发布")
    )
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PUBLISHED and notice.fanout_status == FanoutStatus.DONE
    assert set(NoticeReceipt.objects.filter(notice=notice).values_list("station_id", flat=True)) == {
        station_a.pk,
        station_b.pk,
    }
    sms = list(NoticeSms.objects.filter(notice=notice))
    assert [s.household_id for s in sms] == [household_a.pk]
    note = Notification.objects.get(pk=sms[0].notification_id)
    assert note.recipient == household_a.phone and "春耕施肥要点已发布" in note.text
    assert note.status == Notification.Status.SENT  # delivered through the core SMS backend
    assert notice.stations_reached == 2 and notice.sms_queued == 1

    # The station of another county sees nothing; staff of station A see it once.
    assert list(services.visible_notices(staff_a).values_list("notice_id", flat=True)) == [notice.pk]


def test_fan_out_again_sends_nothing_twice_and_one_phone_gets_one_sms(
    publish, committed, county_staff, county, station_a, household_a
):
    twin = Household.objects.create(
        station=station_a, village=station_a.village, name="同号户", phone="13900001111"
    )
    other = Household.objects.create(
        station=make_station(county, "ST-C", "丙"),
        village=station_a.village,
        name="另站同号",
        phone="13900001111",
    )
    opt_in(household_a, twin, other)
    notice = publish(county_staff, notice_input(county_ids=[county.pk], send_sms=True, sms_text="通知"))
    assert (
        NoticeSms.objects.filter(notice=notice).count() == 2
    )  # household_a + one of the two sharing a phone
    Notice.objects.filter(pk=notice.pk).update(fanout_status=FanoutStatus.FAILED)
    with committed():
        services.fan_out(notice.pk)  # a retry after a crash
    assert NoticeSms.objects.filter(notice=notice).count() == 2
    assert Notification.objects.filter(dedupe_key__startswith=f"village:notice:{notice.pk}:").count() == 2


def test_daily_cap_per_household(publish, county_staff, county, station_a, household_a, settings):
    settings.VILLAGE_INFO_SMS_DAILY_CAP = 2
    opt_in(household_a)
    notices = [
        publish(
            county_staff,
            notice_input(title=f"通知{i}", county_ids=[county.pk], send_sms=True, sms_text="短信"),
        )
        for i in range(3)
    ]
    assert NoticeSms.objects.filter(household=household_a).count() == 2
    last = Notice.objects.get(pk=notices[-1].pk)
    assert last.sms_over_cap == 1 and last.sms_queued == 0
    assert NoticeReceipt.objects.filter(notice=last).exists()  # the station still gets the notice


def test_opt_out_stops_sms(publish, county_staff, county, station_a, household_a, staff_a):
    opt_in(household_a)
    services.set_sms_preference(staff_a, household_a, False)
    publish(county_staff, notice_input(county_ids=[county.pk], send_sms=True, sms_text="短信"))
    assert not NoticeSms.objects.exists()
    opt_in(household_a)
    assert services.opt_out_by_phone(household_a.phone) == 1
    assert not SmsPreference.objects.get(household=household_a).opted_in


def test_audience_is_limited_to_the_publishers_counties(
    publish, county_staff, other_county, station_far, county
):
    with pytest.raises(ValidationError) as exc:
        publish(county_staff, notice_input(county_ids=[other_county.pk]))
    assert "county_ids" in exc.value.error_dict
    with pytest.raises(ValidationError) as exc:
        publish(county_staff, notice_input(station_ids=[station_far.pk]))
    assert "county_ids" in exc.value.error_dict
    with pytest.raises(ValidationError) as exc:
        publish(county_staff, notice_input(whole_province=True))
    assert "whole_province" in exc.value.error_dict
    assert not Notice.objects.exists()


def test_station_staff_cannot_publish(publish, staff_a, county):
    with pytest.raises(PermissionDenied):
        publish(staff_a, notice_input(county_ids=[county.pk]))


def test_bad_input_names_the_field(publish, county_staff, county):
    cases = [
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"body": "a\x00b"}, "body"),
        ({"kind": "spam"}, "kind"),
        ({"send_sms": True, "sms_text": ""}, "sms_text"),
        ({"expires_at": timezone.now() - timedelta(hours=1)}, "expires_at"),
    ]
    for extra, field in cases:
        with pytest.raises(ValidationError) as exc:
            publish(county_staff, notice_input(county_ids=[county.pk], **extra))
        assert field in exc.value.error_dict, (extra, exc.value)


def test_operator_publishes_province_wide(publish, operator, station_a, station_far):
    notice = publish(operator, notice_input(whole_province=True))
    assert NoticeReceipt.objects.filter(notice=notice).count() == 2


def test_scheduled_notice_is_published_by_the_periodic_task(
    publish, committed, county_staff, county, station_a, staff_a
):
    later = timezone.now() + timedelta(hours=2)
    notice = publish(county_staff, notice_input(county_ids=[county.pk], publish_at=later))
    assert notice.status == NoticeStatus.SCHEDULED
    assert not services.visible_notices(staff_a).exists()
    with committed():
        assert services.publish_due_notices(now=later + timedelta(minutes=1)) == 1
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PUBLISHED and notice.fanout_status == FanoutStatus.DONE
    assert services.visible_notices(staff_a, now=later + timedelta(minutes=2)).count() == 1


def test_expired_and_withdrawn_notices_are_hidden(publish, county_staff, county, station_a, staff_a):
    notice = publish(
        county_staff, notice_input(county_ids=[county.pk], expires_at=timezone.now() + timedelta(days=1))
    )
    assert services.visible_notices(staff_a).count() == 1
    assert services.visible_notices(staff_a, now=timezone.now() + timedelta(days=2)).count() == 0
    services.withdraw_notice(county_staff, notice)
    assert services.visible_notices(staff_a).count() == 0


def test_read_and_posted_receipts_through_the_pages(
    publish, county_staff, county, station_a, station_b, staff_a, staff_b
):
    notice = publish(county_staff, notice_input(county_ids=[county.pk]))
    client = Client()
    client.force_login(staff_a)
    page = client.get(reverse("info:notice", args=[notice.pk]))
    assert page.status_code == 200 and "底肥亩施配方肥40公斤" in page.content.decode()
    receipt = NoticeReceipt.objects.get(notice=notice, station=station_a)
    assert receipt.read_at is not None and receipt.read_by == staff_a
    client.post(reverse("info:notice-posted", args=[receipt.pk]))
    receipt.refresh_from_db()
    assert receipt.posted_at is not None
    # Staff of station B may not confirm station A's copy.
    other = Client()
    other.force_login(staff_b)
    assert other.post(reverse("info:notice-posted", args=[receipt.pk])).status_code == 404
    # The author sees the receipts summary.
    author = Client()
    author.force_login(county_staff)
    html = author.get(reverse("info:notice", args=[notice.pk])).content.decode()
    summary = services.receipt_summary(notice)
    assert (summary.stations, summary.read, summary.posted) == (2, 1, 1)
    assert station_b.name in html
    pdf = client.get(reverse("info:notice-sheet", args=[notice.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_other_station_and_county_cannot_read(
    publish, county_staff, county, station_a, station_far, other_county
):
    notice = publish(county_staff, notice_input(station_ids=[station_a.pk]))
    far_staff = make_user("far_staff", Role.STATION_STAFF)
    from marketplace.stations.models import StationStaff

    StationStaff.objects.create(station=station_far, user=far_staff)
    far_county = make_user("far_county", Role.COUNTY_STAFF)
    CountyAssignment.objects.create(county=other_county, user=far_county)
    for user in (far_staff, far_county):
        client = Client()
        client.force_login(user)
        assert client.get(reverse("info:notice", args=[notice.pk])).status_code == 404
        assert client.get(reverse("info:notice-sheet", args=[notice.pk])).status_code == 404
        assert notice.title not in client.get(reverse("info:notices")).content.decode()


def test_publish_page_end_to_end(committed, county_staff, county, station_a, household_a, staff_a):
    opt_in(household_a)
    client = Client()
    client.force_login(county_staff)
    with committed():
        response = client.post(
            reverse("info:notice-new"),
            {
                "title": "倒春寒预警",
                "kind": "warning",
                "body": "注意防冻。",
                "counties": [county.pk],
                "send_sms": "on",
                "sms_text": "倒春寒预警，注意防冻",
            },
        )
    notice = Notice.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("info:notice", args=[notice.pk])
    assert NoticeSms.objects.filter(notice=notice, household=household_a).exists()
    bad = client.post(
        reverse("info:notice-new"), {"title": "", "kind": "warning", "body": "x", "counties": [county.pk]}
    )
    assert bad.status_code == 200 and "请填写" in bad.content.decode()
    assert Notice.objects.count() == 1
