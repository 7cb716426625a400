"""The `paperboy` command line (Typer).

Every command answers bad input with one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn

import typer

from bot.chat import CommandContext
from bot.commands import Commands
from bot.digest import digest_for_queries
from bot.formats import NEUTRAL_FORMATS
from bot.library import day_of, ingest, papers_for_day
from bot.models import Digest, Reply, Target
from bot.plugins import formats as plugin_formats
from bot.plugins import load_plugins
from bot.query import QueryError, parse
from bot.sources import SourceError
from bot.sources.file import SAMPLE_DATE
from bot.sources.registry import source_from_spec
from bot.store import Store
from bot.store.db import migrate as run_migrations
from config import Settings, get_settings

app = typer.Typer(
    name="paperboy",
    help="paperboy: the day's research papers, matched to each channel's subscriptions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
log = logging.getLogger("paperboy")


class UserError(Exception):
    """Bad input: printed as one line, exit code 2."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"invalid date {value!r}: use YYYY-MM-DD, for example 2024-11-11")


def configure_logging(config: Settings) -> None:
    logging.basicConfig(level=config.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is noise


def parse_target(spec: str) -> Target:
    try:
        return Target.parse(spec)
    except ValueError as error:
        fail(str(error))


def settings() -> Settings:
    try:
        return get_settings()
    except Exception as error:  # pydantic ValidationError: many lines; keep the first
        fail(f"invalid settings: {str(error).splitlines()[0]}")


ChannelOption = Annotated[
    str, typer.Option("--channel", "-c", help="PLATFORM:CHANNEL, e.g. console:demo")
]


@app.command()
def digest(
    query: Annotated[
        list[str], typer.Option("--query", "-q", help="A subscription query; repeat for more.")
    ],
    source: Annotated[
        str, typer.Option("--source", "-s", help="hf, sample (the bundled day) or a JSON path.")
    ] = "hf",
    date: Annotated[
        str | None, typer.Option("--date", "-d", help="YYYY-MM-DD (default: latest day).")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="text, markdown, json (and slack/discord renderings)."),
    ] = "text",
    max_papers: Annotated[
        int | None, typer.Option("--max", min=0, help="At most N entries (default: all).")
    ] = None,
) -> None:
    """Print one digest from a source for the union of the queries (no database needed)."""
    day = parse_date(date)
    renderers = {**NEUTRAL_FORMATS, **plugin_formats()}
    renderers.setdefault("text", lambda d: d.header)
    if fmt not in renderers:
        fail(f"unknown format {fmt!r}: choose from {', '.join(sorted(renderers))}")
    for q in query:
        try:
            parse(q)
        except QueryError as error:
            fail(f"bad query {q!r}: {error}")
    config = settings()

    async def fetch() -> list:
        return await source_from_spec(source, config).fetch_day(day)

    try:
        papers = run_async(fetch())
    except SourceError as error:
        fail(str(error))
    label = "sample data: Hugging Face Daily Papers of 2024-11-11" if source == "sample" else None
    result = digest_for_queries(
        papers, query, day=day or day_of(papers), max_papers=max_papers, source_label=label
    )
    sys.stdout.write(renderers[fmt](result).rstrip("\n") + "\n")


@app.command()
def migrate(
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing on success.")] = False,
) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    config = settings()
    run_async(run_migrations(config.database_url))
    if not quiet:
        typer.echo("database is up to date")


async def _command(channel: str, line: str) -> Reply:
    config = settings()
    target = parse_target(channel)
    await run_migrations(config.database_url)
    async with Store(config.database_url, default_tz=config.default_tz) as store:
        await store.targets.ensure(target)
        commands = Commands(store, source_from_spec(config.source, config))
        return await commands.handle(CommandContext(target, user="cli"), line)


def _print_reply(reply: Reply) -> None:
    """A command's answer on stdout; a refusal is one line on stderr with exit code 2."""
    if not reply.ok:
        fail(" ".join(reply.text.split()))
    text_format = plugin_formats().get("text")
    if reply.digest is not None and text_format is not None:
        sys.stdout.write(text_format(reply.digest))
    if reply.text:
        sys.stdout.write(reply.text.rstrip("\n") + "\n")


@app.command()
def subscribe(
    query: Annotated[str, typer.Argument(help="The query, e.g. 'LoRA, \"pipeline parallelism\"'")],
    channel: ChannelOption = "console:demo",
) -> None:
    """Subscribe a channel to a query."""
    _print_reply(run_async(_command(channel, f"subscribe {query}")))


@app.command()
def unsubscribe(
    subscription: Annotated[str, typer.Argument(help="The subscription's id or its query.")],
    channel: ChannelOption = "console:demo",
) -> None:
    """Remove one of a channel's subscriptions."""
    _print_reply(run_async(_command(channel, f"unsubscribe {subscription}")))


@app.command("list")
def list_command(channel: ChannelOption = "console:demo") -> None:
    """List a channel's subscriptions."""
    _print_reply(run_async(_command(channel, "list")))


