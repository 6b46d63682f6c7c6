"""HTML that is the same for everyone who shares a key, rendered once per process
(issue 15: the back office's chrome, the pages' blank forms)."""

from collections.abc import Callable
from typing import Any

from django.utils.safestring import SafeString


def remember(
    store: dict[Any, SafeString], limit: int, key: Any, render: Callable[[], SafeString]
) -> SafeString:
    """The HTML kept in `store` under `key`, rendered on first use; the store is
    cleared when it holds `limit` entries (bounded memory, whatever the keys)."""
    html = store.get(key)
    if html is None:
        if len(store) >= limit:
            store.clear()
        html = store[key] = render()
    return html
