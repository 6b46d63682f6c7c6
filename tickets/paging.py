"""Keyset ("older/newer") pagination for the big user lists.

A page is the next `size` rows after a cursor in the list's order (a time column, then the
id), read straight off an index that matches that order: no OFFSET, no COUNT, so page 500
costs what page 1 costs. The cursor is "<microseconds since epoch>-<id>" of the row at
the edge of the page; a malformed cursor means the first page, never an error."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    # Cursors for the neighbouring pages: `previous` toward the start of the list order,
    # `next` further along it. None when there is no such page.
    previous: str | None
    next: str | None

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def encode(row: Any, key: str) -> str:
    """The cursor of `row`: a model instance, or any row with `key` and `pk` attributes."""
    moment: datetime = getattr(row, key)
    micros = (moment - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{row.pk}"


def decode(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    micros, _, pk = cursor.partition("-")
    if not (micros.isdigit() and pk.isdigit()) or len(micros) > 18 or len(pk) > 18:
        return None
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(pk)
    except OverflowError:
        return None


def _beyond(key: str, cursor: tuple[datetime, int], *, ascending: bool) -> Q:
    """Rows strictly after `cursor` in (key, id) order. The inclusive bound on `key`
    alone is what the index range uses; the OR only filters rows that tie on `key`."""
    moment, pk = cursor
    if ascending:
        return Q(**{f"{key}__gte": moment}) & (Q(**{f"{key}__gt": moment}) | Q(pk__gt=pk))
    return Q(**{f"{key}__lte": moment}) & (Q(**{f"{key}__lt": moment}) | Q(pk__lt=pk))


def _order(key: str, ascending: bool) -> list[str]:
    return [key, "pk"] if ascending else [f"-{key}", "-pk"]


def page_query(
    queryset: QuerySet[Any],
    *,
    key: str,
    ascending: bool,
    size: int,
    cursor: tuple[datetime, int] | None = None,
    load: Callable[[QuerySet[Any]], QuerySet[Any]] = lambda qs: qs,
) -> QuerySet[Any]:
    """The query for up to size+1 rows of `queryset` after `cursor` in (key, id) order."""
    order = _order(key, ascending)
    qs = queryset.order_by(*order)
    if cursor is not None:
        qs = qs.filter(_beyond(key, cursor, ascending=ascending))
    # Two steps in one query: the page's ids come from the list's own table alone (an
    # ordered index read that stops after size+1 rows), then only those rows are joined.
    # Joined in one go, PostgreSQL may hash-join every matching row and sort them when it
    # underestimates how many there are (it did for a worker with 3,400 open tasks).
    # The second step looks rows up by primary key only (the ids came from `queryset`).
    page_ids = qs.values("pk")[: size + 1]
    return load(queryset.model._base_manager.filter(pk__in=page_ids)).order_by(*order)


def keyset_page(
    queryset: QuerySet[Any] | Callable[[], QuerySet[Any]],
    *,
    key: str,
    newest_first: bool,
    size: int,
    after: str | None = None,
    before: str | None = None,
    load: Callable[[QuerySet[Any]], QuerySet[Any]] = lambda qs: qs,
    first_page: Callable[[], list[Any]] | None = None,
    as_row: Callable[[Any], Any] | None = None,
) -> KeysetPage:
    """The page after `after` (or before `before`) of `queryset` ordered by (key, id),
    descending when `newest_first`. `load` adds what the page shows (select_related,
    only) to the query that fetches the page's rows by id. `queryset` may be a function
    (built only when needed); `first_page`, when given, returns the first page's size+1
    rows instead (a prepared `page_query`: the page most requests ask for). `as_row`, when
    given, makes each fetched row (of either) a page row, e.g. a `values_list` tuple a
    typed row; page rows need `key` and `pk` attributes for the cursors."""
    back = decode(before)
    cursor = back or decode(after)
    forward = back is None
    ascending = (not newest_first) == forward  # the direction this query reads in
    if cursor is None and first_page is not None:
        rows = first_page()
    else:
        source = queryset() if callable(queryset) else queryset
        rows = list(page_query(source, key=key, ascending=ascending, size=size, cursor=cursor, load=load))
    more = len(rows) > size
    rows = rows[:size]
    if as_row is not None:
        rows = [as_row(row) for row in rows]
    if not forward:
        rows.reverse()
    has_next = more if forward else cursor is not None
    has_previous = cursor is not None if forward else more
    return KeysetPage(
        rows=rows,
        previous=encode(rows[0], key) if has_previous and rows else None,
        next=encode(rows[-1], key) if has_next and rows else None,
    )