async def _startup_digest(
    store: Store, config: Settings, target: Target, *, demo: bool
) -> tuple[Digest, str]:
    """Ingest the latest day and build the terminal channel's digest.

    In the terminal demo (no chat platform configured) an unreachable Hugging Face
    falls back to the bundled sample day, clearly labelled. With chat platforms the
    sample never enters the archive: the bot goes on with what is archived.
    """
    source_spec = config.source
    label = None
    day = None
    try:
        quick = config.model_copy(update={"hf_retries": 0}) if demo else config
        day = (await ingest(store, source_from_spec(source_spec, quick), None)).day
    except SourceError as error:
        if source_spec != "hf" or not demo:
            log.warning("could not fetch today's papers, using the archive: %s", error)
        else:
            print(
                f"Hugging Face is unreachable ({error}); showing the bundled sample day "
                f"{SAMPLE_DATE.isoformat()} instead.",
                file=sys.stderr,
            )
            source_spec = "sample"
            label = f"sample data: Hugging Face Daily Papers of {SAMPLE_DATE.isoformat()}"
            day = (await ingest(store, source_from_spec("sample", config), None)).day
    listed = await papers_for_day(store, None, day)
    subs = await store.subscriptions.list(target)
    channel_settings = await store.settings.get(target)
    built = digest_for_queries(
        listed.papers,
        [s.query for s in subs],
        day=listed.day,
        max_papers=channel_settings.max_papers,
        min_upvotes=channel_settings.min_upvotes,
        source_label=label,
    )
    return built, source_spec


async def _run(config: Settings) -> None:
    plugins = load_plugins()
    console_plugin = plugins.get("console")
    if console_plugin is None or console_plugin.create is None:
        fail("the console adapter is not installed (reinstall paperboy)")
    await run_migrations(config.database_url)
    async with Store(config.database_url, default_tz=config.default_tz) as store:
        console = console_plugin.create(config)
        others = [
            adapter
            for name, plugin in plugins.items()
            if name != "console" and plugin.create is not None
            for adapter in [plugin.create(config)]
            if adapter is not None
        ]
        target = Target("console", "", config.console_channel)
        if await store.targets.get_id(target) is None:
            await store.targets.ensure(target)
            for q in config.demo_queries:
                try:
                    await store.subscriptions.add(target, parse(q).source.strip())
                except QueryError as error:
                    print(f"skipping demo query {q!r}: {error}", file=sys.stderr)
        built, source_spec = await _startup_digest(store, config, target, demo=not others)
        await console.show(Reply(digest=built))
        commands = Commands(store, source_from_spec(source_spec, config))
        tasks = [asyncio.create_task(a.start(commands.handle)) for a in others]
        try:
            await console.start(commands.handle)
            if tasks:  # stdin closed: keep serving the chat platforms
                await asyncio.gather(*tasks)
        finally:
            for adapter in others:
                await adapter.stop()
            for task in tasks:
                task.cancel()


@app.command()
def run() -> None:
    """Start the bot: print today's digest, then answer /papers commands from stdin."""
    config = settings()
    configure_logging(config)
    try:
        run_async(_run(config))
    except SourceError as error:
        fail(str(error))
    except KeyboardInterrupt:
        pass


async def _serve(config: Settings, host: str, port: int) -> None:
    hooks = [p.hooks["serve"] for p in load_plugins().values() if "serve" in p.hooks]
    if not hooks:
        fail("no installed adapter serves HTTP (the Slack adapter does)")
    await run_migrations(config.database_url)
    async with Store(config.database_url, default_tz=config.default_tz) as store:
        commands = Commands(store, source_from_spec(config.source, config))
        try:
            await asyncio.gather(*(hook(config, commands, host, port) for hook in hooks))
        except ValueError as error:  # a hook's "not configured" answer
            fail(str(error))


@app.command()
def serve(
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="Port (default PAPERBOY_SLACK_PORT).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "0.0.0.0",
) -> None:
    """Serve HTTP: Slack's POST /slack/events and GET /healthz (the Procfile's web process)."""
    config = settings()
    configure_logging(config)
    try:
        run_async(_serve(config, host, port or config.slack_port))
    except KeyboardInterrupt:
        pass


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: Typer with one-line errors and exit code 2 for bad input.

    Typer bundles its own copy of click, so its usage errors are recognised by shape
    (an `exit_code` of 2 and `format_message()`), not by importing click.
    """
    try:
        result = app(args=argv, standalone_mode=False)
    except UserError as error:
        print(f"paperboy: {error}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except Exception as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            print(error.format_message())  # type: ignore[attr-defined]
            sys.exit(0)
        if getattr(error, "exit_code", None) == 2 and hasattr(error, "format_message"):
            message = " ".join(error.format_message().split())
            print(f"paperboy: {message}", file=sys.stderr)
            sys.exit(2)
        raise
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
