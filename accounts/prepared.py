"""Hot queries compiled once per process (issue 15, ARCHITECTURE "Performance").

Building and compiling a queryset costs far more CPU than running it: 0.4 to 1.8 ms for
the user's and the navigation's queries, against 0.07 ms to execute one. A `Prepared`
query is the queryset its `build` function returns for placeholder ids ("sentinels"),
compiled once per process, connection and key; a call binds the real ids into the
compiled parameters and runs the SQL. The queryset stays the one definition of the query.

`build(key, *ids)` receives the caller's key and ids only (never a request's objects), so
what it returns can differ between calls only through them: the key must name every
choice that changes the query (a role, a branch), the ids are bound as parameters. Under DEBUG or TESTING
each call also builds and compiles the queryset for the real ids and asserts the same
SQL and parameters, so the test suite checks every key and every binding."""

import copy
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable
from django.db.models.sql.compiler import SQLCompiler

# Never a real id (ids are positive); one per positional argument of `build`.
_SENTINELS = tuple(-7_300_000_001 - i for i in range(6))


@dataclass(frozen=True)
class Composed:
    """One statement made of several querysets' SQL: `template` holds {0}, {1}, ... in
    that order, each replaced by one queryset's SQL (as a subquery)."""

    template: str
    querysets: tuple[QuerySet[Any], ...]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    compiler: SQLCompiler | None  # for fetching model instances
    queryset: QuerySet[Any] | None


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


class Prepared:
    def __init__(self, build: Callable[..., QuerySet[Any] | Composed]) -> None:
        """`build(key, *ids)` returns the queryset (or `Composed`) for that key and ids."""
        self._build = build
        self._cache: dict[tuple[str, str, Hashable, int], _Compiled] = {}

    def _compiled(self, key: Hashable, ids: tuple[int, ...], using: str) -> tuple[_Compiled, tuple[Any, ...]]:
        connection = connections[using]
        cache_key = (using, connection.vendor, key, len(ids))
        compiled = self._cache.get(cache_key)
        if compiled is None:
            compiled = _compile(self._build(key, *_SENTINELS[: len(ids)]), using)
            self._cache[cache_key] = compiled
        binding = dict(zip(_SENTINELS, ids, strict=False))
        params = tuple(binding.get(p, p) if type(p) is int else p for p in compiled.params)
        if settings.DEBUG or settings.TESTING:
            fresh = _compile(self._build(key, *ids), using)
            if (fresh.sql, fresh.params) != (compiled.sql, params):
                raise AssertionError(
                    f"Prepared query for key {key!r} differs from its queryset:\n"
                    f"{compiled.sql} {params}\n{fresh.sql} {fresh.params}"
                )
        return compiled, params

    def row(self, key: Hashable, *ids: int, using: str = "default") -> tuple[Any, ...] | None:
        """The first row of the statement, as the database returns it."""
        compiled, params = self._compiled(key, ids, using)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        return None if row is None else tuple(row)

    def objects(self, key: Hashable, *ids: int, using: str = "default") -> list[Model]:
        """The model instances the queryset would return (select_related and annotations
        included), without building or compiling it."""
        compiled, params = self._compiled(key, ids, using)
        assert compiled.compiler is not None and compiled.queryset is not None, "objects() needs a QuerySet"
        compiler = copy.copy(compiled.compiler)
        compiler.connection = connections[using]  # this thread's connection
        sql = compiled.sql
        compiler.as_sql = lambda *args, **kwargs: (sql, params)  # type: ignore[method-assign]
        return list(ModelIterable(_Run(compiled.queryset, compiler)))  # type: ignore[arg-type]
