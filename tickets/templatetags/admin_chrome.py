"""The back office's sidebar, rendered once per process for each distinct content.

unfold renders the sidebar (branding, search box, the navigation groups) through a dozen
sub-templates on every admin page: about 5 ms of CPU a request. What it shows follows
only from data that each page already has in its context: the groups and entries the
person may open (their role's permissions), which entry is active (the page), the
language, and the site's branding. The cache key is that data itself, so two requests
share HTML only when they would have rendered the same bytes; nothing of the person
(name, e-mail, CSRF token: `navigation_user.html`) is in the cached part."""

from collections.abc import Callable
from typing import Any

from django import template
from django.template.context import Context
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from tickets.rendered import remember

register = template.Library()

TEMPLATE = "admin/tf_sidebar.html"
LIMIT = 512  # roles x pages x languages is far below this; cleared when full
_html: dict[tuple[Any, ...], SafeString] = {}

_GROUP_KEYS = {"title", "separator", "collapsible", "items"}
_ITEM_KEYS = {"title", "icon", "link", "active", "has_permission"}


def sidebar_key(context: Context) -> tuple[Any, ...] | None:
    """Everything the cached template reads, or None when the navigation uses a feature
    whose output is computed per request (badges, link callbacks, nested entries): then
    the sidebar is rendered every time, as unfold does."""
    if context.get("sidebar_show_all_applications"):
        return None
    groups = []
    for group in context.get("sidebar_navigation") or ():
        if not set(group) <= _GROUP_KEYS:
            return None
        items = []
        for item in group.get("items") or ():
            if not set(item) <= _ITEM_KEYS:
                return None
            items.append(
                (
                    str(item.get("title")),
                    item.get("icon"),
                    str(item.get("link")),
                    bool(item.get("active")),
                    bool(item.get("has_permission")),
                )
            )
        groups.append(
            (
                str(group.get("title")),
                bool(group.get("separator")),
                bool(group.get("collapsible")),
                tuple(items),
            )
        )
    request = context.get("request")
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    return (
        get_language(),
        "Macintosh" in agent,  # the search box's shortcut icon
        str(context.get("branding") or ""),
        repr(context.get("site_logo")),
        repr(context.get("site_dropdown")),
        bool(context.get("sidebar_show_search")),
        tuple(groups),
    )


def _render(context: Context) -> SafeString:
    sidebar = context.template.engine.get_template(TEMPLATE)  # type: ignore[union-attr]
    with context.push():
        # Template.render gives autoescaped SafeString output, as an include does.
        html: SafeString = sidebar.render(context)
        return html


@register.simple_tag(takes_context=True)
def cached_sidebar(context: Context) -> SafeString:
    key = sidebar_key(context)
    if key is None:
        return _render(context)
    return _remember(key, lambda: _render(context))


def _remember(key: Any, render: Callable[[], SafeString]) -> SafeString:
    return remember(_html, LIMIT, key, render)


def _render_in(context: Context, template: Any) -> SafeString:
    with context.push():
        rendered: SafeString = template.render(context)
    return rendered


_originals: dict[str, Any] = {}


def _original(engine: Any, name: str) -> Any:
    """unfold's own template `name`, behind our override of the same name (the loaders'
    `skip`, as `{% extends %}` of a same-named template uses)."""
    template = _originals.get(name)
    if template is None:
        _, ours = engine.find_template(name)
        template, _ = engine.find_template(name, skip=[ours])
        _originals[name] = template
    return template


@register.simple_tag(takes_context=True)
def cached_original(context: Context, name: str, *varies: Any) -> SafeString:
    """unfold's template `name`, rendered once per process for each language, user agent
    kind (Mac or not: the shortcut keys shown) and value of `varies`, which must be
    everything else it reads. For the static help and menus every page carries (keyboard
    shortcuts, command palette, theme switch)."""
    request = context.get("request")
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    key = ("original", name, get_language(), "Macintosh" in agent, *varies)
    engine = context.template.engine  # type: ignore[union-attr]
    return _remember(key, lambda: _render_in(context, _original(engine, name)))


@register.simple_tag(takes_context=True)
def cached_template(context: Context, name: str, *varies: Any) -> SafeString:
    """Template `name` rendered once per process for each language and value of `varies`,
    which must be everything it reads: for a person filter with nobody chosen, whose
    autocomplete widget (about 2 ms through the form renderer's templates) is the same
    on every list page."""
    key = ("template", name, get_language(), *varies)
    engine = context.template.engine  # type: ignore[union-attr]
    return _remember(key, lambda: _render_in(context, engine.get_template(name)))
