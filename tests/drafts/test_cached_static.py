"""`{% load cached_static %}` (base.html's head): the URLs of Django's `{% static %}`, asked of the
storage once per file, and asked again when the settings give a new storage."""

from __future__ import annotations

import json

from django.template import Context, Template

FILES = ("css/app.css", "vendor/htmx-2.0.11.min.js", "js/app.js", "a file & <name>.css")


def rendered(library: str, path: str, **context) -> str:
    source = f"{{% load {library} %}}{{% static '{path}' %}}|{{% static '{path}' as url %}}{{{{ url }}}}"
    return Template(source).render(Context(context))


def test_the_same_urls_as_djangos_tag():
    for path in FILES:
        assert rendered("cached_static", path) == rendered("static", path)
    assert rendered("cached_static", "css/app.css") == "/static/css/app.css|/static/css/app.css"


def test_the_manifests_hashed_names_and_a_new_storage_new_urls(settings, tmp_path):
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "paths": {"css/app.css": "css/app.0123abcd.css"}, "hash": "x"})
    )
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    assert rendered("cached_static", "css/app.css") == rendered("static", "css/app.css")
    assert rendered("cached_static", "css/app.css").startswith("/static/css/app.0123abcd.css|")

    settings.STATIC_URL = "https://cdn.example.com/assets/"
    assert rendered("cached_static", "css/app.css") == rendered("static", "css/app.css")
    assert rendered("cached_static", "css/app.css").startswith(
        "https://cdn.example.com/assets/css/app.0123abcd.css"
    )


def test_the_page_head_links_every_file(client, agent):
    client.force_login(agent)
    page = client.get("/drafts/").content.decode()
    for path in ("css/app.css", "css/media.css", "vendor/htmx-2.0.11.min.js", "js/app.js", "js/media.js"):
        assert f'"/static/{path}"' in page
