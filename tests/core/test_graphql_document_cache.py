"""Issue #14: each distinct GraphQL text is parsed and validated once per worker, and every limit
still applies to every request: aliases, depth, tokens and cost (also when the cost depends on the
request's variables), the bounds middleware, introspection for anonymous users, and settings
changes (the limits are part of the cache key)."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from marketplace.accounts.models import ApiToken
from marketplace.graphql.views import DOCUMENTS

pytestmark = pytest.mark.django_db


def post(body: dict, **headers):
    return Client().post("/graphql/", json.dumps(body), content_type="application/json", **headers)


def codes(response) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in response.json().get("errors", [])}


@pytest.fixture(autouse=True)
def empty_cache():
    DOCUMENTS.clear()
    yield
    DOCUMENTS.clear()


def test_a_repeated_text_is_validated_once_and_still_refused_every_time():
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"
    misses = DOCUMENTS.misses
    for _ in range(3):
        r = post({"query": query})
        assert r.status_code == 400 and codes(r) == {"TOO_MANY_ALIASES"}
    assert DOCUMENTS.misses == misses + 1 and DOCUMENTS.hits >= 2


def test_depth_and_token_limits_apply_to_cached_documents():
    deep = "{ " + "a { " * 12 + "b" + " }" * 12 + " }"
    for _ in range(2):
        r = post({"query": deep})
        assert r.status_code == 400
        assert "exceeds maximum operation depth" in r.json()["errors"][0]["message"]
    many = "{ " + "__typename " * 5500 + "}"
    for _ in range(2):
        r = post({"query": many})
        assert r.status_code == 400 and "token" in r.json()["errors"][0]["message"].lower()


def test_cost_from_variables_is_checked_per_request_on_the_same_text():
    query = (
        "query($n: Int){ "
        + " ".join(
            f'a{i}: search(query: "q{i}", first: $n) {{ items {{ id stockRecords {{ price {{ amount }} }} }} }}'
            for i in range(4)
        )
        + " }"
    )
    small = post({"query": query, "variables": {"n": 2}})
    assert small.status_code == 200 and "errors" not in small.json(), small.content
    big = post({"query": query, "variables": {"n": 100}})
    assert big.status_code == 400 and codes(big) == {"QUERY_TOO_COMPLEX"}
    again = post({"query": query, "variables": {"n": 2}})
    assert again.status_code == 200 and "errors" not in again.json()


def test_changed_limits_are_not_answered_from_the_cache():
    query = "{ a: __typename b: __typename c: __typename }"
    assert post({"query": query}).status_code == 200
    with override_settings(GRAPHQL_MAX_ALIASES=2):
        r = post({"query": query})
        assert r.status_code == 400 and codes(r) == {"TOO_MANY_ALIASES"}
    assert post({"query": query}).status_code == 200


def test_bounds_middleware_runs_on_every_request_of_a_cached_document(staff_a):
    _, raw = ApiToken.issue(staff_a)
    query = "query($id: ID!){ station(id: $id){ id } }"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    bad = post({"query": query, "variables": {"id": "abc"}}, **auth)
    assert "BAD_USER_INPUT" in codes(bad)
    bad_again = post({"query": query, "variables": {"id": "0"}}, **auth)
    assert "BAD_USER_INPUT" in codes(bad_again)
    good = post(
        {"query": query, "variables": {"id": str(staff_a.station_memberships.get().station_id)}}, **auth
    )
    assert "errors" not in good.json(), good.content


@override_settings(GRAPHQL_PUBLIC_INTROSPECTION=False)
def test_introspection_refusal_for_anonymous_is_not_shared_with_logged_in_users(staff_a):
    query = "{ __schema { queryType { name } } }"
    assert post({"query": query}).status_code == 400
    _, raw = ApiToken.issue(staff_a)
    ok = post({"query": query}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ok.status_code == 200 and ok.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    assert post({"query": query}).status_code == 400


def test_the_cache_is_bounded():
    for i in range(DOCUMENTS.max_entries + 20):
        DOCUMENTS.put((f"{{ a{i}: __typename }}",), object())  # type: ignore[arg-type]
    assert len(DOCUMENTS._entries) == DOCUMENTS.max_entries
    assert DOCUMENTS.chars <= DOCUMENTS.max_chars
