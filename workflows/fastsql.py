"""The engine's hot statements without the ORM's per-call work (issue 10: a completion
spent three times its SQL time compiling querysets and saving models).

Each statement's text is built once per process from the models' metadata; rows become
model instances through `Model.from_db`, as a queryset makes them; writes keep what
`Model.save` does for these models: each field's `pre_save` (auto_now, defaults), the
`pre_save`/`post_save` signals, and an error when an update finds no row. Reads through
a scoped manager keep django-scopes' company filter (`_scope_filter`). Statements go
through Django's cursor, so query counts, logging and the execute wrappers see them."""

from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, signals
from django.db.transaction import TransactionManagementError
from django_scopes import ScopeError
from django_scopes.state import get_scope

_TEXT: dict[tuple[Any, ...], Any] = {}


def _db() -> BaseDatabaseWrapper:
    """The connection itself: `django.db.connection` looks it up again on every
    attribute, which cost more than the statements' own Python."""
    return connections[DEFAULT_DB_ALIAS]


def cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """Built once per process: SQL text and field lists depend on the models only."""
    found = _TEXT.get(key)
    if found is None:
        found = _TEXT[key] = build()
    return found


def quoted(name: Any) -> str:
    return connection.ops.quote_name(str(name))


_q = quoted


def _fields(model: type[Model]) -> list[Any]:
    return list(model._meta.concrete_fields)


def _field(model: type[Model], name: str) -> Any:
    return model._meta.get_field(name)


def select_list(model: type[Model], alias: str) -> str:
    return ", ".join(f"{alias}.{_q(f.column)}" for f in _fields(model))


def _reader(model: type[Model], names: tuple[str, ...] | None) -> tuple[list[str], list[int], list[Any]]:
    """Attribute names, the row positions in the model's field order (`from_db` fills a
    partial row in that order), and each position's converters with their column, as a
    queryset's compiler lists them (the backend's, e.g. SQLite's UUIDs and datetimes, then
    the field's, e.g. JSON)."""
    db = _db()
    order = _fields(model)
    fields = order if names is None else [_field(model, n) for n in names]
    positions = sorted(range(len(fields)), key=lambda i: order.index(fields[i]))
    converters = []
    for i in positions:
        col = fields[i].get_col(model._meta.db_table)
        converters.append([(c, col) for c in db.ops.get_db_converters(col) + col.get_db_converters(db)])
    return [fields[i].attname for i in positions], positions, converters


def row_to[M: Model](model: type[M], row: Sequence[Any], names: tuple[str, ...] | None = None) -> M:
    """A model instance from a row of `names` (default: every column, in `select_list`
    order) as a queryset builds it: converters applied (the driver leaves JSON as text for
    Django to decode), the other fields deferred."""
    attnames, positions, converters = cached(("reader", model, names), lambda: _reader(model, names))
    db = _db()
    values = []
    for i, steps in zip(positions, converters, strict=True):
        value = row[i]
        for convert, col in steps:
            value = convert(value, col, db)
        values.append(value)
    return model.from_db(db.alias, attnames, values)


def _scope_filter(alias: str) -> tuple[str, list[Any]]:
    """The company filter django-scopes' `ScopedManager` adds: none with scopes disabled,
    the active company (or companies) otherwise; a query with no active scope raises."""
    scope = get_scope()
    if not scope.get("_enabled", True):
        return "", []
    if "company" not in scope:
        raise ScopeError("A scope on dimension(s) company needs to be active for this query.")
    value = scope["company"]
    if isinstance(value, list | tuple):
        if not value:
            return " AND 1 = 0", []
        return f" AND {alias}.company_id IN ({', '.join(['%s'] * len(value))})", [
            getattr(v, "pk", v) for v in value
        ]
    if value is None:
        return "", []
    return f" AND {alias}.company_id = %s", [getattr(value, "pk", value)]


def lock[M: Model](model: type[M], pk: Any, *, related: str | None = None) -> M:
    """`model.objects.select_for_update(of=("self",))[.select_related(related)].get(pk=pk)`
    for a company-scoped model: locks that one row only."""
    meta = model._meta

    def build() -> tuple[str, Any]:
        table = _q(meta.db_table)
        if related is None:
            sql = f"SELECT {select_list(model, 't')} FROM {table} t WHERE t.{_q(meta.pk.column)} = %s"  # noqa: S608 - names from the models, values are parameters
            return sql, None
        field = _field(model, related)
        other: Any = field.related_model
        sql = (
            f"SELECT {select_list(model, 't')}, {select_list(other, 'r')} FROM {table} t "  # noqa: S608 - names from the models, values are parameters
            f"INNER JOIN {_q(other._meta.db_table)} r ON r.{_q(other._meta.pk.column)} = t.{_q(field.column)} "
            f"WHERE t.{_q(meta.pk.column)} = %s"
        )
        return sql, other

    sql, other = cached(("lock", model, related), build)
    scope_sql, scope_params = _scope_filter("t")
    db = _db()
    if db.features.has_select_for_update and db.get_autocommit():
        # As the ORM: a lock outside a transaction would be released at once.
        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    with db.cursor() as cursor:
        for_update = " FOR UPDATE OF t" if db.features.has_select_for_update_of else ""
        cursor.execute(f"{sql}{scope_sql}{for_update}", [pk, *scope_params])
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist(f"{meta.object_name} matching query does not exist.")  # type: ignore[attr-defined]
    if other is None:
        return row_to(model, row)
    width = len(_fields(model))
    obj = row_to(model, row[:width])
    if row[width] is not None:
        setattr(obj, str(related), row_to(other, row[width:]))
    return obj


