"""The `paperboy` command line (Typer).

Every command answers bad input with one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import signal
import sys
import traceback
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from paperboy.bootstrap import App, build_source, close_adapters, migrate_database, open_app
from paperboy.chat import CommandContext
from paperboy.errors import QueryError
from paperboy.models import Digest, Reply, SearchResults, Target
from paperboy.plugins import formats as plugin_formats
from paperboy.sources import SourceError, day_of
from paperboy.sources.file import SAMPLE_DATE
from paperboy.terminal import json_safe, terminal_safe

if TYPE_CHECKING:
    from paperboy.delivery import DeliverOutcome, StatusReport
    from paperboy.ingest import BackfillReport, DayResult
    from paperboy.search import SearchRequest, Similar
    from paperboy_config import Settings

# The store (SQLAlchemy, Alembic), delivery (APScheduler), search, ingest, the settings
# (pydantic-settings) and matching are imported inside the commands that use them:
# `--help` starts with Typer alone, `digest` without the database and chat libraries.

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


def configure_logging(config: Settings | None = None, *, screen: bool = False) -> None:
    """Log to stderr (or PAPERBOY_LOG_FILE) with timestamps, or as JSON lines; WARNING and
    above until the settings name a level (bot/logs.py).

    `screen`: the terminal is the chat (the `run` demo). Without a log file, only
    warnings reach the screen unless PAPERBOY_LOG_LEVEL was set explicitly.
    """
    from paperboy import logs

    if config is None:
        logs.configure(logging.WARNING)
        return
    level: int | str = config.log_level
    if screen and config.log_file is None and "log_level" not in config.model_fields_set:
        level = max(logging.WARNING, logging.getLevelName(config.log_level))
    logs.configure(
        level, fmt=config.log_format, file=config.log_file, library_level=config.library_log_level
    )


def quiet_libraries() -> None:
    """Third-party and database loggers at WARNING (as every command sets them)."""
    from paperboy import logs

    logs.quiet_libraries()


def terminal_document(text: str) -> str:
    """A rendered document for stdout: a JSON one keeps its data exactly (controls as
    \\u escapes); text gets visible stand-ins for them (`say` puts them in)."""
    try:
        json.loads(text)
    except ValueError:
        return text
    return json_safe(text)


def say(text: str, *, err: bool = False) -> None:
    """Print text that may carry untrusted parts (line breaks and tabs kept)."""
    print(terminal_safe(text.rstrip("\n"), keep="\n\t"), file=sys.stderr if err else sys.stdout)


def parse_target(spec: str) -> Target:
    try:
        return Target.parse(spec)
    except ValueError as error:
        fail(str(error))


def settings() -> Settings:
    """The settings, or exit 2 with one line per bad variable (never a traceback)."""
    from paperboy_config import get_settings, settings_problems

    try:
        return get_settings()
    except Exception as error:  # ValidationError, or pydantic-settings' SettingsError
        fail("\n".join(settings_problems(error)))


def warn_if_ephemeral(config: Settings) -> None:
    """A loud line on stderr when the SQLite file will be lost (a Heroku-like dyno)."""
    from paperboy.doctor import sqlite_location_problem

    problem = sqlite_location_problem(config.database_url, dyno_only=True)
    if problem is not None:
        say(f"paperboy: WARNING: {problem}", err=True)


ChannelOption = Annotated[
    str, typer.Option("--channel", "-c", help="PLATFORM:CHANNEL, e.g. console:demo")
]


@app.command()
def digest(
    query: Annotated[
        list[str] | None,
        typer.Option("--query", "-q", help="A subscription query; repeat for more."),
    ] = None,
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
    summary: Annotated[
        str,
        typer.Option("--summary", help="Summary style: structured, paragraph or tldr."),
    ] = "structured",
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="Summary language, a BCP 47 tag (default: PAPERBOY_DEFAULT_LANGUAGE).",
        ),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            "-c",
            help="Preview the digest this channel (PLATFORM:CHANNEL) would get for the "
            "archived papers of --from..--to: its subscriptions, settings and learned order.",
        ),
    ] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="With --channel: first day, YYYY-MM-DD.")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="With --channel: last day (default: --from).")
    ] = None,
) -> None:
    """Print one digest from a source for the union of the queries (no database needed),
    or with --channel the digest a channel would get from the archive (nothing is sent)."""
    from paperboy.digest import NEUTRAL_FORMATS, digest_for_queries
    from paperboy.matching import parse
    from paperboy.summaries import LanguageError, StyleError, check_style, normalize_language

    if channel is not None:
        _channel_digest(channel, first, last, fmt, query)
        return
    if first is not None or last is not None:
        fail("--from and --to need --channel")
    if not query:
        fail("give --query (one or more), or --channel with --from and --to")
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
    try:
        style = check_style(summary)
    except StyleError as error:
        fail(str(error))
    config = settings()
    try:
        tag = normalize_language(language if language is not None else config.default_language)
    except LanguageError as error:
        fail(f"--language: {error}")

    async def fetch() -> list:
        return await build_source(config, source).fetch_day(day)

    try:
        papers = run_async(fetch())
    except SourceError as error:
        fail(str(error))
    label = "sample data: Hugging Face Daily Papers of 2024-11-11" if source == "sample" else None
    options: dict[str, Any] = {
        "day": day or day_of(papers),
        "max_papers": max_papers,
        "source_label": label,
        "style": style,
        "language": tag,
    }
    result = digest_for_queries(papers, query, **options)
    if config.llm_base_url and result.entries:
        summaries = run_async(_model_summaries(config, result, style, tag))
        result = digest_for_queries(papers, query, **options, summaries=summaries)
    say(terminal_document(renderers[fmt](result)))


async def _model_summaries(config: Settings, digest: Digest, style: str, language: str) -> Any:
    """The model's summaries of the digest's papers: one request per paper (for this style
    and language), waiting at most PAPERBOY_LLM_DIGEST_WAIT_SECONDS; the rest stay
    extractive."""
    from paperboy.llm import summarizer_from_settings

    summarizer = summarizer_from_settings(config, None)
    if summarizer is None:
        return {}
    try:
        wanted = {e.paper.id: (e.paper, style, language) for e in digest.entries}
        ready, missing = await summarizer.gather(wanted.values())
    finally:
        await summarizer.close()
    if missing:
        reasons = ", ".join(sorted(set(missing.values())))
        logging.getLogger("paperboy.cli").warning(
            "%d of %d papers keep their extractive summary (%s)", len(missing), len(wanted), reasons
        )
    return ready


def _channel_digest(
    channel: str, first: str | None, last: str | None, fmt: str, query: list[str] | None
) -> None:
    """`digest --channel C --from --to`: the channel's digest from the archive (see
    `paperboy.feedback.preview`)."""
    if query:
        fail("--query and --channel do not go together: a channel has its subscriptions")
    if fmt not in ("json", "text"):
        fail(f"unknown format {fmt!r} with --channel: choose json or text")
    if first is None:
        fail("--channel needs --from YYYY-MM-DD (and optionally --to)")
    day_from = parse_date(first)
    day_to = parse_date(last) if last is not None else day_from
    assert day_from is not None and day_to is not None
    if day_to < day_from:
        fail(f"--to {day_to} is before --from {day_from}")
    target = parse_target(channel)
    config = settings()

    async def build() -> dict[str, Any]:
        from paperboy.feedback import preview, preview_json

        async with open_app(config) as bot:
            return preview_json(await preview(bot.store, target, day_from, day_to))

    data = run_async(build())
    if fmt == "json":
        say(json_safe(json.dumps(data, ensure_ascii=False, indent=2)))
        return
    lines = [f"{data['channel']}: {data['from']}..{data['to']}, {len(data['entries'])} papers"]
    for entry in data["entries"]:
        why = f"  ({entry['why']})" if entry.get("why") else ""
        lines.append(f"{entry['score']:7.3f}  {entry['id']}  {entry['title']}{why}")
    for entry in data.get("suggestions", []):
        lines.append(f"   also  {entry['id']}  {entry['title']}  ({entry['why']})")
    say("\n".join(lines))


async def _migrate_waiting(config: Settings, wait: float) -> None:
    """Migrate; while the database does not answer, try again for up to `wait` seconds
    (a container started next to its database)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    said = False
    while True:
        try:
            await migrate_database(config)
            return
        except Exception as error:
            if not database_unreachable(error) or loop.time() >= deadline:
                raise
            if not said:
                say(f"paperboy: waiting for the database: {_one_line(error)}", err=True)
                said = True
            await asyncio.sleep(1.0)


