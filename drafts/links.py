"""The one check of a virtual tour's or video's link: https, on a host the office trusts.

The MLS shows these links to the public and embeds videos in its pages, so a link must be
https and from a known tour or video host (settings.LISTING_LINK_HOSTS, a subdomain of one
counts). Messages name the field and say what to do.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from .models.parts import PART_URL_MAX

# What people call the allowed hosts in a message, for the well-known ones.
HOST_NAMES = {
    "matterport.com": "Matterport",
    "youtube.com": "YouTube",
    "youtu.be": "YouTube",
    "vimeo.com": "Vimeo",
    "kuula.co": "Kuula",
    "iguide.ca": "iGuide",
    "youriguide.com": "iGuide",
}


def allowed_hosts() -> list[str]:
    return [host.strip().lower().lstrip(".") for host in settings.LISTING_LINK_HOSTS if host.strip()]


def host_allowed(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts())


def allowed_names() -> str:
    names: list[str] = []
    for host in allowed_hosts():
        name = HOST_NAMES.get(host, host)
        if name not in names:
            names.append(name)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def check_link(value: str, *, label: str) -> str:
    """The link, trimmed, if it may be kept; else ValidationError naming `label`."""
    link = (value or "").strip()
    if not link:
        return ""
    if len(link) > PART_URL_MAX:
        raise ValidationError(f"{label}: the link is {len(link)} characters long; {PART_URL_MAX} at most.")
    if any(character.isspace() for character in link):
        raise ValidationError(f"{label}: a link cannot contain spaces.")
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise ValidationError(f"{label}: this is not a link. Paste the https:// address.") from None
    if parts.scheme.lower() != "https" or not host:
        if not parts.scheme:
            raise ValidationError(f"{label}: the link must start with https://.")
        raise ValidationError(
            f"{label}: use an https:// link from {allowed_names()} (this one starts with {parts.scheme}:)."
        )
    if parts.username or parts.password:
        raise ValidationError(f"{label}: a link cannot carry a user name or password.")
    if not host_allowed(host):
        raise ValidationError(
            f"{label}: use an https:// link from {allowed_names()} (this one is from {host})."
        )
    return link
