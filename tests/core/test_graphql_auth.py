"""GraphQL authentication: bearer tokens, session + CSRF, typed errors."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from testkit import PASSWORD

from marketplace.accounts.models import ApiToken

pytestmark = pytest.mark.django_db
ME = json.dumps({"query": "{ me { username role } }"})


def test_token_create_with_username_or_phone(gql, staff_a):
    staff_a.phone = "13500000001"
    staff_a.save()
    for login in ("staff_a", "13500000001"):
        payload = gql()(
            "mutation($u:String!,$p:String!){ tokenCreate(username:$u,password:$p){ token errors{field code} } }",
            {"u": login, "p": PASSWORD},
        )["data"]["tokenCreate"]
        assert payload["errors"] == [] and payload["token"]
    assert ApiToken.objects.filter(user=staff_a).count() == 2


def test_token_create_wrong_password_is_a_typed_error(gql, staff_a):
    payload = gql()(
        'mutation{ tokenCreate(username:"staff_a",password:"nope"){ token errors{field code message} } }'
    )["data"]["tokenCreate"]
    assert payload["token"] is None
    assert payload["errors"] == [
        {"field": "password", "code": "INVALID_CREDENTIALS", "message": "用户名或密码错误"}
    ]


def test_bearer_token_authenticates_and_revoke_ends_it(staff_a):
    _, raw = ApiToken.issue(staff_a)
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    r = client.post("/graphql/", ME, content_type="application/json", **headers)
    assert r.json()["data"]["me"] == {"username": "staff_a", "role": "STATION_STAFF"}
    revoke = json.dumps({"query": "mutation{ tokenRevoke{ revoked errors{code} } }"})
    assert client.post("/graphql/", revoke, content_type="application/json", **headers).json()["data"][
        "tokenRevoke"
    ]["revoked"]
    assert client.post("/graphql/", ME, content_type="application/json", **headers).status_code == 401


def test_invalid_token_is_rejected(db):
    r = Client().post("/graphql/", ME, content_type="application/json", HTTP_AUTHORIZATION="Bearer forged")
    assert r.status_code == 401


def test_session_requests_need_csrf(staff_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_a)
    assert client.post("/graphql/", ME, content_type="application/json").status_code == 403
    client.get("/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    r = client.post("/graphql/", ME, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200
    assert r.json()["data"]["me"]["username"] == "staff_a"


def test_anonymous_me_is_null(db):
    assert Client().post("/graphql/", ME, content_type="application/json").json()["data"]["me"] is None