@app.command()
def migrate(
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing on success.")] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Seconds to wait for the database to answer."),
    ] = 0.0,
) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    config = settings()
    warn_if_ephemeral(config)
    run_async(_migrate_waiting(config, wait))
    if not quiet:
        typer.echo("database is up to date")


async def _command(channel: str, line: str, *, user: str = "cli") -> Reply:
    config = settings()
    target = parse_target(channel)
    async with open_app(config) as app:
        await app.store.targets.ensure(target)
        return await app.commands().handle(CommandContext(target, user=user), line)


def _print_reply(reply: Reply) -> None:
    """A command's answer on stdout; a refusal is one line on stderr with exit code 2."""
    if not reply.ok:
        fail(" ".join(reply.text.split()))
    text_format = plugin_formats().get("text")
    if reply.digest is not None and text_format is not None:
        say(text_format(reply.digest))
    if reply.text:
        say(reply.text)


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


@app.command()
def chat(
    text: Annotated[
        list[str],
        typer.Argument(help="What follows /papers, after --: e.g. -- settings suggest on"),
    ],
    channel: Annotated[
        str, typer.Option("--channel", "-c", help="PLATFORM:CHANNEL the command runs as.")
    ] = "console:demo",
    user: Annotated[str, typer.Option("--user", help="Who asks (hashed where stored).")] = "cli",
) -> None:
    """Run `/papers TEXT` as a channel and print the reply."""
    line = " ".join(text)
    reply = run_async(_command(channel, line, user=user))
    _print_reply(reply)
    for file in reply.files:
        say(f"--- {file.name} ---")
        say(file.content)


