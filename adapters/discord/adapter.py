"""DiscordAdapter: the discord.py gateway client, `/papers` interactions, and sends.

- `start()` logs in (REST `/users/@me`), syncs the app commands (to one guild when a
  dev guild is set), connects the gateway and answers `/papers` interactions until
  `stop()`. It uses `AutoShardedClient`, which asks `/gateway/bot` where the gateway
  is (so pointing the REST base at a test server points the gateway there too).
- An interaction is answered within Discord's 3 seconds: the command runs, and if it
  has not answered after `defer_after` seconds the interaction is deferred and the
  answer follows (editing the deferred response, then follow-ups for further parts).
- `post()` is what the delivery outbox calls: one stored body to a channel (bot token,
  `nonce` + `enforce_nonce` from the outbox key, so a retried send creates no second
  message) or to a webhook URL (`discord-webhook:` targets, no bot needed).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.http import Route

from paperboy.chat import ChatError, CommandContext, CommandHandler, MessageRef
from paperboy.logs import one_line
from paperboy.models import Digest, Reply, Target
from paperboy.plugins import SubscriptionLister
from paperboy.trends import ROLLUP_PAYLOAD, Rollup, rollup_from_json
from paperboy_adapters.discord import limits
from paperboy_adapters.discord.render import (
    COLOR,
    NO_MENTIONS,
    Body,
    parse_feedback_id,
    render,
    render_reply,
)
from paperboy_adapters.discord.rest import (
    MISSING_PERMISSIONS,
    DiscordAPIError,
    DiscordREST,
    api_base,
    nonce_for,
)
from paperboy_adapters.discord.rollup import render_rollup
from paperboy_adapters.discord.slash import build_group

log = logging.getLogger(__name__)

PLATFORM = "discord"
WEBHOOK_PLATFORM = "discord-webhook"
# What the bot needs and nothing more: Send Messages + Embed Links, and Attach Files for
# the weekly rollup's chart.
PERMISSIONS = discord.Permissions(send_messages=True, embed_links=True, attach_files=True)
SCOPES = ("bot", "applications.commands")
EPHEMERAL = 64


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot with exactly the scopes and permissions it uses."""
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


class _Tree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("/papers failed", exc_info=error)
        message = "Sorry, that command failed. Please try again later."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user that /papers failed")


class PaperboyClient(discord.AutoShardedClient):
    """discord.py client that syncs `/papers` on login and announces the invite URL."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        # paperboy has no voice: skip discord.py's warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        options.setdefault("intents", discord.Intents(guilds=True))
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(**options)
        self.adapter = adapter
        self.tree = _Tree(self)
        self.tree.add_command(build_group(adapter))

    async def setup_hook(self) -> None:
        await self.adapter.sync_commands(self.tree)

    async def on_ready(self) -> None:
        self.adapter.on_ready(self)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Every interaction; the adapter answers clicks on its feedback buttons."""
        await self.adapter.on_component(interaction)


