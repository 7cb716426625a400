"""Discord adapter pieces without a network: error mapping, nonces, URLs, plugin, group."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands
from pydantic import SecretStr

from paperboy.chat import ChatAdapter
from paperboy_adapters.discord.adapter import DiscordAdapter, PaperboyClient, invite_url
from paperboy_adapters.discord.plugin import PLUGIN, create, create_webhook_poster
from paperboy_adapters.discord.rest import (
    DiscordREST,
    api_base,
    error_from_response,
    nonce_for,
    redact,
)
from paperboy_adapters.discord.slash import MANAGING, build_group, timezone_choices
from paperboy_config import Settings


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (403, {"message": "Missing Access", "code": 50001}, True),
        (403, {"message": "Missing Permissions", "code": 50013}, True),
        (404, {"message": "Unknown Channel", "code": 10003}, True),
        (404, {"message": "Unknown Webhook", "code": 10015}, True),
        (401, {"message": "Invalid Webhook Token", "code": 50027}, True),
        (400, {"message": "Invalid Form Body", "code": 50035, "errors": {}}, True),
        (500, {"message": "500: Internal Server Error", "code": 0}, False),
        (502, "<html>bad gateway</html>", False),
    ],
)
def test_error_mapping(status: int, body: object, permanent: bool) -> None:
    error = error_from_response(status, body, {})
    assert error.permanent is permanent
    assert error.retry_after is None
    assert error.status == status
    assert f"Discord {status}" in str(error)


def test_rate_limit_mapping_prefers_the_body_then_headers() -> None:
    assert error_from_response(429, {"retry_after": 0.75, "global": False}).retry_after == 0.75
    assert error_from_response(429, {}, {"Retry-After": "3"}).retry_after == 3.0
    assert error_from_response(429, None, {"X-RateLimit-Reset-After": "1.5"}).retry_after == 1.5
    fallback = error_from_response(429, None, {})
    assert fallback.retry_after == 1.0 and not fallback.permanent
    assert "global" in str(error_from_response(429, {"retry_after": 1, "global": True}))


def test_invalid_form_body_names_the_field() -> None:
    body = {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {
            "embeds": {
                "3": {
                    "title": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 256 or fewer in length.",
                            }
                        ]
                    }
                }
            }
        },
    }
    text = str(error_from_response(400, body))
    assert "embeds.3.title" in text and "BASE_TYPE_MAX_LENGTH" in text


def test_nonce_is_deterministic_short_and_distinct() -> None:
    a = nonce_for("discord:1:2/2024-11-11/0")
    assert a == nonce_for("discord:1:2/2024-11-11/0")
    assert len(a) == 25
    assert a != nonce_for("discord:1:2/2024-11-11/1")


def test_api_base() -> None:
    assert api_base(None) == "https://discord.com/api/v10"
    assert api_base("http://127.0.0.1:8080") == "http://127.0.0.1:8080/api/v10"
    assert api_base("http://127.0.0.1:8080/api/v10/") == "http://127.0.0.1:8080/api/v10"
    assert api_base("https://proxy.example/api/v9") == "https://proxy.example/api/v9"


def test_webhook_urls_and_redaction() -> None:
    rest = DiscordREST(None)
    url = rest.webhook_url("https://discord.com/api/webhooks/123/abc-DEF_1?thread_id=9")
    assert url.query["wait"] == "true" and url.query["thread_id"] == "9"
    assert redact(url) == "https://discord.com/api/webhooks/123/***"
    local = DiscordREST(None, "http://127.0.0.1:5000/api/v10")
    assert local.webhook_url("http://127.0.0.1:5000/api/v10/webhooks/1/t").host == "127.0.0.1"
    for bad in (
        "https://evil.example/api/webhooks/1/t",
        "https://discord.com/api/channels/1",
        "https://user@discord.com/api/webhooks/1/t",
        "ftp://discord.com/api/webhooks/1/t",
    ):
        with pytest.raises(Exception, match="not a Discord webhook URL"):
            rest.webhook_url(bad)


def test_invite_url_has_exactly_the_needed_scopes_and_permissions() -> None:
    url = invite_url(1234)
    assert url == (
        "https://discord.com/oauth2/authorize?client_id=1234"
        "&scope=bot+applications.commands&permissions=51200"
    )
    assert discord.Permissions(51200) == discord.Permissions(
        send_messages=True, embed_links=True, attach_files=True
    )


def test_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PLUGIN.platform == "discord"
    assert set(PLUGIN.formats) == {"discord"}
    assert create(Settings(discord_token=None)) is None
    settings = Settings(
        discord_token=SecretStr("tok"),
        discord_api_url="http://127.0.0.1:1",
        discord_dev_guild=42,
        discord_require_manage_channels=False,
    )
    adapter = create(settings)
    assert isinstance(adapter, DiscordAdapter)
    assert isinstance(adapter, ChatAdapter)
    assert adapter.dev_guild == 42 and adapter.require_manage_channels is False
    assert adapter.rest.base == "http://127.0.0.1:1/api/v10"
    monkeypatch.setenv("DISCORD_TOKEN", "from-env")
    from_env = create(Settings())
    assert from_env is not None and from_env._token == "from-env"
    poster = create_webhook_poster(Settings(discord_token=None))
    assert poster.connect is False and "discord-webhook" in poster.platforms


def test_group_shape() -> None:
    client = PaperboyClient(DiscordAdapter("t"), intents=discord.Intents.none())
    tree: app_commands.CommandTree = client.tree
    (group,) = tree.get_commands()
    payload = group.to_dict(tree)
    assert payload["name"] == "papers"
    # Discord applies default_member_permissions per top-level command only: the group
    # stays visible and the channel-changing subcommands are checked by the adapter.
    assert payload["default_member_permissions"] is None
    names = {o["name"] for o in payload["options"]}
    assert MANAGING <= names
    assert all(o["type"] == 1 for o in payload["options"])
    assert build_group(DiscordAdapter("t")).name == "papers"


def test_timezone_choices() -> None:
    choices = timezone_choices("berl")
    assert choices[0].value == "Europe/Berlin"
    assert len(timezone_choices("")) == 25
