"""Configuration: one Settings object read from the environment and `.env`.

The names are resolved on first use (PEP 562): `paperboy --help` does not load
pydantic-settings, and a valid configuration never loads the problem reporter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paperboy_config.problems import settings_problems
    from paperboy_config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings", "settings_problems"]


def __getattr__(name: str) -> Any:
    if name == "settings_problems":
        from paperboy_config import problems

        return problems.settings_problems
    if name in ("Settings", "get_settings"):
        from paperboy_config import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
