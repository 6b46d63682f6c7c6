"""A JSON column that keeps object key order.

PostgreSQL `jsonb` stores objects with their keys sorted (shorter keys first), so a
form schema's fields, a transform's keys and a bundle's objects came back reordered.
Definitions are authored documents whose order is meaning (the order of form fields),
so they are stored as PostgreSQL `json`, which keeps the text as written. SQLite stores
JSON as text and keeps order already. These columns are never queried by JSON path."""

from typing import Any

from django.db import models


class OrderedJSONField(models.JSONField):  # type: ignore[type-arg]
    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        from psycopg.types.json import Json  # only with PostgreSQL

        if not prepared:
            value = self.get_prep_value(value)
        return Json(value)  # not Jsonb: a jsonb literal would be reordered before storing

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # psycopg decodes `json` itself (in key order); jsonb and SQLite arrive as text.
        if value is None or not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)
