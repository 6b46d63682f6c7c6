"""Hot queries compiled once per process (issue 15, ARCHITECTURE "Performance").

Building and compiling a queryset costs far more CPU than running it: 0.4 to 1.8 ms for
the user's and the navigation's queries, against 0.07 ms to execute one. A `Prepared`
query is the queryset its `build` function returns for placeholder ids ("sentinels"),
compiled once per process, connection and key; a call binds the real ids into the
compiled parameters and runs the SQL. The queryset stays the one definition of the query.

`build(key, *args)` gets the caller's key and args: ids (ints) and users. An id is
replaced by a sentinel; a user by a copy of it whose pk and company_id are sentinels
(everything else, its roles too, stays as the first caller's). So the key must name every
choice that changes the query other than those ids: a branch on a role, a flag. Builds
run with django-scopes disabled: the queryset filters its company itself (as every
`tickets.access` rule does), never through the ambient scope.

An id beyond 64 bits (a URL may carry one) matches no row: `objects` and `tuples` return
nothing and `row` None, without a query (the database would refuse the parameter).

Under DEBUG or TESTING each call also builds and compiles the queryset for the real args
and asserts the same SQL and parameters, so the test suite checks every key and binding
with the real users of each test."""

import copy
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet, Value
from django.db.models.query import ModelIterable
from django.db.models.sql.compiler import SQLCompiler
from django_scopes import scopes_disabled

from accounts.models import User

# Connections a compiled query keeps its converters for (a sync worker has one).
_CONNECTIONS_KEPT = 8
# Never a real id (ids are positive): one per id argument of `build`, two per user.
_SENTINELS = tuple(-7_300_000_001 - i for i in range(48))


@dataclass(frozen=True)
class Composed:
    """One statement made of several querysets' SQL: `template` holds {0}, {1}, ... in
    that order, each replaced by one queryset's SQL (as a subquery)."""

    template: str
    querysets: tuple[QuerySet[Any], ...]

    @classmethod
    def exists(cls, queryset: QuerySet[Any]) -> "Composed":
        """SELECT EXISTS over `queryset` (one constant column, at most one row)."""
        rows = queryset.order_by().annotate(_one=Value(1)).values("_one")[:1]
        return cls("SELECT EXISTS ({0})", (rows,))


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    compiler: SQLCompiler | None  # for fetching model instances
    queryset: QuerySet[Any] | None
    # The columns' converters per connection (the backend's are its methods): working
    # them out compared every column's field again on each call.
    converters: dict[Any, dict[int, Any]] = field(default_factory=dict)


def _compile(built: QuerySet[Any] | Composed, using: str) -> _Compiled:
    if isinstance(built, Composed):
        parts, params = [], []
        for qs in built.querysets:
            sql, p = qs.query.get_compiler(using).as_sql()
            parts.append(sql)
            params.extend(p)
        return _Compiled(built.template.format(*parts), tuple(params), None, None)
    compiler = built.query.get_compiler(using)
    sql, p = compiler.as_sql()
    return _Compiled(sql, tuple(p), compiler, built)


class _Run:
    """What ModelIterable reads of a queryset, around a compiler that is already set up."""

    def __init__(self, queryset: QuerySet[Any], compiler: SQLCompiler) -> None:
        self.db = queryset.db
        self.model = queryset.model
        self._fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]
        self._known_related_objects: dict[Any, Any] = {}
        self._compiler = compiler
        self.query = self

    def get_compiler(self, using: str | None = None, **kwargs: Any) -> SQLCompiler:
        return self._compiler


def _stand_ins(args: tuple[Any, ...]) -> tuple[list[Any], dict[int, Any]]:
    sentinels = iter(_SENTINELS)
    stand_ins: list[Any] = []
    binding: dict[int, Any] = {}
    for arg in args:
        if isinstance(arg, User):
            if arg.pk is None or arg.company_id is None:
                raise ValueError("A prepared query's user needs an id and a company.")
            pk, company = next(sentinels), next(sentinels)
            user = copy.copy(arg)
            user.pk, user.company_id = pk, company
            user._state.fields_cache = {}  # its company, under the real id
            binding |= {pk: arg.pk, company: arg.company_id}
            stand_ins.append(user)
        elif type(arg) is int:
            binding[sentinel := next(sentinels)] = arg
            stand_ins.append(sentinel)
        else:
            raise TypeError(f"A prepared query takes ids and users, not {type(arg).__name__}.")
    return stand_ins, binding


