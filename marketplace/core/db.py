"""Small database helpers shared by the core's hot paths (PostgreSQL and SQLite alike)."""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Model


def insert_once(obj: Model, unique_field: str) -> bool:
    """Insert ``obj`` unless a row with the same ``unique_field`` exists: ONE statement,
    ``INSERT … ON CONFLICT (column) DO NOTHING RETURNING pk`` (PostgreSQL, SQLite ≥ 3.35).

    True (and ``obj.pk`` set) when this call wrote the row; False when another row already holds
    the value, also when it was inserted concurrently (the unique constraint decides, no savepoint,
    no read before the write). The column must carry an unconditional unique constraint. Like
    ``bulk_create``, no ``pre_save``/``post_save`` signals are sent: use it for rows nobody
    listens to (ledger entries, payments).
    """
    meta = obj._meta
    using = router.db_for_write(type(obj), instance=obj)
    connection = connections[using]

    def qn(name: str | None) -> str:
        assert name is not None
        return connection.ops.quote_name(name)

    fields = [f for f in meta.concrete_fields if not (f.primary_key and getattr(obj, f.attname) is None)]
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    pk = meta.pk
    assert pk is not None
    unique = meta.get_field(unique_field)
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({qn(getattr(unique, 'column', None))}) DO NOTHING "
        f"RETURNING {qn(pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    setattr(obj, pk.attname, row[0])
    obj._state.adding = False
    obj._state.db = using
    return True
