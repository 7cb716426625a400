"""Only well-formed http(s) links, encoded so nothing in them can end the link."""

from __future__ import annotations

import string

import pytest

from paperboy.urls import safe_http_url

# RFC 3986's unreserved "_" and "~" stay: inside a link target they mean nothing.
SAFE_CHARS = set(string.ascii_letters + string.digits + "_~" + "/?#=&%:;,+!$@-.")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>",
        "file:///etc/passwd",
        "ftp://example.org/x",
        "//evil.example/x",
        "https://",
        "https:///path",
        "https://arxiv.org@evil.example/",
        "https://user:pw@github.com/x",
        "https://github.com/a b",
        "https://github.com/a\nb",
        "https://github.com/\x1b[31m",
        "https://github.com/\u202ex",
        "https://github.com:99999/",
        "https://[::1]/",
        "https://-evil.example/",
        "https://evil..example/",
        "https://x.example/" + "a" * 3000,
        "",
        None,
        42,
    ],
)
def test_refused(url: object) -> None:
    assert safe_http_url(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/o/r", "https://github.com/o/r"),
        ("  HTTPS://GitHub.com/o/r  ", "https://github.com/o/r"),
        ("http://example.org:8080/a?b=c&d=e#f", "http://example.org:8080/a?b=c&d=e#f"),
        ("https://github.com/a|b", "https://github.com/a%7Cb"),
        ("https://github.com/%29already", "https://github.com/%29already"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        (
            "https://github.com/x)**pwned**[label](https://evil.example/y)",
            "https://github.com/x%29%2A%2Apwned%2A%2A%5Blabel%5D%28https://evil.example/y%29",
        ),
    ],
)
def test_accepted_and_encoded(url: str, expected: str) -> None:
    assert safe_http_url(url) == expected


@pytest.mark.parametrize("char", [*"()[]<>|`\"'\\*{}^", "é", "\u00a0x"])
def test_markup_characters_are_percent_encoded(char: str) -> None:
    out = safe_http_url(f"https://example.org/p{char}q?x={char}#{char}")
    if char.isspace() or char[0].isspace():
        assert out is None
        return
    assert out is not None and set(out) <= SAFE_CHARS