@app.command()
def feedback(
    channel: Annotated[str, typer.Option("--channel", "-c", help="PLATFORM:CHANNEL.")],
    paper: Annotated[str, typer.Option("--paper", "-p", help="The paper's arXiv id.")],
    vote: Annotated[str, typer.Option("--vote", help="up, down, save or clear.")],
    user: Annotated[str, typer.Option("--user", help="Whose vote (hashed when stored).")] = "cli",
) -> None:
    """Record one user's feedback on a paper for a channel (as a button click would)."""
    from paperboy.feedback import ACTIONS

    if vote not in ACTIONS:
        fail(f"unknown vote {vote!r}: choose {', '.join(ACTIONS)}")
    if not paper.strip() or len(paper.split()) != 1:
        fail(f"invalid paper id {paper!r}")
    _print_reply(run_async(_command(channel, f"feedback {vote} {paper}", user=user)))


@app.command()
def saved(
    channel: Annotated[str, typer.Option("--channel", "-c", help="PLATFORM:CHANNEL.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json or bibtex.")] = "json",
) -> None:
    """Print a channel's reading list (the papers its people saved), newest first."""
    if fmt not in ("json", "bibtex"):
        fail(f"unknown format {fmt!r}: choose json or bibtex")
    target = parse_target(channel)
    config = settings()

    async def gather() -> str:
        from paperboy.digest.build import make_entry
        from paperboy.digest.formats import entry_json
        from paperboy.feedback import to_bibtex, user_label

        async with open_app(config) as bot:
            listing = await bot.store.feedback.reading_list(target)
            found = await bot.store.papers.get_many([s.paper_id for s in listing.papers])
        papers = [found[s.paper_id] for s in listing.papers if s.paper_id in found]
        if fmt == "bibtex":
            return to_bibtex(papers)
        rows = []
        for item in listing.papers:
            paper = found.get(item.paper_id)
            row: dict[str, Any] = (
                entry_json(make_entry(paper, ())) if paper is not None else {"id": item.paper_id}
            )
            row.pop("matched_terms", None)
            row["saved_at"] = item.saved_at.isoformat()
            row["saved_by"] = item.savers
            rows.append(row)
        data = {
            "channel": target.display,
            "papers": rows,
            "savers": [{"user": user_label(h), "saved": n} for h, n in listing.savers],
        }
        return json_safe(json.dumps(data, ensure_ascii=False, indent=2))

    out = run_async(gather())
    if out:
        say(out)


async def _startup_digest(bot: App, target: Target, *, demo: bool) -> tuple[Digest, str]:
    """Ingest the latest day and build the terminal channel's digest.

    In the terminal demo (no chat platform configured) an unreachable Hugging Face
    falls back to the bundled sample day, clearly labelled. With chat platforms the
    sample never enters the archive: the bot goes on with what is archived.
    """
    from paperboy.digest import digest_for_queries
    from paperboy.ingest import ingest, papers_for_day

    store = bot.store
    source_spec = bot.settings.source
    label = None
    day = None
    try:
        source = bot.source(hf_retries=0) if demo else bot.source()
        day = (await ingest(store, source, None)).day
    except SourceError as error:
        if source_spec != "hf" or not demo:
            log.warning("could not fetch today's papers, using the archive: %s", error)
        else:
            say(
                f"Hugging Face is unreachable ({error}); showing the bundled sample day "
                f"{SAMPLE_DATE.isoformat()} instead.",
                err=True,
            )
            source_spec = "sample"
            label = f"sample data: Hugging Face Daily Papers of {SAMPLE_DATE.isoformat()}"
            day = (await ingest(store, bot.source("sample"), None)).day
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


async def _run(config: Settings, *, console: bool = True) -> None:
    async with open_app(config, migrate=False) as bot:
        if console and (
            bot.plugins.get("console") is None or bot.plugins["console"].create is None
        ):
            fail("the console adapter is not installed (reinstall paperboy)")
        await bot.migrate()
        if console:
            await _run_all(bot)
        else:
            await _run_headless(bot)


