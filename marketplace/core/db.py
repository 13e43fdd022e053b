"""Small database helpers shared by the core's hot paths (PostgreSQL and SQLite alike)."""

from __future__ import annotations

from typing import Any

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


def _table(model: type[Model]) -> tuple[Any, str, Any]:
    """(connection, quoted table, quote_name) for writing ``model``."""
    connection = connections[router.db_for_write(model)]
    return connection, connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name


def _column(model: type[Model], name: str) -> str:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return str(getattr(field, "column", name))


def lock_row(model: type[Model], pk: Any) -> bool:
    """``SELECT pk … WHERE pk = %s FOR UPDATE``: lock one row until the transaction ends (a no-op
    lock on SQLite, whose writers are serialised anyway); True when the row exists. A fixed
    statement instead of compiling a ``select_for_update()`` queryset on a hot path; call it
    inside ``transaction.atomic()``."""
    connection, table, qn = _table(model)
    pk_column = qn(_column(model, "pk"))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk_column} FROM {table} WHERE {pk_column} = %s{lock}", [pk])  # noqa: S608
        return cursor.fetchone() is not None


def add_to(model: type[Model], pk: Any, **deltas: int) -> int:
    """``UPDATE … SET f = f + %s, … WHERE pk = %s``: add to counters in one statement (the
    database does the arithmetic, so concurrent adds never lose one). Returns the rows updated."""
    connection, table, qn = _table(model)
    sets = ", ".join(f"{qn(_column(model, name))} = {qn(_column(model, name))} + %s" for name in deltas)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {sets} WHERE {qn(_column(model, 'pk'))} = %s",  # noqa: S608
            [*deltas.values(), pk],
        )
        return int(cursor.rowcount)
