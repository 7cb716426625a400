"""`paperboy doctor` for Discord: the bot token validated with `GET /users/@me` (the call
discord.py's login makes), and the invite URL the bot needs to be added with."""

from __future__ import annotations

import aiohttp

from paperboy.logs import one_line
from paperboy.plugins import Finding
from paperboy_adapters.discord.rest import USER_AGENT, api_base
from paperboy_config import Settings

TIMEOUT = aiohttp.ClientTimeout(total=10)


async def doctor(settings: Settings) -> list[Finding]:
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        return [
            Finding("ok", "discord", "not configured (DISCORD_TOKEN is not set; webhooks work)")
        ]
    url = api_base(settings.discord_api_url).rstrip("/") + "/users/@me"
    headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(url, headers=headers) as response,
        ):
            status = response.status
            me = await response.json(content_type=None) if status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
        return [
            Finding(
                "warn",
                "discord token",
                f"DISCORD_TOKEN is set but Discord could not be reached ({one_line(error)}): "
                "not validated",
            )
        ]
    if status == 401:
        return [
            Finding(
                "fail",
                "discord token",
                "Discord refused DISCORD_TOKEN (401 Unauthorized): reset the bot's token in "
                "the Developer Portal (Bot > Reset Token) and set the new one",
            )
        ]
    if status != 200 or not isinstance(me, dict):
        return [Finding("warn", "discord token", f"Discord answered {status}: not validated")]
    name = str(me.get("username", "?"))[:100]
    if not me.get("bot", False):
        return [Finding("fail", "discord token", f"DISCORD_TOKEN belongs to a user ({name}), "
                                                 "not a bot")]  # fmt: skip
    return [Finding("ok", "discord token", f"valid: bot {name} (id {me.get('id', '?')})")]