async def _embed_backlog(bot: App) -> None:
    """In the background of `run`: embed the papers archived without an embedding (before
    this release, or under another model), then build the vector index, so the first
    hybrid search or `similar` does not wait for either."""
    from paperboy.embeddings import Embeddings

    try:
        embeddings = Embeddings(bot.store)
        done = await embeddings.backfill()
        if done:
            log.info("embedded %d archived papers", done)
        await embeddings.sync()
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a background nicety: never stops the bot
        log.warning("embedding the archive failed: %s", error)


async def _run_all(bot: App) -> None:
    """`run`: the console, every configured chat platform, the scheduler and a worker."""
    from paperboy.matching import parse

    config, store = bot.settings, bot.store
    console = bot.chat_adapter("console")
    assert console is not None  # checked by _run
    others = bot.chat_adapters()
    background: list[asyncio.Task[Any]] = []
    async with bot.health("all", adapters=lambda: others, tasks=lambda: background):
        target = Target("console", "", config.console_channel)
        if await store.targets.get_id(target) is None:
            await store.targets.ensure(target)
            for q in config.demo_queries:
                try:
                    await store.subscriptions.add(target, parse(q).source.strip())
                except QueryError as error:
                    say(f"skipping demo query {q!r}: {error}", err=True)
        built, source_spec = await _startup_digest(bot, target, demo=not others)
        await console.show(Reply(digest=built))  # type: ignore[attr-defined]
        source = bot.source(source_spec)
        tasks: list[asyncio.Task[None]] = []
        adapters = bot.delivery_adapters(running=[console, *others])
        backlog = asyncio.create_task(_embed_backlog(bot))
        try:
            async with bot.background("all", adapters=adapters) as bg:
                background += bg.tasks
                commands = bot.commands(source=source, on_schedule_change=bg.schedule_changed)
                tasks += [asyncio.create_task(a.start(commands.handle)) for a in others]
                await console.start(commands.handle)
                if tasks:  # stdin closed: keep serving the chat platforms
                    await asyncio.gather(*tasks)
        finally:
            backlog.cancel()
            for adapter in others:
                await adapter.stop()
            for task in tasks:
                task.cancel()


async def _run_headless(bot: App) -> None:
    """`run --no-console` (a server, a container): every configured chat platform, the
    scheduler and a worker, until SIGTERM or SIGINT."""
    others = bot.chat_adapters()
    background: list[asyncio.Task[Any]] = []
    tasks: list[asyncio.Task[None]] = []
    async with bot.health("all", adapters=lambda: others, tasks=lambda: background):
        adapters = bot.delivery_adapters(running=others)
        backlog = asyncio.create_task(_embed_backlog(bot))
        try:
            async with bot.background("all", adapters=adapters) as bg:
                background += bg.tasks
                commands = bot.commands(on_schedule_change=bg.schedule_changed)
                tasks += [asyncio.create_task(a.start(commands.handle)) for a in others]
                _stop_on_signals(bg.stop)
                names = ", ".join(a.platform for a in others) or "none configured"
                log.info("running without a console (chat platforms: %s)", names)
                await bg.wait()
        finally:
            backlog.cancel()
            for adapter in others:
                await adapter.stop()
            for task in tasks:
                task.cancel()
            await close_adapters(adapters)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)


@app.command()
def run(
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="all: commands, scheduling and delivery (default); scheduler: schedule "
            "and ingest only; worker: deliver only (run any number on PostgreSQL).",
        ),
    ] = "all",
    console: Annotated[
        bool,
        typer.Option(
            "--console/--no-console",
            help="With --role all: the terminal as a chat channel (default), or none (a "
            "server or a container: run until SIGTERM).",
        ),
    ] = True,
) -> None:
    """Start the bot: print today's digest, then answer /papers commands from stdin."""
    from paperboy.delivery import ROLES

    if role not in ROLES:
        fail(f"unknown role {role!r}: use all, scheduler or worker")
    config = settings()
    chat_platforms = config.slack_bot_token is not None or config.discord_token is not None
    screen = role == "all" and console and (_stdin_is_terminal() or not chat_platforms)
    configure_logging(config, screen=screen)
    warn_if_ephemeral(config)
    try:
        run_async(_run(config, console=console) if role == "all" else _run_role(config, role))
    except SourceError as error:
        fail(str(error))
    except KeyboardInterrupt:
        pass


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False