def _related_ids(obj: Model, fields: Sequence[Field[Any, Any]] | None = None) -> None:
    """As save(): a related object saved after it was assigned lends its new id (and an
    unsaved one is refused). Django's own step, private, so not in the type stubs."""
    obj._prepare_related_fields_for_save(operation_name="save", fields=fields)  # type: ignore[attr-defined]


def _prep(db: BaseDatabaseWrapper, obj: Model, field: Field[Any, Any], add: bool) -> Any:
    value = field.pre_save(obj, add)
    if hasattr(value, "resolve_expression"):
        raise TypeError(f"fastsql writes plain values only ({field.name} is an expression).")
    return field.get_db_prep_save(value, db)


def update(obj: Model, fields: Sequence[str]) -> None:
    """`obj.save(update_fields=fields)`: one UPDATE of those columns by primary key."""
    model = type(obj)
    meta = model._meta
    names = tuple(sorted(set(fields)))

    def build() -> tuple[str, list[Any]]:
        chosen = [_field(model, n) for n in names]
        sets = ", ".join(f"{_q(f.column)} = %s" for f in chosen)
        sql = f"UPDATE {_q(meta.db_table)} SET {sets} WHERE {_q(meta.pk.column)} = %s"  # noqa: S608 - names from the models, values are parameters
        return sql, chosen

    sql, chosen = cached(("update", model, names), build)
    update_fields = frozenset(names)
    db = _db()
    _related_ids(obj, chosen)
    signals.pre_save.send(sender=model, instance=obj, raw=False, using=db.alias, update_fields=update_fields)
    values = [_prep(db, obj, f, False) for f in chosen]
    with db.cursor() as cursor:
        cursor.execute(sql, [*values, obj.pk])
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")
    obj._state.adding = False
    obj._state.db = db.alias
    signals.post_save.send(
        sender=model, instance=obj, created=False, update_fields=update_fields, raw=False, using=db.alias
    )


# A column given as SQL instead of the object's value: (SQL with %s, its parameters).
Computed = tuple[str, Callable[[Any], list[Any]]]


def insert(
    objs: Sequence[Model], *, computed: dict[str, Computed] | None = None, returning: tuple[str, ...] = ()
) -> None:
    """`obj.save(force_insert=True)` for each of `objs` (of one model) in one INSERT that
    returns their ids (and the `returning` fields, set on the objects). `computed` columns
    take SQL instead (a subquery, say). An auto id is left to the database."""
    if not objs:
        return
    db = _db()
    sql, params = _insert_sql(db, objs, computed or {}, returning)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    _inserted(db, objs, rows, returning)


def insert_together(
    parts: Sequence[tuple[Sequence[Model], dict[str, Computed] | None, tuple[str, ...]]],
) -> None:
    """`insert(objs, computed=..., returning=...)` for each part, in one statement on
    PostgreSQL (each part's INSERT in a WITH; the rows are all new, so no lock order is at
    stake), part after part elsewhere. There the `returning` fields come back as text."""
    parts = [part for part in parts if part[0]]
    db = _db()
    if db.vendor != "postgresql" or len(parts) < 2:
        for objs, computed, returning in parts:
            insert(objs, computed=computed, returning=returning)
        return
    width = max(len(returning) for _, _, returning in parts)
    withs, selects, params = [], [], []
    for i, (objs, computed, returning) in enumerate(parts):
        sql, values = _insert_sql(db, objs, computed or {}, returning)
        model = type(objs[0])
        cols = [f"{_q(_field(model, n).column)}::text" for n in returning]
        cols += ["NULL::text"] * (width - len(returning))
        withs.append(f"g{i} AS ({sql})")
        selects.append(f"SELECT {i}, {', '.join([_q(model._meta.pk.column), *cols])} FROM g{i}")  # noqa: S608 - names from the models
        params += values
    with db.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(withs)} {' UNION ALL '.join(selects)}", params)
        rows = cursor.fetchall()
    for i, (objs, _, returning) in enumerate(parts):
        _inserted(db, objs, [row[1 : 2 + len(returning)] for row in rows if row[0] == i], returning)


