"""Discord's documented limits on a create-message body, checked the way Discord does.

`message_errors(body)` returns Discord's nested error tree (empty when the body is
valid), e.g. `{"embeds": {"0": {"title": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
"message": "Must be 256 or fewer in length."}]}}}}`; the server wraps it in the
`{"code": 50035, "message": "Invalid Form Body", "errors": ...}` answer. Lengths are
counted in code points, as Discord documents "characters".

Written from Discord's documentation, independently of the renderer under test.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

CONTENT = 2000
EMBEDS = 10
EMBED_TOTAL = 6000
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR_NAME = 256
NONCE = 25
ALLOWED_PARSE = {"users", "roles", "everyone"}

Errors = dict[str, Any]

# What Discord turns into a live mention in content when allowed_mentions allows it.
LIVE_MENTION = re.compile(r"@everyone|@here|<@!?\d+>|<@&\d+>")


def _err(code: str, message: str) -> Errors:
    return {"_errors": [{"code": code, "message": message}]}


def _put(tree: Errors, path: list[str], error: Errors) -> None:
    node = tree
    for key in path:
        node = node.setdefault(key, {})
    node.setdefault("_errors", []).extend(error["_errors"])


def _max_length(tree: Errors, path: list[str], value: Any, limit: int, *, required: bool) -> None:
    if value is None:
        if required:
            _put(tree, path, _err("BASE_TYPE_REQUIRED", "This field is required"))
        return
    if not isinstance(value, str):
        _put(tree, path, _err("STRING_TYPE_CONVERT", "Could not interpret value as string."))
        return
    if required and not value.strip():
        _put(tree, path, _err("BASE_TYPE_REQUIRED", "This field is required"))
    elif len(value) > limit:
        _put(tree, path, _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))


def _url(tree: Errors, path: list[str], value: Any, *, attachments: bool = False) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        _put(tree, path, _err("URL_TYPE_INVALID_URL", "Not a well formed URL."))
        return
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        _put(tree, path, _err("URL_TYPE_INVALID_URL", "Not a well formed URL."))
        return
    schemes = {"http", "https"} | ({"attachment"} if attachments else set())
    if parts.scheme not in schemes:
        allowed = ", ".join(repr(s) for s in sorted(schemes))
        _put(
            tree,
            path,
            _err(
                "URL_TYPE_INVALID_SCHEME",
                f'Scheme "{parts.scheme}" is not supported. Scheme must be one of ({allowed}).',
            ),
        )
    elif not parts.netloc or any(ch.isspace() for ch in value):
        _put(tree, path, _err("URL_TYPE_INVALID_URL", "Not a well formed URL."))


def embed_size(embed: dict[str, Any]) -> int:
    """Characters counted toward the 6,000 limit of all of a message's embeds."""
    total = 0
    for key in ("title", "description"):
        if isinstance(embed.get(key), str):
            total += len(embed[key])
    for key, inner in (("footer", "text"), ("author", "name")):
        part = embed.get(key)
        if isinstance(part, dict) and isinstance(part.get(inner), str):
            total += len(part[inner])
    for item in embed.get("fields") or []:
        if isinstance(item, dict):
            for key in ("name", "value"):
                if isinstance(item.get(key), str):
                    total += len(item[key])
    return total


