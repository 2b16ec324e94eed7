"""`{% static %}` with each file's URL worked out once per process: `{% load cached_static %}`
in place of `{% load static %}`, the same tag, the same URLs.

With the manifest storage (DEBUG off) each URL was a manifest lookup, a hash of the name and a
URL join on every page, about 80 Python calls a tag and ~550 for base.html's head. A storage
reads its manifest once, when it is made, so a URL can change only when the storage is made
anew: on the settings changes that make Django drop it (`static_storage_changed`), and then
the URLs are dropped too.
"""

from __future__ import annotations

from django import template
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import StaticNode

register = template.Library()

# Each file's URL as the storage in force gives it, by the file's path.
_urls: dict[str, str] = {}


def static_url(path: str) -> str:
    """`staticfiles_storage.url(path)`, asked of the storage once per path."""
    url = _urls.get(path)
    if url is None:
        url = _urls[path] = staticfiles_storage.url(path)
    return url


class CachedStaticNode(StaticNode):
    @classmethod
    def handle_simple(cls, path: str) -> str:
        return static_url(path)


@register.tag("static")
def do_static(parser, token) -> CachedStaticNode:
    """`{% static path [as varname] %}`, as Django's."""
    node = CachedStaticNode.handle_token(parser, token)
    assert isinstance(node, CachedStaticNode)
    return node


@receiver(setting_changed)
def _forget_urls(*, setting: str, **kwargs) -> None:
    """The settings on which Django makes its static storage anew (django/test/signals.py), and
    DEBUG, with which the manifest storage gives the files' unhashed names."""
    if setting in {"STATIC_ROOT", "STATIC_URL", "STORAGES", "STATICFILES_DIRS", "INSTALLED_APPS", "DEBUG"}:
        _urls.clear()
