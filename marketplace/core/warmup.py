"""What a web process loads once, before it accepts its first request.

Without it a fresh gunicorn worker pays on its first requests for the URLconf (every storefront and
plugin view module), the GraphQL schema (every plugin's types), the translation catalogues and
jieba's dictionary: about 1.5 s of CPU on top of ~3 s of imports, while the connections it has
accepted wait — the long p99 tail of the catalogue reads each time a worker was recycled
(``max_requests``; benchmarks/listing_load.py, docs/capacity.md).

deploy/gunicorn.conf.py preloads the application in the master and calls :func:`warm_up` there, so
a worker (the first ones and every recycled one) is a fork that starts warm. Nothing here reads
the database: the master must not hold a connection its forks would share.
"""

from __future__ import annotations

import gc

from django.conf import settings
from django.db import connections
from django.urls import get_resolver
from django.utils import translation


def warm_up() -> None:
    """Import and build what the first requests would otherwise build (no SQL), then move every
    object alive now into the collector's permanent generation (``gc.freeze``): the loaded
    application lives as long as the process, and a full collection that walked it all paused
    every thread of a worker for 100+ ms, several times a minute under load. In a preloading
    master the frozen objects are also never written by a worker's collector, so their memory
    pages stay shared between the forks."""
    from graphene_django.settings import graphene_settings
    from graphql import validate_schema

    from marketplace.search.text import load_dictionary

    get_resolver().url_patterns  # noqa: B018  (imports every URLconf and view module)
    schema = graphene_settings.SCHEMA
    validate_schema(schema.graphql_schema)  # memoised by graphql-core on the schema
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("服务器内部错误，请稍后重试")  # loads the language's catalogues
    load_dictionary()
    # Nothing above should have connected; if anything did, no fork may inherit the socket.
    connections.close_all()
    gc.collect()
    gc.freeze()