def _embed(tree: Errors, path: list[str], embed: Any) -> None:
    if not isinstance(embed, dict):
        _put(tree, path, _err("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"))
        return
    _max_length(tree, [*path, "title"], embed.get("title"), TITLE, required=False)
    _max_length(tree, [*path, "description"], embed.get("description"), DESCRIPTION, required=False)
    _url(tree, [*path, "url"], embed.get("url"))
    color = embed.get("color")
    if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
        _put(tree, [*path, "color"], _err("NUMBER_TYPE_MAX", "int value should be <= 16777215."))
    for key in ("thumbnail", "image"):
        media = embed.get(key)
        if media is not None:
            if not isinstance(media, dict) or "url" not in media:
                required = _err("BASE_TYPE_REQUIRED", "This field is required")
                _put(tree, [*path, key, "url"], required)
            else:
                _url(tree, [*path, key, "url"], media["url"], attachments=True)
    footer = embed.get("footer")
    if footer is not None:
        if not isinstance(footer, dict):
            _put(tree, [*path, "footer"], _err("MODEL_TYPE_CONVERT", "Not a dictionary"))
        else:
            _max_length(tree, [*path, "footer", "text"], footer.get("text"), FOOTER, required=True)
            _url(tree, [*path, "footer", "icon_url"], footer.get("icon_url"), attachments=True)
    author = embed.get("author")
    if author is not None:
        if not isinstance(author, dict):
            _put(tree, [*path, "author"], _err("MODEL_TYPE_CONVERT", "Not a dictionary"))
        else:
            _max_length(
                tree, [*path, "author", "name"], author.get("name"), AUTHOR_NAME, required=True
            )
            _url(tree, [*path, "author", "url"], author.get("url"))
            _url(tree, [*path, "author", "icon_url"], author.get("icon_url"), attachments=True)
    fields = embed.get("fields")
    if fields is not None:
        if not isinstance(fields, list):
            _put(tree, [*path, "fields"], _err("LIST_TYPE_CONVERT", "Must be an array."))
            return
        if len(fields) > FIELDS:
            _put(
                tree,
                [*path, "fields"],
                _err("BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS} or fewer in length."),
            )
        for index, item in enumerate(fields):
            where = [*path, "fields", str(index)]
            if not isinstance(item, dict):
                _put(tree, where, _err("MODEL_TYPE_CONVERT", "Not a dictionary"))
                continue
            _max_length(tree, [*where, "name"], item.get("name"), FIELD_NAME, required=True)
            _max_length(tree, [*where, "value"], item.get("value"), FIELD_VALUE, required=True)
            if "inline" in item and not isinstance(item["inline"], bool):
                _put(tree, [*where, "inline"], _err("BOOLEAN_TYPE_CONVERT", "Must be a boolean."))


def message_errors(body: Any) -> Errors:
    """Discord's error tree for a create-message (or interaction/webhook message) body."""
    tree: Errors = {}
    if not isinstance(body, dict):
        _put(tree, [], _err("MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"))
        return tree
    _max_length(tree, ["content"], body.get("content"), CONTENT, required=False)
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            _put(tree, ["embeds"], _err("LIST_TYPE_CONVERT", "Must be an array."))
        else:
            if len(embeds) > EMBEDS:
                _put(
                    tree,
                    ["embeds"],
                    _err("BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS} or fewer in length."),
                )
            for index, embed in enumerate(embeds):
                _embed(tree, ["embeds", str(index)], embed)
            total = sum(embed_size(e) for e in embeds if isinstance(e, dict))
            if total > EMBED_TOTAL:
                _put(
                    tree,
                    ["embeds"],
                    _err(
                        "MAX_EMBED_SIZE_EXCEEDED",
                        f"Embed size exceeds maximum size of {EMBED_TOTAL}",
                    ),
                )
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse") if isinstance(mentions, dict) else None
        if not isinstance(mentions, dict) or (parse is not None and not isinstance(parse, list)):
            _put(tree, ["allowed_mentions"], _err("MODEL_TYPE_CONVERT", "Not a dictionary"))
        elif parse is not None and not set(parse) <= ALLOWED_PARSE:
            _put(
                tree,
                ["allowed_mentions", "parse"],
                _err("ENUM_TYPE_COERCE", "Value must be one of {'users', 'roles', 'everyone'}."),
            )
    nonce = body.get("nonce")
    if nonce is not None:
        if not isinstance(nonce, str | int) or isinstance(nonce, bool):
            _put(tree, ["nonce"], _err("BASE_TYPE_BAD_TYPE", "Must be a string or integer."))
        elif len(str(nonce)) > NONCE:
            too_long = _err("BASE_TYPE_MAX_LENGTH", f"Must be {NONCE} or fewer in length.")
            _put(tree, ["nonce"], too_long)
    if "enforce_nonce" in body and not isinstance(body["enforce_nonce"], bool):
        _put(tree, ["enforce_nonce"], _err("BOOLEAN_TYPE_CONVERT", "Must be a boolean."))
    if body.get("components") is not None:
        component_errors(tree, body["components"])
    return tree