async def _run_role(config: Settings, role: str) -> None:
    """`run --role scheduler|worker`: no console, no chat gateways; until SIGTERM/SIGINT."""
    async with open_app(config) as bot:
        adapters = bot.delivery_adapters(include=[n for n in bot.plugins if n != "console"])
        backlog = asyncio.create_task(_embed_backlog(bot)) if role != "worker" else None
        background: list[asyncio.Task[Any]] = []
        try:
            async with (
                bot.health(role, adapters=adapters.values, tasks=lambda: background),
                bot.background(role, adapters=adapters) as bg,
            ):
                background += bg.tasks
                _stop_on_signals(bg.stop)
                log.info("running as %s (delivering to: %s)", role, ", ".join(sorted(adapters)))
                await bg.wait()
        finally:
            if backlog is not None:
                backlog.cancel()
            await close_adapters(adapters)


async def _deliver(config: Settings, day: dt.date | None) -> DeliverOutcome:
    async with open_app(config) as bot:
        return await bot.deliver(day, notice=typer.echo)


@app.command()
def deliver(
    date: Annotated[
        str | None,
        typer.Option("--date", "-d", help="YYYY-MM-DD (default: each channel's today)."),
    ] = None,
) -> None:
    """Send every digest due on a date now, through the outbox (a second run sends nothing).

    Exits 1 when parts are left that could not go out yet, saying when they can.
    """
    day = parse_date(date)
    config = settings()
    configure_logging(config)
    out = run_async(_deliver(config, day))
    plan, stats = out.plan, out.stats
    pending = sum(out.counts.get(status, 0) for status in ("queued", "pending", "sending"))
    typer.echo(
        f"due: {out.due} digest(s); planned now: {plan.planned} ({plan.empty} empty, "
        f"{plan.unrendered} waiting for an adapter); already planned: {plan.already}"
    )
    typer.echo(
        f"sent: {stats.sent} message(s) ({stats.found} found already posted); "
        f"still pending: {pending}; failed: {out.counts.get('failed', 0)}; "
        f"channels paused now: {stats.paused}"
    )
    for line in out.missing:
        say(line)
    left = out.backlog
    if left.total:
        when = left.next_claimable
        if when is None:
            say(f"{left.total} part(s) could not go out yet")
        else:
            why = (
                "when another worker's claim on them runs out"
                if when == left.claimed_until
                else "when their retry is due"
            )
            at = when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            say(
                f"{left.total} part(s) could not go out yet; the next can be sent from {at} "
                f"({why}): run paperboy deliver again then, or leave them to a running worker"
            )
        raise typer.Exit(1)