def _out_of_range(args: tuple[Any, ...]) -> bool:
    return any(type(a) is int and not -(2**63) <= a < 2**63 for a in args)


class Prepared:
    def __init__(self, build: Callable[..., QuerySet[Any] | Composed]) -> None:
        """`build(key, *args)` returns the queryset (or `Composed`) for that key and args."""
        self._build = build
        self._cache: dict[tuple[str, str, Hashable, tuple[bool, ...]], _Compiled] = {}

    def _compiled(
        self, key: Hashable, args: tuple[Any, ...], using: str
    ) -> tuple[_Compiled, tuple[Any, ...]]:
        connection = connections[using]
        cache_key = (using, connection.vendor, key, tuple(isinstance(a, User) for a in args))
        stand_ins, binding = _stand_ins(args)
        compiled = self._cache.get(cache_key)
        if compiled is None:
            with scopes_disabled():
                compiled = _compile(self._build(key, *stand_ins), using)
            self._cache[cache_key] = compiled
        params = tuple(binding.get(p, p) if type(p) is int else p for p in compiled.params)
        if settings.DEBUG or settings.TESTING:
            with scopes_disabled():
                fresh = _compile(self._build(key, *args), using)
            if (fresh.sql, fresh.params) != (compiled.sql, params):
                raise AssertionError(
                    f"Prepared query for key {key!r} differs from its queryset:\n"
                    f"{compiled.sql} {params}\n{fresh.sql} {fresh.params}"
                )
        return compiled, params

    def row(self, key: Hashable, *args: Any, using: str = "default") -> tuple[Any, ...] | None:
        """The first row of the statement, as the database returns it."""
        if _out_of_range(args):
            return None
        compiled, params = self._compiled(key, args, using)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        return None if row is None else tuple(row)

    def tuples(self, key: Hashable, *args: Any, using: str = "default") -> list[tuple[Any, ...]]:
        """Every row, as the database returns it (no field converters: plain columns)."""
        if _out_of_range(args):
            return []
        compiled, params = self._compiled(key, args, using)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return [tuple(row) for row in cursor.fetchall()]

    def values(self, key: Hashable, *args: Any, using: str = "default") -> list[tuple[Any, ...]]:
        """The rows a `values_list()` queryset would return: every column through its
        field's converters (JSON from PostgreSQL, a datetime from SQLite), unlike `tuples`."""
        if _out_of_range(args):
            return []
        _, compiler = self._bound_compiler(key, args, using)
        return [tuple(row) for row in compiler.results_iter(tuple_expected=True)]

    def _bound_compiler(
        self, key: Hashable, args: tuple[Any, ...], using: str
    ) -> tuple[_Compiled, SQLCompiler]:
        """The compiled queryset's compiler, on this thread's connection, with the
        call's parameters: running it never builds or compiles the query again."""
        compiled, params = self._compiled(key, args, using)
        assert compiled.compiler is not None, "needs a QuerySet, not a Composed statement"
        compiler = copy.copy(compiled.compiler)
        connection = compiler.connection = connections[using]  # this thread's connection
        sql = compiled.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)  # type: ignore[method-assign]
        converters = compiled.converters.get(connection)
        if converters is None:
            if len(compiled.converters) >= _CONNECTIONS_KEPT:
                # Connections that come and go (a thread per ASGI request) are let go.
                compiled.converters.clear()
            columns = [s[0] for s in compiler.select[0 : compiler.col_count]]
            converters = compiled.converters[connection] = compiler.get_converters(columns)
        compiler.get_converters = lambda expressions: converters  # type: ignore[method-assign]
        return compiled, compiler

    def objects(self, key: Hashable, *args: Any, using: str = "default") -> list[Any]:
        """The model instances the queryset would return (select_related and annotations
        included), without building or compiling it."""
        if _out_of_range(args):
            return []
        compiled, compiler = self._bound_compiler(key, args, using)
        assert compiled.queryset is not None
        return list(ModelIterable(_Run(compiled.queryset, compiler)))  # type: ignore[arg-type]
