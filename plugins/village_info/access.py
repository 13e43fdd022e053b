"""Who may publish, read and answer what — built on marketplace.core.permissions.

- Operators publish province-wide and see everything.
- County staff and agronomists publish to, survey and answer for the counties they are assigned to.
- Station staff read the notices addressed to their stations, record their own households' survey
  answers and ask questions for them; they never see another station's answers or questions.
- A farmer with a login reads the notices of their own station.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy

from marketplace.accounts.models import Role
from marketplace.core import permissions
from marketplace.stations.models import County, Household, Station

from .models import Notice, NoticeReceipt, Question, Survey, SurveyAnswer

COUNTY_ROLES = (Role.COUNTY_STAFF, Role.AGRONOMIST)


def _signed_in(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_county_user(user: Any) -> bool:
    return permissions.is_operator(user) or (_signed_in(user) and user.role in COUNTY_ROLES)


def counties_for(user: Any) -> QuerySet[County]:
    """Counties the user speaks for: all for operators, the assigned ones for county users."""
    if permissions.is_operator(user):
        return County.objects.all()
    if _signed_in(user) and user.role in COUNTY_ROLES:
        return County.objects.filter(assignments__user=user)
    return County.objects.none()


def can_publish(user: Any) -> bool:
    return is_county_user(user)


def can_publish_province_wide(user: Any) -> bool:
    return permissions.is_operator(user)


def managed_notices(user: Any) -> QuerySet[Notice]:
    """Notices the user may edit, withdraw and follow up: operators all, county users their own and
    those reaching their counties."""
    if permissions.is_operator(user):
        return Notice.objects.all()
    if not is_county_user(user):
        return Notice.objects.none()
    reaching = NoticeReceipt.objects.filter(station__county__in=counties_for(user)).values("notice_id")
    return Notice.objects.filter(Q(author=user) | Q(pk__in=reaching))


def receipts_for(user: Any) -> QuerySet[NoticeReceipt]:
    """Station copies of published notices the user may read (station staff, farmers: their station)."""
    return NoticeReceipt.objects.filter(station__in=permissions.stations_for(user))


def managed_receipts(user: Any) -> QuerySet[NoticeReceipt]:
    """Station copies the user may mark read or posted: staff of the station."""
    return NoticeReceipt.objects.filter(station__in=permissions.managed_stations(user))


def surveys_for(user: Any) -> QuerySet[Survey]:
    """Surveys of the counties the user works in (county users) or whose stations they staff."""
    if is_county_user(user):
        return Survey.objects.filter(county__in=counties_for(user))
    return Survey.objects.filter(county__in=permissions.managed_stations(user).values("county_id"))


def managed_surveys(user: Any) -> QuerySet[Survey]:
    """Surveys the user may define, open and close."""
    if not is_county_user(user):
        return Survey.objects.none()
    return Survey.objects.filter(county__in=counties_for(user))


def answers_for(user: Any) -> QuerySet[SurveyAnswer]:
    """Answers the user may read: their counties' (county users) or their stations' own."""
    if is_county_user(user):
        return SurveyAnswer.objects.filter(survey__county__in=counties_for(user))
    return SurveyAnswer.objects.filter(station__in=permissions.managed_stations(user))


def answerable_households(user: Any) -> QuerySet[Household]:
    """Households whose answers the user may record: the stations' staff."""
    return Household.objects.filter(station__in=permissions.managed_stations(user), is_active=True)


def questions_for(user: Any) -> QuerySet[Question]:
    if is_county_user(user):
        return Question.objects.filter(county__in=counties_for(user))
    return Question.objects.filter(station__in=permissions.managed_stations(user))


def can_answer(user: Any, question: Question) -> bool:
    return is_county_user(user) and counties_for(user).filter(pk=question.county_id).exists()


def askable_stations(user: Any) -> QuerySet[Station]:
    return permissions.managed_stations(user)


def can_record_prices(user: Any, county: County | None) -> bool:
    if county is None:
        return permissions.is_operator(user)
    return counties_for(user).filter(pk=county.pk).exists()


# Declared permissions (GraphQL ``Meta.permissions`` and ``permission_required`` pages); which
# counties, stations and households stay in the querysets above.
PUBLISH = permissions.register(
    permissions.Permission("village_info.publish", can_publish, gettext_lazy("无权发布通知"))
)
COUNTY_WORK = permissions.register(
    permissions.Permission(
        "village_info.county_work", is_county_user, gettext_lazy("只有县级人员、农技人员或平台运营可以操作")
    )
)
STATION_WORK = permissions.STATION_STAFF