# -- message components (action rows of buttons) -------------------------------------

ACTION_ROWS = 5
ROW_COMPONENTS = 5
CUSTOM_ID = 100
BUTTON_LABEL = 80
BUTTON_STYLES = {1, 2, 3, 4, 5}  # primary, secondary, success, danger, link


def component_errors(tree: Errors, components: Any) -> None:
    """Discord's checks of a message's `components`: at most 5 action rows (type 1) of at
    most 5 buttons (type 2); a button has a style, a label of <= 80 or an emoji, and a
    custom_id of 1-100 characters (a link button a URL instead), unique in the message."""
    if not isinstance(components, list):
        _put(tree, ["components"], _err("LIST_TYPE_CONVERT", "Must be an array."))
        return
    if len(components) > ACTION_ROWS:
        too_many = _err("BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS} or fewer in length.")
        _put(tree, ["components"], too_many)
    seen: set[str] = set()
    for r, row in enumerate(components):
        where = ["components", str(r)]
        if not isinstance(row, dict) or row.get("type") != 1:
            _put(tree, where, _err("UNION_TYPE_CHOICES", 'Value of field "type" must be 1.'))
            continue
        items = row.get("components")
        if not isinstance(items, list) or not 1 <= len(items) <= ROW_COMPONENTS:
            _put(
                tree,
                [*where, "components"],
                _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ROW_COMPONENTS} in length."),
            )
            continue
        for c, item in enumerate(items):
            at = [*where, "components", str(c)]
            if not isinstance(item, dict) or item.get("type") != 2:
                _put(tree, at, _err("UNION_TYPE_CHOICES", "Only buttons are expected here."))
                continue
            if item.get("style") not in BUTTON_STYLES:
                _put(tree, [*at, "style"], _err("BASE_TYPE_CHOICES", "Value must be one of 1-5."))
            label = item.get("label")
            if label is None and item.get("emoji") is None:
                _put(tree, [*at, "label"], _err("BASE_TYPE_REQUIRED", "This field is required"))
            elif label is not None:
                _max_length(tree, [*at, "label"], label, BUTTON_LABEL, required=False)
            if item.get("style") == 5:
                _url(tree, [*at, "url"], item.get("url"))
                continue
            custom_id = item.get("custom_id")
            if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID:
                _put(
                    tree,
                    [*at, "custom_id"],
                    _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {CUSTOM_ID} in length."),
                )
            elif custom_id in seen:
                _put(
                    tree,
                    [*at, "custom_id"],
                    _err(
                        "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                    ),
                )
            else:
                seen.add(custom_id)


def is_empty(body: dict[str, Any]) -> bool:
    """Discord's 50006: a message needs content or an embed (we send no files)."""
    content = body.get("content")
    return not (isinstance(content, str) and content.strip()) and not body.get("embeds")


def live_mentions(body: dict[str, Any]) -> list[str]:
    """Mentions in the content that would notify someone given the body's allowed_mentions.

    No `allowed_mentions` means Discord's default: everything in the content pings.
    """
    content = body.get("content") if isinstance(body.get("content"), str) else ""
    mentions = body.get("allowed_mentions")
    parse: set[str] = {"users", "roles", "everyone"}
    explicit: set[str] = set()
    if isinstance(mentions, dict):
        parse = set(mentions.get("parse") or [])
        for kind in ("users", "roles"):
            explicit.update(str(x) for x in mentions.get(kind) or [])
    found = []
    for match in LIVE_MENTION.finditer(content):
        token = match.group(0)
        if token in {"@everyone", "@here"}:
            kind = "everyone"
        elif token.startswith("<@&"):
            kind = "roles"
        else:
            kind = "users"
        ident = re.sub(r"\D", "", token)
        if kind in parse or (ident and ident in explicit):
            found.append(token)
    return found
