"""Issue 11 items 1, 6, 8: hostile GraphQL documents are refused before they run; bad input is refused
naming the field; internal exceptions are logged and masked."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def post(body: dict | str, client: Client | None = None, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return (client or Client()).post("/graphql/", data, content_type="application/json", **headers)


def aliased(field: str, n: int) -> str:
    return "{ " + " ".join(f"a{i}: {field}" for i in range(n)) + " }"


SEARCH = 'search(query: "复合肥", first: 100) { items { id title } totalCount }'


def test_250_aliased_searches_are_refused_before_running(django_assert_max_num_queries):
    query = aliased(SEARCH, 250)
    assert 15_000 < len(query) < 65_536  # like the 22 KB request
    with django_assert_max_num_queries(2):  # statement_timeout SET and RESET; no search ran
        r = post({"query": query})
    errors = r.json()["errors"]
    assert r.status_code == 400 and "data" not in r.json()
    assert "TOO_MANY_ALIASES" in {e["extensions"]["code"] for e in errors}


def test_1000_aliases_are_refused():
    r = post({"query": aliased("__typename", 1000)})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"


def test_100_aliased_token_create_guesses_are_refused(staff_a):
    guesses = " ".join(
        f'g{i}: tokenCreate(username: "staff_a", password: "guess{i}") {{ token }}' for i in range(100)
    )
    r = post({"query": f"mutation {{ {guesses} }}"})
    assert r.status_code == 400
    codes = {e["extensions"]["code"] for e in r.json()["errors"]}
    assert codes == {"TOO_MANY_ALIASES", "QUERY_TOO_COMPLEX"}
    assert "data" not in r.json()  # no guess was checked


def test_cost_limit_counts_pages_and_expensive_fields():
    # No aliases: the same expensive field can still be asked for under different arguments.
    few = " ".join(f'a{i}: search(query: "q{i}", first: 100) {{ items {{ id }} }}' for i in range(10))
    r = post({"query": "{ " + few + " }"})
    body = r.json()
    assert r.status_code == 400
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["extensions"]["cost"] > body["errors"][0]["extensions"]["maximum"]
    # One ordinary page is well within it.
    ok = post({"query": '{ search(query: "复合肥", first: 20) { items { id title } totalCount } }'})
    assert ok.status_code == 200 and "errors" not in ok.json(), ok.content


def test_cost_uses_variables_for_page_size():
    query = 'query($n: Int) { a: search(query: "x", first: $n) { items { id stockRecords { price { amount } } } } }'
    assert post({"query": query, "variables": {"n": 5}}).status_code == 200
    big = post({"query": query.replace("a: search", "search") + "", "variables": {"n": 100}})
    # 100 items × (1 + stock records 1 + price 1) plus the search itself stays under 1,000 …
    assert big.status_code == 200, big.content
    nested = (
        '{ a: search(query:"x", first:100){ items { id stockRecords { price { amount } } } }'
        ' b: search(query:"y", first:100){ items { id stockRecords { price { amount } } } }'
        ' c: search(query:"z", first:100){ items { id stockRecords { price { amount } } } }'
        ' d: search(query:"w", first:100){ items { id stockRecords { price { amount } } } } }'
    )
    # … four of them do not.
    assert post({"query": nested}).json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_depth_limit():
    deep = "{ " + "a { " * 12 + "b" + " }" * 12 + " }"
    r = post({"query": deep})
    assert r.status_code == 400
    assert "exceeds maximum operation depth" in r.json()["errors"][0]["message"]


def test_request_body_is_bounded():
    r = post({"query": "{ me { username } }", "padding": "x" * 70_000})
    assert r.status_code == 413
    assert r.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


def test_token_limit_stops_the_lexer():
    r = post({"query": "{ " + "__typename " * 5500 + "}"})
    assert r.status_code == 400
    assert "token" in r.json()["errors"][0]["message"].lower()


@override_settings(GRAPHQL_PUBLIC_INTROSPECTION=False)
def test_introspection_and_suggestions_off_for_anonymous(staff_a):
    r = post({"query": "{ __schema { types { name } } }"})
    assert r.status_code == 400
    assert "introspection" in r.json()["errors"][0]["message"].lower()
    typo = post({"query": '{ seach(query: "x") { totalCount } }'})
    message = typo.json()["errors"][0]["message"]
    assert "seach" in message and "Did you mean" not in message
    # Signed-in users keep both.
    client = Client()
    client.force_login(staff_a)
    assert post({"query": "{ __schema { queryType { name } } }"}, client).json()["data"]
    assert (
        "Did you mean"
        in post({"query": '{ seach(query: "x") { totalCount } }'}, client).json()["errors"][0]["message"]
    )


def test_request_deadline_stops_resolving():
    with override_settings(GRAPHQL_REQUEST_SECONDS=-1):  # already past: nothing resolves
        r = post({"query": "{ me { username } }"})
    assert r.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"


def test_statement_timeout_bounds_sql_on_postgresql(staff_a):
    from django.db import connection

    assert connection.vendor == "postgresql"
    with override_settings(GRAPHQL_REQUEST_SECONDS=3):
        post({"query": "{ me { username } }"})
    with connection.cursor() as cursor:  # reset after the request
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


@pytest.mark.django_db(transaction=True)
def test_statement_timeout_is_set_once_per_connection_outside_a_transaction():
    """In production (no transaction around the request) the bound stays on the connection: a
    request whose budget is already set sends no SET, a changed budget is set again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def timeout() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    with override_settings(GRAPHQL_REQUEST_SECONDS=3):
        post({"query": "{ __typename }"})
        assert timeout() == "3s"
        with CaptureQueriesContext(connection) as ctx:
            post({"query": "{ __typename }"})
        assert not any("statement_timeout" in q["sql"] for q in ctx.captured_queries)
    with override_settings(GRAPHQL_REQUEST_SECONDS=4):
        with CaptureQueriesContext(connection) as ctx:
            post({"query": "{ __typename }"})
        assert sum("statement_timeout" in q["sql"] for q in ctx.captured_queries) == 1
        assert timeout() == "4s"
    connection.close()  # a new connection starts without the bound, and gets it on its first request
    assert timeout() == "0"
    with override_settings(GRAPHQL_REQUEST_SECONDS=4):
        post({"query": "{ __typename }"})
    assert timeout() == "4s"


