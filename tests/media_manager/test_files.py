"""Uploaded files are private: served only through views that check access, with headers
that keep a hostile file from running as a page (docs/reliability.md#u7-file-names,
docs/reliability.md#u8-serving-uploaded-files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from media_manager.models import Photo
from tests.factories import AgentFactory, DocumentFactory, PhotoFactory
from tests.media_manager.media_helpers import STORED_NAME, mark_processed, stored_files

pytestmark = pytest.mark.django_db

FILE_URL = re.compile(r"/drafts/\d+/media/(?:photos/\d+/files/[\w-]+|documents/\d+/file)/")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@pytest.fixture
def media(draft, agent):
    photo = mark_processed(
        PhotoFactory(draft=draft, by=agent, original_name="Café «terrace» \u202e.jpg", stored=True)
    )
    pending = PhotoFactory(draft=draft, by=agent, original_name="pending.jpg", stored=True)
    trashed = mark_processed(PhotoFactory(draft=draft, by=agent, original_name="trashed.jpg", stored=True))
    trashed.move_to_trash(by=agent)
    document = DocumentFactory(draft=draft, by=agent, name="Survey", stored=True)
    return {"photo": photo, "pending": pending, "trashed": trashed, "document": document}


def _rendered_file_urls(client, draft) -> list[str]:
    page = client.get(reverse("media_manager:draft_media", args=[draft.pk])).content.decode()
    return sorted(set(FILE_URL.findall(page)))


def _assert_private(response) -> None:
    assert response.status_code == 200
    for header, value in SECURITY_HEADERS.items():
        assert response[header] == value, header
    assert response["Cache-Control"].startswith("private")


def test_every_rendered_file_url_carries_the_private_headers(agent_client, draft, media):
    urls = _rendered_file_urls(agent_client, draft)
    # thumb (1x) and medium (2x) of the processed photo, the trashed one's thumb, two
    # originals, one document.
    assert len(urls) == 6
    for url in urls:
        response = agent_client.get(url)
        _assert_private(response)
        disposition = response["Content-Disposition"]
        if "/original/" in url or "/documents/" in url:
            assert disposition.startswith("attachment;"), url
            assert "filename*=UTF-8''" in disposition
        else:
            assert disposition.startswith("inline;"), url
            assert response["Content-Type"] == "image/jpeg"
        b"".join(response.streaming_content)


def test_originals_and_pdfs_are_downloads_never_inline(agent_client, draft, media):
    original = agent_client.get(
        reverse("media_manager:photo_file", args=[draft.pk, media["photo"].pk, "original"])
    )
    _assert_private(original)
    assert original["Content-Type"] == "image/jpeg"
    assert original["Content-Disposition"].startswith("attachment;")
    assert original["Cache-Control"] == "private, no-store"
    pdf = agent_client.get(reverse("media_manager:document_file", args=[draft.pk, media["document"].pk]))
    _assert_private(pdf)
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == "attachment; filename=\"Survey.pdf\"; filename*=UTF-8''Survey.pdf"


def test_the_download_name_is_rfc_6266_encoded(agent_client, draft, media):
    response = agent_client.get(
        reverse("media_manager:photo_file", args=[draft.pk, media["photo"].pk, "original"])
    )
    disposition = response["Content-Disposition"]
    assert "filename*=UTF-8''Caf%C3%A9%20%C2%ABterrace%C2%BB.jpg" in disposition
    assert 'filename="Caf_ _terrace_.jpg"' in disposition
    assert "\u202e" not in disposition


def test_master_and_variants_are_inline_jpegs(agent_client, draft, media):
    photo = media["photo"]
    for kind in ("master", "large", "medium", "thumb"):
        response = agent_client.get(reverse("media_manager:photo_file", args=[draft.pk, photo.pk, kind]))
        _assert_private(response)
        assert response["Content-Type"] == "image/jpeg"
        assert response["Content-Disposition"].startswith("inline;")
        assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize("kind", ["thumb", "master", "nonsense", "original-x"])
def test_missing_or_unknown_files_are_404(agent_client, draft, media, kind):
    url = reverse("media_manager:photo_file", args=[draft.pk, media["pending"].pk, kind])
    assert agent_client.get(url).status_code == 404


def test_head_is_allowed_and_post_is_not(agent_client, draft, media):
    url = reverse("media_manager:photo_file", args=[draft.pk, media["photo"].pk, "thumb"])
    assert agent_client.head(url).status_code == 200
    assert agent_client.post(url).status_code == 405


def test_anonymous_gets_login_and_other_offices_get_404_on_every_file(client, draft, media, other_office):
    agent_client_urls = []
    client.force_login(draft.list_agent)
    agent_client_urls = _rendered_file_urls(client, draft)
    client.logout()
    for url in agent_client_urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    client.force_login(AgentFactory(office=other_office))
    for url in agent_client_urls:
        assert client.get(url).status_code == 404, url


def test_a_file_of_another_draft_is_404_through_this_draft(agent_client, draft, agent, media):
    from tests.factories import DraftFactory

    mine = DraftFactory(list_agent=agent)
    url = reverse("media_manager:photo_file", args=[mine.pk, media["photo"].pk, "thumb"])
    assert agent_client.get(url).status_code == 404
    url = reverse("media_manager:document_file", args=[mine.pk, media["document"].pk])
    assert agent_client.get(url).status_code == 404


def test_files_of_a_trashed_draft_are_404(agent_client, draft, agent, media):
    url = reverse("media_manager:photo_file", args=[draft.pk, media["photo"].pk, "thumb"])
    draft.move_to_trash(by=agent)
    assert agent_client.get(url).status_code == 404


def test_stored_names_are_random_and_under_the_private_root(draft, media, media_root):
    for path in stored_files(media_root):
        assert STORED_NAME.match(path.name), path
        assert path.resolve().is_relative_to(media_root.resolve())
    photo = Photo.objects.get(pk=media["photo"].pk)
    for name in photo.file_names():
        assert STORED_NAME.match(Path(name).name)


def test_no_media_url_is_configured(settings):
    # Files are reachable only through the views above.
    assert not settings.MEDIA_URL
