"""`paperboy doctor`: is this deployment set up to work? One line per check.

The core checks what it owns: the settings (already valid when this runs: a bad one
stops the CLI first), the database (reachable, at the newest migration) and where an
SQLite file lives (a Heroku-like dyno or a temporary folder loses it). Each installed
adapter checks its platform through its `doctor` hook: tokens present and, when the
platform is reachable, validated (Slack `auth.test` and its scopes, Discord
`users/@me`). Nothing is changed: the database is not migrated, nothing is posted.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from paperboy.bootstrap import open_app
from paperboy.logs import one_line
from paperboy.plugins import Finding
from paperboy_config import Settings

__all__ = ["DoctorReport", "Finding", "diagnose", "sqlite_location_problem"]

OK, WARN, FAIL = "ok", "warn", "fail"
CHECK_TIMEOUT = 15.0
TEMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.level == FAIL]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == WARN]

    def as_json(self) -> dict[str, object]:
        return {
            "ok": not self.failed,
            "checks": [
                {"level": f.level, "check": f.check, "message": f.message} for f in self.findings
            ],
        }


def _sqlite_path(url: str) -> str | None:
    """The file an SQLite URL names (":memory:" for an in-memory one); None otherwise."""
    scheme, _, rest = url.partition("://")
    if not scheme.startswith("sqlite"):
        return None
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///rel, sqlite:////abs
    path = path.split("?", 1)[0]
    return path or ":memory:"


def sqlite_location_problem(
    url: str, environ: Mapping[str, str] | None = None, *, dyno_only: bool = False
) -> str | None:
    """Why an SQLite database at `url` would be lost, or None: on a Heroku-like dyno
    (`DYNO` set: the file system is thrown away at each restart and deploy), in memory,
    or in a temporary folder (`dyno_only`: the first alone, what every command warns of)."""
    path = _sqlite_path(url)
    if path is None:
        return None
    env = os.environ if environ is None else environ
    if not dyno_only and (path == ":memory:" or "mode=memory" in url):
        return "the SQLite database is in memory: everything is lost when the process ends"
    if env.get("DYNO"):
        return (
            f"SQLite on an ephemeral file system (DYNO={env['DYNO']}): the database, with "
            "every subscription, is lost at each restart and deploy; set "
            "PAPERBOY_DATABASE_URL to a PostgreSQL database"
        )
    if dyno_only:
        return None
    resolved = Path(path).expanduser().resolve()
    temps = {Path(t).resolve() for t in (*TEMP_FOLDERS, tempfile.gettempdir())}
    if any(resolved.is_relative_to(t) for t in temps):
        return (
            f"the SQLite database is in a temporary folder ({resolved}): it may be wiped at "
            "a reboot; keep it somewhere lasting, or use PostgreSQL"
        )
    return None


def _settings_findings(config: Settings, plugins: list[str]) -> list[Finding]:
    backend = config.database_url.split("+", 1)[0].split(":", 1)[0]
    chats = [
        name
        for name, token in (("slack", config.slack_bot_token), ("discord", config.discord_token))
        if token is not None
    ]
    summary = (
        f"valid; database: {backend}; source: {config.source}; chat platforms configured: "
        f"{', '.join(chats) or 'none (the terminal only)'}; adapters installed: "
        f"{', '.join(sorted(plugins)) or 'none'}"
    )
    out = [Finding(OK, "settings", summary)]
    problem = sqlite_location_problem(config.database_url)
    if problem is not None:
        out.append(Finding(WARN, "database location", problem.upper()[:1] + problem[1:]))
    if config.metrics_port is None:
        out.append(
            Finding(
                OK,
                "health",
                "no /healthz, /readyz or /metrics (set PAPERBOY_METRICS_PORT to serve them)",
            )
        )
    else:
        out.append(
            Finding(OK, "health", f"/healthz, /readyz and /metrics on port {config.metrics_port}")
        )
    return out


def _exists(path: str) -> bool:
    return Path(path).expanduser().exists()


async def _database_findings(config: Settings) -> list[Finding]:
    from paperboy.store import head_revision

    path = _sqlite_path(config.database_url)
    if path is not None and path != ":memory:" and not _exists(path):
        return [  # opening it would create it: the doctor changes nothing
            Finding(FAIL, "database", f"no SQLite database at {path}: run paperboy migrate")
        ]
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), open_app(config, migrate=False) as app:
            revision = await app.store.revision()
            dialect = app.store.dialect
    except Exception as error:  # unreachable, refused, a missing driver: one line
        return [Finding(FAIL, "database", f"cannot reach the database: {one_line(error)}")]
    head = head_revision()
    found = [Finding(OK, "database", f"reachable ({dialect})")]
    if revision == head:
        found.append(Finding(OK, "migrations", f"at the newest revision ({head})"))
    elif revision is None:
        found.append(Finding(FAIL, "migrations", "the database is empty: run paperboy migrate"))
    else:
        found.append(
            Finding(
                FAIL,
                "migrations",
                f"the database is at {revision}, this version needs {head}: run paperboy migrate",
            )
        )
    return found


async def diagnose(config: Settings) -> DoctorReport:
    """Every check, in order: settings, database, then each installed adapter's."""
    from paperboy.plugins import load_plugins

    plugins = load_plugins()
    report = DoctorReport(_settings_findings(config, list(plugins)))
    report.findings += await _database_findings(config)
    for name in sorted(plugins):
        hook = plugins[name].hooks.get("doctor")
        if hook is None:
            continue
        try:
            async with asyncio.timeout(CHECK_TIMEOUT * 2):
                report.findings += await hook(config)
        except Exception as error:  # a broken check is one line, not a traceback
            report.findings.append(Finding(FAIL, name, f"the check failed: {one_line(error)}"))
    return report
