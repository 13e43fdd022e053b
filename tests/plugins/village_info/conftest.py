from __future__ import annotations

import pytest
from testkit import make_user

from marketplace.accounts.models import Role
from marketplace.stations.models import CountyAssignment


@pytest.fixture
def county_staff(county):
    user = make_user("county_a", Role.COUNTY_STAFF)
    CountyAssignment.objects.create(county=county, user=user)
    return user


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed(): ...`` runs what the block queued for after commit (fan-out tasks, SMS
    delivery), as a real commit would; the test's own transaction is still rolled back."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
