"""The one check a link passes before any output emits it.

A paper's links come from remote data (HF's `githubRepo` and `projectPage`, a thumbnail)
or are built from its id. Before a renderer writes one into a markdown link, a terminal
hyperlink or a table, it must be a well-formed http(s) URL with a host and nothing that
could end the link early: :func:`safe_http_url` parses it, refuses anything else, and
percent-encodes the characters that mean something to markdown, HTML or a table.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["MAX_URL_LENGTH", "safe_http_url"]

MAX_URL_LENGTH = 2048

# Kept as they are in path, query and fragment; everything else is percent-encoded:
# ( ) [ ] < > | ` " ' \ * _ space, { } ^, and every non-ASCII character.
_SAFE = "/?#=&%:;,+~!$@-."


def _host(hostname: str) -> str | None:
    """The host in ASCII (IDNA for an international name), or None if it is not a name
    or an address a link may point at."""
    if hostname.startswith("[") or ":" in hostname:  # IPv6 literal: not for paper links
        return None
    if not hostname.isascii():
        try:
            hostname = hostname.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    hostname = hostname.rstrip(".")
    if not hostname or not all(ch.isalnum() or ch in ".-" for ch in hostname):
        return None
    if any(not label or label.startswith("-") for label in hostname.split(".")):
        return None
    return hostname


def safe_http_url(url: object) -> str | None:
    """`url` as a safe absolute http(s) link, percent-encoded; None when it is not one.

    Refused: other schemes (javascript:, data:, file:), no host, user info
    (`https://arxiv.org@evil.example`), whitespace or control/format characters
    anywhere, a bad port, and anything longer than MAX_URL_LENGTH once encoded.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or any(ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Cs"} for ch in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not hostname:
        return None
    if "@" in parts.netloc:
        return None
    host = _host(hostname)
    if host is None:
        return None
    netloc = host if port is None else f"{host}:{port}"

    # An escape already there ("%29") stays as it is; a raw ")" becomes "%29".
    path, query, fragment = (quote(p, safe=_SAFE) for p in parts[2:5])
    out = urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))
    return out if len(out) <= MAX_URL_LENGTH else None
