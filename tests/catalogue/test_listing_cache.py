"""The catalogue read cache (marketplace/graphql/catalogue/response_cache.py) and the list thumbnail.

A cached answer must never outlive a change of price, stock or sellability (each test changes one
through the path the product uses — supplier service, allocation, the licence check, the partner
review — and expects it in the very next response), and never reach a viewer of another station.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oscar.core.loading import get_model
from PIL import Image
from testkit import GraphQLClient, make_fertilizer

from marketplace.accounts.models import ApiToken
from marketplace.apps.catalogue.compliance import enforce_licences
from marketplace.apps.partner import services as partner_services
from marketplace.apps.partner.models import PartnerLicence, StockRecord
from marketplace.graphql.catalogue.response_cache import cacheable_document

pytestmark = pytest.mark.django_db

LIST = "query($first: Int){ products(first: $first){ totalCount items{ id title available minPrice{ amount } } } }"
THUMBS = "query($size: Int){ products(first: 10){ items{ title thumbnail(size: $size) } } }"
ProductImage = get_model("catalogue", "ProductImage")


def gql_as(user=None) -> GraphQLClient:
    token = ApiToken.issue(user)[1] if user is not None else None
    return GraphQLClient(Client(), token)


def listing(gql: GraphQLClient) -> dict[str, dict]:
    body = gql(LIST, {"first": 20})
    assert "errors" not in body, body
    return {item["title"]: item for item in body["data"]["products"]["items"]}


def jpeg() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (600, 400), (40, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def fert(product_classes, supplier):
    return make_fertilizer(product_classes, supplier, "C1", "缓存复合肥 15-15-15", price="150.00", stock=40)


def test_repeated_catalogue_read_is_served_from_the_cache(fert):
    gql = gql_as()
    first = listing(gql)
    with CaptureQueriesContext(connection) as ctx:
        again = listing(gql)
    assert again == first
    sql = [q["sql"] for q in ctx.captured_queries]
    assert "SELECT last_value FROM catalogue_listing_generation" in sql  # the one catalogue read ...
    touched = [q for q in sql if ("catalogue_" in q or "partner_" in q) and "listing_generation" not in q]
    assert touched == [], touched  # ... and no product, stock or partner query: served from the cache


def test_price_change_shows_in_the_next_response(fert, supplier_user):
    gql = gql_as()
    assert listing(gql)[fert.title]["minPrice"]["amount"] == "150.00"
    record = StockRecord.objects.get(product=fert)
    partner_services.set_stock(supplier_user, record, price=Decimal("138.50"))
    assert listing(gql)[fert.title]["minPrice"]["amount"] == "138.50"


def test_stock_change_and_allocation_show_in_the_next_response(fert, supplier_user):
    gql = gql_as()
    assert listing(gql)[fert.title]["available"] == 40
    record = StockRecord.objects.get(product=fert)
    partner_services.set_stock(supplier_user, record, num_in_stock=25)
    assert listing(gql)[fert.title]["available"] == 25
    StockRecord.objects.get(product=fert).allocate(5)  # a checkout / pledge hand-over
    assert listing(gql)[fert.title]["available"] == 20


def test_licence_expiry_shows_in_the_next_response(fert):
    gql = gql_as()
    assert fert.title in listing(gql)
    # Time passes: the fertilizer registration expires (no save — nothing but the clock changes).
    PartnerLicence.objects.filter(product=fert).update(valid_until=timezone.localdate() - timedelta(days=1))
    # The stock rule is still met until the licence check runs (STOCK_RULE reads compliance_blocked),
    # so a cached answer is still the truth; the periodic check blocks the stock ...
    assert fert.title in listing(gql)
    result = enforce_licences(notify=False)
    assert result["blocked"] >= 1, result
    # ... and the very next response no longer offers it.
    assert fert.title not in listing(gql)


def test_sellability_change_by_partner_review_shows_in_the_next_response(fert, supplier, operator):
    gql = gql_as()
    assert fert.title in listing(gql)
    partner_services.suspend_partner(operator, supplier, "资质核查")
    assert fert.title not in listing(gql)
    partner_services.approve_partner(operator, supplier)
    assert fert.title in listing(gql)


def test_generation_advances_at_the_change_and_again_on_commit(
    fert, supplier_user, django_capture_on_commit_callbacks
):
    """Advanced at once (later reads in the transaction) and after commit (a concurrent request
    may have cached the old rows under the first new value in between)."""
    from marketplace.search.sync import current_generation

    before = current_generation()
    with django_capture_on_commit_callbacks(execute=True):
        partner_services.set_stock(supplier_user, StockRecord.objects.get(product=fert), price=Decimal("149"))
        during = current_generation()
    assert before < during < current_generation()


def test_no_cached_answer_crosses_stations(fert, staff_a, staff_b):
    gql_a, gql_b, public = gql_as(staff_a), gql_as(staff_b), gql_as()
    assert listing(gql_a)[fert.title]["minPrice"]["amount"] == "150.00"
    # A write that bypasses every hook (raw SQL): cached answers are not retired, so whoever is
    # served from station A's entry would still see 150.00.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE partner_stockrecord SET price = 99.00 WHERE product_id = %s", [fert.pk])
    assert listing(gql_a)[fert.title]["minPrice"]["amount"] == "150.00"  # A's own cached answer
    assert listing(gql_b)[fert.title]["minPrice"]["amount"] == "99.00"  # never A's entry
    assert listing(public)[fert.title]["minPrice"]["amount"] == "99.00"


def test_only_catalogue_queries_are_cacheable():
    assert cacheable_document("{ products(first: 5){ items{ id } } }", None)
    assert cacheable_document('query Q{ search(query: "肥"){ totalCount } categories{ name } }', "Q")
    assert not cacheable_document("{ products(first: 5){ items{ id } } me{ username } }", None)
    assert not cacheable_document("mutation{ stockUpdate(input: {}){ created } }", None)
    assert not cacheable_document("{ ...F } fragment F on Query { products{ totalCount } }", None)
    assert not cacheable_document("{ products(", None)
    six_roots = " ".join(f"a{i}: categories{{ name }}" for i in range(6))
    assert not cacheable_document("{ " + six_roots + " }", None)


def test_errors_are_not_cached(fert):
    gql = gql_as()
    bad = 'query{ search(query: "肥", filters: {productTypes: ["nope"]}){ totalCount } }'
    assert gql(bad).get("errors")
    with CaptureQueriesContext(connection) as ctx:
        assert gql(bad).get("errors")
    assert ctx.captured_queries  # executed again, not replayed


def test_thumbnail_is_a_resized_image_url(fert, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    gql = gql_as()
    assert gql(THUMBS, {"size": 100})["data"]["products"]["items"][0]["thumbnail"] is None
    image = ProductImage.objects.create(
        product=fert, original=SimpleUploadedFile("bag.jpg", jpeg(), "image/jpeg"), display_order=0
    )
    url = gql(THUMBS, {"size": 100})["data"]["products"]["items"][0]["thumbnail"]
    assert url == f"http://testserver/catalogue/thumbnail/{image.pk}/128/"
    response = Client().get(url.removeprefix("http://testserver"))
    assert response.status_code == 302
    stored = tmp_path / response["Location"].removeprefix(settings.MEDIA_URL)
    with Image.open(stored) as resized:
        assert max(resized.size) == 128
    assert Client().get(f"/catalogue/thumbnail/{image.pk}/300/").status_code == 404  # not an offered size
    fert.is_public = False
    fert.save()
    assert Client().get(f"/catalogue/thumbnail/{image.pk}/128/").status_code == 404


def test_thumbnail_first_image_by_display_order(fert, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    later = ProductImage.objects.create(
        product=fert, original=SimpleUploadedFile("b.jpg", jpeg(), "image/jpeg"), display_order=2
    )
    first = ProductImage.objects.create(
        product=fert, original=SimpleUploadedFile("a.jpg", jpeg(), "image/jpeg"), display_order=1
    )
    url = gql_as()(THUMBS, {"size": 2000})["data"]["products"]["items"][0]["thumbnail"]
    assert url.endswith(f"/catalogue/thumbnail/{first.pk}/1024/")
    assert later.pk != first.pk