@app.command()
def status() -> None:
    """Next scheduled digests, pending and failed deliveries, paused channels."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from paperboy.delivery import status_report

    def cell(value: object) -> Text:
        """Data in a table cell: a Text (never read as markup), controls made visible."""
        return Text(terminal_safe(str(value)))

    config = settings()

    async def gather() -> StatusReport:
        async with open_app(config) as bot:
            return await status_report(bot.store)

    report = run_async(gather())
    console = Console(highlight=False, emoji=False)
    shown = 30
    upcoming = sorted(
        (t for t in report.targets if t.next_run is not None), key=lambda t: t.next_run
    )
    table = Table(title=f"Next digests ({len(upcoming)} of {len(report.targets)} channels active)")
    for column in ("channel", "schedule", "next run (UTC)"):
        table.add_column(column)
    for row in upcoming[:shown]:
        when = row.next_run.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if row.next_run else ""
        table.add_row(cell(row.target), cell(row.schedule), when)
    if len(upcoming) > shown:
        table.caption = f"and {len(upcoming) - shown} more"
    console.print(table)
    counts = report.counts
    console.print(
        f"Deliveries: {report.pending} pending, {counts.get('sent', 0)} sent, "
        f"{report.failed_count} failed",
        markup=False,
    )
    for platform, count in sorted(report.pending_by_platform.items()):
        console.print(cell(f"  pending for {platform}: {count}"))
    for platform, count in sorted(report.unrendered_by_platform.items()):
        console.print(
            cell(f"  {count} digest(s) for {platform} wait for a configured {platform} adapter")
        )
    usage = report.summaries
    if usage is not None:
        model = config.llm_model if config.llm_base_url else "none (extractive summaries)"
        console.print(
            f"Summaries today (UTC): {usage.made} made by the model, {usage.cache_hits} "
            f"cache hits, {usage.tokens:,} tokens used"
            + (f" of {config.llm_daily_tokens:,}" if config.llm_daily_tokens else "")
            + f", {usage.fallbacks} fallbacks to extractive; model: ",
            markup=False,
            end="",
        )
        console.print(cell(model))
    if report.failed:
        failed = Table(title="Failed deliveries")
        for column in ("channel", "digest", "part", "attempts", "error"):
            failed.add_column(column)
        for item in report.failed:
            failed.add_row(
                cell(item.target),
                item.digest_date.isoformat(),
                str(item.part + 1),
                str(item.attempts),
                cell((item.error or "")[:80]),
            )
        console.print(failed)
    paused = [t for t in report.targets if t.paused]
    if paused:
        table = Table(title="Paused channels")
        table.add_column("channel")
        table.add_column("reason")
        for row in paused:
            table.add_row(cell(row.target), cell(row.paused_reason or ""))
        console.print(table)
    else:
        console.print("No paused channels.")


async def _search(
    config: Settings, request: SearchRequest, limit: int | None, mode: str
) -> SearchResults:
    from paperboy.search import hybrid_search

    async with open_app(config) as bot:
        try:
            return await hybrid_search(bot.store, request, limit=limit, mode=mode)  # type: ignore[arg-type]
        except QueryError as error:
            fail(f"bad query: {error}")


@app.command("search")
def search_command(
    query: Annotated[
        list[str], typer.Argument(help="A query with options, e.g. 'LoRA since:30d has:code'.")
    ],
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, max=100, help="How many results.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            "-m",
            help="hybrid (exact matches first, fused with meaning), keyword or semantic.",
        ),
    ] = "hybrid",
) -> None:
    """Search every paper in the archive (the query language of subscriptions, and meaning)."""
    from paperboy.search import MODES, hybrid_json, parse_search, results_text

    if fmt not in ("text", "json"):
        fail(f"unknown format {fmt!r}: choose text or json")
    if mode not in MODES:
        fail(f"unknown mode {mode!r}: choose {', '.join(MODES)}")
    text = " ".join(query)
    try:
        request = parse_search(text)
    except QueryError as error:
        fail(f"bad query: {error}")
    config = settings()
    results = run_async(_search(config, request, limit, mode))
    if fmt == "json":
        say(json_safe(json.dumps(hybrid_json(results), ensure_ascii=False, indent=2)))
    else:
        from rich.console import Console

        Console(highlight=False, emoji=False, soft_wrap=True).print(
            terminal_safe(results_text(results), keep="\n"), markup=False
        )


async def _similar(config: Settings, ref: str, limit: int) -> Similar:
    from paperboy.embeddings import EmbedderError
    from paperboy.search import find_paper, similar

    async with open_app(config) as bot:
        paper = await find_paper(bot.store, ref)
        if paper is None:
            fail(f"unknown paper {ref.strip()[:64]!r}: not in the archive")
        try:
            return await similar(bot.store, paper, limit=limit)
        except EmbedderError as error:
            fail(str(error))


@app.command("similar")
def similar_command(
    paper: Annotated[str, typer.Argument(help="An arXiv id or link, e.g. 2106.09685.")],
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=100, help="How many papers.")
    ] = 10,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """The archive's papers closest in meaning to one paper (by their embeddings)."""
    from paperboy.search import similar_json, similar_text

    if fmt not in ("text", "json"):
        fail(f"unknown format {fmt!r}: choose text or json")
    found = run_async(_similar(settings(), paper, limit))
    if fmt == "json":
        say(json_safe(json.dumps(similar_json(found), ensure_ascii=False, indent=2)))
    else:
        say(similar_text(found))


async def _reindex(config: Settings, progress: bool) -> tuple[int, int, int]:
    from paperboy.embeddings import EmbedderError, Embeddings
    from paperboy.search import SearchIndex

    async with open_app(config) as bot:
        if progress:
            say("rebuilding the keyword search index from the archive", err=True)
        async with SearchIndex(bot.store, workers=1) as index:
            indexed = await index.rebuild()
        embeddings = Embeddings(bot.store)
        try:
            done = await embeddings.backfill(
                on_batch=(lambda n: say(f"{n} papers embedded", err=True)) if progress else None
            )
        except EmbedderError as error:
            fail(str(error))
        return indexed, done, await embeddings.vectors.count()


