"""PostgreSQL only: a stored, GIN-indexed ``search_vector`` generated from ``search_text``.

``catalogue_product.search_vector`` is ``GENERATED ALWAYS AS (to_tsvector('simple', …)) STORED``,
so PostgreSQL keeps it in step on every write path (``save()``, the importer's ``bulk_create`` /
``bulk_update``, ``rebuild_search_index``, raw SQL) with nothing to maintain in the app. The
Django model does not declare it (it is never loaded with a product); ``marketplace.search.db``
reads it through ``StoredSearchVector``. It replaces the GIN *expression* index of migration 0033,
which made every match recheck and ``ts_rank`` re-parse ``search_text``.

SQLite has no tsvector: nothing happens there and search keeps its whole-token ``LIKE`` path.
Adding the column rewrites ``catalogue_product`` once (ACCESS EXCLUSIVE, ~2 s for 50k products).
"""

from django.db import migrations

EXPRESSION_INDEX = (
    "CREATE INDEX IF NOT EXISTS catalogue_product_search_gin ON catalogue_product "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_text, '')))"
)


def _add_search_vector(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS catalogue_product_search_gin")
    schema_editor.execute(
        "ALTER TABLE catalogue_product ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, COALESCE(search_text, ''))) STORED"
    )
    schema_editor.execute(
        "CREATE INDEX catalogue_product_search_vector_gin ON catalogue_product USING gin (search_vector)"
    )


def _drop_search_vector(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS catalogue_product_search_vector_gin")
    schema_editor.execute("ALTER TABLE catalogue_product DROP COLUMN IF EXISTS search_vector")
    schema_editor.execute(EXPRESSION_INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0034_product_listing_order_idx"),
    ]

    operations = [
        migrations.RunPython(_add_search_vector, _drop_search_vector, elidable=False),
    ]