def _insert_sql(
    db: BaseDatabaseWrapper, objs: Sequence[Model], extra: dict[str, Computed], returning: tuple[str, ...]
) -> tuple[str, list[Any]]:
    """The INSERT of `objs` with RETURNING (id, then `returning`), and its parameters;
    sends `pre_save` for each object, as `save()` does before writing."""
    model = type(objs[0])
    meta = model._meta

    def build() -> tuple[str, str, list[Any], list[str]]:
        chosen = [f for f in _fields(model) if f is not meta.auto_field]
        head = f"INSERT INTO {_q(meta.db_table)} ({', '.join(_q(f.column) for f in chosen)}) VALUES "  # noqa: S608 - names from the models, values are parameters
        row = "(" + ", ".join(extra[f.name][0] if f.name in extra else "%s" for f in chosen) + ")"
        back = [meta.pk.column, *(_field(model, n).column for n in returning)]
        return head, row, chosen, back

    head, row, chosen, back = cached(
        ("insert", model, tuple((k, v[0]) for k, v in extra.items()), returning), build
    )
    params: list[Any] = []
    for obj in objs:
        _related_ids(obj)
        signals.pre_save.send(sender=model, instance=obj, raw=False, using=db.alias, update_fields=None)
        for f in chosen:
            if f.name in extra:
                params += extra[f.name][1](obj)
            else:
                params.append(_prep(db, obj, f, True))
    sql = head + ", ".join([row] * len(objs)) + " RETURNING " + ", ".join(_q(c) for c in back)
    return sql, params


def _inserted(
    db: BaseDatabaseWrapper, objs: Sequence[Model], rows: Sequence[Sequence[Any]], returning: tuple[str, ...]
) -> None:
    """After the INSERT: ids and `returning` fields onto the objects, then `post_save`."""
    model = type(objs[0])
    auto = model._meta.auto_field is not None
    for obj, (pk, *values) in zip(objs, rows, strict=True):
        if auto:
            obj.pk = pk
        for name, value in zip(returning, values, strict=True):
            setattr(obj, name, value)
        obj._state.adding = False
        obj._state.db = db.alias
        signals.post_save.send(
            sender=model, instance=obj, created=True, update_fields=None, raw=False, using=db.alias
        )


def insert_pair(parent: Model, child: Model, fk: str) -> None:
    """`parent.save()` then `child.save()` where the child's foreign key `fk` points at the
    new parent: on PostgreSQL one statement (the parent's INSERT in a WITH), elsewhere
    two. Both get their ids; the usual save signals are sent."""
    db = _db()
    if db.vendor != "postgresql":
        insert([parent])
        setattr(child, fk, parent)
        insert([child])
        return
    pmodel, cmodel = type(parent), type(child)
    pmeta, cmeta = pmodel._meta, cmodel._meta
    link = _field(cmodel, fk)

    def build() -> tuple[str, list[Any], list[Any]]:
        pfields = [f for f in _fields(pmodel) if f is not pmeta.auto_field]
        cfields = [f for f in _fields(cmodel) if f is not cmeta.auto_field and f is not link]
        sql = (
            f"WITH p AS (INSERT INTO {_q(pmeta.db_table)} ({', '.join(_q(f.column) for f in pfields)}) "  # noqa: S608 - names from the models, values are parameters
            f"VALUES ({', '.join(['%s'] * len(pfields))}) RETURNING {_q(pmeta.pk.column)}) "
            f"INSERT INTO {_q(cmeta.db_table)} ({', '.join(_q(f.column) for f in [*cfields, link])}) "
            f"SELECT {', '.join(['%s'] * len(cfields))}, p.{_q(pmeta.pk.column)} FROM p "
            f"RETURNING {_q(cmeta.pk.column)}, {_q(link.column)}"
        )
        return sql, pfields, cfields

    sql, pfields, cfields = cached(("pair", pmodel, cmodel, fk), build)
    _related_ids(parent)
    _related_ids(child, cfields)
    for obj in (parent, child):
        signals.pre_save.send(sender=type(obj), instance=obj, raw=False, using=db.alias, update_fields=None)
    params = [_prep(db, parent, f, True) for f in pfields] + [_prep(db, child, f, True) for f in cfields]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        child_pk, parent_pk = cursor.fetchone()
    parent.pk = parent_pk
    setattr(child, fk, parent)
    child.pk = child_pk
    for obj in (parent, child):
        obj._state.adding = False
        obj._state.db = db.alias
        signals.post_save.send(
            sender=type(obj), instance=obj, created=True, update_fields=None, raw=False, using=db.alias
        )