# --- Input bounds (item 6) ------------------------------------------------------------------------


def test_non_numeric_id_is_a_typed_error_not_an_orm_message(gql, staff_a):
    out = gql(staff_a)('{ station(id: "abc") { name } }')
    err = out["errors"][0]
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    assert "expected a number" not in json.dumps(out)
    assert out["data"]["station"] is None
    huge = gql(staff_a)('{ station(id: "99999999999999999999") { name } }')
    assert huge["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_id_inside_a_mutation_is_a_typed_mutation_error(gql, staff_a):
    out = gql(staff_a)(
        'mutation { householdSetCreditLimit(id: "1 OR 1=1", creditLimit: "100") { errors { field code message } } }'
    )
    assert out["data"]["householdSetCreditLimit"]["errors"] == [
        {"field": "id", "code": "INVALID", "message": "无效的编号"}
    ]


def test_money_with_too_many_places_is_refused_not_rounded(gql, staff_a, household_a):
    out = gql(staff_a)(
        "mutation($id: ID!, $v: MoneyAmount!) { householdSetCreditLimit(id: $id, creditLimit: $v)"
        " { household { id } errors { field code message } } }",
        {"id": str(household_a.pk), "v": "100.123456"},
    )
    errors = out["data"]["householdSetCreditLimit"]["errors"]
    assert errors[0]["field"] == "creditLimit" and errors[0]["code"] == "INVALID"
    before = household_a.credit_limit
    household_a.refresh_from_db()
    assert household_a.credit_limit == before  # nothing written, nothing rounded


def test_negative_counted_cash_is_refused(gql, staff_a, station_a):
    from marketplace.payments.models import CashReconciliation

    out = gql(staff_a)(
        'mutation($s: ID!) { cashReconcile(stationId: $s, counted: "-50") { difference { amount }'
        " errors { field code message } } }",
        {"s": str(station_a.pk)},
    )
    assert out["data"]["cashReconcile"]["errors"][0]["field"] == "counted"
    assert not CashReconciliation.objects.exists()


def test_negative_counted_cash_is_refused_by_the_service_too(staff_a, station_a):
    from decimal import Decimal

    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from marketplace.payments import services

    for bad in (Decimal("-50"), Decimal("10.005")):
        with pytest.raises(ValidationError) as exc:
            services.reconcile_cash(staff_a, station_a, timezone.localdate(), bad)
        assert "counted" in exc.value.message_dict


def test_nul_bytes_and_over_long_strings_are_refused(gql, staff_a):
    out = gql(staff_a)('{ stations(search: "a\\u0000b") { totalCount } }')
    assert out["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "search"}, out
    long = gql(staff_a)("query($s: String) { stations(search: $s) { totalCount } }", {"s": "x" * 10_001})
    assert long["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_decimal_overflow_and_nan_are_refused(gql, staff_a):
    for value in ("1e20", "NaN", "Infinity"):
        out = gql(staff_a)(
            'query($v: Decimal) { search(query: "x", filters: {nMin: $v}) { totalCount } }', {"v": value}
        )
        assert out["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "filters.nMin"}, value
        assert "InvalidOperation" not in json.dumps(out) and "overflow" not in json.dumps(out)


def test_unhandled_resolver_error_is_logged_and_masked(caplog, rf):
    """The view's masking, on a schema whose one field fails the way a resolver bug does."""
    import graphene

    from marketplace.graphql.views import MarketplaceGraphQLView

    class Query(graphene.ObjectType):
        broken = graphene.Int()

        @staticmethod
        def resolve_broken(root, info):
            phone = "".join(["138", "1234", "5678"])
            raise ValueError(f"household {phone} not found")  # an exception carrying personal data

    view = MarketplaceGraphQLView.as_view(schema=graphene.Schema(query=Query))
    request = rf.post("/graphql/", json.dumps({"query": "{ broken }"}), content_type="application/json")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    with caplog.at_level(logging.ERROR, logger="marketplace.graphql"):
        out = json.loads(view(request).content)
    assert out["errors"][0]["extensions"] == {"code": "INTERNAL_ERROR"}
    assert out["errors"][0]["message"] == "服务器内部错误，请稍后重试"
    assert "13812345678" not in json.dumps(out)
    text = next(r for r in caplog.records if r.name == "marketplace.graphql").getMessage()
    assert "ValueError" in text and "resolve_broken" in text  # type and traceback
    assert "13812345678" not in text  # not the message