@app.command()
def reindex(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Rebuild the keyword search index from the archive, and embed every archived paper
    that has no embedding yet (for similar and hybrid search)."""
    config = settings()
    configure_logging(config)
    indexed, done, total = run_async(_reindex(config, not quiet))
    say(
        f"{indexed} papers indexed for keyword search; {done} papers embedded;"
        f" {total} papers have an embedding"
    )


def _week_option(value: str) -> dt.date:
    from paperboy.trends import parse_week

    try:
        return parse_week(value)
    except ValueError as error:
        fail(f"bad week: {error}")


@app.command("trends")
def trends_command(
    query: Annotated[
        list[str], typer.Argument(help="A query, e.g. 'LoRA' or 'speculative decoding'.")
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Where to write the chart (PNG).")],
    weeks: Annotated[
        int, typer.Option("--weeks", "-w", min=1, max=104, help="How many ISO weeks (12).")
    ] = 12,
    until: Annotated[
        str | None, typer.Option("--until", help="YYYY-MM-DD: the last week's day (today).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Papers per ISO week matching a query over the archive, drawn to a PNG chart."""
    from paperboy.delivery import trend
    from paperboy.matching import parse

    if fmt not in ("text", "json"):
        fail(f"unknown format {fmt!r}: choose text or json")
    text = " ".join(query).strip()
    try:
        parse(text)
    except QueryError as error:
        fail(f"bad query: {error}")
    last = parse_date(until)
    if last is not None:
        from paperboy.trends import check_day

        try:
            check_day(last)
        except ValueError as error:
            fail(f"bad --until: {error}")
    config = settings()

    async def compute() -> Any:
        async with open_app(config) as bot:
            return await trend(bot.store, text, weeks=weeks, until=last)

    result = run_async(compute())
    try:
        with open(out, "wb") as handle:
            handle.write(result.png or b"")
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    if fmt == "json":
        say(json_safe(json.dumps(result.as_json(out), ensure_ascii=False)))
        return
    for label, count in zip(result.labels, result.counts, strict=True):
        say(f"{label}  {count:>5}")
    say(f"chart written to {terminal_safe(out)}")


@app.command("rollup")
def rollup_command(
    channel: ChannelOption,
    week: Annotated[str, typer.Option("--week", help="The ISO week, e.g. 2026-W48.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, slack or discord.")] = "json",
    out_dir: Annotated[
        str | None, typer.Option("--out-dir", help="Write the chart (PNG) into this folder.")
    ] = None,
) -> None:
    """A channel's weekly rollup of one ISO week, as JSON or as the message it would send."""
    from pathlib import Path

    from paperboy.delivery import build_rollup
    from paperboy.plugins import load_plugins
    from paperboy.trends import rollup_to_json

    monday = _week_option(week)
    target = parse_target(channel)
    renderers: dict[str, Any] = {"json": None}
    plugins = load_plugins()
    for name in ("slack", "discord"):
        if name in plugins and "rollup" in plugins[name].hooks:
            renderers[name] = plugins[name].hooks["rollup"]
    if fmt not in renderers:
        fail(f"unknown format {fmt!r}: choose from {', '.join(sorted(renderers))}")
    folder = Path(out_dir) if out_dir else None
    if folder is not None and not folder.is_dir():
        fail(f"--out-dir {out_dir!r} is not a folder")
    config = settings()

    async def compute() -> Any:
        async with open_app(config) as bot:
            return await build_rollup(bot.store, target, monday, draw=folder is not None)

    rollup = run_async(compute())
    image: str | None = None
    if folder is not None and rollup.png is not None:
        path = folder / rollup.image_name
        try:
            path.write_bytes(rollup.png)
        except OSError as error:
            fail(f"cannot write {path}: {error.strerror or error}")
        image = str(path)
    render = renderers[fmt]
    if render is None:
        data = rollup_to_json(rollup, image=image)
        data["image"] = image
        say(json_safe(json.dumps(data, ensure_ascii=False)))
    else:
        say(json_safe(json.dumps(render(rollup), ensure_ascii=False, indent=2)))


async def _ingest(
    config: Settings, spec: str, first: dt.date | None, last: dt.date | None, force: bool
) -> BackfillReport:
    from paperboy.ingest import BackfillReport, backfill, days_between, ingest_latest

    source = build_source(config, spec)
    async with open_app(config) as bot:
        store = bot.store
        if first is None:
            result = await ingest_latest(store, source)
            report = BackfillReport(source.name)
            report.days.append(result)
            return report
        days = days_between(first, last or dt.datetime.now(dt.UTC).date())
        concurrency = config.hf_concurrency if source.name == "hf" else 1
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days · {task.fields[papers]} papers"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task(f"{source.name} backfill", total=len(days), papers=0)

            def advance(result: DayResult) -> None:
                fetched = progress.tasks[0].fields["papers"] + result.fetched
                progress.update(task, advance=1, papers=fetched)

            return await backfill(
                store, source, days, concurrency=concurrency, force=force, on_day=advance
            )


@app.command("ingest")
def ingest_command(
    source: Annotated[
        str,
        typer.Option(
            "--source", "-s", help="hf, arxiv, or the path of a recorded daily_papers JSON."
        ),
    ] = "hf",
    first: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: latest only).")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Fetch days an earlier run already completed.")
    ] = False,
) -> None:
    """Backfill the archive with a range of days (resumable), or load a recorded day."""
    day_from, day_to = parse_date(first), parse_date(last)
    if day_to is not None and day_from is None:
        fail("--to needs --from")
    if source.strip().lower() not in ("hf", "arxiv") and day_from is not None:
        fail("a recorded file holds one day: leave out --from and --to")
    config = settings()
    configure_logging(config)
    try:
        report = run_async(_ingest(config, source, day_from, day_to, force))
    except (SourceError, ValueError) as error:
        fail(str(error))
    say(report.summary())
    if report.failed:
        for result in report.failed:
            day = result.day.isoformat() if result.day else "latest"
            say(f"paperboy: {day}: {' '.join(str(result.error).split())}", err=True)
        raise typer.Exit(1)


