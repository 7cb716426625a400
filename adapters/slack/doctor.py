"""`paperboy doctor` for Slack: the bot token validated with `auth.test`, the scopes the
token has (Slack lists them in the `x-oauth-scopes` header of every answer) against the
ones paperboy needs, and the app token (Socket Mode) or signing secret (HTTP mode)."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from paperboy.logs import one_line
from paperboy.plugins import Finding
from paperboy_config import Settings

TIMEOUT = 10

#: The bot scopes of config/slack-manifest.yml, with what each is for.
BOT_SCOPES = {
    "commands": "the /papers command",
    "chat:write": "posting digests",
    "chat:write.public": "posting in public channels the bot was not invited to",
    "channels:join": "joining a public channel to check a digest went out after a crash",
    "channels:history": "checking a digest went out after a crash (public channels)",
    "groups:history": "checking a digest went out after a crash (private channels)",
    "files:write": "posting the weekly rollup with its chart",
}


def _client(token: str, settings: Settings) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=settings.slack_api_url, timeout=TIMEOUT)


async def doctor(settings: Settings) -> list[Finding]:
    token = settings.slack_bot_token
    if token is None:
        return [Finding("ok", "slack", "not configured (SLACK_BOT_TOKEN is not set)")]
    found: list[Finding] = []
    client = _client(token.get_secret_value(), settings)
    try:
        answer = await client.auth_test()
    except SlackApiError as error:
        reason = error.response.get("error", "refused")
        return [
            Finding(
                "fail",
                "slack token",
                f"Slack refused SLACK_BOT_TOKEN ({reason}): copy the Bot User OAuth Token "
                "(xoxb-...) from the app's OAuth & Permissions page",
            )
        ]
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return [
            Finding(
                "warn",
                "slack token",
                f"SLACK_BOT_TOKEN is set but Slack could not be reached at "
                f"{settings.slack_api_url} ({one_line(error)}): not validated",
            )
        ]
    found.append(
        Finding(
            "ok",
            "slack token",
            f"valid: bot {answer.get('user', '?')} in workspace {answer.get('team', '?')}",
        )
    )
    found.append(_scopes(answer.headers.get("x-oauth-scopes")))
    found.append(await _commands_route(settings))
    return found


def _scopes(header: str | None) -> Finding:
    if header is None:
        return Finding("warn", "slack scopes", "Slack did not list the token's scopes")
    has = {s.strip() for s in header.split(",") if s.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in has]
    if missing:
        needs = "; ".join(f"{scope} ({BOT_SCOPES[scope]})" for scope in missing)
        return Finding(
            "fail",
            "slack scopes",
            f"missing {needs}: add them (config/slack-manifest.yml has them all) and "
            "reinstall the app to the workspace",
        )
    return Finding("ok", "slack scopes", f"all {len(BOT_SCOPES)} needed: {', '.join(BOT_SCOPES)}")


async def _commands_route(settings: Settings) -> Finding:
    """How /papers reaches the bot: Socket Mode (the app token, checked) or HTTP mode."""
    app_token = settings.slack_app_token
    if app_token is not None:
        client = _client(app_token.get_secret_value(), settings)
        try:
            await client.apps_connections_open(app_token=app_token.get_secret_value())
        except SlackApiError as error:
            reason = error.response.get("error", "refused")
            return Finding(
                "fail",
                "slack socket mode",
                f"Slack refused SLACK_APP_TOKEN ({reason}): generate an app-level token "
                "(xapp-...) with the connections:write scope",
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return Finding("warn", "slack socket mode", f"not validated: {one_line(error)}")
        return Finding("ok", "slack socket mode", "SLACK_APP_TOKEN valid: /papers via Socket Mode")
    if settings.slack_signing_secret is not None:
        return Finding(
            "ok",
            "slack http mode",
            "SLACK_SIGNING_SECRET set: /papers reaches `paperboy serve` at /slack/events",
        )
    return Finding(
        "warn",
        "slack commands",
        "neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP mode) is set: "
        "digests are posted, but /papers cannot reach the bot",
    )
