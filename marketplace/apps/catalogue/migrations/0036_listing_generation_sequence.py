"""PostgreSQL only: the sequence ``catalogue_listing_generation`` — the catalogue's change counter.

Every price / stock / sellability / product change advances it after commit
(``marketplace.search.sync.catalogue_changed``); the GraphQL listing response cache
(``marketplace.graphql.catalogue.response_cache``) puts its current value in every cache key, so
one ``nextval`` retires every cached listing in every process at once. A sequence, not a row: a
``nextval`` takes no row lock, so concurrent stock writers never queue behind each other.
SQLite (embedded, one process) keeps the counter in the process cache instead.
"""

from django.db import migrations


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE SEQUENCE IF NOT EXISTS catalogue_listing_generation")


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP SEQUENCE IF EXISTS catalogue_listing_generation")


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0035_product_search_vector"),
    ]

    operations = [
        migrations.RunPython(_create, _drop, elidable=False),
    ]