async def _serve(config: Settings, host: str, port: int) -> None:
    async with open_app(config, migrate=False) as bot:
        hooks = bot.hooks("serve")
        if not hooks:
            fail("no installed adapter serves HTTP (the Slack adapter does)")
        await bot.migrate()
        commands = bot.commands()
        try:
            async with bot.health("serve"):
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
    warn_if_ephemeral(config)
    try:
        run_async(_serve(config, host, port or config.slack_port))
    except KeyboardInterrupt:
        pass


@app.command()
def doctor(
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    """Check this deployment: settings, database and migrations, chat tokens and scopes.

    Changes nothing. Exits 1 when a check fails (warnings alone exit 0).
    """
    from paperboy.doctor import diagnose

    if fmt not in ("text", "json"):
        fail(f"unknown format {fmt!r}: choose text or json")
    config = settings()
    report = run_async(diagnose(config))
    if fmt == "json":
        say(json_safe(json.dumps(report.as_json(), ensure_ascii=False)))
    else:
        width = max(len(f.check) for f in report.findings)
        for finding in report.findings:
            level = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}.get(finding.level, "?   ")
            say(f"{level}  {finding.check.ljust(width)}  {finding.message}")
        failed, warned = len(report.failed), len(report.warnings)
        verdict = "ready" if not failed else "not ready"
        say(f"{verdict}: {failed} failed, {warned} warning(s), {len(report.findings)} checks")
    if report.failed:
        raise typer.Exit(1)


# Connection-level failures (PostgreSQL SQLSTATE classes 08 connection, 28 authorization,
# 3D unknown database, 57P03 starting up), however SQLAlchemy wraps them.
_DATABASE_STATES = ("08", "28", "3D", "57P03")
_PASSWORD = re.compile(r"(://[^/@:\s]*):[^/\s]*@")
_QUERY_PASSWORD = re.compile(r"([?&](?:password|pass|passwd|pwd)=)[^&#\s]*", re.IGNORECASE)


def database_unreachable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached or logged in to (an
    environment problem: one line, not a traceback)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | TimeoutError):
            return True
        state = str(getattr(current, "sqlstate", "") or "")
        if state and state.startswith(_DATABASE_STATES):
            return True
        current = current.__cause__ or current.__context__
    return False


def _one_line(error: BaseException) -> str:
    from paperboy.logs import one_line

    return one_line(error)


def _database_shown() -> str:
    import os

    url = os.environ.get("PAPERBOY_DATABASE_URL", "sqlite+aiosqlite:///paperboy.db")
    hidden = _QUERY_PASSWORD.sub(r"\1***", _PASSWORD.sub(r"\1:***@", url))
    return terminal_safe(hidden)[:200]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: Typer with one-line errors and exit code 2 for bad input.

    Typer bundles its own copy of click, so its usage errors are recognised by shape
    (an `exit_code` of 2 and `format_message()`), not by importing click.
    """
    configure_logging()  # before anything logs: no raw control characters on stderr
    try:
        result = app(args=argv, standalone_mode=False)
    except UserError as error:
        for line in str(error).splitlines() or [""]:
            print(f"paperboy: {terminal_safe(line)}", file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except Exception as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            print(error.format_message())  # type: ignore[attr-defined]
            sys.exit(0)
        if getattr(error, "exit_code", None) == 2 and hasattr(error, "format_message"):
            message = " ".join(error.format_message().split())
            print(f"paperboy: {terminal_safe(message)}", file=sys.stderr)
            sys.exit(2)
        if type(error).__name__ == "HealthServerError":  # a port in use: the user's to fix
            print(f"paperboy: {terminal_safe(str(error))}", file=sys.stderr)
            sys.exit(2)
        if database_unreachable(error):
            print(
                f"paperboy: cannot use the database {_database_shown()}: "
                f"{terminal_safe(_one_line(error))}",
                file=sys.stderr,
            )
            sys.exit(1)
        # A bug: the traceback, but not a terminal escape from a message inside it.
        trace = "".join(traceback.format_exception(error))
        sys.stderr.write(terminal_safe(trace, keep="\n"))
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