class DiscordAdapter:
    """The Discord side of paperboy (also serves `discord-webhook:` targets)."""

    platform = PLATFORM
    platforms = (PLATFORM, WEBHOOK_PLATFORM)
    #: find_sent() cannot look a part up (the nonce dedups a resend instead), so delivery
    #: need not wait and look again before resending an uncertain part.
    finds_sent = False

    def __init__(
        self,
        token: str | None,
        *,
        api_url: str | None = None,
        dev_guild: int | None = None,
        require_manage_channels: bool = True,
        defer_after: float = 2.0,
        client_options: dict[str, Any] | None = None,
        subscriptions: SubscriptionLister | None = None,
        connect: bool = True,
        timeout: float = 30.0,
    ) -> None:
        self._token = token
        self.connect = connect
        self.api_url = api_url
        self.dev_guild = dev_guild
        self.require_manage_channels = require_manage_channels
        self.defer_after = defer_after
        self.client_options = dict(client_options or {})
        # The outbox's send timeout (PAPERBOY_DELIVERY_SEND_TIMEOUT), not a shorter one.
        self.rest = DiscordREST(token, api_url, timeout=timeout)
        self.client: PaperboyClient | None = None
        self.ready = asyncio.Event()
        self.invite_url: str | None = None
        self.synced: list[app_commands.AppCommand] = []
        self._on_command: CommandHandler | None = None
        self._subscriptions = subscriptions
        self._stopping = asyncio.Event()
        self._previous_base: str | None = None

    # ----------------------------------------------------------------- rendering

    def render(self, item: Digest | Reply) -> list[Body]:
        return render(item)

    # ----------------------------------------------------------------- gateway

    async def connected(self) -> bool | None:
        """Whether the gateway session is up (for `/readyz`); None without a gateway (a
        webhook-only setup or a poster for delivery)."""
        if not self._token or not self.connect:
            return None
        client = self.client
        return client is not None and client.is_ready() and not client.is_closed()

    async def start(self, on_command: CommandHandler) -> None:
        """Log in, sync `/papers`, and answer interactions until `stop()`.

        Without a token (a webhook-only setup) or with `connect=False` (a poster for
        delivery) there is no gateway: this just waits for `stop()`.
        """
        self._on_command = on_command
        if not self._token or not self.connect:
            await self._stopping.wait()
            return
        if self.api_url:
            # discord.py builds every REST and interaction-callback URL from Route.BASE
            # (process-wide). Restored by stop().
            self._previous_base = Route.BASE
            Route.BASE = api_base(self.api_url)
        self.client = PaperboyClient(self, **self.client_options)
        try:
            await self.client.start(self._token, reconnect=True)
        except discord.LoginFailure:
            log.error("Discord refused the bot token (DISCORD_TOKEN): reset it and try again")
            raise
        except (OSError, aiohttp.ClientError, discord.DiscordException) as error:
            log.error("the Discord connection failed: %s", one_line(error))  # expected: one line
            raise
        except Exception:
            log.exception("the Discord connection failed")
            raise
        finally:
            if not self.client.is_closed():
                await self.client.close()
            await self._release()

    async def stop(self) -> None:
        self._stopping.set()
        if self.client is not None and not self.client.is_closed():
            await self.client.close()
        await self._release()

    async def _release(self) -> None:
        await self.rest.close()
        if self._previous_base is not None:
            Route.BASE = self._previous_base
            self._previous_base = None

    async def sync_commands(self, tree: app_commands.CommandTree) -> None:
        """Register `/papers` with Discord: globally, or to the dev guild only (instant)."""
        guild = discord.Object(id=self.dev_guild) if self.dev_guild else None
        if guild is not None:
            tree.copy_global_to(guild=guild)
        self.synced = await tree.sync(guild=guild)
        where = f"guild {self.dev_guild}" if guild else "all guilds"
        log.info("synced %d app command(s) to %s", len(self.synced), where)

    def on_ready(self, client: discord.Client) -> None:
        if client.application_id is not None and self.invite_url is None:
            self.invite_url = invite_url(client.application_id)
            user = client.user.name if client.user else "the bot"
            print(f"Discord: logged in as {user}. Invite it with: {self.invite_url}", flush=True)
            log.info("Discord invite URL: %s", self.invite_url)
        self.ready.set()

    # ----------------------------------------------------------------- interactions

    def context(self, interaction: discord.Interaction) -> CommandContext | None:
        """The channel and member an interaction comes from, None outside a guild channel."""
        if interaction.guild_id is None or interaction.channel_id is None:
            return None
        perms = interaction.permissions
        can_manage = (
            not self.require_manage_channels or perms.manage_channels or perms.administrator
        )
        return CommandContext(
            Target(PLATFORM, str(interaction.guild_id), str(interaction.channel_id)),
            user=str(interaction.user.id),
            can_manage=can_manage,
        )

    async def on_component(self, interaction: discord.Interaction) -> None:
        """A click on a feedback button (👍, 👎, 🔖) under a paper: recorded for the channel
        the gateway says it was clicked in, with the button's token (the core refuses a
        token of another channel or an unknown paper), and answered with an ephemeral
        "noted" within Discord's 3 seconds. Other components are not paperboy's."""
        if interaction.type != discord.InteractionType.component:
            return
        data: dict[str, Any] = dict(interaction.data) if isinstance(interaction.data, dict) else {}
        parsed = parse_feedback_id(data.get("custom_id"))
        if parsed is None:
            return
        vote, paper_id, token = parsed
        await self.run(interaction, f"feedback {vote} {paper_id} {token}")

    async def run(self, interaction: discord.Interaction, line: str) -> None:
        """Answer one `/papers` interaction with the core's reply to `line`."""
        ctx = self.context(interaction)
        if ctx is None or self._on_command is None:
            await interaction.response.send_message(
                "Use /papers in a server channel.", ephemeral=True
            )
            return
        task = asyncio.create_task(self._on_command(ctx, line))
        deferred = False
        done, _ = await asyncio.wait({task}, timeout=self.defer_after)
        if not done:
            # Not answered in time: Discord wants a response within 3 s.
            await interaction.response.defer(ephemeral=True, thinking=True)
            deferred = True
        try:
            reply = await task
        except Exception:
            log.exception("/papers %s failed", line.split(" ", 1)[0])
            reply = Reply("Sorry, that command failed. Please try again later.", ok=False)
        image = reply.extra.get("image")
        chart = chart_file(image) if isinstance(image, dict) else None
        await self.respond(interaction, render_reply(reply), reply.ephemeral, deferred, chart)
        if reply.files and reply.ok:
            await self.send_files(interaction, reply)

    async def respond(
        self,
        interaction: discord.Interaction,
        parts: Sequence[Body],
        ephemeral: bool,
        deferred: bool,
        chart: discord.File | None = None,
    ) -> None:
        """The first part answers the interaction (or edits the deferred answer);
        further parts (a digest longer than one message) are follow-ups. A `chart`
        (`/papers trends`) is attached to the first part and shown in an embed."""
        for index, part in enumerate(parts):
            kwargs = _message_kwargs(part)
            if index == 0 and chart is not None:
                kwargs = _with_chart(kwargs, chart)
                if deferred:
                    kwargs["attachments"] = [kwargs.pop("file")]
            if index == 0 and deferred:
                await interaction.edit_original_response(**kwargs)
            elif index == 0:
                await interaction.response.send_message(**kwargs, ephemeral=ephemeral)
            else:
                await interaction.followup.send(**kwargs, ephemeral=ephemeral, wait=True)

    async def send_files(self, interaction: discord.Interaction, reply: Reply) -> None:
        """A reply's files (the reading list's BibTeX) as attachments of one message in
        the channel (a follow-up everyone sees)."""
        files = [
            discord.File(io.BytesIO(f.content.encode("utf-8")), filename=f.name)
            for f in reply.files
        ]
        try:
            await interaction.followup.send(
                files=files, ephemeral=False, allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.HTTPException as error:
            log.warning("could not attach %d file(s): %s", len(files), error)

    async def subscription_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        ctx = self.context(interaction)
        if ctx is None or self._subscriptions is None:
            return []
        needle = current.strip().removeprefix("#").casefold()
        choices = []
        for sub in await self._subscriptions(ctx.target):
            if needle and needle not in str(sub.id) and needle not in sub.query.casefold():
                continue
            name = f"#{sub.id} {' '.join(sub.query.split())}"
            if len(name) > limits.CHOICE_NAME:
                name = name[: limits.CHOICE_NAME - 1] + "…"
            choices.append(app_commands.Choice(name=name, value=str(sub.id)))
            if len(choices) == limits.CHOICES:
                break
        return choices

    # ----------------------------------------------------------------- delivery

    async def post(self, target: Target, part: Any, *, key: str | None = None) -> MessageRef:
        """Send one rendered body. Raises ChatError (see `rest.error_from_response`)."""
        if not isinstance(part, dict):
            raise ChatError(f"not a Discord message body: {type(part).__name__}", permanent=True)
        if ROLLUP_PAYLOAD in part:
            return await self.post_rollup(target, rollup_from_json(part[ROLLUP_PAYLOAD]), key=key)
        payload = dict(part)
        payload["allowed_mentions"] = dict(NO_MENTIONS)  # whatever the stored part says
        if target.platform == PLATFORM:
            if key:
                payload["nonce"] = nonce_for(key)
                payload["enforce_nonce"] = True
            data = await self.rest.create_message(target.channel, payload)
        elif target.platform == WEBHOOK_PLATFORM:
            # Executing a webhook takes no nonce: Discord offers webhooks no idempotency.
            payload.pop("nonce", None)
            payload.pop("enforce_nonce", None)
            payload.pop("components", None)  # a webhook's message cannot be interactive
            data = await self.rest.execute_webhook(target.channel, payload)
        else:
            raise ChatError(f"the Discord adapter cannot post to {target.platform}", permanent=True)
        # A 2xx without an id is still a sent message: never resend it.
        return MessageRef(target, str(data.get("id") or ""))

    async def post_rollup(
        self, target: Target, rollup: Rollup, *, key: str | None = None
    ) -> MessageRef:
        """One message: the rollup's embed with its chart attached (multipart/form-data),
        with the same nonce + enforce_nonce as any part, so a resend after an unknown
        outcome returns the message already made instead of a second one."""
        if rollup.png is None:
            raise ChatError("the rollup has no image to attach", permanent=True)
        payload = render_rollup(rollup)
        payload["allowed_mentions"] = dict(NO_MENTIONS)
        files = [(rollup.image_name, rollup.png)]
        if target.platform == PLATFORM:
            if key:
                payload["nonce"] = nonce_for(key)
                payload["enforce_nonce"] = True
            try:
                data = await self.rest.create_message_with_files(target.channel, payload, files)
            except DiscordAPIError as error:
                if error.code != MISSING_PERMISSIONS:
                    raise
                # No Attach Files in this channel (an invite from before rollups): the
                # rollup without its chart rather than a paused channel. Nothing was
                # created, so the same nonce is safe.
                log.warning(
                    "discord: no Attach Files permission in %s; the rollup goes out "
                    "without its chart (re-invite the bot to add it)",
                    target,
                )
                data = await self.rest.create_message(target.channel, _without_image(payload))
        elif target.platform == WEBHOOK_PLATFORM:
            data = await self.rest.execute_webhook_with_files(target.channel, payload, files)
        else:
            raise ChatError(f"the Discord adapter cannot post to {target.platform}", permanent=True)
        return MessageRef(target, str(data.get("id") or ""))

    async def find_sent(self, target: Target, key: str) -> MessageRef | None:
        """Always None: the nonce makes a resend of a sent part return the same message."""
        return None


class _Components(discord.ui.View):
    """A rendered body's components sent as they are (the feedback buttons).

    Clicks are answered by `DiscordAdapter.on_component`, not by discord.py's view
    store, so the view never enters it (`is_finished`), and keeps no timeout task.
    """

    def __init__(self, components: list[dict[str, Any]]) -> None:
        super().__init__(timeout=None)
        self._components = components

    def to_components(self) -> list[dict[str, Any]]:
        return self._components

    def is_finished(self) -> bool:
        return True

    def is_dispatchable(self) -> bool:
        return False

    def has_components_v2(self) -> bool:
        return False


def _without_image(payload: dict[str, Any]) -> dict[str, Any]:
    embeds = [{k: v for k, v in e.items() if k != "image"} for e in payload.get("embeds", [])]
    return {**{k: v for k, v in payload.items() if k != "attachments"}, "embeds": embeds}


def chart_file(image: dict[str, Any]) -> discord.File | None:
    """A reply's chart (`Reply.extra["image"]`: name, png, alt) as an attachment."""
    png = image.get("png")
    if not isinstance(png, bytes | bytearray):
        return None
    alt = str(image.get("alt") or "")[:1024] or None
    return discord.File(io.BytesIO(bytes(png)), filename=str(image["name"]), description=alt)


def _with_chart(kwargs: dict[str, Any], chart: discord.File) -> dict[str, Any]:
    """The first message's arguments with the chart attached and shown in an embed."""
    embeds = list(kwargs["embeds"])
    shown = discord.Embed(color=COLOR).set_image(url=f"attachment://{chart.filename}")
    if len(embeds) < limits.EMBEDS_PER_MESSAGE:
        embeds.append(shown)
    return {**kwargs, "embeds": embeds, "file": chart}


def _message_kwargs(part: Body) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "content": part.get("content") or None,
        "embeds": [discord.Embed.from_dict(e) for e in part.get("embeds", [])],
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    if part.get("components"):
        kwargs["view"] = _Components(list(part["components"]))
    return kwargs
